"""Receiving a streamed result with one big output: the client vs the floor (and vs ViewComfy's
reference client, if given), in one run.

    python bench/bench_client.py                      # 10 MB and 100 MB outputs, 5 rounds each
    python bench/bench_client.py path/to/their/api.py # also ViewComfy's reference client

The server runs in this process; each measurement runs in a fresh child process, which reports
its wall time and its peak RSS above what it used before the request. The floor reads the same
response bytes over the same loopback connection without parsing, then `json.loads` and
`base64.b64decode` of those bytes in memory. The reference client is imported from the given
`api.py` (never part of this repository); it must be a version that speaks this protocol
(`infer_with_logs(api_url=..., logging_callback=...)`, Server-Sent Events with base64 outputs,
e.g. ViewComfy/cloud-public at f9a57aa); its time includes `b64decode` of the output, so all
three end with the file's bytes in memory. Every child imports httpcore before the clock starts
(httpx does so on its first client, ~0.3 s here, the same for all three). Today's version talks socket.io to ViewComfy's
gateway and gets links instead: the bench says so and leaves that column out.
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
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


def load_reference(path: str):
    """Their module, or None (with the reason printed) if it cannot receive this stream."""
    if not Path(path).is_file():
        print(f"no reference client at {path}: its column is left out")
        return None
    spec = importlib.util.spec_from_file_location("viewcomfy_reference_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    wanted = {"api_url", "logging_callback"}
    if not wanted <= set(inspect.signature(module.infer_with_logs).parameters):
        print(
            f"{path} is ViewComfy's realtime (socket.io) client: it receives outputs as links, "
            "not streamed base64 results, so its column is left out. For the protocol measured "
            "here, pass its Server-Sent-Events version, e.g. `git --git-dir=<ViewComfy/"
            "cloud-public> show f9a57aa:ViewComfy_API/Python/api.py > /tmp/viewcomfy_sse_api.py`"
        )
        return None
    return module


def child(mode: str, url: str, reference: str = "") -> None:
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

    async def theirs() -> int:
        result = await their_api.infer_with_logs(
            params={"1-inputs-a": 1},
            logging_callback=lambda _: None,
            api_url=url,
            client_id="bench",
            client_secret="bench",
        )
        return len(base64.b64decode(result.outputs[0].data))

    their_api = load_reference(reference) if mode == "theirs" else None
    import httpcore  # noqa: F401  httpx imports it (and trio, ~0.3 s) on its first client: not timed

    before = status_kb("VmRSS")
    started = time.perf_counter()
    size = asyncio.run({"floor": floor, "ours": ours, "theirs": theirs}[mode]())
    seconds = time.perf_counter() - started
    peak = status_kb("VmHWM")
    print(json.dumps({"seconds": seconds, "peak_mb": (peak - before) / 1024, "size": size}))


def main(reference: str | None) -> None:
    from scripted_server import Reply, ScriptedServer, result_json, sse

    modes = ["floor", "ours"]
    if reference and load_reference(reference) is not None:
        modes.append("theirs")
    elif not reference:
        print("no reference client given (pass the path to ViewComfy's api.py): column left out")
    rounds = 5
    header = ["output", "floor s", "ours s", "ours speed vs floor"]
    if "theirs" in modes:
        header += ["theirs s", "ours faster than theirs (theirs s / ours s)"]
    header += ["floor peak MB", "ours peak MB"]
    if "theirs" in modes:
        header += ["theirs peak MB"]
    header += ["ours peak / output"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
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
        results: dict[str, list[dict]] = {mode: [] for mode in modes}
        with ScriptedServer() as server:
            for _ in range(rounds):
                for mode in modes:  # interleaved, so noise hits all alike
                    server.replies.append(
                        Reply(
                            201,
                            {"Content-Type": "text/event-stream"},
                            lambda c=chunks: iter([(0, x) for x in c]),
                        )
                    )
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", mode, server.url, reference or ""],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    results[mode].append(json.loads(out.stdout.splitlines()[-1]))
        secs = {m: statistics.median(r["seconds"] for r in results[m]) for m in modes}
        peak = {m: statistics.median(r["peak_mb"] for r in results[m]) for m in modes}
        row = [f"{mb} MB", f"{secs['floor']:.2f}", f"{secs['ours']:.2f}"]
        row.append(f"{secs['floor'] / secs['ours']:.0%}")
        if "theirs" in modes:
            row += [f"{secs['theirs']:.2f}", f"{secs['theirs'] / secs['ours']:.2f}x"]
        row += [f"{peak['floor']:.0f}", f"{peak['ours']:.0f}"]
        if "theirs" in modes:
            row.append(f"{peak['theirs']:.0f}")
        row.append(f"{peak['ours'] / mb:.2f}x")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else None)
