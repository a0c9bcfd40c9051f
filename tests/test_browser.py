"""The page in a real headless Chromium: fill, upload, run, watch logs, cancel, errors, sessions."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from PIL import Image
from scripted_server import Reply, ScriptedServer, result_json, sse

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "browser-test-secret"
TIMEOUT = 30_000


def png_b64(size=(8, 8), color=(20, 120, 220)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def timed(events):
    """A scripted SSE reply: (delay before, event, data) triples."""
    return lambda: iter([(delay, sse(name, data)) for delay, name, data in events])


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def api_params(page) -> dict:
    """The API accordion's 'params of the last run', as JSON (opens the accordion)."""
    if not page.locator("#api-params").is_visible():
        page.locator("#api").get_by_text("API").first.click()
    return json.loads(page.locator("#api-params .cm-content").inner_text(timeout=TIMEOUT))


def wait_for_the_result(scope) -> None:
    """Pick "Wait for the result" (one plain request) in the API accordion."""
    if not scope.locator("#mode").is_visible():
        scope.locator("#api").get_by_text("API").first.click()
    scope.locator("#mode").get_by_text("Wait for the result", exact=True).click()


def state(page) -> str:
    return page.locator("#status .vc-status").get_attribute("data-state")


def wait_state(page, wanted: str, timeout: int = TIMEOUT) -> None:
    page.locator(f'#status .vc-status[data-state="{wanted}"]').wait_for(timeout=timeout)


@pytest.fixture(scope="module")
def demo_url():
    with running_app() as (url, _):
        yield url


def test_demo_upload_run_and_gallery(page, demo_url, tmp_path):
    image = tmp_path / "upload.png"
    Image.new("RGBA", (120, 90), (255, 0, 0, 90)).save(image)
    page.goto(demo_url)
    page.locator("#field-1-inputs-image input[type=file]").set_input_files(str(image))
    page.locator("#field-1-inputs-image img").first.wait_for(timeout=TIMEOUT)
    page.locator("#run").click()
    wait_state(page, "done")
    assert page.locator("#gallery img").count() >= 1 or page.locator("#gallery video").count() >= 1
    assert "Prompt executed" in page.locator("#logs textarea").input_value()
    assert "all_outputs" in page.locator("#files").inner_text()
    assert api_params(page)["1-inputs-image"] == "<file: upload.png>"


@pytest.fixture
def scripted():
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def scripted_url(scripted):
    with running_app(
        FIXTURES / "sd15_txt2img.json", api_url=scripted.url, client_id="id", client_secret=SECRET
    ) as (url, _):
        yield url


def test_prompt_is_sent_and_logs_appear_before_the_run_ends(page, scripted, scripted_url):
    result = result_json(
        [{"filename": "out.png", "content_type": "image/png", "data": png_b64(), "size": 70}]
    )
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, timed([
        (0.0, "log_message", "got prompt"),
        (0.3, "log_message", " 25%|██▌       | 5/20 [00:01<00:03,  4.00it/s]"),
        (2.5, "prompt_result", result),
    ])))  # fmt: skip
    page.goto(scripted_url)
    prompt = page.locator("#field-6-inputs-text textarea")
    prompt.fill("a lighthouse at dawn, watercolor")
    page.locator("#run").click()
    page.wait_for_function(
        "document.querySelector('#logs textarea').value.includes('5/20')", timeout=TIMEOUT
    )
    assert state(page) == "running", "log lines must show while the run is still going"
    assert "step 5 of 20" in page.locator("#status").inner_text()
    wait_state(page, "done")
    assert page.locator("#gallery img").count() == 1
    sent = json.loads(scripted.requests[0].fields["params"])
    assert sent["6-inputs-text"] == "a lighthouse at dawn, watercolor"
    assert SECRET not in page.content()


def test_cancel_stops_the_run_and_page_is_ready_again(page, scripted, scripted_url):
    """How fast cancel acts is measured in bench/bench_ui.py, not asserted here."""
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, timed([
        (0.0, "log_message", "got prompt"), (20.0, "prompt_result", result_json()),
    ])))  # fmt: skip
    page.goto(scripted_url)
    page.locator("#run").click()
    page.wait_for_function(
        "document.querySelector('#logs textarea').value.includes('got prompt')", timeout=TIMEOUT
    )
    page.locator("#cancel").click()
    wait_state(page, "cancelled")
    assert page.locator("#run").is_enabled() and not page.locator("#cancel").is_enabled()
    assert page.locator("#gallery img").count() == 0, "the cancelled run shows no result"


def test_401_and_error_event_are_readable_and_form_keeps_values(page, scripted, scripted_url):
    scripted.replies.append(
        Reply(401, {"Content-Type": "application/json"}, b'{"detail": "bad key"}')
    )
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, timed([
        (0.0, "log_message", "got prompt"), (0.1, "error", "<img src=x onerror=alert(1)> node 3 failed"),
    ])))  # fmt: skip
    page.goto(scripted_url)
    page.locator("#field-6-inputs-text textarea").fill("keep me")
    page.locator("#run").click()
    wait_state(page, "failed")
    assert "refused the API key" in page.locator("#status").inner_text()
    page.locator("#run").click()
    page.wait_for_function(
        "document.querySelector('#status').innerText.includes('node 3 failed')", timeout=TIMEOUT
    )
    assert "<img src=x onerror=alert(1)>" in page.locator("#status").inner_text(), (
        "shown as text, not HTML"
    )
    assert page.locator("#status img").count() == 0
    assert page.locator("#logs textarea").input_value() == "got prompt"
    assert page.locator("#field-6-inputs-text textarea").input_value() == "keep me"


