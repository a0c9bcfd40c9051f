"""The form in headless Chromium: fields sharing rows at 1400 px, the Advanced search, and on a
phone a Run bar that stays on screen with the status beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from viewcomfy_ui.demo import DEMO_WORKFLOW

pytestmark = pytest.mark.browser
CURATED = Path(__file__).parent / "fixtures" / "curated" / "view_comfy.json"
TIMEOUT = 30_000
SHOWN = """[...document.querySelectorAll('#advanced [id^="field-"]')]
  .filter((e) => e.offsetParent).map((e) => e.id)"""  # the Advanced fields on show
BOX = "(selector) => { const b = document.querySelector(selector).getBoundingClientRect(); return [b.top, b.bottom]; }"  # fmt: skip


@pytest.fixture(scope="module")
def demo_url():
    with running_app() as (url, _):
        yield url


@pytest.fixture(scope="module")
def crops_url(tmp_path_factory):
    """80 image crops: 320 fields, all in Advanced but the first few nodes."""
    workflow = {
        str(n): {"class_type": "ImageCrop", "inputs": {"width": 64, "height": 64, "x": n, "y": 0}}
        for n in range(1, 81)
    }
    path = tmp_path_factory.mktemp("crops") / "crops_api.json"
    path.write_text(json.dumps(workflow), encoding="utf-8")
    with running_app(path) as (url, _):
        yield url


def top(page, selector: str) -> float:
    return page.evaluate(f"({BOX})('{selector}')")[0]


def test_width_and_height_share_a_row_at_desktop_width(browser, demo_url):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(demo_url)
    page.locator("#field-4-inputs-height").wait_for(timeout=TIMEOUT)
    try:  # the page's stylesheet may land after the fields have shown
        page.wait_for_function(
            f"({BOX})('#field-4-inputs-width')[0] === ({BOX})('#field-4-inputs-height')[0]",
            timeout=TIMEOUT,
        )
    except PlaywrightTimeout:
        pytest.fail(f"width at {top(page, '#field-4-inputs-width')} px, height at "
                    f"{top(page, '#field-4-inputs-height')} px: not one row")  # fmt: skip
    assert top(page, "#field-4-inputs-batch_size") > top(page, "#field-4-inputs-width")
    page.close()


def test_the_advanced_search_hides_fields_that_do_not_match(browser, crops_url):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(crops_url)
    page.locator("#advanced").get_by_text("Advanced").first.click()
    search = page.locator("#advanced-search textarea, #advanced-search input").first
    search.wait_for(timeout=TIMEOUT)
    before = page.evaluate(SHOWN).__len__()
    assert before > 250
    search.fill("77 x")  # words of the label and key, in any order
    page.wait_for_function(f"({SHOWN}).length === 1", timeout=TIMEOUT)
    assert page.evaluate(SHOWN) == ["field-77-inputs-x"]
    search.fill("")
    page.wait_for_function(f"({SHOWN}).length === {before}", timeout=TIMEOUT)
    page.close()


def test_on_a_phone_run_stays_on_screen_and_a_refusal_shows_beside_it(browser, demo_url):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(demo_url)
    width = page.locator("#field-4-inputs-width input").first
    width.fill("99999")
    width.press("Tab")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function("window.scrollY > 1000", timeout=TIMEOUT)
    run_top, run_bottom = page.evaluate(f"({BOX})('#run')")
    assert run_top >= 0 and run_bottom <= 844, "Run is on screen at the bottom of the page"
    page.locator("#run").click()
    page.locator('#status .vc-status[data-state="failed"]').wait_for(timeout=TIMEOUT)
    status_top, status_bottom = page.evaluate(f"({BOX})('#status')")
    actions_top = top(page, "#actions")
    assert status_top >= 0 and status_bottom <= actions_top + 1, "the refusal is on screen"
    assert actions_top - status_bottom < 40, "just above the Run bar"
    assert "Width" in page.locator("#status").inner_text()
    context.close()


COVERED = """() => {
  const box = document.querySelector('#run').getBoundingClientRect();
  const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
  return hit && hit.closest('#actions') ? '' : (hit?.id || hit?.className || 'nothing').toString();
}"""  # what covers Run's middle ('' when nothing does)


def test_on_a_phone_nothing_scrolls_over_the_run_bar(browser, demo_url):  # noqa: F811
    """Field labels sit above the page (z-index 40 in Gradio): the Logs label hid Run."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(demo_url)
    page.locator("#logs").wait_for(timeout=TIMEOUT)
    height = page.evaluate("document.documentElement.scrollHeight")
    for y in range(0, height, 200):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_function(f"Math.abs(window.scrollY - Math.min({y}, "
                               "document.documentElement.scrollHeight - innerHeight)) < 2",
                               timeout=TIMEOUT)  # fmt: skip
        assert page.evaluate(COVERED) == "", f"something covers Run when scrolled to {y}"
    context.close()


