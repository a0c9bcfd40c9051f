"""A UI-format file (ComfyUI's Save) in the app, in a real headless Chromium: its groups as the
form's sections, its note as help, a run on the built-in engine, and the one-line refusal of a
graph the built-in engine cannot run; on a desktop and on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture

pytestmark = pytest.mark.browser
DATA = Path(__file__).parent / "data" / "ui_format"
TIMEOUT = 30_000
WIDTHS = [1400, 390]


@pytest.fixture(scope="module")
def photo_url():
    with running_app(DATA / "photo_groups.json") as (url, _):
        yield url


@pytest.fixture(scope="module")
def sampler_url():
    with running_app(DATA / "controls_reroutes_notes.json") as (url, _):
        yield url


def open_page(browser, url: str, width: int):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.locator("#run").wait_for(timeout=TIMEOUT)
    return context, page


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", WIDTHS)
def test_groups_are_sections_and_the_file_runs_on_the_built_in_engine(browser, photo_url, width):  # noqa: F811
    context, page = open_page(browser, photo_url, width)
    try:
        titles = page.locator(".vc-node-title").all_inner_texts()
        assert titles[:2] == ["Your photo", "Look"]
        assert page.get_by_text("Pick a photo (PNG or JPEG).").first.is_visible()
        assert page.locator("#field-3-inputs-blur_radius input[type=number]").input_value() == "4"
        page.locator("#run").click()
        page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)
        assert page.locator("#gallery img").count() >= 1
        assert fits_the_screen(page)
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_ui_file_the_built_in_engine_cannot_run_is_refused_in_one_line(
    browser,  # noqa: F811
    sampler_url,
    width,
):
    context, page = open_page(browser, sampler_url, width)
    try:
        seed = page.locator("#field-5-inputs-seed input, #field-5-inputs-seed textarea").first
        assert seed.input_value() == "42"
        mode = page.locator("#field-5-inputs-seed-mode input").first
        assert mode.input_value() == "+1"  # the graph's saved control: increment
        page.locator("#run").click()
        page.locator('#status .vc-status[data-state="failed"]').wait_for(timeout=TIMEOUT)
        status = page.locator("#status").inner_text()
        assert "cannot run on the built-in engine" in status and "Traceback" not in status
        assert fits_the_screen(page)
    finally:
        context.close()
