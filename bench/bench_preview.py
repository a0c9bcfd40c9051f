"""Live previews, end to end: a ComfyUI-like source sends preview frames at 20 fps, the app shows
them in headless Chromium.

    python bench/bench_preview.py [frames] [fps] [--no-progress]   # default 1000 at 20 fps

The source is tests/fake_comfyui.py's server in a child process, whose slow node sends `frames`
binary preview frames (ComfyUI's format, with metadata) at `fps`, each after a `progress`
message as ComfyUI sends them (so the log panel gains a line per frame; `--no-progress` leaves
them out, to see the previews' own cost). Each frame is one colour that
codes its number. `python app.py --comfyui-url <source>` runs in another child process, and one
Chromium page presses Run. The page decodes the colour of each new `#preview` image. Reported:
- latency from the source sending a frame to the page showing it decoded (median, p95), and
  how many frames the page showed (at most 8 a second: the others were dropped, as meant);
- CPU (% of one core) of the app's process and of the page's renderer while the frames flow;
- memory over the run: the app's RSS, the renderer's RSS and the page's JS heap, sampled
  after 10 % of the frames, at the end, and after a simulated memory-pressure signal (what
  Chromium gives back: its caches of decoded images). Target: flat (within 10 %).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
SIDE = 512
CODE_STEP = 16  # colour levels per channel: 16 x 16 distinct codes survive two JPEG passes

# On each new #preview image: decode it, read its centre pixel's colour (the frame's code).
WATCH = """() => {
  window.shown = [];
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  let last = '';
  new MutationObserver(async () => {
    const img = document.querySelector('#preview img');
    if (!img || img.src === last) return;
    last = img.src;
    try { await img.decode(); } catch (error) { return; }  // replaced meanwhile
    const at = Date.now();
    const [w, h] = [img.naturalWidth, img.naturalHeight];
    context.drawImage(img, w / 2, h / 2, 1, 1, 0, 0, 1, 1);
    const [r, g] = context.getImageData(0, 0, 1, 1).data;
    window.shown.push([Math.floor(r / 16), Math.floor(g / 16), at]);
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def source_main(port: int, frames: int, fps: float, progress_lines: bool) -> None:
    """The child process: a fake ComfyUI whose FakeSlowNode sends the frames."""
    import io
    import struct

    import uvicorn
    from fake_comfyui import PREVIEW_IMAGE_WITH_METADATA, SLOW_NODE, FakeComfyUI
    from PIL import Image

    def frame(n: int, prompt_id: str) -> bytes:
        colour = ((n % 16) * CODE_STEP + 8, ((n // 16) % 16) * CODE_STEP + 8, 128)
        buffer = io.BytesIO()
        Image.new("RGB", (SIDE, SIDE), colour).save(buffer, format="JPEG", quality=95)
        meta = json.dumps({"node_id": "2", "prompt_id": prompt_id, "image_type": "image/jpeg"})
        head = struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(meta)) + meta.encode()
        return head + buffer.getvalue()

    class Source(FakeComfyUI):
        def __init__(self) -> None:
            super().__init__(history_lag=0.0)
            self.sent: list[tuple[int, float]] = []
            self.app.get("/bench/sent")(lambda: self.sent)

        async def _run(self, prompt_id, graph, client_id):
            slow = [k for k, v in graph.items() if v["class_type"] == SLOW_NODE]
            for node_id in slow:
                data = {"node": node_id, "display_node": node_id, "prompt_id": prompt_id}
                await self._send(client_id, {"type": "executing", "data": data})
                start = time.monotonic()
                for n in range(frames):
                    await asyncio.sleep(max(0.0, start + n / fps - time.monotonic()))
                    self.sent.append((n, time.time() * 1000))
                    progress = {"value": n + 1, "max": frames, "node": node_id}
                    if progress_lines:
                        await self._send(client_id, {"type": "progress", "data": {**progress, "prompt_id": prompt_id}})  # fmt: skip
                    await self._send(client_id, frame(n, prompt_id))
            rest = {k: v for k, v in graph.items() if k not in slow}
            await super()._run(prompt_id, rest, client_id)

    uvicorn.run(Source().app, host="127.0.0.1", port=port, log_level="warning")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def renderers() -> list[int]:
    """Chromium renderer processes started (through playwright) by this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"--type=renderer" in cmdline and descends_from(int(entry.name), os.getpid()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def wait_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not start")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(frames: int, fps: float, progress_lines: bool) -> None:
    from browser import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    source_port, app_port = free_port(), free_port()
    source_url, app_url = f"http://127.0.0.1:{source_port}", f"http://127.0.0.1:{app_port}/"
    workflow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
        "2": {"class_type": "FakeSlowNode", "inputs": {"steps": 5, "anything": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "p"}},
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "workflow_api.json"
        path.write_text(json.dumps(workflow))
        me = [sys.executable, __file__]
        progress = "progress" if progress_lines else "no-progress"
        source = subprocess.Popen(
            [*me, "--source", str(source_port), str(frames), str(fps), progress]
        )
        app = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--workflow", str(path), "--port",
             str(app_port), "--comfyui-url", source_url, "--data-dir", folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_up(source_url + "/system_stats")
            wait_up(app_url)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(app_url)
                page.evaluate(WATCH)
                page.locator("#run").click()
                run(page, app.pid, source_url, frames, fps)
                browser.close()
        finally:
            for child in (app, source):
                child.terminate()
                child.wait(10)


def run(page, app_pid: int, source_url: str, frames: int, fps: float) -> None:
    page.locator("#preview img").wait_for(timeout=120_000)
    renderer = max(renderers(), key=rss_mb)
    heap = "() => performance.memory.usedJSHeapSize / 1048576"
    first = {"app": cpu_seconds(app_pid), "page": cpu_seconds(renderer), "at": time.monotonic()}
    samples = []
    sent_count = 0
    while sent_count < frames:
        time.sleep(1.0)
        sent_count = len(httpx.get(source_url + "/bench/sent").json())
        if not samples and sent_count >= frames // 10:
            page.evaluate("() => window.gc && window.gc()")
            samples.append(("10 %", rss_mb(app_pid), rss_mb(renderer), page.evaluate(heap)))
    spent = time.monotonic() - first["at"]
    app_cpu = (cpu_seconds(app_pid) - first["app"]) / spent * 100
    page_cpu = (cpu_seconds(renderer) - first["page"]) / spent * 100
    samples.append(("end", rss_mb(app_pid), rss_mb(renderer), page.evaluate(heap)))
    page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=120_000)
    cdp = page.context.new_cdp_session(page)  # is the renderer's growth a cache it gives back?
    cdp.send("Memory.simulatePressureNotification", {"level": "critical"})
    cdp.send("HeapProfiler.collectGarbage")
    time.sleep(2)
    samples.append(("pressure", rss_mb(app_pid), rss_mb(renderer), page.evaluate(heap)))
    sent = httpx.get(source_url + "/bench/sent").json()
    shown = page.evaluate("window.shown")
    latencies = []
    for r, g, at in shown:
        code = g * 16 + r
        candidates = [t for n, t in sent if n % 256 == code and t <= at]
        if candidates:
            latencies.append(at - max(candidates))
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    print(f"source: {len(sent)} frames at {fps:g} fps ({SIDE} px JPEG)")
    print(f"page showed {len(shown)} frames ({len(shown) / (len(sent) / fps):.1f} per second)")
    print(
        f"latency source -> shown: median {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms"
    )
    print(f"CPU while previewing: app {app_cpu:.0f} %, page renderer {page_cpu:.0f} % of one core")
    print("memory      app RSS MB   renderer RSS MB   JS heap MB")
    for label, app_rss, page_rss, js in samples:
        print(f"  {label:8} {app_rss:10.1f} {page_rss:17.1f} {js:12.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--source"]:
        port, frames, fps, progress = sys.argv[2:6]
        source_main(int(port), int(frames), float(fps), progress == "progress")
    else:
        numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
        main(
            int(numbers[0]) if numbers else 1000,
            float(numbers[1]) if numbers[1:] else 20.0,
            "--no-progress" not in sys.argv,
        )
