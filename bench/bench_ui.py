"""The app in a browser: log latency (server -> visible text) and start-up time vs bare Gradio.

    python bench/bench_ui.py

(1) A loopback server streams 30 log lines, 150 ms apart, recording when each left it; headless
Chromium records when each first shows in the log panel. Target: median under 100 ms.
(2) Cancel: from clicking Cancel during a long run to the page showing "cancelled", 5 rounds.
Target: under 1 s each.
(3) Wall time from starting `python app.py` to the first page served, next to a one-Markdown
`gr.Blocks` started the same way, 3 rounds interleaved. Target: within 1.5x.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

WATCH = """() => {
  window.seen = {};
  const tick = () => {
    const area = document.querySelector('#logs textarea');
    if (area) for (const m of area.value.matchAll(/marker-(\\d+)/g))
      if (!(m[1] in window.seen)) window.seen[m[1]] = performance.timeOrigin + performance.now();
    requestAnimationFrame(tick);
  };
  tick();
}"""


@contextmanager
def scripted_page():
    """A page of the app in front of a scripted ViewComfy server: (server, playwright page)."""
    from apps import running_app
    from browser import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright
    from scripted_server import ScriptedServer

    with ScriptedServer() as server:
        fixture = ROOT / "tests" / "fixtures" / "sd15_txt2img.json"
        app = running_app(fixture, api_url=server.url, client_id="id", client_secret="s")
        with app as (url, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page()
            page.goto(url)
            yield server, page
            browser.close()


def log_latency() -> None:
    from scripted_server import Reply, result_json, sse

    sent: dict[str, float] = {}

    def timed():  # the send time is taken as each chunk is handed to the server's socket
        for i in range(30):
            time.sleep(0.15)
            sent[str(i)] = time.time() * 1000
            yield 0, sse("log_message", f"marker-{i}")
        yield 0.2, sse("prompt_result", result_json())

    with scripted_page() as (server, page):
        server.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, timed))
        page.evaluate(WATCH)
        page.locator("#run").click()
        page.locator('#status [data-state="done"]').wait_for(timeout=60_000)
        seen = page.evaluate("window.seen")
    latencies = [seen[k] - sent[k] for k in sent if k in seen]
    print(
        f"log line server -> visible: {len(latencies)}/30 lines seen, median {statistics.median(latencies):.0f} ms, "
        f"p90 {sorted(latencies)[int(len(latencies) * 0.9) - 1]:.0f} ms, max {max(latencies):.0f} ms"
    )


def cancel_latency() -> None:
    from scripted_server import Reply, result_json, sse

    def slow():
        yield 0, sse("log_message", "got prompt")
        yield 30, sse("prompt_result", result_json())

    seconds = []
    with scripted_page() as (server, page):
        for _ in range(5):
            server.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, slow))
            page.locator("#run").click()
            page.locator('#status [data-state="running"]').wait_for(timeout=10_000)
            started = time.perf_counter()
            page.locator("#cancel").click()
            page.locator('#status [data-state="cancelled"]').wait_for(timeout=10_000)
            seconds.append(time.perf_counter() - started)
    print(
        f"cancel click -> cancelled shown: median {statistics.median(seconds) * 1000:.0f} ms, "
        f"max {max(seconds) * 1000:.0f} ms (5 rounds)"
    )


def start_time(command: list[str], port: int) -> float:
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(10)


def startup() -> None:
    from apps import free_port

    bare_app = (
        "import gradio as gr\nwith gr.Blocks() as page:\n    gr.Markdown('hi')\npage.launch()"
    )
    bare = [sys.executable, "-c", bare_app]
    ours = [sys.executable, "app.py"]
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    for _ in range(3):
        times["bare"].append(start_time(bare, free_port()))
        times["ours"].append(start_time(ours, free_port()))
    b, o = statistics.median(times["bare"]), statistics.median(times["ours"])
    print(f"start to first page: bare gr.Blocks {b:.2f} s, app.py {o:.2f} s, ratio {o / b:.2f}x")


if __name__ == "__main__":
    log_latency()
    cancel_latency()
    startup()
