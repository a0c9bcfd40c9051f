"""What one client can make the local server spend: reply sizes, run slots held by slow bodies,
sockets that never authenticate, and stored outputs. Real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from local_server import local_server

from viewcomfy_ui.server.engine import BuiltinEngine
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
