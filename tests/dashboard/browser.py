"""Debian's chromium, headless and with no network but 127.0.0.1, driven by Playwright.

``.ci/run`` installs the ``chromium`` package when it is absent; a machine without
it fails these tests (they are the dashboard's only check that a real browser
renders it and runs its script), it never skips them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright

CHROMIUM = Path(os.environ.get("UEC_CHROMIUM", "/usr/bin/chromium"))
#: Read once at import, so the check below blocks no event loop.
_INSTALLED = CHROMIUM.exists()

#: Every host name resolves to nothing but 127.0.0.1, and no proxy is asked.
_OFFLINE = [
    "--no-sandbox",
    "--headless",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A fresh headless chromium; closed at the end."""
    assert _INSTALLED, f"{CHROMIUM} is missing: apt-get install -y chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=_OFFLINE
        )
        try:
            yield browser
        finally:
            await browser.close()


def screenshot_path(default: Path) -> Path:
    """Where the dashboard's screenshot goes: ``UEC_DASHBOARD_SCREENSHOT`` (the README's
    docs/dashboard.png is made so), else ``default``."""
    return Path(os.environ.get("UEC_DASHBOARD_SCREENSHOT") or default)
