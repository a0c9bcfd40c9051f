"""How long and how tall the form's page is: the demo and the three largest corpus workflows.

    python bench/bench_page.py [--checkout DIR] [--shots DIR] [WORKFLOW ...]

For each workflow, `python app.py` (of `--checkout`, default this one: run it once on the old
checkout and once on the new to compare) starts on the built-in engine; headless Chromium then
measures, at 1400 px and at 390 px wide: seconds from navigation to **Run** enabled (time to
interactive), and the page's height in px with Advanced closed; and (where the page has the
Advanced search) how long filtering the Advanced fields takes in the browser, over how many.
`--shots` saves a full-page screenshot of each. Default workflows: the bundled demo and the three largest files (by size)
of /work/shared/corpus/workflows.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = Path("/work/shared/corpus/workflows")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
WIDTHS = (1400, 390)


def default_workflows(checkout: Path) -> list[Path]:
    largest = sorted(CORPUS.glob("*.json"), key=lambda p: p.stat().st_size, reverse=True)[:3]
    return [checkout / "examples" / "photo_effects.json", *largest]


def start_app(checkout: Path, workflow: Path, data_dir: str) -> tuple[subprocess.Popen, str]:
    """`python app.py` on any free port; its URL once it serves."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    for name in ("VIEWCOMFY_API_URL", "VIEWCOMFY_CLIENT_ID", "VIEWCOMFY_CLIENT_SECRET"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "app.py", "--workflow", str(workflow), "--port", "0",
         "--data-dir", data_dir],
        cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 180
    for line in process.stdout:
        if match := re.search(r"(http://127\.0\.0\.1:\d+)", line):
            url = match[1]
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url, timeout=5).status_code == 200:
                        return process, url
                except httpx.HTTPError:
                    time.sleep(0.2)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError(f"{workflow.name}: the app did not start")


def measure(browser, url: str, width: int, shot: Path | None) -> tuple[float, int]:
    """Seconds to Run enabled, and the page's height at `width` px."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    start = time.perf_counter()
    page.goto(url)
    page.locator("#run:not([disabled])").wait_for(state="visible", timeout=120_000)
    interactive = time.perf_counter() - start
    height = settled_height(page)
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    page.close()
    return interactive, height


def search_time(browser, url: str) -> str:
    """Milliseconds the Advanced search takes to filter its fields (a word, then none)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url)
    page.locator("#run:not([disabled])").wait_for(state="visible", timeout=120_000)
    if not page.locator("#advanced").count():
        page.close()
        return "-"
    page.locator("#advanced").get_by_text("Advanced").first.click()
    try:
        page.locator("#advanced-search").wait_for(timeout=30_000)
    except Exception:  # noqa: BLE001 - an older page without the search
        page.close()
        return "-"
    from viewcomfy_ui.ui.form import FILTER_ADVANCED

    took = page.evaluate(
        f"""() => {{
          const filter = {FILTER_ADVANCED};
          const start = performance.now();
          filter('seed'); filter('');
          return [performance.now() - start,
                  document.querySelectorAll('#advanced [id^="field-"]').length];
        }}"""
    )
    page.close()
    return f"{took[0]:.0f} ms/{took[1]}"


def settled_height(page) -> int:
    """The page's height once it stopped changing for half a second (images, fonts laid out)."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 0.5:
        height = page.evaluate("document.documentElement.scrollHeight")
        if height != last:
            last, since = height, time.monotonic()
        page.wait_for_timeout(100)
    return last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workflows", nargs="*", type=Path)
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--shots", type=Path)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    checkout = args.checkout.resolve()
    workflows = [p.resolve() for p in args.workflows] or default_workflows(checkout)
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    print(f"checkout {checkout}")
    print(f"{'workflow':58} {'TTI 1400':>9} {'h 1400':>7} {'TTI 390':>8} {'h 390':>7}  search")
    with sync_playwright() as p, tempfile.TemporaryDirectory() as data:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for workflow in workflows:
            process, url = start_app(checkout, workflow, data)
            try:
                cells = []
                for width in WIDTHS:
                    shot = args.shots / f"{workflow.stem[-48:]}-{width}.png" if args.shots else None
                    interactive, height = measure(browser, url, width, shot)
                    cells += [f"{interactive:8.2f}s", f"{height:6d}px"]
                cells.append(search_time(browser, url))
                print(f"{workflow.name[:58]:58} {' '.join(cells)}", flush=True)
            finally:
                process.terminate()
                process.wait(timeout=30)
        browser.close()


if __name__ == "__main__":
    main()
