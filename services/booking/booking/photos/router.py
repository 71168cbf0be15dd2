"""Upload a photo of the items before booking; haulers fetch it by its signed link."""
from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, File, Request, Response, UploadFile
from pydantic import BaseModel

from haulbridge_runtime.problems import problem_responses

from . import service

router = APIRouter(prefix="/v1", tags=["photos"])


class Photo(BaseModel):
    id: UUID
    content_type: str
    size_bytes: int


@router.post("/photos", status_code=201, response_model=Photo, responses=problem_responses(413, 422),
             summary="Upload a photo of the items (JPEG, PNG or WebP); pass its id in photo_ids when booking")
async def upload(request: Request, file: UploadFile = File(...)) -> dict:
    settings = request.state.rules
    data = await file.read(settings.photo_max_bytes + 1)
    async with request.app.state.runtime.pool.acquire() as conn:
        return await service.store(conn, data=data, settings=settings)


@router.get("/photos/{photo_id}", responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
                                              **problem_responses(404)},
            response_class=Response, summary="A booking's photo, by the signed link haulers are given")
async def download(photo_id: UUID, request: Request, token: str | None = None) -> Response:
    async with request.app.state.runtime.pool.acquire() as conn:
        row = await service.fetch(conn, photo_id=photo_id, token=token, settings=request.state.rules)
    return Response(content=row["data"], media_type=row["content_type"],
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})
