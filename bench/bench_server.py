"""Local server: overhead per request on a trivial graph, and 20 concurrent clients.

    python bench/bench_server.py

The trivial graph is EmptyImage(8x8) -> PreviewImage. Overhead = the client's round trip minus
the engine's own run time (measured in the same process around the engine call).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from viewcomfy_ui.api import ViewComfyClient  # noqa: E402
from viewcomfy_ui.server import BuiltinEngine, ServerConfig, start_background_server  # noqa: E402

GRAPH = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
    },
    "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
}


class TimedEngine(BuiltinEngine):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._lock = threading.Lock()

    def run(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return super().run(*args, **kwargs)
        finally:
            with self._lock:
                self.seconds.append(time.perf_counter() - start)


async def main() -> None:
    engine = TimedEngine()
    server = start_background_server(ServerConfig(engine=engine, workflow=GRAPH))
    try:
        async with ViewComfyClient(server.url) as client:
            for _ in range(20):  # warm-up
                await client.infer({"1-inputs-color": 1})
            engine.seconds.clear()
            for stream in (False, True):
                engine.seconds.clear()
                round_trips = []
                for i in range(200):
                    start = time.perf_counter()
                    if stream:
                        await client.infer_with_logs({"1-inputs-color": i}, lambda _: None)
                    else:
                        await client.infer({"1-inputs-color": i})
                    round_trips.append(time.perf_counter() - start)
                overhead = [rt - eng for rt, eng in zip(round_trips, engine.seconds, strict=True)]
                print(
                    f"{'SSE ' if stream else 'JSON'} x200: round trip median {statistics.median(round_trips) * 1000:.1f} ms, "
                    f"engine median {statistics.median(engine.seconds) * 1000:.1f} ms, "
                    f"server+client overhead median {statistics.median(overhead) * 1000:.1f} ms, p95 {sorted(overhead)[189] * 1000:.1f} ms"
                )

        async def one(i: int) -> int:
            async with ViewComfyClient(server.url) as c:
                result = await c.infer_with_logs({"1-inputs-color": i}, lambda _: None)
                return len(result.outputs)

        start = time.perf_counter()
        counts = await asyncio.gather(*(one(i) for i in range(20)))
        print(
            f"20 concurrent clients: {sum(counts)}/20 results, {time.perf_counter() - start:.2f} s wall, none lost: {counts == [1] * 20}"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
