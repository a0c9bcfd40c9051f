"""What one client can make the local server spend: reply sizes, run slots held by slow bodies,
sockets that never authenticate, and stored outputs. Real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import httpx
import pytest
import socketio
from local_server import local_server
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from viewcomfy_ui.server.engine import BuiltinEngine
from viewcomfy_ui.server.http import ConnectionLimits
from viewcomfy_ui.server.nodes import OutputFile

pytestmark = pytest.mark.leak_prone
WAIT = 30  # an upper bound on waiting, not a speed requirement
PARAMS = {"3-inputs-value": 1}


class ManyOutputs(BuiltinEngine):
    """Every run returns `count` small text files."""

    def __init__(self, count: int) -> None:
        self.count = count

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        return [OutputFile(f"o{i}.txt", "text/plain", b"x") for i in range(self.count)]


async def submit(http: httpx.AsyncClient, params: dict = PARAMS, **headers: str) -> str:
    prompt_id = str(uuid.uuid4())
    form = {"prompt_id": prompt_id, "params": json.dumps(params), "workflow_api": ""}
    reply = await http.post("/api/workflow/infer", data=form, headers=headers)
    assert reply.status_code == 201, reply.text
    return prompt_id


async def completed(http: httpx.AsyncClient, prompt_id: str) -> dict:
    for _ in range(WAIT * 20):
        reply = await http.get("/api/workflow/infer/", params={"prompt_ids": prompt_id})
        [entry] = reply.json()
        if entry["completed"]:
            return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {prompt_id} never completed")


async def test_results_name_each_run_once_however_often_it_is_asked_for():
    with local_server(engine=ManyOutputs(1500)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
            prompt_id = await submit(http)
            entry = await completed(http, prompt_id)
            repeated = await http.get(
                "/api/workflow/infer/", params={"prompt_ids": [prompt_id] * 100}
            )
            too_many = await http.get(
                "/api/workflow/infer/", params={"prompt_ids": [f"id-{i}" for i in range(101)]}
            )
    [again] = repeated.json()
    assert again == entry, "100 copies of one id are one entry"
    assert len(entry["outputs"]) == 1500
    assert [o["filename"] for o in entry["outputs"]] == [f"o{i}.txt" for i in range(1500)]
    assert set(entry["outputs"][0]) == {"filename", "contentType", "size", "filepath"}
    assert too_many.status_code == 422 and "at most 100" in too_many.json()["detail"]


def open_request(url: str, head: bytes, body: bytes = b"") -> socket.socket:
    """A connection that sent `head` and the start of a body, left open."""
    sock = socket.create_connection((httpx.URL(url).host, httpx.URL(url).port), timeout=WAIT)
    sock.sendall(head + body)
    return sock


def form_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    ).encode()


async def test_a_slow_body_holds_no_run_slot():
    with local_server(max_active_runs=1) as url:
        slow = [
            open_request(url, form_head(path, 10_000), b"params=")
            for path in ("/", "/api/workflow/infer", "/api/workflow/infer")
        ]
        try:
            async with httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
                assert (await http.get("/health")).status_code == 200  # the slow heads are in
                prompt_id = await submit(http)
                entry = await completed(http, prompt_id)
        finally:
            for sock in slow:
                sock.close()
    assert entry["status"] == "success"


def test_a_body_that_trickles_in_too_long_is_408_and_its_connection_closed():
    limits = ConnectionLimits(body_timeout=5)
    with local_server(max_body_seconds=1, max_active_runs=1, limits=limits) as url:
        for path in ("/", "/api/workflow/infer"):
            with open_request(url, form_head(path, 10_000), b"params=") as sock:
                answer = trickle_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert b"did not arrive within 1 seconds" in answer
        assert httpx.post(url, data={"params": json.dumps(PARAMS)}, timeout=WAIT).is_success


def trickle_until_closed(sock: socket.socket) -> bytes:
    """Send a byte every 0.1 s (well within the idle timeout) until the server closes."""
    sock.settimeout(0.1)
    answer = b""
    for _ in range(WAIT * 10):
        try:
            data = sock.recv(65536)
        except TimeoutError:
            data = None
        if data == b"":
            return answer
        answer += data or b""
        try:
            sock.sendall(b"x")
        except OSError:  # reset by the server
            return answer
    raise AssertionError(f"the connection stayed open; got {answer[:200]!r}")


async def test_a_cancel_body_is_small_and_either_spelling_names_the_run():
    with local_server() as url:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
            huge = await http.post("/api/workflow/infer/cancel", content=b"[" * 100_000)
            camel = await http.post("/api/workflow/infer/cancel", json={"promptId": "nope"})
    assert huge.status_code == 413
    assert camel.status_code == 404 and "nope" in camel.json()["detail"]


KEYS = {"client_id": "gate-id", "client_secret": "gate-secret"}


def raw_socket(url: str) -> ClientConnection | None:
    """An engine.io websocket that never sends socket.io's CONNECT (so never its keys); None
    if the server refused it."""
    address = url.replace("http://", "ws://") + "socket.io/?EIO=4&transport=websocket"
    try:
        ws = connect(address, open_timeout=WAIT, close_timeout=1)
    except (OSError, InvalidStatus, InvalidHandshake):
        return None
    try:
        if ws.recv(timeout=WAIT).startswith("0"):  # engine.io's open packet
            return ws
    except ConnectionClosed:
        pass
    ws.close()
    return None


def closed_by_server(ws: ClientConnection, wait: float = WAIT) -> bool:
    """True once the server closed `ws`; False if it is still open after `wait` seconds."""
    try:
        while True:
            ws.recv(timeout=wait)
    except ConnectionClosed:
        return True
    except TimeoutError:
        return False


async def test_sockets_without_keys_hold_only_their_share_and_briefly():
    limits = ConnectionLimits(head_timeout=5, max_connections=20)
    with local_server(limits=limits, **KEYS) as url:
        raw = [raw_socket(url) for _ in range(20)]
        held = [ws for ws in raw if ws is not None and not closed_by_server(ws, wait=0.2)]
        try:
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(url, auth=KEYS, transports=["websocket"], wait_timeout=WAIT)
            wrong, reasons = socketio.AsyncClient(reconnection=False), []
            wrong.on("connect_error", reasons.append)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await wrong.connect(url, auth={"client_id": "x"}, transports=["websocket"])
            cut_off = all(closed_by_server(ws) for ws in held)
            probe = raw_socket(url)  # opened after the client: cut off after it would be
            assert probe is not None and closed_by_server(probe)
            probe.close()
            async with httpx.AsyncClient(base_url=url, headers=KEYS, timeout=WAIT) as http:
                form = {"params": json.dumps(PARAMS), "sid": client.get_sid()}
                still_connected = await http.post("/api/workflow/infer", data=form)
            await client.disconnect()
        finally:
            for ws in held:
                ws.close()
    assert len(raw) == 20 and len(held) == 5, "a quarter of the connections may wait for keys"
    assert still_connected.status_code == 201, "a client with keys connects and stays"
    assert reasons == [{"message": "invalid client_id or client_secret"}]
    assert cut_off, "a socket that never sends its keys is closed after the head timeout"


class SizedOutputs(BuiltinEngine):
    """Every run returns one file of the size its value (node 3) asks for."""

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        size = workflow["3"]["inputs"]["value"]
        return [OutputFile("out.bin", "application/octet-stream", b"x" * size)]


async def test_a_clients_stored_outputs_stay_within_its_share_of_disk(tmp_path):
    share = 3 * 4096  # three outputs of one 4 KiB block each
    with local_server(
        engine=SizedOutputs(), max_client_storage_bytes=share, work_dir=tmp_path
    ) as url:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
            other = await completed(
                http, await submit(http, {"3-inputs-value": 4096}, client_id="b")
            )
            mine = [
                await completed(http, await submit(http, {"3-inputs-value": 4000}, client_id="a"))
                for _ in range(4)
            ]
            too_big = await completed(
                http, await submit(http, {"3-inputs-value": 20_000}, client_id="a")
            )
            links = [entry["outputs"][0]["filepath"] for entry in [other, *mine]]
            answers = [await http.get(link) for link in links]
            folders = len(list(tmp_path.glob("viewcomfy-outputs-*")))
    assert [a.status_code for a in answers] == [200, 403, 200, 200, 200], "a's oldest expired"
    assert "expired early" in answers[1].json()["detail"]
    assert too_big["status"] == "error" and too_big["outputs"] == []
    assert too_big["errorData"]["exception_message"] == (
        "the run's outputs take 20 KiB; this server keeps at most 12 KiB of outputs per client: "
        "make fewer or smaller outputs"
    )
    assert folders == 4, "the expired run's folder is gone"
