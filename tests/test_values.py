"""Form values -> request params: only changes, fresh seeds, never empty, real JSON types."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

from viewcomfy_ui.fields import MEDIA_KINDS, infer_fields
from viewcomfy_ui.ui.kinds import KINDS, Media, field_widget, kind_of
from viewcomfy_ui.ui.values import build_params, validate
from viewcomfy_ui.workflow import load_workflow

WORKFLOW = {
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": 5, "steps": 20, "cfg": 7, "denoise": 1.0, "sampler_name": "euler"},
    },
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat"}},
    "7": {
        "class_type": "EmptyImage",
        "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0},
    },
    "8": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
}


def form():
    fields = infer_fields(WORKFLOW)
    return fields, {f.key: f for f in fields}


def values_of(fields, **changes):
    """The form as the page holds it untouched (media: no new upload), with `changes` by key."""
    values = {f.key: kind_of(f).reset(f, None) for f in fields}
    return {**values, **changes}


def test_only_changed_values_are_sent_with_json_types():
    fields, _ = form()
    params = build_params(
        fields,
        values_of(fields, **{"3-inputs-steps": 30.0, "6-inputs-text": "a dog"}),
        {"3-inputs-seed": "fixed"},
    )
    assert params.values == {"3-inputs-steps": 30, "6-inputs-text": "a dog"}
    assert type(params.values["3-inputs-steps"]) is int


def test_unchanged_form_sends_only_a_fresh_seed_in_range():
    fields, by_key = form()
    params = build_params(fields, values_of(fields), {}, rng=random.Random(1))
    assert list(params.values) == ["3-inputs-seed"] and params.values["3-inputs-seed"] != 5
    seed = params.seeds["3-inputs-seed"]
    assert by_key["3-inputs-seed"].minimum <= seed <= 2**53 - 1


@pytest.mark.parametrize(
    ("mode", "shown", "sent"),
    [("fixed", "9", 9), ("increment", "5", 6), ("decrement", "5", 4),
     ("decrement", "0", 2**64 - 1), ("increment", str(2**64 - 1), 0),
     ("fixed", "5", None)],  # nothing changed, nothing randomized
)  # fmt: skip
def test_seed_modes(mode, shown, sent):
    fields, _ = form()
    modes = {"3-inputs-seed": mode}
    params = build_params(fields, values_of(fields, **{"3-inputs-seed": shown}), modes)
    assert params.seeds == {"3-inputs-seed": int(shown) if sent is None else sent}
    if sent is not None:
        assert params.values == {"3-inputs-seed": sent}
    else:  # a request is never empty: one of the workflow's own values
        [(key, value)] = params.values.items()
        node, name = key.split("-inputs-")
        assert value == WORKFLOW[node]["inputs"][name]


def test_a_typed_64_bit_seed_stays_exact():
    fields, _ = form()
    params = build_params(
        fields,
        values_of(fields, **{"3-inputs-seed": "18446744073709551615"}),
        {"3-inputs-seed": "fixed"},
    )
    assert params.values["3-inputs-seed"] == 2**64 - 1


def test_colour_picker_value_becomes_the_int_colour():
    fields, by_key = form()
    assert by_key["7-inputs-color"].kind == "color"
    params = build_params(fields, values_of(fields, **{"7-inputs-color": "#ff8000"}), {})
    assert params.values["7-inputs-color"] == 0xFF8000
    rgba = build_params(fields, values_of(fields, **{"7-inputs-color": "rgba(0, 128, 255, 1)"}), {})
    assert rgba.values["7-inputs-color"] == 0x0080FF


def test_uploads_are_sent_only_when_they_differ_from_the_workflow_file(tmp_path):
    fields, by_key = form()
    image = by_key["8-inputs-image"]
    default = tmp_path / "in.png"
    default.write_bytes(b"same")
    copy = tmp_path / "copy.png"
    copy.write_bytes(b"same")
    other = tmp_path / "other.png"
    other.write_bytes(b"new")
    kind = kind_of(image)
    assert kind.upload(str(copy), default, tmp_path) is None
    assert kind.upload(None, default, tmp_path) is None
    assert kind.upload(str(other), default, tmp_path) == other
    new = build_params(fields, values_of(fields, **{"8-inputs-image": str(other)}), {})
    assert new.files == {"8-inputs-image": Path(other)}
    kept = build_params(fields, values_of(fields), {}, rng=random.Random(3))
    assert kept.files == {} and list(kept.values) == ["3-inputs-seed"]


def test_media_kinds_are_the_fields_upload_kinds():
    assert {name for name, kind in KINDS.items() if isinstance(kind, Media)} == set(MEDIA_KINDS)


def test_the_workflows_own_value_is_never_refused():
    [steps] = infer_fields({"3": {"class_type": "KSampler", "inputs": {"steps": 0}}})
    assert steps.value == 0 and "kept" in steps.warning
    assert validate(steps, 0) is None and validate(steps, 0.0) is None
    assert "at least 1" in validate(steps, -1)


def test_validation_messages_name_the_field_and_the_limit():
    _, by_key = form()
    assert "at most 10000" in validate(by_key["3-inputs-steps"], 10001)
    assert "whole number" in validate(by_key["3-inputs-seed"], "12abc")
    assert validate(by_key["3-inputs-cfg"], 7.5) is None
    assert validate(by_key["7-inputs-color"], "#00ff00") is None
    assert "choose a value" in validate(by_key["3-inputs-sampler_name"], None)


def mask_field():
    [image] = [f for f in form()[0] if f.key == "8-inputs-image"]
    return replace(image, kind="image-mask")


def test_painted_mask_is_sent_as_transparency_and_existing_alpha_is_kept(tmp_path):
    background = Image.new("RGBA", (4, 2), (10, 20, 30, 255))
    background.putpixel((3, 1), (10, 20, 30, 100))  # alpha the upload already had
    layer = Image.new("RGBA", (4, 2), (0, 0, 0, 0))
    layer.putpixel((0, 0), (255, 0, 255, 153))  # one painted pixel
    f = mask_field()
    sent = kind_of(f).upload({"background": background, "layers": [layer]}, None, tmp_path)
    alpha = Image.open(sent).getchannel("A")
    assert alpha.getpixel((0, 0)) == 0, "painted: transparent, so LoadImage's mask is 1 there"
    assert alpha.getpixel((1, 0)) == 255 and alpha.getpixel((3, 1)) == 100
    assert Image.open(sent).convert("RGB").getpixel((0, 0)) == (10, 20, 30)


def test_unpainted_workflow_image_is_not_sent_again(tmp_path):
    own = tmp_path / "in.png"
    Image.new("RGBA", (4, 2), (1, 2, 3, 255)).save(own)
    editor = {"background": Image.open(own).convert("RGBA"), "layers": []}
    f = mask_field()
    assert kind_of(f).upload(editor, own, tmp_path) is None
    assert kind_of(f).upload(None, own, tmp_path) is None


def test_mask_field_gets_an_image_editor_with_its_element_id():
    f = mask_field()
    with gr.Blocks():
        widget = field_widget(f)
    assert isinstance(widget.component, gr.ImageEditor)
    assert widget.component.elem_id == "field-8-inputs-image"


CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "workflows"
OBJECT_INFO = CORPUS.parent.parent / "comfyui" / "object_info-0.3.64.json"


def feeds_a_seed(workflow, node_id: str) -> bool:
    node = workflow.api[node_id]
    if "seed" in (node.get("_meta") or {}).get("title", "").lower():
        return True
    return any(
        value == [node_id, 0] and "seed" in name
        for other in workflow.api.values()
        for name, value in other.get("inputs", {}).items()
    )


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_untouched_run_sends_only_real_seeds_on_every_corpus_workflow():
    """Each form as the browser holds it (through the real components' postprocess, JSON and
    preprocess): nothing is refused, and Run sends the randomized seeds, nothing else."""
    object_info = json.loads(OBJECT_INFO.read_text())
    files = sorted(CORPUS.glob("*.json"))
    assert len(files) > 200
    with gr.Blocks():
        for path in files:
            workflow = load_workflow(path)
            for info in (None, object_info):
                fields = infer_fields(workflow, info)
                values = {}
                for f in fields:
                    widget, kind = field_widget(f), kind_of(f)
                    shown = widget.component.postprocess(kind.reset(f, None))
                    model = type(shown) if hasattr(shown, "model_dump") else None  # a table's
                    sent = json.loads(json.dumps(shown.model_dump() if model else shown))
                    raw = (
                        None
                        if kind.media
                        else widget.component.preprocess(
                            model.model_validate(sent) if model else sent
                        )
                    )
                    assert validate(f, raw) is None, (path.name, f.key)
                    values[f.key] = raw
                params = build_params(fields, values, rng=random.Random(0))
                seeds = {f.key for f in fields if f.kind == "seed" and f.seed_mode == "randomize"}
                others = {k: v for k, v in params.values.items() if k not in seeds}
                assert params.files == {}
                if seeds:
                    assert set(params.values) == seeds, path.name
                else:  # one of the workflow's own values (a request is never empty)
                    assert len(others) == any(not kind_of(f).media for f in fields), path.name
                    assert all(value == workflow.params[k] for k, value in others.items())
                for f in fields:
                    if f.kind == "seed" and f.input_name == "value":  # a primitive
                        assert feeds_a_seed(workflow, f.node_id), (path.name, f.key)


def test_one_is_number_and_a_result_with_an_infinite_time_is_still_refused():
    from viewcomfy_ui import models, workflow
    from viewcomfy_ui.errors import MalformedResultError

    assert models.is_number is workflow.is_number, "one definition of a number"
    for bad in (float("inf"), float("nan")):
        with pytest.raises(MalformedResultError, match="not a finite number"):
            models.PromptResult.from_json({"prompt_id": "p", "execution_time_seconds": bad})
    assert models.PromptResult.from_json({"execution_time_seconds": 2}).execution_time_seconds == 2
    assert (
        models.PromptResult.from_json({"execution_time_seconds": True}).execution_time_seconds == 0
    )


def test_curated_select_shows_the_authors_labels_and_sends_the_values():
    f = replace(
        form()[1]["3-inputs-sampler_name"], choices=("euler", "dpmpp_2m"),
        choice_labels=("Fast", "Detailed"), allow_custom=False,
    )  # fmt: skip
    with gr.Blocks():
        dropdown = field_widget(f).component
    assert dropdown.choices == [("Fast", "euler"), ("Detailed", "dpmpp_2m")]
    assert dropdown.preprocess("dpmpp_2m") == "dpmpp_2m"
    assert validate(f, "dpmpp_2m") is None


def test_media_help_and_warnings_show_as_a_caption_under_the_upload():
    f = replace(form()[1]["8-inputs-image"], help="A portrait <b>works</b> best")
    with gr.Blocks() as page:
        field_widget(f)
    captions = [b for b in page.blocks.values() if b.elem_id == "help-8-inputs-image"]
    assert len(captions) == 1
    assert "A portrait &lt;b&gt;works&lt;/b&gt; best" in captions[0].value  # text, never markup
    with gr.Blocks() as page:
        field_widget(replace(f, help=None))
    assert not [b for b in page.blocks.values() if str(b.elem_id).startswith("help-")]


def test_a_label_that_repeats_its_node_heading_is_not_shown_twice():
    fields = {f.key: f for f in infer_fields(WORKFLOW)}
    with gr.Blocks():
        prompt = field_widget(replace(fields["6-inputs-text"], node_title="Prompt")).component
        steps = field_widget(
            replace(fields["3-inputs-steps"], label="Steps · KSampler #3", node_title="KSampler #3")
        ).component
    assert prompt.label == "Prompt" and prompt.show_label is False  # the heading says it
    with gr.Blocks():
        seed = field_widget(replace(fields["3-inputs-seed"], label="Tint", node_title="Tint"))
    assert (seed.component.label, seed.component.show_label) == ("Seed", True)  # beside "Each run"
    assert steps.label == "Steps" and steps.show_label is True


def test_two_mask_fields_each_send_their_own_image(tmp_path):
    """Both masks are written into the one run folder: neither may replace the other's file."""
    f = mask_field()
    red, blue = (
        Image.new("RGBA", (2, 2), colour) for colour in ((255, 0, 0, 255), (0, 0, 255, 255))
    )
    first = kind_of(f).upload({"background": red, "layers": []}, None, tmp_path)
    second = kind_of(f).upload({"background": blue, "layers": []}, None, tmp_path)
    assert first != second
    assert Image.open(first).convert("RGB").getpixel((0, 0)) == (255, 0, 0)
    assert Image.open(second).convert("RGB").getpixel((0, 0)) == (0, 0, 255)
