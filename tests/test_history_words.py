"""What the history says about a run: its main output as the thumbnail, a caption with the
seed and the prompt's start, and the params sent by their field labels."""

from __future__ import annotations

import json
from types import SimpleNamespace

from viewcomfy_ui.fields import Field
from viewcomfy_ui.history import RunRecord, StoredFile
from viewcomfy_ui.ui.history import HistoryContext
from viewcomfy_ui.ui.history_browser import HistoryBrowser, _main_first
from viewcomfy_ui.ui.kinds import KINDS

WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 5}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry"}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "renders/%date:yyyy%/final"}},
    "10": {"class_type": "PreviewImage", "inputs": {}},
    "11": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI"}},
}


def output(name: str) -> StoredFile:
    return StoredFile("output", f"output/{name}", "image", 10)


def test_the_thumbnail_is_a_save_nodes_image_not_the_alphabetically_first_file():
    files = [
        output("ComfyUI_temp_abcde_00001_.png"),  # PreviewImage
        output("a_mask_00001_.png"),  # a custom node's by-product
        output("final_00001_.png"),  # SaveImage "renders/%date:yyyy%/final"
    ]
    sent = {"11-inputs-filename_prefix": "kept"}
    assert _main_first(files, WORKFLOW, sent)[0].name == "output/final_00001_.png"
    assert _main_first(files[:2], WORKFLOW, sent)[0].name == "output/a_mask_00001_.png", (
        "no previews"
    )
    assert _main_first(files[:1], WORKFLOW, sent)[0].name == files[0].name, "else the first"
    kept = [output("ComfyUI_00001_.png"), output("kept_00001_.png")]
    assert _main_first(kept, WORKFLOW, sent)[0].name == "output/kept_00001_.png", (
        "the prefix the run sent, not the workflow's"
    )


def test_a_prefix_does_not_claim_a_longer_prefixs_files():
    files = [output("photo_effects_anim_00002_.webp"), output("photo_effects_00001_.png")]
    workflow = {"9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "photo_effects"}}}
    assert _main_first(files, workflow, {})[0].name == "output/photo_effects_00001_.png"


def field(key: str, label: str, kind: str, value) -> Field:
    node_id, _, name = key.partition("-inputs-")
    return Field(key, kind, label, node_id, "node", name, value)


def browser(tmp_path) -> HistoryBrowser:
    fields = [
        field("6-inputs-text", "Positive prompt", "textarea", "a cat"),
        field("7-inputs-text", "Negative prompt", "textarea", "blurry"),
        field("3-inputs-seed", "Seed", "seed", 5),
    ]
    widgets = [SimpleNamespace(field=f, kind=KINDS[f.kind]) for f in fields]
    context = HistoryContext(store=None, workflow_name="wf", workflow_api=WORKFLOW)  # type: ignore[arg-type]
    return HistoryBrowser(context, identity=None, widgets=widgets)  # type: ignore[arg-type]


def test_a_caption_has_the_seed_and_the_start_of_the_prompt(tmp_path):
    prompt = "a lighthouse on a cliff at dawn, volumetric fog, highly detailed, 35mm"
    run = RunRecord(
        "r1", 0.0, "wf", params={"6-inputs-text": prompt, "3-inputs-seed": 42},
        seeds={"3-inputs-seed": 42}, protocol="sse", endpoint="local engine", status="done",
    )  # fmt: skip
    caption = browser(tmp_path)._caption(run)
    assert " · done · seed 42 · a lighthouse on a cliff at dawn, volume…" in caption
    assert "blurry" not in caption


def test_params_sent_show_field_labels(tmp_path):
    shown = browser(tmp_path)._labelled({"6-inputs-text": "a dog", "99-inputs-x": 1})
    assert json.loads(json.dumps(shown)) == {"Positive prompt": "a dog", "99-inputs-x": 1}
