"""The history store on a real SQLite file: records, owners, pruning, migrations, damage."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from viewcomfy_ui.history import HistoryStore
from viewcomfy_ui.history.store import DB_NAME, MIGRATIONS, SCHEMA_VERSION, owner_key
from viewcomfy_ui.ui.config import ConfigError, parse_config

ALICE, BOB = "alice-token", "bob-token"


def make_file(folder: Path, name: str, size: int = 100) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"x" * size)
    return path


def record(store: HistoryStore, owner: str, tmp: Path, *, size: int = 100, name: str = "out.png"):
    upload = make_file(tmp / "in", "cat.png", 10)
    run_id = store.start(
        owner, workflow_name="demo.json", params={"6-inputs-text": "a cat"},
        uploads={"1-inputs-image": upload}, seeds={"3-inputs-seed": 42}, protocol="sse",
        endpoint="http://127.0.0.1:1/",
    )  # fmt: skip
    output = make_file(tmp / "out", name, size)
    store.finish(
        owner, run_id, status="done", prompt_id="p1", logs=[f"line {i}" for i in range(1500)],
        outputs=[(output, "image")],
    )  # fmt: skip
    return run_id


def test_a_run_is_kept_with_its_files_and_survives_reopening(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    run_id = record(store, ALICE, tmp_path)
    store.close()
    again = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    [run] = again.list(ALICE)
    assert run.id == run_id and run.status == "done" and run.prompt_id == "p1"
    assert run.params == {"6-inputs-text": "a cat"} and run.seeds == {"3-inputs-seed": 42}
    assert run.protocol == "sse" and run.finished >= run.started
    lines = run.logs.splitlines()
    assert len(lines) == 1000 and lines[-1] == "line 1499"  # bounded, newest kept
    [output] = run.outputs
    assert again.file(ALICE, run_id, output.name).read_bytes() == b"x" * 100
    upload = run.uploads["1-inputs-image"]
    assert again.file(ALICE, run_id, upload.name).read_bytes() == b"x" * 10
    assert ALICE not in (tmp_path / "data" / DB_NAME).read_bytes().decode("latin-1")


def test_owners_see_only_their_own_runs(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    mine = record(store, ALICE, tmp_path)
    [output] = store.get(ALICE, mine).outputs
    assert store.list(BOB) == [] and store.count(BOB) == 0
    assert store.get(BOB, mine) is None
    assert store.file(BOB, mine, output.name) is None
    assert store.file(ALICE, mine, "../../" + DB_NAME) is None
    assert store.file(ALICE, mine, "output/../../" + DB_NAME) is None
    assert not store.delete(BOB, mine)
    assert store.count(ALICE) == 1
    assert store.delete(ALICE, mine)
    assert store.list(ALICE) == [] and not (tmp_path / "data" / "files" / mine).exists()


def test_newest_first_and_paged(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    ids = [record(store, ALICE, tmp_path) for _ in range(5)]
    page1 = [r.id for r in store.list(ALICE, limit=2)]
    page3 = [r.id for r in store.list(ALICE, offset=4, limit=2)]
    assert page1 == ids[::-1][:2] and page3 == [ids[0]]


def test_oldest_runs_are_pruned_past_the_size_limit(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=2500)
    ids = [record(store, ALICE if i % 2 else BOB, tmp_path, size=1000) for i in range(4)]
    # each run keeps 1010 bytes (output + upload): only the two newest fit in 2500
    assert {r.id for r in store.list(ALICE) + store.list(BOB)} == set(ids[2:])
    assert not (tmp_path / "data" / "files" / ids[0]).exists()
    assert (tmp_path / "data" / "files" / ids[3]).exists()


def test_an_old_schema_is_upgraded_keeping_its_runs(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / DB_NAME)
    db.executescript(MIGRATIONS[0])  # the first schema, as an older release left it
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO runs (id, owner, created, workflow_name, workflow_hash, params, seeds,"
        " protocol, endpoint, status, finished) VALUES ('ab12', ?, 1.0, 'old.json', 'h', '{}',"
        " '{}', 'sse', 'x', 'done', 2.0)",
        (owner_key(ALICE),),
    )
    db.execute(  # left running by an older release that was killed: no lease names it
        "INSERT INTO runs (id, owner, created, workflow_name, workflow_hash, params, seeds,"
        " protocol, endpoint) VALUES ('cd34', ?, 0.5, 'old.json', 'h', '{}', '{}', 'sse', 'x')",
        (owner_key(ALICE),),
    )
    db.commit()
    db.close()
    store = HistoryStore(data, max_bytes=1 << 30)
    assert store.enabled
    run, zombie = store.list(ALICE)
    assert run.id == "ab12" and run.workflow_name == "old.json" and run.status == "done"
    assert zombie.id == "cd34" and zombie.status == "interrupted"
    assert store.start(
        ALICE, workflow_name="new.json", params={}, uploads={}, seeds={}, protocol="sse",
        endpoint="x",
    )  # fmt: skip
    assert store.count(ALICE) == 3
    db = sqlite3.connect(data / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    assert not columns & {"workflow_hash", "batch"}, "columns no run reads are dropped"


def test_a_damaged_database_is_moved_aside_and_a_new_one_started(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    garbage = b"this is not sqlite at all" * 100
    (data / DB_NAME).write_bytes(garbage)
    lines: list[str] = []
    store = HistoryStore(data, max_bytes=1 << 30, log=lines.append)
    [aside] = list(data.glob(f"{DB_NAME}.damaged-*"))
    assert aside.read_bytes() == garbage  # kept, not deleted
    assert len(lines) == 1 and "damaged" in lines[0] and "\n" not in lines[0]
    assert store.enabled
    record(store, ALICE, tmp_path)
    assert store.count(ALICE) == 1


def test_a_newer_schema_turns_history_off_in_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    sqlite3.connect(data / DB_NAME).execute("PRAGMA user_version = 99").connection.commit()
    lines: list[str] = []
    store = HistoryStore(data, max_bytes=1 << 30, log=lines.append)
    assert not store.enabled and len(lines) == 1 and "newer" in lines[0]
    assert store.start(
        ALICE, workflow_name="w", params={}, uploads={}, seeds={},
        protocol="sse", endpoint="x",
    ) is None  # fmt: skip
    assert store.list(ALICE) == [] and (data / DB_NAME).exists()


def test_a_full_disk_turns_history_off_and_keeps_what_was_kept(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30, log=lambda line: None)
    kept = record(store, ALICE, tmp_path)
    run_id = store.start(
        ALICE, workflow_name="w", params={}, uploads={}, seeds={},
        protocol="sse", endpoint="x",
    )  # fmt: skip
    db = store._db()
    page_size = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(
        f"PRAGMA max_page_count = {page_size}"
    )  # SQLITE_FULL from here on, as on a full disk
    store.finish(ALICE, run_id, status="done", logs=["x" * 100_000])
    assert not store.enabled and "full" in store.problem
    reopened = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    assert kept in {r.id for r in reopened.list(ALICE)}


def test_a_read_only_database_turns_history_off_saying_so(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30, log=lambda line: None)
    kept = record(store, ALICE, tmp_path)
    store._db().execute("PRAGMA query_only = ON")  # SQLITE_READONLY from here on
    store.finish(ALICE, kept, status="failed")
    assert not store.enabled and "cannot be written" in store.problem
    assert "runs still work" in store.problem


def test_threads_write_at_once(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                owner = f"owner-{n}"
                run_id = store.start(
                    owner, workflow_name="w", params={"i": i}, uploads={},
                    seeds={}, protocol="sse", endpoint="x",
                )  # fmt: skip
                store.finish(owner, run_id, status="done", logs=[str(i)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and store.enabled
    for n in range(8):
        runs = store.list(f"owner-{n}", limit=100)
        assert len(runs) == 10 and all(r.status == "done" for r in runs)


@pytest.mark.parametrize("bad", ["../x", "a/b", ""])
def test_file_lookups_refuse_foreign_run_ids(tmp_path, bad):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    assert store.file(ALICE, bad, "output/x.png") is None


def test_data_folder_and_size_come_from_flags_or_the_environment(tmp_path):
    env = {"VIEWCOMFY_DATA_DIR": str(tmp_path), "VIEWCOMFY_HISTORY_MAX_GB": "0.5"}
    config = parse_config([], env)
    assert config.data_dir == tmp_path and config.history_max_bytes == 512 << 20
    assert parse_config([], {"XDG_DATA_HOME": "/x"}).data_dir == Path("/x/viewcomfy-ui")
    assert parse_config(["--data-dir", "/d"], env).data_dir == Path("/d")
    with pytest.raises(ConfigError, match=r"a number above 0 and at most 1000000, not .lots."):
        parse_config(["--history-max-gb", "lots"], {})


def test_a_database_with_damaged_pages_is_moved_aside(tmp_path):
    data = tmp_path / "data"
    store = HistoryStore(data, max_bytes=1 << 30)
    for _ in range(20):
        record(store, ALICE, tmp_path)
    store.close()
    path = data / DB_NAME
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").connection.close()
    raw = bytearray(path.read_bytes())
    page = 4096
    raw[page : len(raw)] = b"\xff" * (len(raw) - page)  # every page after the header's
    path.write_bytes(bytes(raw))
    lines: list[str] = []
    again = HistoryStore(data, max_bytes=1 << 30, log=lines.append)
    assert again.enabled and again.count(ALICE) == 0
    assert len(list(data.glob(f"{DB_NAME}.damaged-*"))) == 1 and "damaged" in lines[0]


def test_the_history_loads_without_the_server():
    """The store finds files with `paths.find_inside`: importing it starts nothing of the server."""
    probe = "import sys, viewcomfy_ui.history; print('viewcomfy_ui.server' in sys.modules)"
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "False"
