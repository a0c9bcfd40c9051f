"""Receiving a streamed result with one big output: the client vs the floor, in one run.

    python bench/bench_client.py            # 10 MB and 100 MB outputs, 3 rounds each

The server runs in this process; each measurement runs in a fresh child process, which reports
its wall time and its peak RSS above what it used before the request. The floor reads the same
response bytes over the same loopback connection without parsing, then `json.loads` and
`base64.b64decode` of those bytes in memory.
"""

from __future__ import annotations

import base64
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def status_kb(field: str) -> int:
    """VmRSS / VmHWM of this process (ru_maxrss would include the parent's peak before exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def child(mode: str, url: str) -> None:
    import asyncio

    import httpx

    from viewcomfy_ui.api import ViewComfyClient

    async def floor() -> int:
        async with httpx.AsyncClient(timeout=600) as client:
            parts = [("logs", (None, "true")), ("params", (None, '{"1-inputs-a": 1}'))]
            async with client.stream("POST", url, files=parts) as response:
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk
        start = body.index(b"data: ") + 6
        result = json.loads(bytes(body[start:].rstrip(b"\n")))
        del body
        return len(base64.b64decode(result["outputs"][0]["data"]))

    async def ours() -> int:
        async with ViewComfyClient(url, timeout=600) as client:
            result = await client.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
        return len(result.outputs[0].content())

    before = status_kb("VmRSS")
    started = time.perf_counter()
    size = asyncio.run(floor() if mode == "floor" else ours())
    seconds = time.perf_counter() - started
    peak = status_kb("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_mb": (peak - before) / 1024, "size": size}))


def main() -> None:
    from scripted_server import Reply, ScriptedServer, result_json, sse

    rounds = 3
    print(
        "| output | floor s | client s | client speed vs floor | floor peak MB | client peak MB | client peak / output |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mb in (10, 100):
        raw = bytes(range(256)) * (mb * 1024 * 1024 // 256)
        output = {
            "filename": "video.mp4",
            "content_type": "video/mp4",
            "data": base64.b64encode(raw).decode(),
            "size": len(raw),
        }
        body = sse("prompt_result", result_json([output]))
        del raw, output
        chunks = [body[i : i + (1 << 16)] for i in range(0, len(body), 1 << 16)]
        results: dict[str, list[dict]] = {"floor": [], "ours": []}
        with ScriptedServer() as server:
            for _ in range(rounds):
                for mode in ("floor", "ours"):  # interleaved, so noise hits both alike
                    server.replies.append(
                        Reply(
                            201,
                            {"Content-Type": "text/event-stream"},
                            lambda c=chunks: iter([(0, x) for x in c]),
                        )
                    )
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", mode, server.url],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    results[mode].append(json.loads(out.stdout))
        f = statistics.median(r["seconds"] for r in results["floor"])
        o = statistics.median(r["seconds"] for r in results["ours"])
        fp = statistics.median(r["peak_mb"] for r in results["floor"])
        op = statistics.median(r["peak_mb"] for r in results["ours"])
        print(
            f"| {mb} MB | {f:.2f} | {o:.2f} | {f / o:.0%} | {fp:.0f} | {op:.0f} | {op / mb:.2f}x |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
