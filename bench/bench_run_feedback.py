"""From pressing Run to the first visible feedback: the status line's text changes.

    python bench/bench_run_feedback.py [rounds]

The bundled demo on the built-in engine, then the three corpus workflows with the most fields
(from ../shared/corpus/workflows) in front of a loopback ViewComfy endpoint that holds each run
open, so the feedback measured is the page's own. Headless Chromium clicks Run and watches the
status line on every animation frame: when its text first changes (feedback: median, max) and
when the run's own status shows (past "Starting…": the form sent and the run queued). Each
workflow gets `rounds` presses (default 5), the page loaded afresh for each. Target: feedback
under 300 ms (issue 18 §2).
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
  const text = () => document.querySelector('#status .vc-status')?.innerText ?? '';
  const before = text();
  const start = performance.now();
  let first = null;
  const tick = () => {
    const now = text(), at = performance.now() - start;
    if (first === null && now !== before) first = at;
    if (now !== before && !now.startsWith('Starting')) resolve([first, at]);
    else requestAnimationFrame(tick);
  };
  document.querySelector('#run').click();
  requestAnimationFrame(tick);
})"""  # the status line's own text (Gradio's timer beside it does not count)


def measure(url: str, browser, rounds: int) -> list[list[float]]:
    """Milliseconds from the click to the first change of the status line, and to the run's
    own status (past "Starting…"), one page load per press."""
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
    print(f"{'workflow':<56} {'fields':>6} {'feedback ms (max)':>18} {'run status ms':>14}")
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
            first, answer = [t[0] for t in times], [t[1] for t in times]
            feedback = f"{statistics.median(first):.0f} ({max(first):.0f})"
            print(
                f"{name[:56]:<56} {fields!s:>6} {feedback:>18} {statistics.median(answer):>14.0f}"
            )
        browser.close()


if __name__ == "__main__":
    main()
