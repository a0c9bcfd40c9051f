"""The ComfyUI engine against a real ComfyUI (CPU, no models), and the fake held to it.

Runs when COMFYUI_URL names a running ComfyUI (e.g. ``http://127.0.0.1:8188``); CI, without one,
keeps testing the engine against tests/fake_comfyui.py, which these tests keep honest.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import random
import struct
import time
import wave

import httpx
import pytest
from fake_comfyui import FakeComfyUI, RunningFake
from local_server import DEMO, local_server
from PIL import Image

from viewcomfy_ui.api import ViewComfyClient
from viewcomfy_ui.errors import RunFailedError
from viewcomfy_ui.nodespecs import NodeSpecs, bundled_specs, custom_object_info
from viewcomfy_ui.outputs import media_kind
from viewcomfy_ui.server.comfyui import ComfyUIEngine
from viewcomfy_ui.workflow import load_workflow

COMFYUI_URL = os.environ.get("COMFYUI_URL", "").rstrip("/")
pytestmark = [
    pytest.mark.leak_prone,
    pytest.mark.skipif(
        not COMFYUI_URL, reason="set COMFYUI_URL to a running ComfyUI to test against it"
    ),
]


def png(color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buffer, format="PNG")
    return buffer.getvalue()


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(
            b"".join(struct.pack("<h", int(8000 * math.sin(i / 3))) for i in range(4000))
        )
    return buffer.getvalue()


def save(source: str) -> dict:
    return {"class_type": "SaveImage", "inputs": {"images": [source, 0], "filename_prefix": "vc"}}


def empty(color: int = 0, size: int = 8) -> dict:
    return {
        "class_type": "EmptyImage",
        "inputs": {"width": size, "height": size, "batch_size": 1, "color": color},
    }


def blur_chain(length: int) -> dict:
    """A graph of many short nodes: ComfyUI checks for an interrupt before each."""
    graph = {"1": empty(random.randrange(2**24), 512)}
    for i in range(2, length + 2):
        graph[str(i)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i - 1), 0], "blur_radius": 15, "sigma": 5.0},
        }
    graph["out"] = {"class_type": "PreviewImage", "inputs": {"images": [str(length + 1), 0]}}
    return graph


MEDIA = {
    "1": empty(0x2040A0, 32),
    "2": {"class_type": "CreateVideo", "inputs": {"images": ["1", 0], "fps": 8.0}},
    "3": {
        "class_type": "SaveVideo",
        "inputs": {
            "video": ["2", 0],
            "filename_prefix": "vc/clip",
            "format": "auto",
            "codec": "auto",
        },
    },
    "4": {"class_type": "LoadAudio", "inputs": {"audio": "tone.wav"}},
    "5": {"class_type": "SaveAudio", "inputs": {"audio": ["4", 0], "filename_prefix": "vc/tone"}},
    "6": {"class_type": "PrimitiveString", "inputs": {"value": "hello"}},
    "7": {"class_type": "PreviewAny", "inputs": {"source": ["6", 0]}},
}

BAD_GRAPHS = {
    "missing input file": {"1": {"class_type": "LoadImage", "inputs": {"image": "vc-missing.png"}}, "2": save("1")},
    "unknown class": {"1": {"class_type": "NoSuchNode", "inputs": {}}, "2": save("1")},
    "no output node": {"1": empty()},
    "dangling link": {"1": empty(), "2": save("9")},
    "value above max": {"1": empty(), "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 99, "sigma": 1.0}}, "3": save("2")},
    "value below min": {"1": empty(), "2": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 0}}, "3": save("2")},
    "value not in list": {"1": empty(), "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nope", "width": 8, "height": 8, "crop": "center"}}, "3": save("2")},
}  # fmt: skip


def refusal(url: str, graph: dict) -> tuple[int, str, list[tuple[str, str, str | None]]]:
    """A server's answer to a bad graph: status, error type, and (node, error type, input)."""
    reply = httpx.post(f"{url}/prompt", json={"prompt": graph, "client_id": "vc-test"}, timeout=30)
    body = reply.json()
    errors = sorted(
        (node_id, e["type"], e.get("extra_info", {}).get("input_name"))
        for node_id, info in body.get("node_errors", {}).items()
        for e in info["errors"]
    )
    return reply.status_code, body.get("error", {}).get("type"), errors


