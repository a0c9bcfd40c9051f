"""Saving a big stored output (a realtime `filepath` link) vs a plain httpx streamed download.

    python bench/bench_download.py            # a 500 MB output, 3 interleaved rounds
    python bench/bench_download.py 100 5      # 100 MB, 5 rounds

The fake gateway (tests/fake_gateway.py) serves the file from disk on loopback, in this
process. Each measurement runs in a fresh child process that imports everything first, then
reports its wall time and its peak RSS above that baseline. "httpx" is the floor:
`httpx.stream` + `iter_bytes` into a file. "save_outputs" is what users call.
Targets: save_outputs at >= 90 % of the floor's speed, peak < 64 MB above baseline.
Then: saving 2000 and 10 000 tiny outputs that all have one name (unique names must cost O(1)
each: the time per file should not grow with the count).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def child(mode: str, output_json: str, directory: str) -> None:
    import httpx

    from viewcomfy_ui.models import FileOutput, PromptResult
    from viewcomfy_ui.outputs import save_outputs

    output = FileOutput.from_json(json.loads(output_json))
    before = status_kb("VmRSS")
    started = time.perf_counter()
    if mode == "httpx":
        target = Path(directory) / "floor.bin"
        with httpx.stream("GET", output.filepath, timeout=600) as response, target.open("wb") as f:
            for chunk in response.iter_bytes():
                f.write(chunk)
    else:
        result = PromptResult("p", "success", True, 0.0, {}, [output])
        [target] = save_outputs(result, directory)
    seconds = time.perf_counter() - started
    peak = status_kb("VmHWM")
    size = target.stat().st_size
    target.unlink()
    print(json.dumps({"seconds": seconds, "peak_mb": (peak - before) / 1024, "size": size}))


def main() -> None:
    from fake_gateway import FakeGateway

    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp, FakeGateway() as gateway:
        source = Path(tmp) / "stored.mp4"
        with source.open("wb") as f:
            for _ in range(mb):
                f.write(os.urandom(1 << 20))
        output = gateway.store("video.mp4", source, content_type="video/mp4")
        results: dict[str, list[dict]] = {"httpx": [], "save_outputs": []}
        for _ in range(rounds):
            for mode in results:  # interleaved, so noise hits both alike
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, json.dumps(output), tmp],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                measured = json.loads(out.stdout)
                assert measured["size"] == mb << 20, measured
                results[mode].append(measured)
    floor = statistics.median(r["seconds"] for r in results["httpx"])
    ours = statistics.median(r["seconds"] for r in results["save_outputs"])
    floor_peak = max(r["peak_mb"] for r in results["httpx"])
    our_peak = max(r["peak_mb"] for r in results["save_outputs"])
    print("| output | httpx s | save_outputs s | speed vs httpx | httpx peak MB | ours peak MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {mb} MB | {floor:.2f} | {ours:.2f} | {floor / ours:.0%} | "
        f"{floor_peak:.1f} | {our_peak:.1f} |"
    )


def same_names() -> None:
    import base64

    from viewcomfy_ui.models import FileOutput, PromptResult
    from viewcomfy_ui.outputs import save_outputs

    print("\n| outputs named a.png | seconds | ms per file |")
    print("| --- | --- | --- |")
    for count in (2000, 10_000):
        data = base64.b64encode(b"x").decode()
        outputs = [FileOutput("a.png", "image/png", data, 1) for _ in range(count)]
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            save_outputs(PromptResult("p", "success", True, 0.0, {}, outputs), tmp)
            seconds = time.perf_counter() - started
        print(f"| {count} | {seconds:.2f} | {seconds / count * 1000:.3f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main()
        same_names()
