"""What one client can make the local server spend (issue 19, section 2), by hand:

    python bench/bench_limits.py [outputs]

1. A fire-and-forget realtime run with `outputs` tiny files (default 50,000), then
   `GET /api/workflow/infer/?prompt_ids=` with its id 100 times: the reply's size and time, and
   the longest the event loop was stalled (a /health ping every 10 ms) while the run finished
   and while the reply was made.
2. 64 slow bodies (a byte every second) on a server with 64 run slots, then 20 runs: how many
   were refused (503).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from viewcomfy_ui.demo import DEMO_WORKFLOW  # noqa: E402
from viewcomfy_ui.server import BuiltinEngine, ServerConfig, start_background_server  # noqa: E402
from viewcomfy_ui.server.nodes import OutputFile  # noqa: E402
from viewcomfy_ui.workflow import load_workflow  # noqa: E402


class ManyOutputs(BuiltinEngine):
    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        return [OutputFile(f"o{i}.txt", "text/plain", b"x") for i in range(self.count)]


class Stalls:
    """Pings /health every 10 ms; `worst` is the longest reply time seen."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http, self.worst, self._task = http, 0.0, None

    async def _ping(self) -> None:
        while True:
            start = time.perf_counter()
            await self.http.get("/health")
            self.worst = max(self.worst, time.perf_counter() - start)
            await asyncio.sleep(0.01)

    async def __aenter__(self) -> Stalls:
        self._task = asyncio.create_task(self._ping())
        return self

    async def __aexit__(self, *_: object) -> None:
        self._task.cancel()


def config(engine: BuiltinEngine, **options) -> ServerConfig:
    return ServerConfig(engine=engine, workflow=load_workflow(DEMO_WORKFLOW).api, **options)


async def amplification(count: int) -> None:
    server = start_background_server(config(ManyOutputs(count)))
    try:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=600) as http,
            httpx.AsyncClient(base_url=server.url, timeout=600) as pings,
        ):
            prompt_id = str(uuid.uuid4())
            form = {"prompt_id": prompt_id, "params": '{"3-inputs-value": 1}'}
            async with Stalls(pings) as run_stalls:
                start = time.perf_counter()
                assert (await http.post("/api/workflow/infer", data=form)).status_code == 201
                while not await completed(http, prompt_id):
                    await asyncio.sleep(0.5)
                run_seconds = time.perf_counter() - start
            async with Stalls(pings) as reply_stalls:
                start = time.perf_counter()
                size = 0
                async with http.stream(
                    "GET", "/api/workflow/infer/", params={"prompt_ids": [prompt_id] * 100}
                ) as reply:
                    async for chunk in reply.aiter_bytes():
                        size += len(chunk)
                reply_seconds = time.perf_counter() - start
    finally:
        server.stop()
    print(
        f"{count} outputs: run stored in {run_seconds:.2f} s, loop stalled up to "
        f"{run_stalls.worst * 1000:.0f} ms"
    )
    print(
        f"results x100 ids: {size / 2**20:.1f} MiB in {reply_seconds:.2f} s, loop stalled up "
        f"to {reply_stalls.worst * 1000:.0f} ms"
    )


async def completed(http: httpx.AsyncClient, prompt_id: str) -> bool:
    """Whether the run ended (the results reply read as a stream, its head only)."""
    async with http.stream("GET", "/api/workflow/infer/", params={"prompt_ids": prompt_id}) as r:
        head = b""
        async for chunk in r.aiter_bytes():
            head += chunk
            if b'"outputs"' in head:
                break
    return b'"completed":true' in head


async def slow_bodies() -> None:
    server = start_background_server(config(BuiltinEngine()))
    host, port = httpx.URL(server.url).host, httpx.URL(server.url).port
    held = []
    try:
        for _ in range(64):
            sock = socket.create_connection((host, port))
            sock.sendall(
                b"POST /api/workflow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\nparams="
            )
            held.append(sock)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            form = {"logs": "false", "params": json.dumps({"3-inputs-value": 1})}
            replies = await asyncio.gather(*(http.post("/", data=form) for _ in range(20)))
    finally:
        for sock in held:
            sock.close()
        server.stop()
    refused = sum(r.status_code == 503 for r in replies)
    print(f"64 slow bodies held: {refused} of 20 runs refused (503)")


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    await amplification(count)
    await slow_bodies()


if __name__ == "__main__":
    asyncio.run(main())
