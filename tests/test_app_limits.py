"""The Gradio app's port holds what `serve` holds: request heads that never end are cut off,
and the page still answers while many are open. Real sockets on loopback."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait

import httpx
import pytest
from apps import free_port

from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.server.http import ConnectionLimits
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app

pytestmark = pytest.mark.leak_prone
WAIT = 30  # an upper bound on waiting, not a speed requirement


def partial_heads(port: int, count: int, closed_ok: bool = False) -> list[socket.socket]:
    """`count` connections that each sent the start of a request head, and no more (with
    `closed_ok`, those the server closed at once are kept too)."""
    heads = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        try:
            sock.sendall(b"GET /config HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            if not closed_ok:
                raise
        heads.append(sock)
    return heads


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed the connection (waits up to WAIT seconds)."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_the_apps_port_cuts_off_partial_heads_and_still_serves():
    app = create_app(AppConfig(workflow=DEMO_WORKFLOW, api_url=None))
    port = free_port()
    limits = ConnectionLimits(head_timeout=1.0, max_connections=400)
    app.launch(
        limits=limits,
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
    )
    heads = []
    try:
        heads = partial_heads(port, 200)
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=WAIT)
        assert config.status_code == 200 and "components" in config.json()
        assert all(closed_by_server(sock) for sock in heads), "each partial head is cut off"
    finally:
        for sock in heads:
            sock.close()
        app.close()


def test_connections_stay_within_the_processs_file_limit(tmp_path):
    """With 512 file descriptors and the default cap of 1000 connections, a flood of
    connections used them all (EMFILE): a run could not write its outputs. The cap fits the
    limit, so a client already connected still runs while the flood is held."""
    port = free_port()
    command = [sys.executable, "-m", "viewcomfy_ui", "serve", "--port", str(port)]
    limit = (512, 512)
    with open(tmp_path / "log", "w+b") as log:
        server = subprocess.Popen(
            command, stderr=log, stdout=log, env={**os.environ, "PYTHONPATH": os.getcwd()},
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit),
        )  # fmt: skip
        heads = []
        try:
            until_healthy(port)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as http:
                assert http.get("/health").status_code == 200  # connected before the flood
                with ThreadPoolExecutor(1) as pool:
                    flood = pool.submit(partial_heads, port, 400, closed_ok=True)
                    while not flood.done():  # keep the connection from idling out meanwhile
                        assert http.get("/health").status_code == 200
                        wait([flood], timeout=0.5)
                    heads = flood.result()
                entry = realtime_run(http)
        finally:
            for sock in heads:
                sock.close()
            server.terminate()
            server.wait(WAIT)
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert "Too many open files" not in output and "out of system resource" not in output
    assert entry["status"] == "success" and entry["outputs"], entry


def realtime_run(http: httpx.Client) -> dict:
    """A run on the realtime API (its outputs are written to files), polled until it ends."""
    form = {"prompt_id": "flood-run", "params": '{"3-inputs-value": 1}', "workflow_api": ""}
    assert http.post("/api/workflow/infer", data=form).status_code == 201
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        [entry] = http.get("/api/workflow/infer/", params={"prompt_ids": "flood-run"}).json()
        if entry["completed"]:
            return entry
        time.sleep(0.05)
    raise AssertionError("the run never ended")


def until_healthy(port: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("serve did not start")
