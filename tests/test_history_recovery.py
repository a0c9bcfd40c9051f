"""Runs left "running" by an app killed mid-batch (issue 19, section 3): on the next start they
become "interrupted", are shown so in the history and are pruned like any ended run, while the
running runs of another app still alive on the same database are left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from viewcomfy_ui.history import HistoryStore
from viewcomfy_ui.ui.history_browser import _run_status

OWNER = "alice-token"
# A child app: records `count` runs that start (each keeping a 1000-byte upload), says so, then
# waits to be killed (or for its stdin to close).
CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from viewcomfy_ui.history import HistoryStore

    data, count = Path(sys.argv[1]), int(sys.argv[2])
    upload = data.parent / f"upload-{count}.png"
    upload.write_bytes(b"x" * 1000)
    store = HistoryStore(data, max_bytes=1 << 30)
    for i in range(count):
        store.start(
            "alice-token", workflow_name="w.json", params={"i": i}, uploads={"img": upload},
            seeds={}, protocol="sse", endpoint="x",
        )
    print("ready", flush=True)
    sys.stdin.read()
    """
)


def child(data: Path, count: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(count)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def test_runs_of_a_killed_app_become_interrupted_shown_so_and_pruned(tmp_path):
    data = tmp_path / "data"
    killed, alive = child(data, 4), child(data, 1)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=60)
        lines: list[str] = []
        store = HistoryStore(data, max_bytes=1 << 30, log=lines.append)
        runs = store.list(OWNER, limit=100)
        assert sorted(r.status for r in runs) == ["interrupted"] * 4 + ["running"]
        assert lines == [
            "history: 4 runs left running by an app that stopped were marked interrupted"
        ]
        shown = _run_status(next(r for r in runs if r.status == "interrupted"))
        assert 'data-state="interrupted"' in shown and "interrupted ·" in shown

        store.max_bytes = 1500  # room for one run's upload: the interrupted ones go
        store.prune()
        [left] = store.list(OWNER, limit=100)
        assert left.status == "running", "a live app's running run is never pruned"
        assert [p.name for p in (data / "files").iterdir()] == [left.id]
    finally:
        for process in (killed, alive):
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=60)


def test_a_second_app_on_the_same_database_leaves_the_first_ones_runs_running(tmp_path):
    data = tmp_path / "data"
    first = HistoryStore(data, max_bytes=1 << 30)
    run_id = first.start(
        OWNER, workflow_name="w", params={}, uploads={}, seeds={}, protocol="sse", endpoint="x"
    )
    second = HistoryStore(data, max_bytes=1 << 30)
    assert second.get(OWNER, run_id).status == "running"
    first.finish(OWNER, run_id, status="done")
    assert second.get(OWNER, run_id).status == "done"
    assert len(list((data / "live").glob("*.lock"))) == 2
    del first  # its lease is released: a third start tidies its lock file away
    HistoryStore(data, max_bytes=1 << 30)
    assert len(list((data / "live").glob("*.lock"))) == 2
