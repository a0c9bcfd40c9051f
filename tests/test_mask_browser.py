"""Issue 11 §4: paint on a LoadImage's mask editor; the local engine's LoadImage mask is the
painted area (LoadImage -> MaskToImage -> SaveImage, end to end)."""

from __future__ import annotations

import io
import json

from apps import running_app
from browser import browser  # noqa: F401 - fixture
from PIL import Image

TIMEOUT = 30_000
WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "source.png", "upload": "image"}},
    "2": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 1]}},
    "3": {"class_type": "SaveImage", "inputs": {"filename_prefix": "mask", "images": ["2", 0]}},
}


def test_painted_mask_arrives_as_alpha_and_becomes_the_mask(browser, tmp_path):  # noqa: F811
    (tmp_path / "input").mkdir()
    Image.new("RGB", (256, 256), (40, 90, 160)).save(tmp_path / "input" / "source.png")
    path = tmp_path / "inpaint_api.json"
    path.write_text(json.dumps(WORKFLOW))
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        with running_app(path) as (url, _):
            page.goto(url)
            canvas = page.locator("#field-1-inputs-image canvas").first
            canvas.wait_for(timeout=TIMEOUT)
            page.wait_for_function(  # the editor shows the workflow's image, then takes strokes
                "() => !document.querySelector('#field-1-inputs-image')"
                ".innerText.includes('Upload an image')",
                timeout=TIMEOUT,
            )
            box = canvas.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x - 30, y)
            page.mouse.down()
            for step in range(0, 61, 5):
                page.mouse.move(x - 30 + step, y, steps=2)
            page.mouse.up()
            page.wait_for_timeout(500)
            page.locator("#run").click()
            page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)
            src = page.locator("#gallery img").first.get_attribute("src")
            body = page.request.get(src if src.startswith("http") else url + src.lstrip("/")).body()
        mask = Image.open(io.BytesIO(body)).convert("L")
        assert mask.size == (256, 256)
        assert mask.getpixel((128, 128)) == 255, "painted: transparent upload, mask 1"
        assert mask.getpixel((5, 5)) == 0 and mask.getpixel((250, 250)) == 0, "unpainted"
    finally:
        context.close()
