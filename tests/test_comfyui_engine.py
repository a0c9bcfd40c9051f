"""The ComfyUI engine behind our server, against a fake ComfyUI that follows the recorded protocol."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fake_comfyui import SLOW_NODE, FakeComfyUI, RunningFake
from local_server import DEMO, local_server
from PIL import Image

from viewcomfy_ui.api import ViewComfyClient
from viewcomfy_ui.errors import RunFailedError
from viewcomfy_ui.outputs import media_kind
from viewcomfy_ui.server.comfyui import ComfyUIEngine
from viewcomfy_ui.workflow import load_workflow

pytestmark = pytest.mark.leak_prone
ROOT = Path(__file__).resolve().parent.parent


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


MEDIA_WORKFLOW = {
    "1": {"class_type": "LoadVideo", "inputs": {"file": "clip.mp4"}},
    "2": {
        "class_type": "SaveVideo",
        "inputs": {
            "video": ["1", 0],
            "filename_prefix": "video/out",
            "format": "auto",
            "codec": "auto",
        },
    },
    "3": {"class_type": "LoadAudio", "inputs": {"audio": "tone.wav"}},
    "4": {"class_type": "SaveAudio", "inputs": {"audio": ["3", 0], "filename_prefix": "audio/out"}},
    "5": {"class_type": "PrimitiveString", "inputs": {"value": "hello"}},
    "6": {"class_type": "PreviewAny", "inputs": {"source": ["5", 0]}},
    "7": {
        "class_type": "VHS_VideoCombine",
        "inputs": {"images": ["1", 0], "frame_rate": 8, "filename_prefix": "vhs"},
    },
}


@pytest.fixture
def fake():
    return FakeComfyUI()


def serve(fake, workflow=None):
    """Our server with the ComfyUI engine in front of the fake."""

    class Context:
        def __enter__(self):
            self.running = RunningFake(fake)
            comfy_url = self.running.__enter__()
            self.server = local_server(
                engine=ComfyUIEngine(comfy_url), workflow=workflow or load_workflow(DEMO).api
            )
            return self.server.__enter__()

        def __exit__(self, *exc):
            self.server.__exit__(*exc)
            self.running.__exit__(*exc)

    return Context()


async def test_demo_runs_on_comfyui_with_upload_logs_and_outputs(fake):
    logs = []
    with serve(fake) as url:
        async with ViewComfyClient(url) as client:
            result = await client.infer_with_logs(
                {"1-inputs-image": png_bytes(), "3-inputs-value": 7}, logs.append
            )
    graph = next(iter(fake.prompts.values()))
    uploaded = graph["1"]["inputs"]["image"]
    assert fake.files[("input", "", uploaded)] == png_bytes(), (
        "the upload reached ComfyUI under its name"
    )
    assert graph["3"]["inputs"]["value"] == 7
    assert any(line.startswith("Executing node 1 (Photo, LoadImage)") for line in logs)
    assert logs[0] == "got prompt" and logs[-1].startswith("Prompt executed in")
    assert sorted(o.content_type for o in result.outputs) == ["image/png", "image/webp"]


async def test_video_audio_text_and_vhs_outputs(fake):
    with serve(fake, MEDIA_WORKFLOW) as url:
        async with ViewComfyClient(url) as client:
            result = await client.infer_with_logs(
                {"1-inputs-file": b"\x00\x00\x00\x18ftypisom", "3-inputs-audio": b"RIFF....WAVE"},
                lambda _: None,
            )
    kinds = sorted(media_kind(o.filename, o.content_type, o.content()[:16]) for o in result.outputs)
    assert kinds == ["audio", "text", "video", "video"]
    text = next(o for o in result.outputs if o.content_type == "text/plain")
    assert text.content() == b"hello\nfrom a model-free graph !"
    vhs = next(o for o in result.outputs if o.filename.startswith("vhs"))
    assert vhs.content_type == "video/h264-mp4" or vhs.content_type == "video/mp4"


async def test_a_prompt_longer_than_a_file_name_is_sent_as_text(fake):
    prompt = "a modern city during sunset, epic clouds, " * 10  # 430 characters: no file name
    with serve(fake, MEDIA_WORKFLOW) as url:
        async with ViewComfyClient(url) as client:
            await client.infer_with_logs(
                {
                    "1-inputs-file": b"\x00\x00\x00\x18ftypisom",
                    "3-inputs-audio": b"RIFF....WAVE",
                    "5-inputs-value": prompt,
                },
                lambda _: None,
            )
    graph = next(iter(fake.prompts.values()))
    assert graph["5"]["inputs"]["value"] == prompt


async def test_outputs_come_from_history_when_executed_is_missing_and_history_lags():
    fake = FakeComfyUI(history_lag=0.5, send_executed=False)
    with serve(fake) as url:
        async with ViewComfyClient(url) as client:
            result = await client.infer({"1-inputs-image": png_bytes(), "3-inputs-value": 1})
    assert len(result.outputs) == 2


async def test_cached_rerun_reuses_old_files_and_says_so(fake):
    params = {"1-inputs-image": png_bytes(), "3-inputs-value": 3}
    with serve(fake) as url:
        async with ViewComfyClient(url) as client:
            first = await client.infer(params)
            logs = []
            second = await client.infer_with_logs(params, logs.append)
    assert [o.filename for o in second.outputs] == [o.filename for o in first.outputs]
    assert any(line.startswith("Reusing cached results of") for line in logs)


async def test_progress_becomes_tqdm_lines_and_preview_frames_reach_on_preview(fake):
    workflow = load_workflow(DEMO).api | {"50": {"class_type": SLOW_NODE, "inputs": {"steps": 4}}}
    workflow["9"]["inputs"]["images"] = ["8", 0]
    logs, frames = [], []
    with serve(fake, workflow) as url:
        async with ViewComfyClient(url) as client:
            await client.infer_with_logs(
                {"1-inputs-image": png_bytes(), "50-inputs-steps": 4},
                logs.append,
                on_preview=frames.append,
            )
    assert any("4/4" in line and "%|" in line for line in logs)
    assert len(frames) >= 3 and {f.node_id for f in frames} == {"50"}  # from the metadata
    assert len({f.data for f in frames}) == len(frames)  # each step's own image
    assert len(fake.preview_metadata) == 1  # the engine asked for frames naming their node


async def test_validation_400_names_node_and_input(fake):
    with serve(fake) as url:
        async with ViewComfyClient(url) as client:
            with pytest.raises(RunFailedError) as err:
                await client.infer_with_logs(
                    {"1-inputs-image": png_bytes(), "6-inputs-blur_radius": 99}, lambda _: None
                )
    assert "node 6 (Dreamy blur, ImageBlur) input 'blur_radius'" in str(err.value)
    assert "bigger than max of 31" in str(err.value)


async def test_a_node_type_comfyui_lacks_says_to_install_its_pack(fake):
    workflow = load_workflow(DEMO).api | {"50": {"class_type": "String Literal", "inputs": {}}}
    with serve(fake, workflow) as url:
        async with ViewComfyClient(url) as client:
            with pytest.raises(RunFailedError) as err:
                await client.infer_with_logs({"1-inputs-image": png_bytes()}, lambda _: None)
    assert "node type 'String Literal' is not installed" in str(err.value)
    assert "install the custom node pack" in str(err.value)


def test_execution_error_reaches_the_client_as_node_class_and_exception(fake):
    """ComfyUI's execution_error becomes our SSE `error` event: the same object, as data."""
    parts = {
        "logs": (None, "true"),
        "params": (None, json.dumps({"3-inputs-value": 2})),
        "1-inputs-image": ("x.png", b"not an image"),
    }
    with serve(fake) as url, httpx.stream("POST", url, files=parts, timeout=60) as reply:
        lines = list(reply.iter_lines())
    data = lines[lines.index("event: error") + 1]
    failure = json.loads(data.removeprefix("data: "))
    assert failure["node_id"] == "1" and failure["node_type"] == "LoadImage"
    assert failure["exception_message"].startswith(
        "PIL.UnidentifiedImageError: cannot identify image file"
    )


