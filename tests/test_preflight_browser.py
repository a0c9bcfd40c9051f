"""Issue 18 §2 in a real headless Chromium: what the server lacks is listed at load and Run
says it; empty and unreadable uploads are named; an image on the ComfyUI is shown in its field."""

from __future__ import annotations

import io
import json

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from fake_comfyui import FakeComfyUI, RunningFake, png
from PIL import Image

from viewcomfy_ui.nodespecs import core_object_info

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def status_text(page) -> str:
    return page.locator("#status .vc-status").inner_text()


def wait_status(page, text: str) -> str:
    page.wait_for_function(
        "t => document.querySelector('#status')?.innerText.includes(t)", arg=text, timeout=TIMEOUT
    )
    return status_text(page)


def guarded(page) -> None:
    """Wait for the page's upload check (installed by a load event, after the page shows)."""
    page.locator("html[data-vc-upload-guard]").wait_for(state="attached", timeout=TIMEOUT)


def editor_loaded(page, field: str = "#field-1-inputs-image") -> None:
    """Wait for a mask editor to show its image: it replaces its upload box then (a file given
    to the old box is lost)."""
    page.wait_for_function(
        "f => !document.querySelector(f).innerText.includes('Upload an image')",
        arg=field, timeout=TIMEOUT,
    )  # fmt: skip


def write(tmp_path, workflow: dict, name: str = "workflow_api.json"):
    path = tmp_path / name
    path.write_text(json.dumps(workflow))
    return path


def test_missing_node_types_and_models_are_listed_at_load_and_run_says_so(
    browser,  # noqa: F811
    tmp_path,
):
    (tmp_path / "input").mkdir()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(tmp_path / "input" / "photo.png")
    workflow = write(tmp_path, {
        "1": {"class_type": "LoadImage", "inputs": {"image": "photo.png", "upload": "image"}},
        "2": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["1", 0]}},
        "3": {"class_type": EVIL, "inputs": {"images": ["1", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}},
    })  # fmt: skip
    info = tmp_path / "object_info.json"
    info.write_text(json.dumps(core_object_info()))  # a server with no packs and no models
    context = browser.new_context(viewport={"width": 390, "height": 800})  # a phone
    page = context.new_page()
    try:
        with running_app(workflow, object_info=str(info)) as (url, _):
            page.goto(url)
            problems = page.locator("#problems")
            problems.wait_for(timeout=TIMEOUT)
            text = problems.inner_text()
            assert "'VHS_VideoCombine' (from ComfyUI-VideoHelperSuite; node 2)" in text
            assert f"{EVIL!r} (from a custom node pack; node 3)" in text, "shown as text"
            assert "'sd15.safetensors' is not on the server" in text
            assert "photo.png" not in text, "the app sends its own input file"
            assert page.locator("#problems img").count() == 0
            assert page.evaluate(
                "() => { const p = document.querySelector('#problems');"
                " return p.scrollWidth <= p.clientWidth; }"
            ), "readable at 390 px: nothing wider than the screen"
            page.locator("#run").click()
            said = wait_status(page, "Not sent")
            assert "2 node types (VHS_VideoCombine, <img" in said
            assert "1 model file (sd15.safetensors)" in said
            page.locator('#status [data-state="failed"]').wait_for(timeout=TIMEOUT)
            assert page.locator("#status .vc-status").count() == 1, "Starting… was replaced"
            assert page.locator("#run").is_enabled()
    finally:
        context.close()


def test_empty_required_uploads_are_all_named_before_sending(page, tmp_path):
    workflow = write(tmp_path, {
        "1": {"class_type": "LoadImage", "inputs": {"image": "first.png", "upload": "image"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "second.png", "upload": "image"}},
        "3": {"class_type": "ImageBlend", "inputs": {
            "image1": ["1", 0], "image2": ["2", 0], "blend_factor": 0.5, "blend_mode": "normal",
        }},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    })  # fmt: skip
    with running_app(workflow) as (url, _):
        page.goto(url)
        page.locator("#run").click()
        said = wait_status(page, "Not sent")
        assert said.count("upload a file") == 2
        assert "'first.png'" in said and "'second.png'" in said
        assert page.locator("#run").is_enabled()
        assert page.locator("#logs textarea").input_value() == "", "nothing was sent"


