"""`#preview` in a real headless Chromium: a run shows its image forming, then the results."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import httpx
import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from fake_comfyui import SLOW_NODE, FakeComfyUI, RunningFake
from test_real_comfyui_previews import SKIP as REAL_SKIP
from test_real_comfyui_previews import TEST_NODE

pytestmark = [pytest.mark.browser, pytest.mark.leak_prone]
TIMEOUT = 60_000
WIDTHS = [1400, 390]

# Counts each new frame of #preview (a change of its image) until the run's status is final.
WATCH = """() => {
  window.previewFrames = [];
  const seen = () => {
    const img = document.querySelector('#preview img');
    const status = document.querySelector('#status .vc-status');
    const final = status && ['done', 'failed', 'cancelled'].includes(status.dataset.state);
    if (img && !final && img.src !== window.previewFrames.at(-1)) {
      window.previewFrames.push(img.src);
    }
  };
  new MutationObserver(seen).observe(document.body,
    {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


@contextmanager
def page_at(browser, width: int):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def run_and_count_frames(page, url: str) -> int:
    page.goto(url)
    page.locator("#run").wait_for(timeout=TIMEOUT)
    page.evaluate(WATCH)
    page.locator("#run").click()
    page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)
    page.locator("#gallery img").first.wait_for(timeout=TIMEOUT)
    assert not page.locator("#preview img").is_visible()  # replaced by the results
    frames = page.evaluate("window.previewFrames")
    assert all(src.startswith("data:image/jpeg;base64,") for src in frames)
    return len(frames)


@pytest.fixture(scope="module")
def demo_url():
    with running_app() as (url, _):
        yield url


@pytest.mark.parametrize("width", WIDTHS)
def test_a_run_on_the_builtin_engine_shows_its_preview_forming(browser, demo_url, width):  # noqa: F811
    with page_at(browser, width) as page:
        assert run_and_count_frames(page, demo_url) >= 3


def workflow_file(tmp_path, workflow: dict):
    path = tmp_path / "workflow_api.json"
    path.write_text(json.dumps(workflow))
    return path


def save(source: str) -> dict:
    return {"class_type": "SaveImage", "inputs": {"images": [source, 0], "filename_prefix": "p"}}


@pytest.mark.parametrize("width", WIDTHS)
def test_a_run_on_a_fake_comfyui_shows_its_preview_forming(browser, tmp_path, width):  # noqa: F811
    image = {"width": 8, "height": 8, "batch_size": 1, "color": 0}
    path = workflow_file(tmp_path, {
        "1": {"class_type": "EmptyImage", "inputs": image},
        "2": {"class_type": SLOW_NODE, "inputs": {"steps": 12, "anything": ["1", 0]}},
        "3": save("1"),
    })  # fmt: skip
    with (
        RunningFake(FakeComfyUI()) as comfy,
        running_app(path, comfyui_url=comfy) as (url, _),
        page_at(browser, width) as page,
    ):
        assert run_and_count_frames(page, url) >= 3


@pytest.mark.skipif(bool(REAL_SKIP), reason=REAL_SKIP or "-")
@pytest.mark.parametrize("width", WIDTHS)
def test_a_run_on_a_real_comfyui_shows_its_preview_forming(browser, tmp_path, width):  # noqa: F811
    comfy = os.environ["COMFYUI_URL"].rstrip("/")
    assert httpx.get(f"{comfy}/system_stats", timeout=10).status_code == 200
    test_node = {"class_type": TEST_NODE, "inputs": {"steps": 16, "size": 384, "seed": width}}
    path = workflow_file(tmp_path, {"1": test_node, "2": save("1")})
    with running_app(path, comfyui_url=comfy) as (url, _), page_at(browser, width) as page:
        assert run_and_count_frames(page, url) >= 3


def test_a_cancelled_run_keeps_its_last_preview(browser, tmp_path):  # noqa: F811
    image = {"width": 8, "height": 8, "batch_size": 1, "color": 0}
    path = workflow_file(
        tmp_path,
        {
            "1": {"class_type": "EmptyImage", "inputs": image},
            "2": {"class_type": SLOW_NODE, "inputs": {"steps": 3000, "anything": ["1", 0]}},
            "3": save("1"),
        },
    )  # fmt: skip: a run of 5 minutes, so only Cancel ends it
    with (
        RunningFake(FakeComfyUI()) as comfy,
        running_app(path, comfyui_url=comfy) as (url, _),
        page_at(browser, 1400) as page,
    ):
        page.goto(url)
        page.locator("#run").click()
        page.locator("#preview img").wait_for(timeout=TIMEOUT)
        page.locator("#cancel").click()
        page.locator('#status .vc-status[data-state="cancelled"]').wait_for(timeout=TIMEOUT)
        assert page.locator("#preview img").is_visible()
        assert page.locator("#gallery img").count() == 0
