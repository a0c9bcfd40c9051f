"""Issue 18 §2: what a ComfyUI lacks, found before Run; empty and unreadable uploads named; the
built-in engine's refusal names the node types it cannot run; a server's input file fetched."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import httpx
import pytest
from fake_comfyui import FakeComfyUI, RunningFake, png

from viewcomfy_ui.fields import Field
from viewcomfy_ui.nodespecs import core_object_info
from viewcomfy_ui.preflight import check
from viewcomfy_ui.server.comfyui import ComfyUIEngine
from viewcomfy_ui.server.engine import BuiltinEngine, InputFiles, NodeFailure
from viewcomfy_ui.ui.components import ReadableImage, Unreadable
from viewcomfy_ui.ui.values import missing_upload, validate

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "workflows"
LARGEST = CORPUS / "viewcomfy__workflows_flux-consistent-characters_legacy-api_workflow_api.json"


def server_info(**lists: list[str]) -> dict:
    """The bundled core declarations (model lists empty, as on a server without models), with
    `lists` giving some inputs' choices, e.g. ckpt_name=["a.safetensors"]."""
    info = copy.deepcopy(core_object_info())
    for node in info.values():
        for section in node["input"].values():
            for name in set(section or {}) & set(lists):
                section[name] = [lists[name], {}]
    return info


WORKFLOW = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "2": {"class_type": "KSampler", "inputs": {"sampler_name": "euler", "model": ["1", 0]}},
    "3": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["2", 0]}},
    "4": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["2", 0]}},
    "5": {"class_type": "MyPrivateNode", "inputs": {}},
    "6": {"class_type": "LoadImage", "inputs": {"image": "photo.png", "upload": "image"}},
    "7": {"class_type": "LoraLoader", "inputs": {"lora_name": "styles\\ink.safetensors"}},
}


def test_every_missing_node_type_is_listed_with_its_pack_and_every_missing_model():
    found = check(WORKFLOW, server_info(lora_name=["styles/ink.safetensors", "x.pt"]))
    nodes = {n.class_type: (n.node_ids, n.pack) for n in found.nodes}
    assert nodes == {
        "VHS_VideoCombine": (("3", "4"), "ComfyUI-VideoHelperSuite"),
        "MyPrivateNode": (("5",), None),
    }
    assert [(m.node_id, m.input, m.value) for m in found.models] == [
        ("1", "ckpt_name", "sd15.safetensors")
    ], "the LoRA is listed (Windows spelling); the sampler is a word, not a file"
    assert [(f.node_id, f.upload) for f in found.files if f.upload] == [("6", True)]
    lines = found.lines()
    assert "from ComfyUI-VideoHelperSuite" in lines[0] and "from a custom node pack" in lines[1]
    refusal = found.refusal()
    assert "2 node types (VHS_VideoCombine, MyPrivateNode)" in refusal
    assert "1 model file (sd15.safetensors)" in refusal


def test_a_file_the_app_sends_itself_or_the_server_lists_is_no_problem():
    info = server_info(ckpt_name=["sd15.safetensors"], image=["other.png"])
    found = check({k: WORKFLOW[k] for k in ("1", "6")}, info, held={"photo.png"})
    assert found.lines() == [] and found.refusal() is None
    alone = check({"6": WORKFLOW["6"]}, info)
    assert alone.refusal() is None, "a missing upload does not refuse Run: the form can send one"
    assert "upload a file in the form" in alone.lines()[0]


def test_a_newer_core_node_says_update_comfyui():
    info = server_info()
    del info["KSampler"]
    (node,) = check({"2": WORKFLOW["2"]}, info).nodes
    assert node.pack == "ComfyUI core" and "update ComfyUI" in node.line()


