"""The server's realtime API (docs/viewcomfy-api.md §6), driven by a plain python-socketio
AsyncClient and httpx over real loopback HTTP, as ViewComfy's own client speaks it."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid

import httpx
import pytest
import socketio
from fake_comfyui import SLOW_NODE, FakeComfyUI, RunningFake
from local_server import local_server

from viewcomfy_ui.server.comfyui import ComfyUIEngine
from viewcomfy_ui.server.engine import BuiltinEngine, RunCancelled
from viewcomfy_ui.server.nodes import OutputFile

pytestmark = pytest.mark.leak_prone
KEYS = {"client_id": "rt-id", "client_secret": "rt-secret"}
DEPLOYMENT = "https://example.invalid/deployment"
RESULT_KEYS = {"prompt_id", "status", "completed", "execution_time_seconds", "prompt", "outputs"}
CAMEL_KEYS = {
    "promptId", "status", "completed", "executionTimeSeconds", "prompt", "outputs",
    "errorData", "createdAt", "workflow", "clientId", "user",
}  # fmt: skip
WAIT = 30  # an upper bound on waiting for an event, not a speed requirement


class Listener:
    """A socket.io connection that records every event it receives, in order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, dict]] = []
        self._arrived = asyncio.Condition()
        self.sio.on("*", self._record)

    async def _record(self, event: str, data: dict) -> None:
        async with self._arrived:
            self.events.append((event, data))
            self._arrived.notify_all()

    async def connect(self, url: str, auth: dict | None = KEYS) -> Listener:
        await self.sio.connect(url, auth=auth, transports=["websocket"])
        return self

    @property
    def sid(self) -> str:
        return self.sio.get_sid()

    async def until(self, *names: str, text: str = "") -> tuple[str, dict]:
        """The first event named one of `names` (with `text` in its data), waiting for it."""

        def match(event: str, data: dict) -> bool:
            return event in names and text in str(data.get("data"))

        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: any(match(e, d) for e, d in self.events)), WAIT
            )
        return next((e, d) for e, d in self.events if match(e, d))

    def names(self) -> list[str]:
        return [e for e, _ in self.events]


async def submit(http: httpx.AsyncClient, params: dict, sid: str | None = None, **fields) -> str:
    """Submit as ViewComfy's client does: urlencoded fields, `workflow_api` empty when unset."""
    prompt_id = str(uuid.uuid4())
    data = {
        "prompt_id": prompt_id,
        "view_comfy_api_url": DEPLOYMENT,
        "params": json.dumps(params),
        "workflow_api": "",
        **({"sid": sid} if sid else {}),
        **fields,
    }
    reply = await http.post("/api/workflow/infer", data=data)
    assert reply.status_code == 201, reply.text
    assert set(reply.json()) == {"data"}
    assert set(reply.json()["data"]) == {"prompt_id", "message", "workflow"}
    assert reply.json()["data"]["prompt_id"] == prompt_id
    return prompt_id


async def results(http: httpx.AsyncClient, *prompt_ids: str) -> list[dict]:
    reply = await http.get("/api/workflow/infer/", params={"prompt_ids": list(prompt_ids)})
    assert reply.status_code == 200, reply.text
    return reply.json()


async def until_completed(http: httpx.AsyncClient, prompt_id: str) -> dict:
    """Poll the results endpoint, as a batch client does, until the run has ended."""
    for _ in range(WAIT * 20):
        [entry] = await results(http, prompt_id)
        if entry["completed"]:
            return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {prompt_id} never completed")


def api(url: str, keys: dict | None = KEYS) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers=keys or {}, timeout=WAIT)


@pytest.fixture(scope="module")
def url():
    with local_server(**KEYS) as u:
        yield u


