"""Batches under load: 3 browser sessions each queue a batch of 10 on the local engine.

    python bench/bench_batch.py [rounds]

Starts `python app.py` (the demo, the built-in engine, history in a fresh data folder) and
three headless Chromium sessions. Each round, every session sets `#batch-count` to 10 and
presses Run at once. Reported per round: wall time until all 30 runs are done, whether each
session's queue shows its 10 done and its history only its own runs (10 per round), and the
app process's RSS (start, peak, after). Target: all finish, each sees only its own, and the RSS
after round 2 within 10 % of after round 1 (memory flat).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SESSIONS, BATCH, TIMEOUT = 3, 10, 300_000


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its children (MB), from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Sampler(threading.Thread):
    """Samples the app's RSS every 0.1 s; `peak` since the last `reset`."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))

    def reset(self) -> None:
        self.peak = rss_mb(self.pid)


def start_app(data_dir: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "app.py", "--port", str(port), "--data-dir", str(data_dir)]
    app = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return app
        except httpx.HTTPError:
            time.sleep(0.1)
    app.kill()
    raise SystemExit(f"the app did not start: {app.stderr.read()[-2000:] if app.stderr else ''}")


def history_total(page) -> int:
    return int(page.locator("#history-page [data-total]").get_attribute("data-total"))


def main(rounds: int = 2) -> int:
    from apps import free_port
    from browser import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    port = free_port()
    ok = True
    with tempfile.TemporaryDirectory() as data, sync_playwright() as p:
        app = start_app(Path(data), port)
        sampler = Sampler(app.pid)
        sampler.start()
        try:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            pages = [browser.new_context().new_page() for _ in range(SESSIONS)]
            for page in pages:
                page.goto(f"http://127.0.0.1:{port}/")
                page.locator("#history-page [data-total]").wait_for(timeout=TIMEOUT)
            print(f"app started: RSS {rss_mb(app.pid):.0f} MB")
            after = []
            for n in range(1, rounds + 1):
                sampler.reset()
                start = time.perf_counter()
                for page in pages:
                    box = page.locator("#batch-count input").first
                    box.fill(str(BATCH))
                    box.press("Tab")
                for page in pages:
                    page.locator("#run").click()
                for page in pages:
                    page.locator(f'#status:has-text("{BATCH} of {BATCH} done")').wait_for(
                        timeout=TIMEOUT
                    )
                    page.locator(f'#history-page [data-total="{BATCH * n}"]').wait_for(
                        timeout=TIMEOUT
                    )
                wall = time.perf_counter() - start
                totals = [history_total(page) for page in pages]
                time.sleep(1.0)
                after.append(rss_mb(app.pid))
                own = all(t == BATCH * n for t in totals)
                ok &= own
                print(
                    f"round {n}: {SESSIONS}x{BATCH} runs done in {wall:.1f} s; history per "
                    f"session {totals} (expected {BATCH * n} each: {'ok' if own else 'WRONG'}); "
                    f"RSS peak {sampler.peak:.0f} MB, after {after[-1]:.0f} MB"
                )
            if len(after) > 1:
                growth = (after[-1] - after[0]) / after[0]
                flat = growth <= 0.10
                ok &= flat
                print(
                    f"RSS after the last round vs the first: {growth:+.1%} ({'flat' if flat else 'GROWING'})"
                )
            browser.close()
        finally:
            sampler.stopped.set()
            app.terminate()
            app.wait(timeout=30)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2))
