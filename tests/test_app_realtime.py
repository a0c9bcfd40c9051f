"""The app over the realtime protocol, end to end through gradio_client: the local demo on the
embedded server's own gateway, and a ViewComfy-like fake gateway for Cancel."""

from __future__ import annotations

import gc
import logging
import time

import httpx
import pytest
from apps import gradio_client, running_app
from fake_gateway import CLIENT_ID, SECRET, FakeGateway, Run

pytestmark = pytest.mark.leak_prone
API_URL = "https://deploy.example/api-endpoint"


def run_outputs(page) -> list[str]:
    """The /run event's outputs, by elem_id, in the order gradio_client returns them."""
    fn = next(f for f in page.fns.values() if f.api_name == "run")
    return [c.elem_id for c in fn.outputs if not c.skip_api]  # gr.State is not returned


def press_run(url: str, page) -> dict[str, object]:
    """Run with the form's defaults; the outputs by elem_id."""
    with gradio_client(url) as client:
        result = client.predict(api_name="/run")
    return dict(zip(run_outputs(page), result, strict=True))


def wait_for(condition, what: str, seconds: float = 60.0) -> None:
    """Wait on state another thread changes (not a fixed sleep); fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_local_demo_runs_over_realtime():
    with running_app(protocol="realtime") as (url, app):
        assert app.endpoint.protocol == "realtime"
        assert "over the realtime API" in httpx.get(url + "config").text  # the page's banner
        out = press_run(url, app.page)
    assert 'data-state="done"' in out["status"], out["status"]
    assert out["logs"].startswith("got prompt") and "Prompt executed" in out["logs"]
    assert len(out["gallery"]) == 2
    assert any(path.endswith("all_outputs.zip") for path in out["files"])
    assert 'protocol="realtime"' in out["api-python"]
    port = app.local_server.url.rstrip("/").rsplit(":", 1)[1]
    assert f":{port}" not in out["api-python"], "the embedded server's port is never shown"
    assert "/api/workflow/infer" in out["api-curl"] and f":{port}" not in out["api-curl"]


@pytest.fixture
def gateway():
    with FakeGateway() as gw:
        yield gw


def remote_app(gateway: FakeGateway):
    return running_app(
        api_url=API_URL,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        protocol="realtime",
        gateway_url=gateway.url,
    )


def test_cancel_on_the_page_cancels_the_run_on_the_gateway(gateway, caplog):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.wait_cancelled()

    gateway.on_submit = script
    with remote_app(gateway) as (url, _), gradio_client(url) as client:
        job = client.submit(api_name="/run")
        wait_for(lambda: gateway.runs, "the run to reach the gateway")
        [prompt_id] = gateway.runs
        gc.collect()  # what earlier tests left behind is reported now, not below
        caplog.clear()
        caplog.set_level(logging.ERROR, logger="asyncio")
        job.cancel()
        wait_for(lambda: gateway.cancels, "the cancel request")
    gc.collect()  # a task dropped while pending would be reported now
    assert "Task was destroyed" not in caplog.text
    [cancel] = gateway.cancels
    assert cancel["json"] == {"prompt_id": prompt_id, "view_comfy_api_url": API_URL}
    assert cancel["headers"]["client_secret"] == SECRET


def test_a_run_cancelled_elsewhere_says_so(gateway):
    async def script(run: Run) -> None:
        await run.log(f"loading with {SECRET}")
        await run.emit("infer_canceled_message", {"prompt_id": run.prompt_id, "data": None})

    gateway.on_submit = script
    with remote_app(gateway) as (url, app):
        out = press_run(url, app.page)
        assert "realtime" in app.endpoint.description
    assert 'data-state="cancelled"' in out["status"] and "cancelled" in out["status"]
    assert "loading with ***" in out["logs"] and SECRET not in out["logs"]
    assert gateway.submits[0]["fields"]["view_comfy_api_url"] == API_URL