@pytest.fixture(scope="module")
def demo_url():
    with running_app() as (url, _):
        yield url


def test_a_corrupt_png_on_an_image_field_is_named(page, demo_url, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    page.goto(demo_url)
    guarded(page)
    page.locator("#field-1-inputs-image input[type=file]").set_input_files(str(bad))
    assert "'bad.png' is not a readable image" in wait_status(page, "bad.png")
    page.locator("#run").click()
    said = wait_status(page, "Not sent")
    assert "'bad.png' is not a readable image" in said
    assert page.locator("#run").is_enabled(), "the page is ready for another file"


def test_a_text_file_on_an_image_field_is_named(page, demo_url, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    page.goto(demo_url)
    guarded(page)
    page.locator("#field-1-inputs-image input[type=file]").set_input_files(str(notes))
    said = wait_status(page, "notes.txt")
    assert said.startswith("Photo: 'notes.txt' is not a readable image")


def test_a_text_file_or_a_corrupt_png_on_a_mask_editor_is_named(page, tmp_path):
    (tmp_path / "input").mkdir()
    Image.new("RGB", (64, 64), (40, 90, 160)).save(tmp_path / "input" / "source.png")
    workflow = write(tmp_path, {
        "1": {"class_type": "LoadImage", "inputs": {"image": "source.png", "upload": "image"}},
        "2": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 1]}},
        "3": {"class_type": "SaveImage", "inputs": {"filename_prefix": "m", "images": ["2", 0]}},
    })  # fmt: skip
    notes, bad = tmp_path / "notes.txt", tmp_path / "bad.png"
    notes.write_text("hello")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    with running_app(workflow) as (url, _):
        page.goto(url)
        guarded(page)
        editor_loaded(page)
        upload = page.locator("#field-1-inputs-image input[type=file]").first
        upload.set_input_files(str(notes))
        assert "'notes.txt' is not a readable image" in wait_status(page, "notes.txt")
        page.reload()
        guarded(page)
        editor_loaded(page)
        page.locator("#field-1-inputs-image input[type=file]").first.set_input_files(str(bad))
        assert "'bad.png' is not a readable image" in wait_status(page, "bad.png")


def test_an_image_on_the_comfyui_is_shown_in_its_field(page, tmp_path):
    fake = FakeComfyUI()
    fake.files[("input", "", "photo.png")] = png((250, 10, 10))
    fake.object_info["LoadImage"]["input"]["required"]["image"] = [
        ["photo.png"], {"image_upload": True}
    ]  # fmt: skip
    workflow = write(tmp_path, {
        "1": {"class_type": "LoadImage", "inputs": {"image": "photo.png", "upload": "image"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "gone.png", "upload": "image"}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "a"}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "b"}},
    })  # fmt: skip
    with RunningFake(fake) as comfyui, running_app(workflow, comfyui_url=comfyui) as (url, _):
        page.goto(url)
        shown = page.locator("#field-1-inputs-image img").first
        shown.wait_for(timeout=TIMEOUT)
        src = shown.get_attribute("src")
        body = page.request.get(src if src.startswith("http") else url + src.lstrip("/")).body()
        assert Image.open(io.BytesIO(body)).convert("RGB").getpixel((0, 0)) == (250, 10, 10)
        assert comfyui not in src, "the page gets the copy from the app, never from ComfyUI"
        assert "'gone.png' is not on the server" in page.locator("#problems").inner_text()
        page.locator("#run").click()
        said = wait_status(page, "Not sent")
        assert "'gone.png'" in said and "photo.png" not in said


def test_run_answers_before_the_form_is_sent_and_the_api_route_is_unchanged():
    with running_app() as (_, app):
        config = app.page.get_config_file()
    run_id = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == "run")
    first = next(d for d in config["dependencies"] if [run_id, "click"] in map(list, d["targets"]))
    assert len(first["inputs"]) <= 2 and first["queue"] is False, "the tab's keys, not the form"
    assert "Starting…" in first["js"], "said in the browser on the click"
    api = next(d for d in config["dependencies"] if d.get("api_name") == "run")
    between = next(d for d in config["dependencies"] if d["id"] == api["trigger_after"])
    assert between["trigger_after"] == first["id"] and between["inputs"] == []
    assert len(api["inputs"]) > 20, "scripts still send the whole form to /run"
