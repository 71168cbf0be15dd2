"""Signing in to the console as a browser does: the session's CSRF token from the page, then the form."""
from __future__ import annotations

import re

import httpx

PASSWORD = "correct horse battery staple"
HTML = {"accept": "text/html"}  # what a browser asks for


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login", headers=HTML)
    return await client.post("/login", data={"username": username, "password": password, "next": "/",
                                             "csrf_token": csrf_of(page)}, headers=HTML)
