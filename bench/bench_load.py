"""Load and soak of the local server (loopback only, bounded; stops by itself).

    python bench/bench_load.py

Starts ``python -m viewcomfy_ui serve`` (built-in engine, demo workflow) with its own temporary
folder, then: 200 runs with 20 at once (direct JSON, direct SSE and realtime fire-and-forget),
the bombs (huge sizes and batches, a 9400x9400 PNG, a 3-frame 9400x9400 APNG, 1000-deep JSON,
a 4300-digit integer, an endless chunked upload), 50 failed big runs, and 1000 slow
connections that never finish their headers. After each phase it prints the server's RSS, peak
RSS (VmHWM), open files and temporary disk, read from /proc and the disk.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SEED = "3-inputs-value"
HEAD_TIMEOUT = 5.0
LINK_TTL = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "viewcomfy_ui", "serve", "--port", str(self.port),
            "--head-timeout", str(HEAD_TIMEOUT), "--link-ttl", str(LINK_TTL),
        ]  # fmt: skip
        self.proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "TMPDIR": str(self.tmp)})
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("the server did not start")

    def report(self, phase: str) -> None:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss, peak = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
        files = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        disk = sum(f.stat().st_size for f in self.tmp.rglob("*") if f.is_file()) / 2**20
        print(
            f"{phase:<34} RSS {rss:7.0f} MiB  peak {peak:7.0f} MiB  "
            f"open files {files:5d}  temp disk {disk:7.1f} MiB",
            flush=True,
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        shutil.rmtree(self.tmp, ignore_errors=True)


async def runs(url: str, total: int = 200, at_once: int = 20) -> str:
    gate = asyncio.Semaphore(at_once)
    outcomes: list[bool] = []

    async def one(i: int, http: httpx.AsyncClient) -> None:
        async with gate:
            params = json.dumps({SEED: i})
            if i % 4 == 0:  # realtime, fire-and-forget, collected from the results endpoint
                prompt_id = str(uuid.uuid4())
                data = {"prompt_id": prompt_id, "params": params, "workflow_api": ""}
                ok = (await http.post("/api/workflow/infer", data=data)).status_code == 201
                while ok:
                    reply = await http.get(
                        "/api/workflow/infer/", params={"prompt_ids": [prompt_id]}
                    )
                    if reply.json()[0]["completed"]:
                        ok = reply.json()[0]["status"] == "success"
                        break
                    await asyncio.sleep(0.2)
            elif i % 4 == 1:  # SSE
                fields = {"logs": (None, "true"), "params": (None, params)}
                async with http.stream("POST", "/", files=fields) as reply:
                    body = b"".join([chunk async for chunk in reply.aiter_bytes()])
                ok = b"event: prompt_result" in body
            else:
                fields = {"logs": (None, "false"), "params": (None, params)}
                ok = (await http.post("/", files=fields)).status_code == 201
            outcomes.append(ok)

    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        await asyncio.gather(*(one(i, http) for i in range(total)))
    took = time.perf_counter() - start
    return f"{sum(outcomes)}/{total} succeeded in {took:.1f} s ({total / took:.1f} runs/s)"


def png_bomb(frames: int) -> bytes:
    buffer = io.BytesIO()
    images = [Image.new("L", (9400, 9400), 40 * i) for i in range(frames)]
    images[0].save(buffer, format="PNG", save_all=frames > 1, append_images=images[1:])
    return buffer.getvalue()


def graph(*nodes: dict) -> str:
    workflow = {str(i): node for i, node in enumerate(nodes, start=1)}
    last = str(len(nodes))
    workflow["99"] = {
        "class_type": "SaveImage",
        "inputs": {"images": [last, 0], "filename_prefix": "b"},
    }
    return json.dumps(workflow)


SCALE = {
    "class_type": "ImageScale",
    "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 16384, "height": 16384, "crop": "disabled"},
}  # fmt: skip


def empty(width: int, height: int, batch: int = 1) -> dict:
    inputs = {"width": width, "height": height, "batch_size": batch, "color": 0}
    return {"class_type": "EmptyImage", "inputs": inputs}


async def bombs(url: str) -> list[str]:
    deep = "[" * 1000 + "]" * 1000
    load = {"class_type": "LoadImage", "inputs": {"image": "bomb.png"}}
    cases = {
        "EmptyImage 16384x16384": ({"workflow_api": graph(empty(16384, 16384))}, None),
        "EmptyImage 512x512 x 4096": ({"workflow_api": graph(empty(512, 512, 4096))}, None),
        "ImageScale to 16384x16384": ({"workflow_api": graph(empty(64, 64), SCALE)}, None),
        "PNG 9400x9400": ({"workflow_api": graph(load)}, png_bomb(1)),
        "APNG 3 x 9400x9400": ({"workflow_api": graph(load)}, png_bomb(3)),
        "1000-deep JSON": ({"params": '{"3-inputs-value": ' + deep + "}"}, None),
        "4300-digit integer": ({"params": '{"3-inputs-value": ' + "9" * 4300 + "}"}, None),
    }
    lines = []
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        for name, (fields, upload) in cases.items():
            params = '{"1-inputs-image": "bomb.png"}' if upload else '{"1-inputs-color": 1}'
            form = {"logs": "false", "params": params, **fields}
            parts = [(k, (None, v)) for k, v in form.items()]
            if upload:
                parts.append(("1-inputs-image", ("bomb.png", upload, "image/png")))
                lines.append(f"  {name}: upload {len(upload) / 1024:.0f} KiB")
            reply = await http.post("/", files=parts)
            lines.append(f"  {name}: {reply.status_code} {reply.json()['detail'][:110]}")

        async def endless():
            yield b'--XX\r\nContent-Disposition: form-data; name="1-inputs-image"; filename="a.png"\r\n\r\n'
            for _ in range(2000):  # up to 2 GB, never sent in full
                yield b"x" * 2**20

        try:
            reply = await http.post(
                "/", content=endless(),
                headers={"Content-Type": "multipart/form-data; boundary=XX"},
            )  # fmt: skip
            lines.append(f"  endless chunked upload: {reply.status_code} {reply.text[:80]}")
        except httpx.HTTPError as exc:
            lines.append(
                f"  endless chunked upload: connection closed by the server ({type(exc).__name__})"
            )
    return lines


async def failed_runs(url: str, total: int = 50, at_once: int = 20) -> str:
    """EmptyImage 16384x1024 x2 (384 MiB) -> SaveAnimatedWEBP fails (WebP: 16383 px at most)."""
    workflow = {
        "1": empty(16384, 1024, 2),
        "2": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0]}},
    }
    fields = {
        "logs": (None, "false"),
        "params": (None, '{"1-inputs-color": 1}'),
        "workflow_api": (None, json.dumps(workflow)),
    }
    gate = asyncio.Semaphore(at_once)
    failed = 0
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:

        async def one() -> None:
            nonlocal failed
            async with gate:
                reply = await http.post("/", files=fields)
                failed += "at most 16383 pixels a side" in reply.text

        await asyncio.gather(*(one() for _ in range(total)))
    return f"{failed}/{total} failed as expected"


async def slow_connections(server: Server, count: int = 1000) -> list[str]:
    connections = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never more
        connections.append((reader, writer))
    await asyncio.sleep(0.5)
    server.report(f"  {count} slow connections open")
    start = time.perf_counter()
    closed = 0
    while closed < count and time.perf_counter() - start < HEAD_TIMEOUT * 4:
        await asyncio.sleep(0.5)
        closed = sum(reader.at_eof() for reader, _ in connections)
    took = time.perf_counter() - start
    for _, writer in connections:
        writer.close()
    async with httpx.AsyncClient(timeout=30) as http:
        health = (await http.get(f"{server.url}/health")).status_code
    return [
        f"  the server closed {closed}/{count} of them within {took + 0.5:.1f} s (head timeout {HEAD_TIMEOUT} s)",
        f"  /health afterwards: {health}",
    ]


async def main() -> None:
    server = Server()
    try:
        server.report("baseline")
        print(await runs(server.url))
        server.report("after 200 runs (20 at once)")
        for line in await bombs(server.url):
            print(line)
        server.report("after the bombs")
        print(await failed_runs(server.url))
        server.report("after 50 failed big runs")
        for line in await slow_connections(server):
            print(line)
        server.report("after 1000 slow connections")
        await asyncio.sleep(LINK_TTL + 3)
        async with httpx.AsyncClient(timeout=30) as http:
            await http.get(f"{server.url}/health")
        server.report(f"{LINK_TTL:.0f} s later (links expired)")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
