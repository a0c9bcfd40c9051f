"""ComfyDeploy's ``ComfyUIDeployExternal*`` input nodes become fields with their names, defaults,
ranges and choices (fixture built from the pack's declarations: ``tests/data/apps/SOURCES.md``)."""

from __future__ import annotations

import json
from pathlib import Path

from viewcomfy_ui.apps import read_app, read_comfydeploy
from viewcomfy_ui.workflow import apply_params, load_workflow

FILE = Path(__file__).parent / "data" / "apps" / "comfydeploy_inputs_api.json"


def test_external_nodes_are_the_form_in_workflow_order():
    app = read_app(load_workflow(FILE))
    fields = app.fields()
    assert [(f.key, f.label, f.kind, f.value) for f in fields] == [
        ("1-inputs-default_value", "Prompt", "textarea", "a red fox in the snow"),
        ("2-inputs-default_value", "Strength", "float", 0.75),
        ("3-inputs-default_value", "steps", "int", 20),  # no display_name: its input_id
        ("4-inputs-default_value", "Sampler", "choice", "euler"),
        ("5-inputs-default_value", "Tiling", "bool", False),
        ("6-inputs-default_value", "seed", "seed", -1),
        ("7-inputs-default_value_url", "input_image", "text", ""),
        ("8-inputs-default_value", "Images", "int", 2),
    ]  # the image node (7) loads a URL: a text field for it
    assert fields[0].help == "What to draw"
    assert "URL" in fields[6].help
    assert [f.node_title for f in fields] == [f.label for f in fields]
    assert not any(f.advanced for f in fields)


def test_sliders_enums_and_seeds_keep_their_ranges_and_choices():
    fields = {f.key: f for f in read_comfydeploy(load_workflow(FILE)).fields()}
    strength = fields["2-inputs-default_value"]
    assert (strength.minimum, strength.maximum) == (0.1, 1)
    images = fields["8-inputs-default_value"]
    assert (images.minimum, images.maximum, images.step) == (1, 8, 1)
    assert fields["4-inputs-default_value"].choices == ("euler", "dpmpp_2m", "ddim")
    seed = fields["6-inputs-default_value"]
    assert (seed.minimum, seed.maximum, seed.seed_mode) == (1, 4294967295, "randomize")


def test_a_changed_field_is_written_where_comfydeploy_reads_it():
    workflow = load_workflow(FILE)
    key = read_comfydeploy(workflow).fields()[0].key
    sent = apply_params(workflow.api, {key: "a blue fox"})
    assert sent["1"]["inputs"]["default_value"] == "a blue fox"
    assert sent["1"]["inputs"]["input_id"] == "prompt"


def test_an_enum_without_options_offers_its_value_and_a_workflow_without_nodes_is_no_app():
    data = json.loads(FILE.read_text())
    data["4"]["inputs"]["options"] = ""
    fields = {f.key: f for f in read_comfydeploy(load_workflow(data)).fields()}
    assert fields["4-inputs-default_value"].choices == ("euler",)
    plain = {k: v for k, v in data.items() if not v["class_type"].startswith("ComfyUIDeploy")}
    assert read_comfydeploy(load_workflow(plain)) is None
