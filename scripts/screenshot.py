"""Screenshot a running app after one run (for the README): python scripts/screenshot.py URL OUT.png"""

import sys

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

url, out = sys.argv[1], sys.argv[2]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.locator("#run").click()
    page.locator("#status [data-state=done]").wait_for(timeout=60_000)
    page.wait_for_function(
        "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.wait_for_timeout(500)
    page.screenshot(path=out)
    browser.close()
