"""The status while a run goes on a ComfyUI, in a real headless Chromium: which node, its step,
its place among the nodes; then "Done"."""

from __future__ import annotations

import json

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from fake_comfyui import SLOW_NODE, FakeComfyUI, RunningFake

from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.workflow import load_workflow

pytestmark = [pytest.mark.browser, pytest.mark.leak_prone]
TIMEOUT = 60_000


def test_the_status_names_the_node_its_step_and_its_place(browser, tmp_path):  # noqa: F811
    workflow = load_workflow(DEMO_WORKFLOW).api | {
        "50": {
            "class_type": SLOW_NODE,
            "inputs": {"steps": 60, "anything": ["8", 0]},
            "_meta": {"title": "<b>Slow</b> sampler"},
        }
    }
    path = tmp_path / "slow_workflow_api.json"
    path.write_text(json.dumps(workflow))
    with (
        RunningFake(FakeComfyUI()) as comfy_url,
        running_app(path, comfyui_url=comfy_url) as (url, _),
    ):
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        page.goto(url)
        page.locator("#run").click()
        status = page.locator("#status .vc-text")
        page.locator('#status .vc-text:has-text("step")').wait_for(timeout=TIMEOUT)
        text = status.inner_text()
        assert text.startswith("<b>Slow</b> sampler (node 50) · step "), text
        assert " of 60 · node 12 of 12" in text
        page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)
        assert status.inner_text().startswith("Done in ")
        page.context.close()