async def until(condition, what: str, seconds: float = 30) -> None:
    """Wait for `condition()` to hold, failing with `what` after `seconds`."""
    for _ in range(int(seconds * 50)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def test_client_that_leaves_interrupts_only_its_running_prompt_and_dequeues_pending(fake):
    slow = {
        "1": {"class_type": SLOW_NODE, "inputs": {"steps": 60}},
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}},
    }
    with serve(fake, slow) as url:

        async def run(steps):
            async with ViewComfyClient(url) as client:
                await client.infer_with_logs({"1-inputs-steps": steps}, lambda _: None)

        first = asyncio.ensure_future(run(60))
        await until(lambda: fake.running, "the first prompt runs")
        second = asyncio.ensure_future(run(61))  # queued behind the first
        await until(lambda: fake.pending, "the second prompt is queued")
        running = fake.running
        second.cancel()
        await until(lambda: fake.deleted, "the queued prompt is removed")
        assert fake.deleted[0] != running and not fake.interrupts, (
            "the queued prompt is removed, not interrupted"
        )
        first.cancel()
        await until(lambda: fake.interrupts, "the running prompt is interrupted")
    assert fake.interrupts == [running], (
        "only the running prompt of the client that left is interrupted"
    )


async def test_unreachable_comfyui_is_a_one_line_error_with_the_url():
    engine = ComfyUIEngine("http://127.0.0.1:9")
    with local_server(engine=engine) as url:
        async with ViewComfyClient(url) as client:
            with pytest.raises(RunFailedError, match=r"http://127\.0\.0\.1:9"):
                await client.infer_with_logs({"3-inputs-value": 1}, lambda _: None)
    run = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "serve", "--engine", "comfyui", "--comfyui-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert (
        run.returncode == 2 and "http://127.0.0.1:9" in run.stderr and "Traceback" not in run.stderr
    )