def test_fake_refuses_bad_graphs_as_the_real_comfyui_does():
    with RunningFake(FakeComfyUI()) as fake_url:
        for name, graph in BAD_GRAPHS.items():
            real = refusal(COMFYUI_URL, graph)
            assert real[0] == 400, f"{name}: the real ComfyUI accepted it"
            assert refusal(fake_url, graph) == real, f"{name}: the fake differs from ComfyUI"


async def run(workflow: dict, params: dict, logs: list[str] | None = None):
    with local_server(engine=ComfyUIEngine(COMFYUI_URL), workflow=workflow) as url:
        async with ViewComfyClient(url) as client:
            return await client.infer_with_logs(params, (logs if logs is not None else []).append)


async def test_demo_runs_on_real_comfyui_with_upload_logs_and_outputs():
    logs: list[str] = []
    result = await run(
        load_workflow(DEMO).api,
        {"1-inputs-image": png(), "3-inputs-value": random.randrange(2**24)},
        logs,
    )
    assert sorted(o.content_type for o in result.outputs) == ["image/png", "image/webp"]
    picture = Image.open(
        io.BytesIO(next(o for o in result.outputs if o.filename.endswith(".png")).content())
    )
    assert picture.size == (512, 384), "the demo resized the upload to 512x384"
    assert "Executing node 1 (Photo, LoadImage)" in logs
    assert logs[0] == "got prompt" and logs[-1].startswith("Prompt executed in")


async def test_identical_rerun_is_cached_and_says_so():
    params = {"1-inputs-image": png((10, 200, 10)), "3-inputs-value": random.randrange(2**24)}
    first = await run(load_workflow(DEMO).api, params)
    logs: list[str] = []
    second = await run(load_workflow(DEMO).api, params, logs)
    assert sorted(o.filename for o in second.outputs) == sorted(o.filename for o in first.outputs)
    assert any(line.startswith("Reusing cached results of 11 nodes") for line in logs)


async def test_video_audio_and_text_outputs_from_real_nodes():
    result = await run(MEDIA, {"4-inputs-audio": wav(), "6-inputs-value": "hi there"})
    kinds = sorted(media_kind(o.filename, o.content_type, o.content()[:16]) for o in result.outputs)
    assert kinds == ["audio", "text", "video"]
    assert (
        next(o for o in result.outputs if o.content_type == "text/plain").content() == b"hi there"
    )
    video = next(o for o in result.outputs if o.filename.endswith(".mp4"))
    assert video.content()[4:8] == b"ftyp", "a real MP4 came back from its subfolder"


async def test_same_file_name_from_two_runs_at_once_keeps_each_runs_image():
    """ComfyUI's input folder is shared: concurrent uploads named alike must not collide."""
    workflow = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
        "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 4, "height": 4, "crop": "disabled"}},
        "3": save("2"),
    }  # fmt: skip
    colors = [(250, 0, 0), (0, 0, 250)]
    results = await asyncio.gather(*(run(workflow, {"1-inputs-image": png(c)}) for c in colors))
    for color, result in zip(colors, results, strict=True):
        picture = Image.open(io.BytesIO(result.outputs[0].content())).convert("RGB")
        assert picture.getpixel((1, 1)) == color


