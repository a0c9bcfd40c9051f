"""Headless Debian Chromium, driven by playwright (never `playwright install`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("VIEWCOMFY_REQUIRE_BROWSER"):
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed")


@pytest.fixture(scope="module")  # module: sync playwright holds an event loop while open
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()