async def test_logs_then_executed_then_a_result_with_exactly_viewcomfys_keys(url):
    listener = await Listener().connect(url)
    async with api(url) as http:
        prompt_id = await submit(http, {"3-inputs-value": 123}, listener.sid)
        _, result = await listener.until("infer_result_message")
        direct = await http.post(
            "/", files={"logs": (None, "false"), "params": (None, '{"3-inputs-value": 123}')}
        )
    await listener.sio.disconnect()
    names = listener.names()
    assert names[0] == "infer_log_message" and names[-2:] == [
        "infer_executed_message",
        "infer_result_message",
    ]
    for name, payload in listener.events[:-1]:
        assert set(payload) == {"prompt_id", "data"} and payload["prompt_id"] == prompt_id, name
    assert listener.events[0][1]["data"] == "got prompt"
    assert set(result) == RESULT_KEYS, "ViewComfy's client does PromptResult(**payload)"
    assert result["status"] == "success" and result["completed"] is True
    assert result["prompt"]["3"]["inputs"]["value"] == 123
    assert [set(o) for o in result["outputs"]] == [
        {"filename", "content_type", "size", "filepath"}
    ] * 2
    served = {o["filename"]: base64.b64decode(o["data"]) for o in direct.json()["outputs"]}
    async with httpx.AsyncClient(timeout=WAIT) as keyless:
        for output in result["outputs"]:
            body = (await keyless.get(output["filepath"])).content
            assert body == served[output["filename"]], "the link serves the engine's exact bytes"
            assert len(body) == output["size"]


async def test_events_reach_only_the_socket_that_submitted(url):
    first, second = await Listener().connect(url), await Listener().connect(url)
    async with api(url) as http:
        mine = await submit(http, {"3-inputs-value": 1}, first.sid)
        await first.until("infer_result_message")
        theirs = await submit(http, {"3-inputs-value": 2}, second.sid)
        await second.until("infer_result_message")
    for listener in (first, second):
        await listener.sio.disconnect()
    assert {d["prompt_id"] for _, d in first.events} == {mine}
    assert {d["prompt_id"] for _, d in second.events} == {theirs}


async def test_wrong_or_missing_keys_are_refused_on_every_route(url):
    for auth in ({"client_id": "rt-id", "client_secret": "rt-secreT"}, None, {"x": 1}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Listener().connect(url, auth=auth)
    async with api(url, {"client_id": "rt-id", "client_secret": "wrong"}) as http:
        form = {"params": "{}", "prompt_id": "p1"}
        assert (await http.post("/api/workflow/infer", data=form)).status_code == 401
        cancel = await http.post("/api/workflow/infer/cancel", json={"prompt_id": "p1"})
        assert cancel.status_code == 401
        listing = await http.get("/api/workflow/infer/", params={"prompt_ids": ["p1"]})
        assert listing.status_code == 401
        assert "rt-secret" not in listing.text


class BlockingEngine(BuiltinEngine):
    """Logs one line, then runs until cancelled (or is released by `gate`)."""

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
        return [OutputFile("out.txt", "text/plain", b"released")]


async def test_cancel_stops_the_engine_and_tells_the_listener():
    engine = BlockingEngine()
    with local_server(engine=engine) as url:
        listener = await Listener().connect(url, auth=None)
        async with api(url, None) as http:
            prompt_id = await submit(http, {"3-inputs-value": 1}, listener.sid)
            await listener.until("infer_log_message")
            [running] = await results(http, prompt_id)
            body = {"prompt_id": prompt_id, "view_comfy_api_url": DEPLOYMENT}
            reply = await http.post("/api/workflow/infer/cancel", json=body)
            _, cancelled = await listener.until("infer_canceled_message")
            [ended] = await results(http, prompt_id)
            again = await http.post("/api/workflow/infer/cancel", json=body)
            unknown = await http.post("/api/workflow/infer/cancel", json={"prompt_id": "nope"})
        await listener.sio.disconnect()
    assert running["status"] == "running" and running["completed"] is False
    assert reply.status_code == 201 and reply.json()["data"]["prompt_id"] == prompt_id
    assert engine.stopped.is_set(), "the engine's run itself stopped"
    assert cancelled["prompt_id"] == prompt_id
    assert "infer_result_message" not in listener.names()
    assert ended["status"] == "cancelled" and ended["completed"] is True
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    assert unknown.status_code == 404


async def test_fire_and_forget_is_collected_in_camel_case_from_running_to_completed():
    engine = BlockingEngine()
    with local_server(engine=engine, **KEYS) as url:
        async with api(url) as http:
            prompt_id = await submit(http, {"3-inputs-value": 5})
            other = await submit(http, {"3-inputs-value": 6})
            [running] = await results(http, prompt_id)
            engine.gate.set()
            done = await until_completed(http, prompt_id)
            both = await results(http, prompt_id, "not-a-run", other)
            async with httpx.AsyncClient() as keyless:
                body = (await keyless.get(done["outputs"][0]["filepath"])).content
    for entry in (running, done):
        assert set(entry) == CAMEL_KEYS
    assert running["completed"] is False and running["status"] != "success"
    assert done["completed"] is True and done["status"] == "success"
    assert done["promptId"] == prompt_id and done["clientId"] == "rt-id"
    assert done["prompt"]["3"]["inputs"]["value"] == 5 and done["errorData"] is None
    assert set(done["outputs"][0]) == {"filename", "contentType", "size", "filepath"}
    assert body == b"released"
    assert [e["promptId"] for e in both] == [prompt_id, other], "unknown ids are left out"


async def test_a_failed_run_is_an_error_event_and_error_data_in_results(url):
    graph = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 16384, "height": 1, "color": 0}},
        "3": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0]}},
    }  # fails in node 3: WebP images are at most 16383 pixels wide
    listener = await Listener().connect(url)
    async with api(url) as http:
        prompt_id = await submit(
            http, {"1-inputs-color": 1}, listener.sid, workflow_api=json.dumps(graph)
        )
        _, error = await listener.until("infer_error_message", "infer_result_message")
        [entry] = await results(http, prompt_id)
    await listener.sio.disconnect()
    assert error == {
        "prompt_id": prompt_id,
        "data": {
            "exception_message": "a WebP image is at most 16383 pixels a side, not 16384x1: scale it down, or save it with SaveAnimatedPNG",
            "node_id": "3",
            "node_type": "SaveAnimatedWEBP",
        },
    }
    assert entry["status"] == "error" and entry["completed"] is True
    assert entry["errorData"] == error["data"] and entry["outputs"] == []


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_links_expire_with_403_and_their_files_are_deleted(tmp_path):
    clock = Clock()
    with local_server(link_ttl=600, clock=clock, work_dir=tmp_path) as url:
        async with api(url, None) as http:
            prompt_id = await submit(http, {"3-inputs-value": 9})
            link = (await until_completed(http, prompt_id))["outputs"][0]["filepath"]
            [folder] = tmp_path.glob("viewcomfy-outputs-*")
            fresh = await http.get(link)
            clock.now += 601
            expired = await http.get(link)
            folder_after_expiry = folder.exists()
            listed = await results(http, prompt_id)
            clock.now += 600
            forgotten = await http.get(link)
            listed_later = await results(http, prompt_id)
    assert fresh.status_code == 200
    assert expired.status_code == 403 and "expired" in expired.text
    assert not folder_after_expiry, "an expired link's file is deleted"
    assert listed and listed_later == [] and forgotten.status_code == 404