async def test_refusals_name_the_node_input_and_choices():
    workflow = load_workflow(DEMO).api
    with pytest.raises(RunFailedError) as above:
        await run(workflow, {"1-inputs-image": png(), "6-inputs-blur_radius": 99})
    assert (
        "node 6 (Dreamy blur, ImageBlur) input 'blur_radius': Value 99 bigger than max of 31"
        in str(above.value)
    )
    with pytest.raises(RunFailedError) as choice:
        await run(workflow, {"1-inputs-image": png(), "2-inputs-upscale_method": "nope"})
    assert "input 'upscale_method': 'nope' is not one of its choices ('nearest-exact'" in str(
        choice.value
    )
    missing_model = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "x"}},
        "3": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["2", 0]}},
        "4": {"class_type": "PreviewAny", "inputs": {"source": ["3", 0]}},
    }
    with pytest.raises(RunFailedError) as model:
        await run(missing_model, {"2-inputs-text": "a cat"})
    assert "'sd15.safetensors' is not available on this ComfyUI" in str(model.value)


async def test_a_file_that_is_not_an_image_fails_at_run_time_naming_the_node():
    with pytest.raises(RunFailedError) as err:
        await run(load_workflow(DEMO).api, {"1-inputs-image": b"not an image at all"})
    assert (err.value.node_id, err.value.node_type) == ("1", "LoadImage")  # the reason is PIL's


async def test_leaving_interrupts_the_running_prompt_and_removes_the_queued_one():
    def queue() -> dict:
        return httpx.get(f"{COMFYUI_URL}/queue", timeout=10).json()

    async def leave_after(seconds: float, graph: dict) -> None:
        task = asyncio.ensure_future(run(graph, {"1-inputs-color": random.randrange(2**24)}))
        await asyncio.sleep(seconds)
        task.cancel()

    first = asyncio.ensure_future(run(blur_chain(120), {"1-inputs-color": random.randrange(2**24)}))
    await asyncio.sleep(3)
    assert len(queue()["queue_running"]) == 1
    await leave_after(2, blur_chain(121))  # queued behind the first, then abandoned
    await asyncio.sleep(1.5)
    assert queue()["queue_pending"] == [], "the abandoned queued prompt was deleted"
    assert len(queue()["queue_running"]) == 1, "the other client's prompt still runs"
    first.cancel()
    deadline = time.monotonic() + 15
    while queue()["queue_running"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert queue()["queue_running"] == [], "the abandoned running prompt was interrupted"


def test_bundled_custom_declarations_match_the_real_server_where_it_has_the_pack():
    """Types, ranges, defaults and (non-file) choices of each bundled class the server declares."""
    live = httpx.get(f"{COMFYUI_URL}/object_info", timeout=120).json()
    bundled = bundled_specs()
    checked = 0
    for class_type in custom_object_info():
        if class_type not in live or live[class_type].get("python_module", "").startswith("nodes"):
            continue
        served = NodeSpecs.from_object_info({class_type: live[class_type]}).get(class_type)
        ours = bundled.get(class_type)
        assert set(ours.inputs) == set(served.inputs), class_type
        for name, spec in ours.inputs.items():
            truth = served.inputs[name]
            assert spec.type == truth.type, f"{class_type}.{name}"
            options = ("min", "max", "step") + (("default",) if spec.type != "STRING" else ())
            for option in options:  # a few packs draw text defaults at random on each start
                assert spec.options.get(option) == truth.options.get(option), f"{class_type}.{name}"
            if not spec.open_choices:
                assert spec.choices == truth.choices, f"{class_type}.{name}"
        checked += 1
    if not checked:
        pytest.skip("this ComfyUI has none of the bundled custom node packs")


def test_app_runs_the_demo_on_real_comfyui_with_its_live_declarations():
    from apps import endpoint_ids, running_app
    from gradio_client import Client

    with running_app(comfyui_url=COMFYUI_URL) as (url, app):
        _, returns = endpoint_ids(app.page)
        out = dict(zip(returns, Client(url, verbose=False).predict(api_name="/run"), strict=True))
    assert 'data-state="done"' in out["status"]
    assert "Executing node 1 (Photo, LoadImage)" in out["logs"] or "Reusing cached" in out["logs"]
    assert len(out["gallery"]) == 2
