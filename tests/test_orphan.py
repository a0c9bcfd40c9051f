"""The local server's realtime runs outlive their socket: a new socket re-subscribes to them
(`POST /api/workflow/infer/subscribe/{sid}`, as ViewComfy's app does after a reconnect) and
gets the rest of their events; runs no socket takes within `orphan_timeout` are cancelled."""

from __future__ import annotations

import argparse
import threading

import pytest
from local_server import local_server
from test_realtime_server import KEYS, WAIT, Listener, api, results, submit, until_completed

from viewcomfy_ui.server import add_serve_command
from viewcomfy_ui.server.engine import BuiltinEngine, RunCancelled
from viewcomfy_ui.server.nodes import OutputFile
from viewcomfy_ui.ui.config import ConfigError, parse_config

pytestmark = pytest.mark.leak_prone


class HeldEngine(BuiltinEngine):
    """Logs one line, then runs until `gate` opens (or it is cancelled)."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.gate = threading.Event()

    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        log("got prompt")
        while not self.gate.is_set():
            if cancelled.wait(0.01):
                self.stopped.set()
                raise RunCancelled("the run was cancelled")
        log("released")
        return [OutputFile("out.txt", "text/plain", b"released")]


async def test_a_new_socket_takes_the_runs_of_one_that_went_away():
    engine = HeldEngine()
    with local_server(engine=engine, **KEYS) as url:
        first = await Listener().connect(url)
        async with api(url) as http:
            prompt_id = await submit(http, {"3-inputs-value": 1}, first.sid)
            await first.until("infer_log_message", text="got prompt")
            await first.sio.disconnect()
            second = await Listener().connect(url)
            sid = second.sid
            # As ViewComfy's app: no body, every running run of these keys.
            reply = await http.post(f"/api/workflow/infer/subscribe/{sid}")
            engine.gate.set()
            _, result = await second.until("infer_result_message")
            await second.until("infer_log_message", text="released")
        await second.sio.disconnect()
    assert reply.status_code == 201
    assert reply.json()["data"] == {"sid": sid, "prompt_ids": [prompt_id]}
    assert result["prompt_id"] == prompt_id and result["status"] == "success"
    assert not engine.stopped.is_set()


async def test_subscribe_moves_only_the_named_runs_of_the_same_keys():
    engine = HeldEngine()
    with local_server(engine=engine, **KEYS) as url:
        first = await Listener().connect(url)
        second = await Listener().connect(url)
        async with api(url) as http:
            one = await submit(http, {"3-inputs-value": 1}, first.sid)
            other = await submit(http, {"3-inputs-value": 2}, first.sid)
            path = f"/api/workflow/infer/subscribe/{second.sid}"
            reply = await http.post(path, json={"promptIds": [one]})  # their TypeScript spelling
            async with api(url, {"client_id": "rt-id", "client_secret": "wrong"}) as stranger:
                refused = await stranger.post(path)
            unknown = await http.post("/api/workflow/infer/subscribe/not-a-socket")
            engine.gate.set()
            await second.until("infer_result_message")
            await first.until("infer_result_message")
        for listener in (first, second):
            await listener.sio.disconnect()
    assert reply.json()["data"]["prompt_ids"] == [one]
    assert {d["prompt_id"] for e, d in second.events if e == "infer_result_message"} == {one}
    assert {d["prompt_id"] for e, d in first.events if e == "infer_result_message"} == {other}
    assert refused.status_code == 401 and "wrong" not in refused.text
    assert unknown.status_code == 422


async def test_runs_no_socket_takes_in_time_are_cancelled():
    engine = HeldEngine()
    with local_server(engine=engine, orphan_timeout=0.2, **KEYS) as url:
        listener = await Listener().connect(url)
        async with api(url) as http:
            prompt_id = await submit(http, {"3-inputs-value": 1}, listener.sid)
            fire_and_forget = await submit(http, {"3-inputs-value": 2})
            await listener.until("infer_log_message")
            await listener.sio.disconnect()
            ended = await until_completed(http, prompt_id)
            [going] = await results(http, fire_and_forget)
            engine.gate.set()
            done = await until_completed(http, fire_and_forget)
    assert engine.stopped.wait(WAIT)
    assert ended["status"] == "cancelled"
    assert going["completed"] is False, "a run submitted without a socket is not orphaned"
    assert done["status"] == "success"


def test_the_serve_command_takes_the_orphan_timeout_in_minutes():
    parser = argparse.ArgumentParser()
    add_serve_command(parser.add_subparsers())
    assert parser.parse_args(["serve", "--orphan-timeout", "0.5"]).orphan_timeout == 0.5
    assert parser.parse_args(["serve"]).orphan_timeout == 10
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--orphan-timeout", "0"])


def test_the_app_takes_the_orphan_timeout_in_minutes():
    assert parse_config(["--orphan-timeout", "0.5"], {}).orphan_timeout == 30
    assert parse_config([], {"VIEWCOMFY_ORPHAN_TIMEOUT": "2"}).orphan_timeout == 120
    assert parse_config([], {}).orphan_timeout == 600
    with pytest.raises(ConfigError, match="orphan-timeout"):
        parse_config(["--orphan-timeout", "0"], {})
