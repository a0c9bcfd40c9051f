"""A UI-format file (ComfyUI's Save) in the app, in a real headless Chromium: its groups as the
form's sections, its notes as their help (inert Markdown under the heading), a run on the
built-in engine, and the one-line refusal of a graph the built-in engine cannot run; on a
desktop and on a phone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture

pytestmark = pytest.mark.browser
DATA = Path(__file__).parent / "data" / "ui_format"
TIMEOUT = 30_000
WIDTHS = [1400, 390]
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


@pytest.fixture(scope="module")
def photo_url():
    with running_app(DATA / "photo_groups.json") as (url, _):
        yield url


@pytest.fixture(scope="module")
def sampler_url(tmp_path_factory):
    """The sampler graph, its "Sampling" group's note made hostile (HTML) with a link."""
    graph = json.loads((DATA / "controls_reroutes_notes.json").read_text())
    (note,) = [n for n in graph["nodes"] if n["id"] == 11]
    note["widgets_values"] = [
        f"Keep steps **low** on a CPU.\n\n{HOSTILE} [Docs](https://docs.comfy.org)"
    ]
    path = tmp_path_factory.mktemp("ui") / "hostile_note.json"
    path.write_text(json.dumps(graph))
    with running_app(path) as (url, _):
        yield url


def open_page(browser, url: str, width: int):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.locator("#run").wait_for(timeout=TIMEOUT)
    page.locator(".vc-node-title").first.wait_for(timeout=TIMEOUT)
    return context, page


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", WIDTHS)
def test_groups_are_sections_and_the_file_runs_on_the_built_in_engine(browser, photo_url, width):  # noqa: F811
    context, page = open_page(browser, photo_url, width)
    try:
        titles = page.locator(".vc-node-title").all_inner_texts()
        assert titles[:2] == ["Your photo", "Look"]
        page.get_by_text("Pick a photo (PNG or JPEG).").first.wait_for(timeout=TIMEOUT)
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


@pytest.mark.parametrize("width", WIDTHS)
def test_a_note_is_its_sections_help_under_the_heading_never_raw_html(browser, sampler_url, width):  # noqa: F811
    context, page = open_page(browser, sampler_url, width)
    try:
        heading = page.locator(".vc-node-title", has_text="Sampling").first
        note = page.get_by_text("Keep steps", exact=False).last
        seed = page.locator("#field-5-inputs-seed")
        note.wait_for(timeout=TIMEOUT)  # Markdown is rendered after the page's first paint
        assert "Keep steps" not in seed.inner_text()  # not the seed's info
        top = [item.bounding_box()["y"] for item in (heading, note, seed)]
        assert top == sorted(top)  # heading, its help, then its fields
        bold = page.locator("strong", has_text="low")
        bold.first.wait_for(timeout=TIMEOUT)
        assert bold.count() == 1  # Markdown, rendered once
        link = page.get_by_role("link", name="Docs")
        assert link.get_attribute("href") == "https://docs.comfy.org"
        assert HOSTILE in page.locator(".vc-section-help").first.inner_text()  # shown, as text
        assert page.evaluate("window.pwned") is None
        assert fits_the_screen(page)
    finally:
        context.close()
