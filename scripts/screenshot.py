"""Screenshot a running app after one run: python scripts/screenshot.py URL OUT.png [WIDTH] [--full]

WIDTH defaults to 1400 (the README's picture); 390 shows a phone. --full takes the whole page.
"""

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

args = [a for a in sys.argv[1:] if a != "--full"]
url, out = args[0], args[1]
width = int(args[2]) if len(args) > 2 else 1400
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": 1000 if width > 600 else 844})
    page.goto(url)
    page.locator("#run").click()
    page.locator("#status [data-state=done]").wait_for(timeout=60_000)
    page.locator("#gallery").scroll_into_view_if_needed()  # images off screen load lazily
    page.wait_for_function(
        "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.wait_for_timeout(500)
    page.screenshot(path=out, full_page="--full" in sys.argv)
    browser.close()