def test_two_sessions_at_once_get_their_own_outputs(browser, demo_url):  # noqa: F811
    pages = [browser.new_context().new_page() for _ in range(2)]
    widths = [64, 96]
    for page, width in zip(pages, widths, strict=True):
        page.goto(demo_url)
        for key in ("2-inputs-width", "4-inputs-width"):
            box = page.locator(f"#field-{key} input").first
            box.fill(str(width))
            box.press("Tab")
    for page in pages:
        page.locator("#run").click()
    for page, width in zip(pages, widths, strict=True):
        wait_state(page, "done")
        assert api_params(page)["2-inputs-width"] == width
        src = page.locator("#gallery img").first.get_attribute("src")
        other = next(p for p in pages if p is not page)
        assert src not in other.content()
    for page in pages:
        page.context.close()


def test_invalid_value_is_refused_next_to_the_field_and_reset_restores_defaults(
    page, scripted, scripted_url
):
    page.goto(scripted_url)
    seed = page.locator("#field-3-inputs-seed input, #field-3-inputs-seed textarea").first
    original_seed = seed.input_value()
    prompt = page.locator("#field-6-inputs-text textarea")
    original_prompt = prompt.input_value()
    seed.fill("12abc")
    prompt.fill("changed")
    page.locator("#run").click()
    page.locator("#field-3-inputs-seed").get_by_text("enter a whole number").wait_for(
        timeout=TIMEOUT
    )
    assert scripted.requests == [], "nothing is sent while a field is invalid"
    page.locator("#reset").click()
    page.wait_for_function(
        "document.querySelector('#field-6-inputs-text textarea').value !== 'changed'",
        timeout=TIMEOUT,
    )
    assert prompt.input_value() == original_prompt
    assert seed.input_value() == original_seed


def test_untouched_run_of_a_primitives_workflow_sends_only_the_seeds(page, scripted):
    scripted.replies.append(
        Reply(201, {"Content-Type": "application/json"}, result_json().encode())
    )
    settings = {"api_url": scripted.url, "client_id": "id", "client_secret": SECRET}
    with running_app(FIXTURES / "ltx2_i2v_primitives.json", **settings) as (url, _):
        page.goto(url)
        wait_for_the_result(page)
        page.locator("#run").click()
        wait_state(page, "done")
    sent = json.loads(scripted.requests[0].fields["params"])
    seeds = {"5192-inputs-seed", "5189:5097-inputs-noise_seed", "5189:5111-inputs-noise_seed"}
    assert set(sent) == seeds, "lengths, sizes, frame rates stay the workflow's own"
    assert page.locator("#field-5186-inputs-value-mode").count() == 0, "a length has no seed mode"


def test_out_of_range_value_is_named_in_the_status_and_marked(page, scripted, scripted_url):
    page.goto(scripted_url)
    width = page.locator("#field-5-inputs-width input").first
    width.fill("99999")
    width.press("Tab")
    page.locator("#run").click()
    wait_state(page, "failed")
    assert "Width: must be at most 16384" in page.locator("#status").inner_text()
    field = page.locator("#field-5-inputs-width")
    assert "vc-refused" in field.get_attribute("class")
    assert "must be at most 16384" in field.inner_text()
    assert scripted.requests == []
    width.fill("640")  # fixed: the next run goes, and the mark goes away
    width.press("Tab")
    scripted.replies.append(
        Reply(201, {"Content-Type": "application/json"}, result_json().encode())
    )
    wait_for_the_result(page)
    page.locator("#run").click()
    wait_state(page, "done")
    assert "vc-refused" not in field.get_attribute("class")
    assert json.loads(scripted.requests[0].fields["params"])["5-inputs-width"] == 640


def test_on_a_phone_run_shows_the_status_then_the_results(browser, scripted, scripted_url):  # noqa: F811
    result = result_json(
        [{"filename": "out.png", "content_type": "image/png", "data": png_b64(), "size": 70}]
    )
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, timed([
        (0.0, "log_message", "got prompt"), (4.0, "prompt_result", result),
    ])))  # fmt: skip
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(scripted_url)
    page.locator("#run").wait_for(timeout=TIMEOUT)
    assert not in_view(page, "#status"), "on a phone the status starts below the form"
    page.locator("#run").click()
    wait_state(page, "running")  # the reply takes 4 s: time to look
    page.wait_for_function(f"({IN_VIEW})('#status')", timeout=TIMEOUT)
    assert state(page) == "running", "the status is in view while the run goes"
    wait_state(page, "done")
    page.wait_for_function(f"({IN_VIEW})('#gallery img')", timeout=TIMEOUT)
    context.close()


def test_on_a_phone_a_long_error_stays_inside_the_status(browser, scripted, scripted_url):  # noqa: F811
    name = "TextEncodeHunyuanVideo_ImageToVideo_WithAVeryLongCustomNodeClassName"
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, timed([
        (0.0, "error", f"node 80 ({name}) cannot run here"),
    ])))  # fmt: skip
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(scripted_url)
    page.locator("#run").click()
    wait_state(page, "failed")
    box = page.locator("#status .vc-status")
    assert box.evaluate("b => b.scrollWidth <= b.clientWidth"), "the text overflows the box"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


IN_VIEW = """(selector) => {
  const box = document.querySelector(selector).getBoundingClientRect();
  return box.top < window.innerHeight && box.bottom > 0;
}"""


def in_view(page, selector: str) -> bool:
    return page.evaluate(f"({IN_VIEW})('{selector}')")
