"""A run queue outlives its listeners: any number of pages may watch it, each from the state
so far, and its runs go on when they stop watching; a close names why it cancelled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_run_queue import WAIT, StubClient, done, params, queue_of, settle


async def held(log) -> None:
    log("got prompt")
    await asyncio.Event().wait()


async def watch(queue) -> int:
    seen = 0
    async with asyncio.timeout(WAIT):
        async for _ in queue.changes():
            seen += 1
    return seen


async def test_two_listeners_both_see_the_end_and_a_late_one_the_state_so_far(tmp_path: Path):
    queue, _, ended = queue_of(StubClient([done]))
    queue.add(params(1), tmp_path)
    first, second = await asyncio.gather(watch(queue), watch(queue))
    assert first >= 1 and second >= 1 and not queue.busy
    assert await watch(queue) == 1, "a page that comes later gets the state once"
    assert ended == [(0, "done", "")]


async def test_a_listener_that_leaves_leaves_the_run_going(tmp_path: Path):
    queue, started, ended = queue_of(StubClient([held]))
    queue.add(params(1), tmp_path)
    changes = queue.changes()
    async with asyncio.timeout(WAIT):
        while not started:
            await anext(changes)
    await changes.aclose()  # the page went away
    assert queue.busy and ended == []
    await queue.close("no page watched this run for 10 minutes")
    await settle(queue)
    assert ended == [(0, "cancelled", "no page watched this run for 10 minutes")]
