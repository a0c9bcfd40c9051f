"""The API secret in any spelling a hostile endpoint echoes it in (issue 19, section 4): URL-
encoded, base64 (standard or URL-safe, at any alignment), hex, upper or lower case, or any
8-character piece of it never reaches the status line, the logs or the history database.

`reveals` is the test's own detector, independent of the scrub: it decodes every base64, hex and
URL-encoded run it finds and looks for any 8-character piece of the secret, in any case."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import sqlite3
import urllib.parse
from pathlib import Path

import pytest
from scripted_server import Reply, ScriptedServer, result_json, sse, stream

from viewcomfy_ui.history import HistoryStore
from viewcomfy_ui.ui import status as st
from viewcomfy_ui.ui.batch import RunQueue
from viewcomfy_ui.ui.history import HistoryContext, Recorder
from viewcomfy_ui.ui.runner import MAX_LINE_CHARS, Endpoint, Runner
from viewcomfy_ui.ui.values import Params

pytestmark = pytest.mark.leak_prone
SECRET = "Zx9+/q~Kv3Secret=Value/2024?&end"  # '+', '/', '=', '~': every encoding differs
CLIENT_ID = "client-id-7777-abcd"
PIECE = 8
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
_B64_RUN = re.compile(r"[A-Za-z0-9+/_=-]{11,}")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")


def pieces(secret: str) -> set[bytes]:
    data = secret.lower().encode()
    return {data[i : i + PIECE] for i in range(len(data) - PIECE + 1)}


def reveals(text: str, secret: str = SECRET) -> bool:
    """Whether `text` gives away an 8-character piece of `secret`: as is, in any case, URL-
    encoded, hex or base64 (either alphabet, at any offset)."""
    wanted = pieces(secret)
    found = [text.encode(), urllib.parse.unquote_plus(text).encode()]
    for run in _HEX_RUN.findall(text):
        found += [binascii.unhexlify(run[i : len(run) - (len(run) - i) % 2]) for i in (0, 1)]
    for run in _B64_RUN.findall(text):
        for start in range(4):
            chunk = run[start:].rstrip("=")
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                found.append(base64.b64decode(chunk.replace("-", "+").replace("_", "/")))
            except binascii.Error:  # an "=" inside the run: not base64 from here
                pass
    return any(piece in data.lower() for data in found for piece in wanted)


def b64(data: bytes, *, urlsafe: bool = False) -> str:
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()


SPELLINGS = {
    "plain": SECRET,
    "upper": SECRET.upper(),
    "lower": SECRET.lower(),
    "url": urllib.parse.quote(SECRET, safe=""),
    "url plus": urllib.parse.quote_plus(SECRET),
    "url every byte": "".join(f"%{b:02X}" for b in SECRET.encode()),
    "hex": SECRET.encode().hex(),
    "base64": b64(SECRET.encode()),
    "base64 offset 1": b64(b"k" + SECRET.encode()),
    "base64 offset 2": b64(b"ke" + SECRET.encode()),
    "base64 urlsafe": b64(SECRET.encode(), urlsafe=True),
    "base64 urlsafe offset 1": b64(b"k" + SECRET.encode(), urlsafe=True),
    "basic auth": b64(f"{CLIENT_ID}:{SECRET}".encode()),
    "first half": SECRET[: len(SECRET) // 2],
    "second half": SECRET[len(SECRET) // 2 :],
    "a middle piece": SECRET[9:18],
    "half, base64": b64(b"xy" + SECRET[: len(SECRET) // 2].encode()),
    "half, url-encoded, upper": urllib.parse.quote(SECRET[len(SECRET) // 2 :], safe="").upper(),
}


def test_the_detector_sees_every_spelling():
    assert all(reveals(f"echo {spelling} here") for spelling in SPELLINGS.values())
    assert not reveals("ordinary log line: KSampler 45% 9/20 [00:03<00:04, 2.50it/s]")


@pytest.mark.parametrize("name", SPELLINGS)
def test_every_spelling_is_scrubbed_and_the_rest_kept(name):
    text = f"key: {SPELLINGS[name]} (echoed)"
    shown = st.scrub(text, (SECRET, CLIENT_ID))
    assert not reveals(shown), shown
    assert shown.startswith("key: ") and shown.endswith(" (echoed)") and "***" in shown


def test_a_long_line_is_scrubbed_and_cut():
    line = "x" * 5000 + b64(SECRET.encode()) + "y" * 100_000
    shown = st.scrub(line, (SECRET,), MAX_LINE_CHARS)
    assert len(shown) == MAX_LINE_CHARS and shown.endswith("…")
    assert st.scrub("x" * 1990 + SECRET.upper(), (SECRET,), MAX_LINE_CHARS) == "x" * 1990 + "***"


def test_ordinary_text_is_left_alone():
    line = "Prompt executed in 2.50 seconds; model sd_xl_base_1.0.safetensors loaded"
    assert st.scrub(line, (SECRET, CLIENT_ID)) == line


# --- end to end: a hostile endpoint on loopback, the page's queue and the history store ------


def hostile_stream() -> Reply:
    """A streamed run that echoes the keys in every spelling: in its log lines, its prompt id
    and its output's file name."""
    logs = [sse("log_message", f"{name}: {spelling}") for name, spelling in SPELLINGS.items()]
    output = {
        "filename": f"out-{SPELLINGS['url']}-{SPELLINGS['base64 offset 2'][:30]}.png",
        "content_type": "image/png", "data": PNG, "size": 40,
    }  # fmt: skip
    done = result_json([output], prompt_id=f"p-{SPELLINGS['base64 urlsafe offset 1']}")
    return Reply(201, {"Content-Type": "text/event-stream"}, stream([*logs, sse("prompt_result", done)]))  # fmt: skip


def hostile_failure() -> Reply:
    error = f"bad key {SPELLINGS['upper']} / {SPELLINGS['basic auth']} / {SPELLINGS['second half']}"
    return Reply(201, {"Content-Type": "text/event-stream"}, stream([sse("error", error)]))


async def test_a_hostile_endpoint_gets_no_spelling_onto_the_page_or_into_the_history(tmp_path):
    store = HistoryStore(tmp_path / "data", max_bytes=1 << 30)
    with ScriptedServer() as server:
        server.replies += [hostile_stream(), hostile_failure()]
        endpoint = Endpoint(server.url, client_id=CLIENT_ID, client_secret=SECRET)
        recorder = Recorder(HistoryContext(store, "hostile.json"), endpoint, "owner-token")
        queue = RunQueue(
            Runner(endpoint), asyncio.Semaphore(1), on_start=recorder.started,
            on_end=recorder.ended,
        )  # fmt: skip
        jobs = queue.add([Params(values={"6-inputs-text": "hi"})] * 2, tmp_path / "runs")
        async with asyncio.timeout(30):
            async for _ in queue.changes():
                pass
        assert server.requests[0].headers["client_secret"] == SECRET  # it did get the key
    assert [job.state for job in jobs] == ["done", "failed"]
    page = [st.ended(job.outcome, {}).html() for job in jobs]
    page += [line for job in jobs for line in job.logs]
    page += [o.path.name for o in jobs[0].outputs]
    assert len(jobs[0].logs) == len(SPELLINGS) and "***" in page[0] and "***" in page[1]
    assert [line for line in page if reveals(line)] == []
    store.close()
    with sqlite3.connect(tmp_path / "data" / "history.sqlite3") as db:
        kept = "\n".join(db.iterdump())
    assert "hostile.json" in kept and not reveals(kept)
    assert not any(reveals(p.name) for p in Path(tmp_path / "data" / "files").rglob("*"))
