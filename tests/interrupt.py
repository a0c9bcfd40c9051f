"""A real client script in a subprocess, for Ctrl-C tests: it runs the workflow with logs (each
line printed) and saves the outputs, with the sync client, over either protocol."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import signal, sys, threading
from viewcomfy_ui.api import SyncViewComfyClient

url, client_id, secret, gateway, protocol, out, elsewhere = sys.argv[1:]
if elsewhere == "1":  # Ctrl-C lands on another thread, as the kernel may deliver it
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
with SyncViewComfyClient(url, client_id, secret, protocol=protocol, gateway_url=gateway,
                         timeout=60) as client:
    result = client.infer_with_logs({"1-inputs-a": 1}, lambda line: print(line, flush=True))
    client.save_outputs(result, out)
"""
# Ctrl-C must end the script within 2 s after the cancel request (or after Ctrl-C when there is
# no run to cancel); the bound leaves slack for a loaded machine, and is below every protocol
# timeout (a 5-10 s close or cancel wait, a 25 s ping) that a stuck script would wait for.
BOUND = 8.0


def start(
    url: str, keys: tuple[str, str], gateway_url: str, protocol: str, out: Path, elsewhere=False
) -> subprocess.Popen:
    root = str(Path(__file__).resolve().parent.parent)
    args = [url, *keys, gateway_url, protocol, str(out), "1" if elsewhere else "0"]
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
    )


def wait_until_idle(pid: int) -> None:
    """Until the script's main thread sleeps in its event loop's epoll (Linux)."""
    wchan = Path(f"/proc/{pid}/wchan")
    if not wchan.exists():
        pytest.skip("needs Linux's /proc/<pid>/wchan")
    deadline = time.monotonic() + 30
    while wchan.read_text() != "do_epoll_wait":
        if time.monotonic() > deadline:  # e.g. a kernel that hides wchan ("0")
            pytest.skip("cannot see the script's main thread wait in epoll")
        time.sleep(0.01)


def interrupt(child: subprocess.Popen) -> tuple[float, str]:
    """Ctrl-C the script; the time it ended (time.monotonic()) and its stderr."""
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    return time.monotonic(), stderr
