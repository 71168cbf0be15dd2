"""Browser tests of the operations console: the whole platform as separate processes, and
Debian's Chromium driven by Playwright (its own browser downloads do not work here; `make test`
installs the chromium package). Screenshots go to test-artifacts/browser/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

CHROMIUM = os.environ.get("HAULBRIDGE_CHROMIUM", "/usr/bin/chromium")
# As root in a sandbox, with no network beyond loopback: no sandboxing, no background fetches.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture
async def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package (or set HAULBRIDGE_CHROMIUM)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