def test_app_takes_exact_widgets_from_the_live_object_info(fake):
    from apps import running_app

    fake.object_info["ImageBlur"]["input"]["required"]["blur_radius"] = [
        "INT",
        {"default": 1, "min": 1, "max": 9},  # the demo saves 8: inside, so still a slider
    ]
    with RunningFake(fake) as comfy_url, running_app(comfyui_url=comfy_url) as (_, app):
        components = app.page.config["components"]
    slider = next(
        c for c in components if c.get("props", {}).get("elem_id") == "field-6-inputs-blur_radius"
    )
    assert slider["props"]["maximum"] == 9
    assert comfy_url.removeprefix("http://") in app.endpoint.description  # host and port


def test_app_runs_the_demo_on_comfyui_end_to_end(fake):
    from apps import endpoint_ids, gradio_client, running_app

    with RunningFake(fake) as comfy_url, running_app(comfyui_url=comfy_url) as (url, app):
        _, returns = endpoint_ids(app.page)
        with gradio_client(url) as client:
            out = dict(zip(returns, client.predict(api_name="/run"), strict=True))
    assert 'data-state="done"' in out["status"]
    assert "Executing node 1 (Photo, LoadImage)" in out["logs"]
    assert len(out["gallery"]) == 2
    graph = next(iter(fake.prompts.values()))
    assert ("input", "", graph["1"]["inputs"]["image"]) in fake.files, (
        "the demo image was uploaded to ComfyUI"
    )


async def test_uploads_of_the_same_name_from_two_runs_do_not_overwrite_each_other(fake):
    """ComfyUI's input folder is shared by all runs: each upload is stored under its digest."""
    with serve(fake) as url:
        async with ViewComfyClient(url) as client:
            for color in ((255, 0, 0), (0, 0, 255)):
                image = io.BytesIO()
                Image.new("RGB", (8, 8), color).save(image, format="PNG")
                await client.infer({"1-inputs-image": image.getvalue(), "3-inputs-value": 1})
    names = [graph["1"]["inputs"]["image"] for graph in fake.prompts.values()]
    assert len(set(names)) == 2
    colors = {Image.open(io.BytesIO(fake.files[("input", "", n)])).getpixel((0, 0)) for n in names}
    assert colors == {(255, 0, 0), (0, 0, 255)}


async def test_refused_choice_lists_the_server_choices(fake):
    with serve(fake) as url:
        async with ViewComfyClient(url) as client:
            with pytest.raises(RunFailedError) as err:
                await client.infer_with_logs(
                    {"1-inputs-image": png_bytes(), "2-inputs-upscale_method": "nope"},
                    lambda _: None,
                )
    assert (
        "node 2 (Resize, ImageScale) input 'upscale_method': 'nope' is not one of its choices "
        "('nearest-exact', 'bilinear'" in str(err.value)
    )
