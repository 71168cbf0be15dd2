"""Discrepancies per hauler and day, for operators (``Authorization: Bearer <ADAPTERS_OPERATOR_TOKEN>``).

    GET  /admin/v1/reconciliation?hauler_id=&day=      JSON
    GET  /admin/v1/reconciliation.csv?hauler_id=&day=  the same as CSV (a spreadsheet for the contract manager)
    POST /admin/v1/reconciliation/run                  run now (it also runs every ADAPTERS_RECONCILE_SECONDS)
"""
from __future__ import annotations

import csv
import io
from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from haulbridge_runtime.operators import require_operator
from haulbridge_runtime.problems import problem_responses

from . import reconciliation, repository

router = APIRouter(prefix="/admin/v1", tags=["reconciliation"], dependencies=[Depends(require_operator)],
                   responses=problem_responses(401))

COLUMNS = ("day", "hauler_id", "kind", "reference", "booking_id", "external_ref", "city_status", "hauler_status",
           "action", "detail", "found_at", "last_seen_at")


async def _rows(request: Request, hauler_id: str | None, day: date | None) -> list[dict]:
    async with request.app.state.runtime.pool.acquire() as conn:
        return [dict(r) for r in await repository.discrepancies(conn, hauler_id=hauler_id, day=day)]


@router.get("/reconciliation", summary="Discrepancies between the city and its haulers")
async def list_discrepancies(request: Request, hauler_id: str | None = None, day: date | None = None) -> list[dict]:
    return await _rows(request, hauler_id, day)


@router.get("/reconciliation.csv", summary="The same, as CSV", response_class=Response)
async def discrepancies_csv(request: Request, hauler_id: str | None = None, day: date | None = None) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(await _rows(request, hauler_id, day))
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="discrepancies.csv"'})


@router.post("/reconciliation/run", summary="Compare every hauler with the city now")
async def run_now(request: Request) -> dict:
    app = request.app
    found = await reconciliation.reconcile(app.state.runtime.pool, app.state.registry, app.state.settings)
    return {"found": len(found), "by_kind": {k: sum(f["kind"] == k for f in found)
                                             for k in sorted({f["kind"] for f in found})}}
