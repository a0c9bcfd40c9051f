"""The page over the realtime protocol in a real headless Chromium: a run, and Cancel."""

from __future__ import annotations

import time

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from fake_gateway import CLIENT_ID, SECRET, FakeGateway, Run

pytestmark = pytest.mark.browser
TIMEOUT = 60_000
API_URL = "https://deploy.example/api-endpoint"


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def wait_state(page, wanted: str) -> None:
    page.locator(f'#status .vc-status[data-state="{wanted}"]').wait_for(timeout=TIMEOUT)


def test_a_realtime_run_from_the_page_shows_logs_and_results(page):
    with running_app(protocol="realtime") as (url, _):
        page.goto(url)
        page.locator("#run").wait_for(timeout=TIMEOUT)
        assert "realtime API" in page.locator("body").inner_text(), "the page names its protocol"
        page.locator("#run").click()
        wait_state(page, "done")
        assert page.locator("#gallery img").count() >= 1
        assert "Prompt executed" in page.locator("#logs textarea").input_value()
        assert "all_outputs" in page.locator("#files").inner_text()


def test_cancel_on_the_page_stops_the_realtime_run_on_the_gateway(page):
    async def script(run: Run) -> None:
        await run.log("got prompt")
        await run.log("loading the model")
        await run.wait_cancelled()

    with FakeGateway() as gateway:
        gateway.on_submit = script
        settings = {"client_id": CLIENT_ID, "client_secret": SECRET, "protocol": "realtime"}
        with running_app(api_url=API_URL, gateway_url=gateway.url, **settings) as (url, _):
            page.goto(url)
            page.locator("#run").click()
            page.wait_for_function(
                "() => document.querySelector('#logs textarea').value.includes('loading the model')",
                timeout=TIMEOUT,
            )
            page.locator("#cancel").click()
            wait_state(page, "cancelled")
            deadline = time.monotonic() + 30
            while not gateway.cancels and time.monotonic() < deadline:
                time.sleep(0.05)  # the cancel request is sent by the app's server thread
            [prompt_id] = gateway.runs
            assert [c["json"]["prompt_id"] for c in gateway.cancels] == [prompt_id]
            assert "loading the model" in page.locator("#logs textarea").input_value(), (
                "the logs so far stay visible"
            )
            assert page.locator("#run").is_enabled()