def test_author_mode_sorts_rows_by_number_previews_the_form_and_saves_at_the_bottom(
    browser,  # noqa: F811
    tmp_path,
):
    out = tmp_path / "view_comfy.json"
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    with running_app(DEMO_WORKFLOW, edit=out) as (url, _):
        page.goto(url)
        rows = "[...document.querySelectorAll('#edit-rows > .vc-edit-row')].map((r) => r.id)"
        page.locator("#edit-row-8-inputs-sigma").first.wait_for(timeout=TIMEOUT)
        assert page.evaluate(rows)[0] == "edit-row-1-inputs-image"
        order = page.locator("#edit-order-8-inputs-sigma input")
        order.fill("0")
        order.press("Tab")
        page.wait_for_function(f"({rows})[0] === 'edit-row-8-inputs-sigma'", timeout=TIMEOUT)
        title = page.locator(
            "#edit-title-8-inputs-sigma textarea, #edit-title-8-inputs-sigma input"
        )
        title.first.fill("Sharpness spread")
        preview = page.locator("#edit-preview")
        preview.get_by_text("Sharpness spread").wait_for(timeout=TIMEOUT)
        assert preview.inner_text().index("Sharpness spread") < preview.inner_text().index("Photo")
        page.locator("#save-bottom").click()
        page.locator('#edit-status [data-state="done"]').wait_for(timeout=TIMEOUT)
    form = json.loads(out.read_text())["workflows"][0]["viewComfyJSON"]
    assert form["inputs"][0]["inputs"][0]["title"] == "Sharpness spread"
    page.close()


def test_author_mode_keeps_typing_in_a_box_whose_row_moves(browser, tmp_path):  # noqa: F811
    """A row moves a moment after its number changes: the box being typed in keeps the keys."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    with running_app(DEMO_WORKFLOW, edit=tmp_path / "view_comfy.json") as (url, _):
        page.goto(url)
        rows = "[...document.querySelectorAll('#edit-rows > .vc-edit-row')].map((r) => r.id)"
        page.locator("#edit-row-8-inputs-sigma").first.wait_for(timeout=TIMEOUT)
        title = page.locator(
            "#edit-title-8-inputs-sigma textarea, #edit-title-8-inputs-sigma input"
        ).first
        title.click()
        title.press("End")
        page.evaluate("""() => {  // another row's number changes while the author types here
          const box = document.querySelector('#edit-order-1-inputs-image input');
          box.value = '99';
          box.dispatchEvent(new Event('input', {bubbles: true}));
          box.dispatchEvent(new Event('change', {bubbles: true}));
        }""")
        page.wait_for_function(f"({rows}).at(-1) === 'edit-row-1-inputs-image'", timeout=TIMEOUT)
        page.keyboard.type(" spread")
        assert title.input_value().endswith(" spread"), "the keys went to the box"
    page.close()


def test_a_curated_file_shows_its_app_title_and_each_workflows_description(browser, tmp_path):  # noqa: F811
    data = json.loads(CURATED.read_text(encoding="utf-8"))
    data["appTitle"] = "Studio <b>look</b>"
    data["workflows"][1]["viewComfyJSON"]["description"] = "Only the edges"
    path = tmp_path / "view_comfy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    with running_app(path) as (url, _):
        page.goto(url)
        title = page.locator(".vc-app-title")
        title.wait_for(timeout=TIMEOUT)
        assert title.inner_text() == "Studio <b>look</b>", "shown as text, never as HTML"
        first = page.locator("#workflow-0 .vc-description")
        assert first.inner_text() == "Give a photo a soft colour grade"
        page.locator("#workflows").get_by_role("tab", name="Sharpen only").click()
        page.locator("#workflow-1 .vc-description").get_by_text("Only the edges").wait_for(
            timeout=TIMEOUT
        )
    page.close()
