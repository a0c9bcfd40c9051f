"""Outputs on the page, in headless Chromium at desktop and phone widths: a .glb in a 3D
viewer, before/after for an img2img run, previews under a closed "Other outputs"."""

from __future__ import annotations

import base64
import io
import json
import struct

import pytest
from apps import running_app
from browser import browser  # noqa: F401 - fixture
from PIL import Image
from scripted_server import Reply, ScriptedServer, result_json, sse

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
WIDTHS = [1400, 390]


def triangle_glb() -> bytes:
    """A minimal valid glTF 2.0 binary: one triangle."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    gltf = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
        "accessors": [
            {
                "bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                "min": [0, 0, 0], "max": [1, 1, 0],
            }
        ],
    }  # fmt: skip
    text = json.dumps(gltf).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text
    chunks += struct.pack("<I4s", len(positions), b"BIN\x00") + positions
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, format="PNG")
    return buffer.getvalue()


def output(name: str, content_type: str, data: bytes) -> dict:
    return {
        "filename": name,
        "content_type": content_type,
        "data": base64.b64encode(data).decode(),
        "size": len(data),
    }


def reply(*outputs: dict) -> Reply:
    event = sse("prompt_result", result_json(list(outputs)))
    return Reply(201, {"Content-Type": "text/event-stream"}, lambda: iter([(0.0, event)]))


@pytest.fixture(scope="module")
def scripted():
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def app_url(scripted, tmp_path_factory):
    """The bundled demo (LoadImage -> effects -> SaveImage 'photo_effects'), on a scripted
    ViewComfy endpoint."""
    data = tmp_path_factory.mktemp("data")
    with running_app(
        api_url=scripted.url, client_id="id", client_secret="secret", data_dir=data
    ) as (url, _):
        yield url


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def page(browser, request):  # noqa: F811
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    yield context.new_page()
    context.close()


def downloads(page) -> str:
    """The names in the #files list (Gradio breaks each before its extension)."""
    return page.locator("#files").inner_text().replace("\n.", ".")


def run(page, url: str) -> None:
    page.goto(url)
    page.locator("#run").click()
    page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)


def test_a_glb_output_shows_in_a_3d_viewer(page, scripted, app_url):
    scripted.replies.append(
        reply(
            output("photo_effects_00001_.png", "image/png", png((200, 40, 40))),
            output("3d_mesh_00001_.glb", "model/gltf-binary", triangle_glb()),
        )
    )
    run(page, app_url)
    viewer = page.locator("#model3d-0")
    viewer.locator("canvas").wait_for(timeout=TIMEOUT)
    assert viewer.is_visible()
    assert page.locator("#model3d-1").is_hidden()
    link = viewer.locator("[data-testid=model3d-download-link]")
    assert link.count() == 0 or ".glb" in (link.first.get_attribute("href") or "")
    assert "3d_mesh_00001_.glb" in downloads(page)
    assert page.locator("#gallery img").count() == 1
    box = viewer.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1


def test_img2img_result_has_a_before_after_slider(page, scripted, app_url):
    scripted.replies.append(
        reply(
            output("photo_effects_00001_.png", "image/png", png((30, 160, 60))),
            output("photo_effects_00002_.png", "image/png", png((160, 30, 60))),
        )
    )
    run(page, app_url)
    box = page.locator("#compare-box")
    box.wait_for(state="visible", timeout=TIMEOUT)
    assert page.locator("#compare").is_hidden(), "closed until asked for: one click away"
    box.get_by_text("Before / after").first.click()
    slider = page.locator("#compare")
    after = slider.locator("img").nth(1)
    after.wait_for(timeout=TIMEOUT)
    first = after.get_attribute("src")
    assert "photo_effects_00001_" in first
    bounds = slider.bounding_box()
    assert bounds and bounds["x"] + bounds["width"] <= page.viewport_size["width"] + 1
    page.locator("#gallery button.thumbnail-item").nth(1).click()  # pick the other result
    page.wait_for_function(
        "document.querySelectorAll('#compare img')[1]?.src.includes('photo_effects_00002_')",
        timeout=TIMEOUT,
    )


def test_previews_are_under_a_closed_other_outputs(page, scripted, app_url):
    previews = [
        output(f"ComfyUI_temp_abcde_{n:05}_.png", "image/png", png((n * 9, 9, 9)))
        for n in range(1, 7)
    ]
    scripted.replies.append(
        reply(
            *previews[:3],
            output("photo_effects_00001_.png", "image/png", png((9, 9, 200))),
            *previews[3:],
        )
    )
    run(page, app_url)
    assert page.locator("#gallery img").count() == 1
    others = page.locator("#other-outputs")
    others.wait_for(state="visible", timeout=TIMEOUT)
    assert page.locator("#other-gallery").is_hidden()
    others.get_by_text("Other outputs").first.click()
    page.locator("#other-gallery img").nth(5).wait_for(timeout=TIMEOUT)
    assert page.locator("#other-gallery img").count() == 6
    assert "ComfyUI_temp_abcde_00006_.png" in downloads(page), "every file is downloadable"
