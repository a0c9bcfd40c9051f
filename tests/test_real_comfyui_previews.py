"""Previews from a real ComfyUI (CPU, no models) through the ComfyUI engine and our server.

Needs COMFYUI_URL naming a ComfyUI that has the model-free test node in
tests/comfyui_nodes/viewcomfy_preview_test (it calls ``ProgressBar.update_absolute`` with a JPEG
preview per step, as samplers do). Without a shared ComfyUI to change, start your own copy:

    mkdir -p /tmp/comfy-preview/custom_nodes
    ln -s "$PWD/tests/comfyui_nodes/viewcomfy_preview_test" /tmp/comfy-preview/custom_nodes/
    python ComfyUI/main.py --cpu --listen 127.0.0.1 --port 8190 --disable-auto-launch \\
        --base-directory /tmp/comfy-preview
    COMFYUI_URL=http://127.0.0.1:8190 pytest tests/test_real_comfyui_previews.py
"""

from __future__ import annotations

import io
import os
import random
import time

import httpx
import pytest
from local_server import local_server
from PIL import Image

from viewcomfy_ui.api import Preview, ViewComfyClient
from viewcomfy_ui.server.comfyui import ComfyUIEngine

COMFYUI_URL = os.environ.get("COMFYUI_URL", "").rstrip("/")
TEST_NODE = "ViewComfyPreviewTest"
WORKFLOW = {
    "1": {"class_type": TEST_NODE, "inputs": {"steps": 12, "size": 384, "seed": 0}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "vc_prev"}},
}


def _has_test_node() -> str:
    """Why the tests cannot run here ('' when they can)."""
    if not COMFYUI_URL:
        return "set COMFYUI_URL to a running ComfyUI with the test node (see this file's docstring)"
    try:
        info = httpx.get(f"{COMFYUI_URL}/object_info/{TEST_NODE}", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        return f"ComfyUI at {COMFYUI_URL} does not answer ({exc})"
    if TEST_NODE not in info:
        return (
            f"ComfyUI at {COMFYUI_URL} lacks the test node {TEST_NODE}: link "
            "tests/comfyui_nodes/viewcomfy_preview_test into its custom_nodes/ and restart it"
        )
    return ""


pytestmark = [pytest.mark.leak_prone]
SKIP = _has_test_node()


@pytest.mark.skipif(bool(SKIP), reason=SKIP or "-")
@pytest.mark.parametrize("protocol", ["sse", "realtime"])
async def test_a_real_comfyui_progress_bar_preview_reaches_the_client(protocol):
    seed = random.randrange(1 << 30)  # a new graph: ComfyUI would reuse a cached run's outputs
    workflow = {
        **WORKFLOW,
        "1": {**WORKFLOW["1"], "inputs": {**WORKFLOW["1"]["inputs"], "seed": seed}},
    }
    frames: list[tuple[float, Preview]] = []
    with local_server(engine=ComfyUIEngine(COMFYUI_URL), workflow=workflow) as url:
        realtime = {"protocol": "realtime", "gateway_url": url} if protocol == "realtime" else {}
        async with ViewComfyClient(url, **realtime) as client:
            started = time.monotonic()
            result = await client.infer_with_logs(
                {"1-inputs-seed": seed},
                lambda _: None,
                on_preview=lambda p: frames.append((time.monotonic() - started, p)),
            )
    assert len(result.outputs) == 1
    assert len(frames) >= 3, [t for t, _ in frames]
    assert {p.node_id for _, p in frames} == {"1"}  # named by ComfyUI's preview metadata
    assert {p.prompt_id for _, p in frames} == {result.prompt_id}
    sizes = {Image.open(io.BytesIO(p.data)).size for _, p in frames}
    assert sizes == {(512, 512)}  # ComfyUI fits the preview to its 512 px, we keep it so
    assert len({p.data for _, p in frames}) >= 3  # the image forms: each frame differs
