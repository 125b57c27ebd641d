"""Debian's Chromium, headless, driven by Playwright (never a downloaded browser), and a
dashboard login in it: what the browser tests share."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

CHROMIUM = "/usr/bin/chromium"
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A headless browser (Playwright's ``Browser``), closed afterwards."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=_FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(page: Any, url: str, username: str, password: str) -> None:
    """Log ``page`` in to the dashboard at ``url`` and wait for the overview."""
    await page.goto(f"{url}/dashboard/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login")
    await page.wait_for_url(f"{url}/dashboard/")