def test_the_builtin_engine_refuses_vhs_naming_the_node_types_not_no_output_node():
    workflow = {
        "1": {"class_type": "VHS_LoadVideo", "inputs": {"video": "in.mp4"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        **{
            str(n): {"class_type": "VHS_VideoCombine", "inputs": {"images": ["6", 0]}}
            for n in (3, 4, 5)
        },
        "6": {"class_type": "RIFE VFI", "inputs": {"frames": ["2", 0]}},
        "7": {"class_type": "UnusedNode", "inputs": {}},  # nothing needs it: not named
    }
    with pytest.raises(NodeFailure) as error:
        BuiltinEngine().check(workflow, InputFiles(Path("."), None))
    assert (error.value.node_id, error.value.node_type) == ("1", "VHS_LoadVideo")
    assert "no output node" not in str(error.value)
    assert "nor can 2 other node types here (VHS_VideoCombine, RIFE VFI)" in str(error.value)


def image_field(kind: str = "image") -> Field:
    return Field(
        key="6-inputs-image", kind=kind, label="Photo", node_id="6", node_title="Load Image",
        input_name="image", value="photo.png", class_type="LoadImage",
    )  # fmt: skip


def test_an_empty_required_upload_is_named_an_optional_one_is_not():
    field = image_field()
    assert "Photo: upload a file" in missing_upload(field, None, required=True)
    assert missing_upload(field, None, required=False) is None
    assert missing_upload(field, "/tmp/x.png", required=True) is None
    mask = image_field("image-mask")
    assert missing_upload(mask, {"background": None, "layers": []}, required=True)


def test_an_unreadable_image_is_named_not_a_failed_run(tmp_path):
    import gradio as gr
    from gradio.data_classes import ImageData

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    with gr.Blocks():
        image = ReadableImage(type="filepath", format="png")
    value = image.preprocess(ImageData(path=str(bad), orig_name="holiday.png"))
    assert value == Unreadable("holiday.png")
    # Gradio makes a component anew from its arguments when an event updates it (Run's marks)
    anew = type(image)(**{**image.constructor_args, "render": False})
    assert anew.preprocess(ImageData(path=str(bad), orig_name="holiday.png")) == value
    assert validate(image_field(), value) == (
        "Photo: 'holiday.png' is not a readable image; upload a PNG, JPEG or WebP"
    )


def test_an_input_file_on_comfyui_is_copied_under_a_safe_name(tmp_path):
    fake = FakeComfyUI()
    fake.files[("input", "", "photo.png")] = png()
    fake.files[("input", "sub/../..", "x.png")] = png()  # a hostile name
    with RunningFake(fake) as url:
        engine = ComfyUIEngine(url)
        copy_ = engine.input_file("photo.png", tmp_path / "cache")
        assert copy_ is not None and copy_.read_bytes() == png()
        assert copy_.parent == tmp_path / "cache" and copy_.suffix == ".png"
        assert "photo" not in copy_.name, "named by a digest, never by the server's name"
        odd = engine.input_file("sub/../../x.png", tmp_path / "cache")
        assert odd is not None and odd.parent == tmp_path / "cache"
        assert engine.input_file("nope.png", tmp_path / "cache") is None
        assert engine.input_file("photo.png", tmp_path / "small", max_bytes=10) is None


@pytest.mark.skipif(not os.environ.get("COMFYUI_URL"), reason="set COMFYUI_URL to a real ComfyUI")
def test_a_real_comfyui_without_packs_lacks_17_node_types_of_the_largest_corpus_workflow():
    if not LARGEST.is_file():
        pytest.skip("the shared corpus is not beside this checkout")
    info = httpx.get(os.environ["COMFYUI_URL"].rstrip("/") + "/object_info", timeout=60).json()
    from viewcomfy_ui.workflow import load_workflow

    found = check(load_workflow(LARGEST).api, info)
    assert len(found.nodes) == 17
    assert {"UNETLoader", "LoraLoader"} <= {m.class_type for m in found.models}
    assert found.refusal().startswith("Not sent: the server lacks 17 node types")
