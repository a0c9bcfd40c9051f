"""Curated forms in a real headless Chromium: a view_comfy.json shows only its fields, a Run sends
them, a second workflow is picked on the page, and the author mode saves a file that loads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from scripted_server import Reply, ScriptedServer, result_json

from viewcomfy_ui.demo import DEMO_WORKFLOW

pytestmark = pytest.mark.browser
CURATED = Path(__file__).parent / "fixtures" / "curated" / "view_comfy.json"
TIMEOUT = 30_000


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def scripted():
    with ScriptedServer() as server:
        yield server


def field_ids(scope) -> list[str]:
    """The form's field element ids, in page order (seed modes left out)."""
    scope.locator("[id^='field-']").first.wait_for(timeout=TIMEOUT)
    ids = scope.locator("[id^='field-']").evaluate_all("els => els.map(e => e.id)")
    return [i for i in ids if not i.endswith("-mode")]


def run_plain(scope, page) -> None:
    if not scope.locator("#mode").is_visible():
        scope.locator("#api").get_by_text("API").first.click()
    scope.locator("#mode").get_by_text("Wait for the result", exact=True).click()
    scope.locator("#run").click()
    scope.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)


def test_view_comfy_json_shows_only_its_fields_and_a_run_sends_them(page, scripted):
    scripted.replies += [
        Reply(201, {"Content-Type": "application/json"}, result_json().encode())
    ] * 2
    settings = {"api_url": scripted.url, "client_id": "id", "client_secret": "s"}
    with running_app(CURATED, **settings) as (url, _):
        page.goto(url)
        first = page.locator("#workflow-0")
        basic = ["field-1-inputs-image", "field-5-inputs-blend_factor", "field-5-inputs-blend_mode"]
        assert field_ids(first) == [*basic, "field-3-inputs-value"]  # Advanced is closed
        text = first.inner_text()
        for shown in (
            "Photo to edit",
            "Tint strength",
            "How much of the tint shows",
            "Colour seed",
        ):
            assert shown in text
        assert "Helper Text" not in text and "Sharpen radius" not in text
        advanced = first.locator("#advanced")
        advanced.get_by_text("Advanced").first.click()
        advanced.locator("#field-6-inputs-blur_radius").wait_for(timeout=TIMEOUT)
        assert field_ids(first) == [
            *basic,
            "field-3-inputs-value",
            "field-6-inputs-blur_radius",
            "field-11-inputs-quality",
        ]
        quality = page.locator("#field-11-inputs-quality input").first
        quality.fill("70")
        quality.press("Tab")
        assert "Pixels; larger is softer" in advanced.inner_text()
        run_plain(first, page)
        sent = json.loads(scripted.requests[0].fields["params"])
        assert set(sent) == {"11-inputs-quality", "3-inputs-value"}  # the change and the seed
        assert sent["11-inputs-quality"] == 70
        assert "workflow_api" not in scripted.requests[0].fields  # the deployed workflow

        page.locator("#workflows").get_by_role("tab", name="Sharpen only").click()
        second = page.locator("#workflow-1")
        assert field_ids(second) == ["field-8-inputs-alpha"]
        assert "0 keeps the photo as it is" in second.inner_text()
        alpha = second.locator("#field-8-inputs-alpha input[type=number]").first
        alpha.fill("1.5")
        alpha.press("Tab")
        run_plain(second, page)
        request = scripted.requests[1]
        assert json.loads(request.fields["params"]) == {"8-inputs-alpha": 1.5}
        assert json.loads(request.fields["workflow_api"])["8"]["inputs"]["alpha"] == 0.5


def test_author_mode_saves_a_file_that_loads_back(page, tmp_path):
    out = tmp_path / "view_comfy.json"
    with running_app(DEMO_WORKFLOW, edit=out) as (url, _):
        page.goto(url)
        page.locator("#hide-all").click()
        page.locator("#edit-section-1-inputs-image").get_by_text("Hidden").wait_for()
        picks = [  # key, section, order, title, group, help
            ("8-inputs-alpha", "Basic form", 1, "Crispness", "Finish", "How sharp"),
            ("1-inputs-image", "Basic form", 2, "Your photo", "Input", ""),
            ("6-inputs-blur_radius", "Advanced", 3, "Blur", "Finish", ""),
        ]
        for key, section, order, title, group, help_text in picks:
            page.locator(f"#edit-section-{key}").get_by_text(section, exact=True).click()
            page.locator(f"#edit-order-{key} input").fill(str(order))
            page.locator(f"#edit-title-{key} textarea, #edit-title-{key} input").first.fill(title)
            page.locator(f"#edit-group-{key} textarea, #edit-group-{key} input").first.fill(group)
            helper = page.locator(f"#edit-help-{key} textarea, #edit-help-{key} input").first
            helper.fill(help_text)
            helper.press("Tab")
        page.locator("#edit-form-title textarea, #edit-form-title input").first.fill("My look")
        page.locator("#save").click()
        page.locator('#edit-status [data-state="done"]').wait_for(timeout=TIMEOUT)
        assert "2 basic and 1 advanced" in page.locator("#edit-status").inner_text()
    saved = json.loads(out.read_text())
    assert saved["workflows"][0]["viewComfyJSON"]["title"] == "My look"
    with running_app(out) as (url, _):
        page.goto(url)
        assert field_ids(page) == ["field-8-inputs-alpha", "field-1-inputs-image"]
        text = page.locator("body").inner_text()
        assert "Crispness" in text and "How sharp" in text and "Your photo" in text
        page.locator("#advanced").get_by_text("Advanced").first.click()
        page.locator("#advanced #field-6-inputs-blur_radius").wait_for(timeout=TIMEOUT)
        assert "Blur" in page.locator("#advanced").inner_text()
        assert field_ids(page)[-1] == "field-6-inputs-blur_radius"
        assert page.title() == "My look"
