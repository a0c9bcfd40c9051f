"""Ctrl-C for blocking callers: a coroutine run to its end on an `asyncio.Runner`, cancelled
(so its cleanup runs: a realtime run is cancelled on the gateway) when Ctrl-C is pressed.

Ctrl-C reaches the event loop through its wakeup pipe (`loop.add_signal_handler`), not through
the interpreter-level handler `asyncio.Runner` installs: Python 3.11 runs that one only when the
main thread next checks for signals, and an idle loop does not check when the signal landed on
another thread (a DNS or `to_thread` worker). The script then went on until the loop woke for
something else, such as the gateway's ping 20-25 s later.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(runner: asyncio.Runner, coro: Coroutine[Any, Any, T]) -> T:
    """`runner.run(coro)`; the first Ctrl-C cancels it and raises KeyboardInterrupt once it
    has ended, a second one raises KeyboardInterrupt at once."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):  # someone else handles Ctrl-C here
        return runner.run(coro)
    loop = runner.get_loop()
    main = loop.create_task(coro)
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted or main.done():
            raise KeyboardInterrupt  # the second Ctrl-C: stop waiting for the cleanup
        interrupted = True
        main.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except NotImplementedError:  # Windows: asyncio.Runner's own handler cancels the run
        return runner.run(_wait(main))
    try:
        return runner.run(_wait(main))
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _wait(task: asyncio.Task[T]) -> T:
    return await task
