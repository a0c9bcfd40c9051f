"""A realtime run outlives a dropped socket: the client connects again, re-subscribes its
prompt (`POST /api/workflow/infer/subscribe/{sid}`) and gets the rest of its logs and its
result, or the result it missed meanwhile (against the fake gateway)."""

from __future__ import annotations

import pytest
from fake_gateway import CLIENT_ID, SECRET, FakeGateway, Run

from viewcomfy_ui import api
from viewcomfy_ui.errors import RunFailedError

pytestmark = [
    pytest.mark.leak_prone,
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]
API_URL = "https://app.viewcomfy.com/api/deployment/abc"


@pytest.fixture
def gateway():
    with FakeGateway() as g:
        g.resubscribable = True
        yield g


def client(gateway: FakeGateway) -> api.ViewComfyClient:
    return api.ViewComfyClient(
        API_URL, CLIENT_ID, SECRET, protocol="realtime", gateway_url=gateway.url, timeout=30
    )


async def test_a_dropped_socket_resubscribes_and_the_run_goes_on(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        first = run.sid
        await run.drop()
        await run.resubscribed()
        assert run.sid != first
        await run.log("after the reconnect")
        await run.finish([])

    gateway.on_submit = script
    lines: list[str] = []
    async with client(gateway) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lines.append)
    assert result.status == "success"
    assert lines == ["got prompt", "after the reconnect"]
    assert len(gateway.connects) == 2
    [subscribe] = gateway.subscribes
    assert subscribe["json"] == {"prompt_ids": [result.prompt_id]}
    assert gateway.cancels == [], "a dropped socket does not cancel the run"


async def test_a_result_sent_while_the_socket_was_gone_is_collected(gateway):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.drop()
        await run.finish([gateway.store("a.png", b"\x89PNG")])  # to no socket

    gateway.on_submit = script
    async with client(gateway) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert [o.filename for o in result.outputs] == ["a.png"]
    assert gateway.result_queries, "the missed result was asked for"


async def test_a_run_that_failed_while_the_socket_was_gone_fails(gateway):
    async def script(run: Run) -> None:
        await run.drop()
        await run.finish([], status="error", completed=True, error_data={"message": "boom"})

    gateway.on_submit = script
    async with client(gateway) as c:
        with pytest.raises(RunFailedError, match="boom"):
            await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)


async def test_a_run_whose_events_went_elsewhere_is_collected_after_a_silence(gateway, monkeypatch):
    """A gateway whose subscribe moves every run of the keys may send a run's events to another
    socket of this client: a silent run asks `results` whether it ended."""
    monkeypatch.setattr("viewcomfy_ui.client.realtime.SILENCE", 0.2)

    async def script(run: Run) -> None:
        await run.log("got prompt")
        run.sid = "another-socket"  # taken by another listener's re-subscribe
        await run.finish([])

    gateway.on_submit = script
    async with client(gateway) as c:
        result = await c.infer_with_logs({"1-inputs-a": 1}, lambda _: None)
    assert result.status == "success" and gateway.result_queries
