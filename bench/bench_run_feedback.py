"""From pressing Run to the first visible feedback (the status line changes, or Run turns off).

    python bench/bench_run_feedback.py [rounds]

The bundled demo on the built-in engine, then the three corpus workflows with the most fields
(from ../shared/corpus/workflows) in front of a loopback ViewComfy endpoint that holds each run
open, so the feedback measured is the page's own. Headless Chromium clicks Run and watches the
page on every animation frame; each workflow gets `rounds` presses (default 5), the page loaded
afresh for each. Target: under 300 ms (issue 18 §2).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
CORPUS = ROOT.parent / "shared" / "corpus" / "workflows"
LARGEST = (
    "viewcomfy__workflows_flux-consistent-characters_legacy-api_workflow_api.json",
    "fofr-cog__examples_api_workflows_bria_rmbg_api.json",
    "simple-video__workflows_character_sheet_card_v1.0_rmbg_nobg_api.json",
)
PRESS = """() => new Promise(resolve => {
  const text = () => document.querySelector('#status')?.innerText ?? '';
  const run = document.querySelector('#run');
  const before = text();
  const start = performance.now();
  const tick = () => {
    if (text() !== before || run.disabled) resolve(performance.now() - start);
    else requestAnimationFrame(tick);
  };
  run.click();
  requestAnimationFrame(tick);
})"""


def measure(url: str, browser, rounds: int) -> list[float]:
    """Milliseconds from the click to the first change, one page load per press."""
    times = []
    for _ in range(rounds):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator("#status .vc-status").wait_for(timeout=60_000)
        page.wait_for_timeout(1000)  # let the page settle, as a visitor would before pressing
        times.append(page.evaluate(PRESS))
        page.close()
    return times


def main() -> None:
    from apps import running_app
    from browser import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright
    from scripted_server import Reply, ScriptedServer

    from viewcomfy_ui.fields import infer_fields
    from viewcomfy_ui.workflow import load_workflow

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"{'workflow':<60} {'fields':>6} {'median ms':>10} {'max ms':>8}")
    with sync_playwright() as p, ScriptedServer() as server:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        cases = [(None, {})] + [
            (CORPUS / name, {"api_url": server.url, "client_id": "id", "client_secret": "s"})
            for name in LARGEST
        ]
        for path, settings in cases:
            server.replies[:] = [Reply(hold="head") for _ in range(rounds)]
            app = running_app(path, **settings) if path else running_app(**settings)
            with app as (url, _):
                workflow = load_workflow(path) if path else None
                fields = len(infer_fields(workflow)) if workflow else "demo"
                times = measure(url, browser, rounds)
            name = path.name if path else "demo (built-in engine)"
            print(
                f"{name[:60]:<60} {fields!s:>6} {statistics.median(times):>10.0f} {max(times):>8.0f}"
            )
        browser.close()


if __name__ == "__main__":
    main()