async def test_at_most_max_kept_runs_are_remembered():
    with local_server(max_kept_runs=2) as url:
        async with api(url, None) as http:
            ids, links = [], []
            for i in range(3):
                ids.append(await submit(http, {"3-inputs-value": i}))
                links.append((await until_completed(http, ids[-1]))["outputs"][0]["filepath"])
            listed = await results(http, *ids)
            first_link = await http.get(links[0])
            last_link = await http.get(links[2])
    assert [e["promptId"] for e in listed] == ids[1:]
    assert first_link.status_code == 404 and last_link.status_code == 200


class HostileEngine(BuiltinEngine):
    def check(self, workflow, inputs):
        pass

    def run(self, workflow, inputs, log, cancelled):
        return [
            OutputFile(
                '../../../etc/x"\r\nSet-Cookie: a=b.html', "text/html", b"<script>1</script>"
            )
        ]


async def test_links_never_leave_the_runs_folder_and_names_are_harmless():
    with local_server(engine=HostileEngine()) as url:
        async with api(url, None) as http:
            prompt_id = await submit(http, {"3-inputs-value": 1})
            [output] = (await until_completed(http, prompt_id))["outputs"]
            served = await http.get(output["filepath"])
            token = output["filepath"].split("/outputs/")[1].split("/")[0]
            probes = [
                f"/outputs/{token}/..%2F..%2F..%2Fetc%2Fpasswd",
                "/outputs/..%2F..%2Fetc/passwd",
                "/outputs/%2e%2e/%2e%2e",
                f"/outputs/{token[:-1]}{'B' if token.endswith('A') else 'A'}/x",
                "/outputs/" + "A" * 43 + "/x",
            ]
            replies = [await http.get(p) for p in probes]
    assert served.content == b"<script>1</script>"
    assert "/" not in output["filename"] and "\n" not in output["filename"]
    disposition = served.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "\n" not in disposition
    assert "set-cookie" not in served.headers
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert all(r.status_code == 404 for r in replies), [r.status_code for r in replies]
    assert all(b"root:" not in r.content for r in replies)


