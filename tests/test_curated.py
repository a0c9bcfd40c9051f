"""view_comfy.json: curated fields (order, titles, help, sections, valueType) and writing it back."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from viewcomfy_ui.curated import (
    Pick,
    load_view_comfy,
    sniff_view_comfy,
    to_view_comfy,
)
from viewcomfy_ui.errors import WorkflowError
from viewcomfy_ui.fields import infer_fields

FIXTURES = Path(__file__).parent / "fixtures" / "curated"
TWO = FIXTURES / "view_comfy.json"


def _data() -> dict:
    return json.loads(TWO.read_text())


def _one(data: dict) -> list:
    return load_view_comfy(data)[0].fields()


def test_shows_exactly_the_curated_fields_in_order_with_titles_help_and_sections():
    first, second = load_view_comfy(TWO)
    fields = first.fields()
    assert first.title == "Photo look"
    assert [(f.key, f.label, f.advanced) for f in fields] == [
        ("1-inputs-image", "Photo to edit", False),
        ("5-inputs-blend_factor", "Tint strength", False),
        ("5-inputs-blend_mode", "Blend", False),
        ("3-inputs-value", "Colour seed", False),  # lone field, editor's own title: the group's
        ("6-inputs-blur_radius", "Blur radius", True),
        ("11-inputs-quality", "WebP quality", True),
    ]
    assert fields[0].help == "A portrait works best"
    assert fields[2].help is None  # "Helper Text" is the editor's placeholder, never shown
    assert fields[1].node_title == fields[2].node_title == "Look"
    assert fields[1].group == fields[2].group != fields[0].group
    assert [f.key for f in second.fields()] == ["8-inputs-alpha"]
    assert second.workflow.api["8"]["inputs"]["alpha"] == 0.5


def test_value_types_set_kinds_ranges_and_choices():
    fields = {f.key: f for f in load_view_comfy(TWO)[0].fields()}
    slider = fields["5-inputs-blend_factor"]
    assert (slider.kind, slider.minimum, slider.maximum, slider.step) == ("float", 0, 1, 0.05)
    assert fields["5-inputs-blend_mode"].choices == ("soft_light", "overlay", "multiply")
    assert fields["3-inputs-value"].kind == "seed"
    assert fields["1-inputs-image"].kind == "image"
    assert fields["11-inputs-quality"].kind == "int"


@pytest.mark.parametrize(
    ("key", "value_type", "kind"),
    [
        ("5-inputs-blend_mode", "string", "text"),  # inference says choice: the author wins
        ("5-inputs-blend_mode", "long-text", "textarea"),
        ("11-inputs-quality", "seed", "seed"),
        ("11-inputs-quality", "rand_seed", "seed"),
        ("11-inputs-quality", "float", "float"),
        ("11-inputs-lossless", "boolean", "bool"),
        ("6-inputs-sigma", "number", "float"),  # 2.0 is not a whole number's input
        ("1-inputs-image", "image-mask", "image-mask"),
    ],
)
def test_value_type_wins_over_inference(key, value_type, kind):
    data = _data()
    node, _, name = key.split("-", 2)
    field = data["workflows"][0]["viewComfyJSON"]["inputs"][0]["inputs"][0]
    field.update(key=key, workflowPath=[node, "inputs", name.removeprefix("inputs-")])
    field["valueType"] = value_type
    assert _one(data)[0].kind == kind


def test_a_number_takes_the_range_the_author_set():
    """``range {min, max}`` (ViewComfy's editor, 2026-01) bounds a number that is no slider."""
    data = _data()
    quality = data["workflows"][0]["viewComfyJSON"]["advancedInputs"][1]["inputs"][0]
    quality["range"] = {"min": 50, "max": 90}
    field = {f.key: f for f in _one(data)}["11-inputs-quality"]
    assert (field.kind, field.minimum, field.maximum, field.value) == ("int", 50, 90, 85)


def test_a_field_named_only_by_its_workflow_path():
    data = _data()
    del data["workflows"][0]["viewComfyJSON"]["inputs"][0]["inputs"][0]["key"]
    assert _one(data)[0].key == "1-inputs-image"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("workflows"), "has no 'workflows' list"),
        (lambda d: d.update(workflows=[]), "'workflows' is empty"),
        (
            lambda d: d["workflows"][1].pop("workflowApiJSON"),
            "workflows[1] has no 'workflowApiJSON'",
        ),
        (lambda d: d["workflows"][0].pop("viewComfyJSON"), "workflows[0] has no 'viewComfyJSON'"),
        (
            lambda d: d["workflows"][0]["viewComfyJSON"]["inputs"][1]["inputs"][0].update(
                key="5-inputs-nope"
            ),
            "viewComfyJSON.inputs[1].inputs[0] ('5-inputs-nope'): the workflow has no such node input",
        ),
        (
            lambda d: d["workflows"][0]["viewComfyJSON"]["advancedInputs"][0]["inputs"][0].update(
                valueType="color-wheel"
            ),
            "unknown valueType 'color-wheel'",
        ),
        (
            lambda d: d["workflows"][0]["viewComfyJSON"]["inputs"][0]["inputs"][0].update(
                key="oops", workflowPath=None
            ),
            "inputs[0].inputs[0]: 'oops' is not a parameter key",
        ),
        (
            lambda d: d["workflows"][0]["viewComfyJSON"].update(inputs={"a": 1}),
            "viewComfyJSON.inputs is not a list of groups",
        ),
        (
            lambda d: d["workflows"][0].update(workflowApiJSON={"nodes": [], "links": []}),
            "workflows[0] workflowApiJSON: Photo look is a ComfyUI UI-format workflow",
        ),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_place(change, message):
    data = _data()
    change(data)
    with pytest.raises(WorkflowError) as caught:
        load_view_comfy(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_files(tmp_path):
    bad = tmp_path / "view_comfy.json"
    bad.write_text("{ not json")
    with pytest.raises(WorkflowError, match=r"view_comfy.json is not valid JSON \(.* line 1"):
        load_view_comfy(bad)
    with pytest.raises(WorkflowError, match="no such file"):
        load_view_comfy(tmp_path / "missing.json")
    assert not sniff_view_comfy(bad)
    assert not sniff_view_comfy(Path("examples/photo_effects.json"))
    assert sniff_view_comfy(TWO)


def test_written_file_loads_back_as_picked():
    workflow = load_view_comfy(TWO)[0].workflow
    fields = {f.key: f for f in infer_fields(workflow)}
    picks = [
        Pick(fields["8-inputs-alpha"], "Sharpness", help="More is crisper", group="Finish"),
        Pick(fields["1-inputs-image"], "Your photo", group="Input"),
        Pick(fields["6-inputs-blur_radius"], "Blur", advanced=True, group="Finish"),
        Pick(fields["6-inputs-sigma"], "Blur sigma", advanced=True, group="Finish"),
        Pick(fields["5-inputs-blend_mode"], "Blend mode", group="Input"),
        Pick(fields["3-inputs-value"], "Seed", advanced=True),
        Pick(fields["2-inputs-width"], "Width"),  # default title of a lone field: kept
    ]
    data = json.loads(json.dumps(to_view_comfy(workflow, picks, title="Mine")))
    (loaded,) = load_view_comfy(data)
    shown = loaded.fields()
    assert loaded.title == "Mine"
    assert [(f.key, f.label, f.advanced) for f in shown] == [
        ("8-inputs-alpha", "Sharpness", False),
        ("1-inputs-image", "Your photo", False),
        ("5-inputs-blend_mode", "Blend mode", False),
        ("2-inputs-width", "Width", False),
        ("6-inputs-blur_radius", "Blur", True),
        ("6-inputs-sigma", "Blur sigma", True),
        ("3-inputs-value", "Seed", True),
    ]
    assert shown[0].help == "More is crisper"
    by_key = {f.key: f for f in shown}
    for key, f in by_key.items():  # same widgets as inference gave
        assert (f.kind, f.minimum, f.maximum) == (
            fields[key].kind,
            fields[key].minimum,
            fields[key].maximum,
        )
    assert by_key["5-inputs-blend_mode"].choices == fields["5-inputs-blend_mode"].choices
    groups = data["workflows"][0]["viewComfyJSON"]["inputs"]
    assert [g["title"] for g in groups] == ["Finish", "Input", "Resize"]
    assert data["workflows"][0]["workflowApiJSON"] == workflow.api


def test_writing_keeps_the_format_viewcomfy_reads():
    workflow = load_view_comfy(TWO)[0].workflow
    image = next(f for f in infer_fields(workflow) if f.key == "1-inputs-image")
    data = to_view_comfy(workflow, [Pick(image, "Photo")], title="T", description="D")
    assert data["file_type"] == "view_comfy" and data["file_version"] == "1.0.0"
    form = data["workflows"][0]["viewComfyJSON"]
    assert (form["title"], form["description"], form["advancedInputs"]) == ("T", "D", [])
    (item,) = form["inputs"][0]["inputs"]
    assert item["workflowPath"] == ["1", "inputs", "image"]
    assert (item["key"], item["valueType"], item["value"]) == ("1-inputs-image", "image", None)
    original = copy.deepcopy(workflow.api)
    assert data["workflows"][0]["workflowApiJSON"] == original


def test_the_app_refuses_a_bad_file_in_one_line(tmp_path, capsys):
    from viewcomfy_ui.ui.main import main

    data = _data()
    data["workflows"][0]["viewComfyJSON"]["inputs"][0]["inputs"][0]["valueType"] = "colour"
    bad = tmp_path / "view_comfy.json"
    bad.write_text(json.dumps(data))
    assert main(["--workflow", str(bad)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "view_comfy.json workflows[0] viewComfyJSON.inputs[0].inputs[0]" in error
    assert "unknown valueType 'colour'" in error


def test_editing_a_curated_file_starts_from_its_picks():
    from viewcomfy_ui.ui.editor import _start

    curated = load_view_comfy(TWO)[0]
    start = _start(infer_fields(curated.workflow), curated.fields())
    assert start["1-inputs-image"] == (
        "basic",
        1,
        "Photo to edit",
        "Your photo",
        "A portrait works best",
    )
    assert start["6-inputs-blur_radius"][:3] == ("advanced", 5, "Blur radius")
    assert start["8-inputs-alpha"][0] == "hidden"
    assert start["8-inputs-alpha"][1] > 6


def test_a_linked_input_takes_the_curated_default_or_is_refused():
    data = _data()
    api = data["workflows"][0]["workflowApiJSON"]
    api["4"]["inputs"]["width"] = ["2", 0]  # now a link: inference leaves it out
    item = data["workflows"][0]["viewComfyJSON"]["inputs"][0]["inputs"][0]
    item.update(key="4-inputs-width", valueType="number", value=320)
    field = _one(data)[0]
    assert (field.key, field.kind, field.value) == ("4-inputs-width", "int", 320)
    item["value"] = None
    with pytest.raises(WorkflowError, match="4-inputs-width: this input holds no value"):
        _one(data)


def test_select_options_keep_the_authors_labels_and_writing_keeps_them():
    fields = {f.key: f for f in load_view_comfy(TWO)[0].fields()}
    blend = fields["5-inputs-blend_mode"]
    workflow = load_view_comfy(TWO)[0].workflow
    assert blend.choices == ("soft_light", "overlay", "multiply")
    assert blend.choice_labels == ("Soft light", "Overlay", "Multiply")
    data = json.loads(json.dumps(to_view_comfy(workflow, [Pick(blend, "Blend")], title="T")))
    (item,) = data["workflows"][0]["viewComfyJSON"]["inputs"][0]["inputs"]
    assert item["options"][0] == {"label": "Soft light", "value": "soft_light"}


def test_a_saved_value_outside_the_options_is_offered_under_its_own_name():
    data = _data()
    group = data["workflows"][0]["viewComfyJSON"]["inputs"][1]
    (blend,) = [i for i in group["inputs"] if i["key"] == "5-inputs-blend_mode"]
    blend["options"] = [{"label": "Overlay", "value": "overlay"}, {"value": "multiply"}]
    f = next(f for f in _one(data) if f.key == "5-inputs-blend_mode")
    assert f.choices == ("soft_light", "overlay", "multiply")
    assert f.choice_labels == ("soft_light", "Overlay", "multiply")