async def test_bad_submissions_are_refused_with_a_reason(url):
    listener = await Listener().connect(url)
    async with api(url) as http:
        ghost = await http.post(
            "/api/workflow/infer", data={"params": '{"3-inputs-value": 1}', "sid": "nobody"}
        )
        used = await submit(http, {"3-inputs-value": 1}, listener.sid)
        again = await http.post(
            "/api/workflow/infer", data={"params": '{"3-inputs-value": 1}', "prompt_id": used}
        )
        bad = await http.post("/api/workflow/infer", data={"params": "[1]", "prompt_id": "x"})
        await listener.until("infer_result_message")
    await listener.sio.disconnect()
    assert ghost.status_code == 422 and "sid" in ghost.json()["detail"]
    assert again.status_code == 409 and used in again.json()["detail"]
    assert bad.status_code == 422 and "params" in bad.json()["detail"]


async def test_realtime_runs_on_the_comfyui_engine_with_an_upload(tmp_path):
    from test_comfyui_engine import png_bytes

    with (
        RunningFake(FakeComfyUI()) as comfy_url,
        local_server(engine=ComfyUIEngine(comfy_url)) as url,
    ):
        listener = await Listener().connect(url, auth=None)
        async with api(url, None) as http:
            data = {
                "prompt_id": str(uuid.uuid4()),
                "view_comfy_api_url": DEPLOYMENT,
                "params": json.dumps({"3-inputs-value": 4}),
                "workflow_api": "",
                "sid": listener.sid,
            }
            files = [("1-inputs-image", ("in.png", png_bytes(), "image/png"))]
            reply = await http.post("/api/workflow/infer", data=data, files=files)
            _, result = await listener.until("infer_result_message", "infer_error_message")
            bodies = [(await http.get(o["filepath"])).content for o in result["outputs"]]
        await listener.sio.disconnect()
    assert reply.status_code == 201
    assert set(result) == RESULT_KEYS and result["status"] == "success"
    assert any(
        line.startswith("got prompt")
        for e, d in listener.events
        if e == "infer_log_message"
        for line in [d["data"]]
    )
    assert bodies and all(
        len(b) == o["size"] > 0 for b, o in zip(bodies, result["outputs"], strict=True)
    )


async def test_runs_beyond_the_limit_are_refused_until_one_ends():
    engine = BlockingEngine()
    with local_server(engine=engine, max_active_runs=1) as url:
        async with api(url, None) as http:
            first = await submit(http, {"3-inputs-value": 1})
            form = {"params": '{"3-inputs-value": 2}', "prompt_id": "second"}
            realtime = await http.post("/api/workflow/infer", data=form)
            direct = await http.post(
                "/", files={"logs": (None, "false"), "params": (None, form["params"])}
            )
            await http.post("/api/workflow/infer/cancel", json={"prompt_id": first})
            await until_completed(http, first)
            engine.gate.set()
            later = await submit(http, {"3-inputs-value": 3})
            done = await until_completed(http, later)
    for refused in (realtime, direct):
        assert refused.status_code == 503 and "1 runs are in progress" in refused.json()["detail"]
    assert done["status"] == "success"


async def test_cancel_interrupts_the_run_on_comfyui():
    fake = FakeComfyUI()
    slow = {
        "1": {"class_type": SLOW_NODE, "inputs": {"steps": 100}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
    with (
        RunningFake(fake) as comfy_url,
        local_server(engine=ComfyUIEngine(comfy_url), workflow=slow) as url,
    ):
        listener = await Listener().connect(url, auth=None)
        async with api(url, None) as http:
            prompt_id = await submit(http, {"1-inputs-steps": 99}, listener.sid)
            await listener.until("infer_log_message", text="%|")  # a progress line: it runs
            running = fake.running
            cancel = await http.post("/api/workflow/infer/cancel", json={"prompt_id": prompt_id})
            await listener.until("infer_canceled_message")
            [ended] = await results(http, prompt_id)
        await listener.sio.disconnect()
    assert cancel.status_code == 201 and running is not None
    assert fake.interrupts == [running], "ComfyUI was told to stop the running prompt"
    assert ended["status"] == "cancelled"
