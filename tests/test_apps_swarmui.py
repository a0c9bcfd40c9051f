"""SwarmUI's ``SwarmInput*`` nodes become fields: title, default, range, choices, group, order
(``tests/data/apps/SOURCES.md``: a real SwarmUI example and one built from the declarations)."""

from __future__ import annotations

from pathlib import Path

from viewcomfy_ui.apps import read_app, read_swarmui
from viewcomfy_ui.workflow import load_workflow

DATA = Path(__file__).parent / "data" / "apps"


def test_swarmuis_own_example_shows_its_inputs_in_their_group():
    fields = read_app(load_workflow(DATA / "swarmui_basic_sdxl.api.json")).fields()
    assert [(f.key, f.label, f.kind, f.node_title) for f in fields] == [
        ("11-inputs-value", "Prompt", "textarea", "SDXL Example Inputs"),
        ("17-inputs-value", "SDXL Checkpoint Model", "choice", "SDXL Example Inputs"),
    ]
    assert fields[0].value == "a beautiful photo of a cat in a magical forest"
    assert fields[1].value == "OfficialStableDiffusion\\sd_xl_base_1.0.safetensors"
    assert fields[1].allow_custom  # a model list differs per server


def test_every_input_kind_sorted_as_swarmui_sorts_it():
    fields = read_swarmui(load_workflow(DATA / "swarmui_inputs_api.json")).fields()
    assert [(f.label, f.kind, f.value, f.advanced) for f in fields] == [
        ("Prompt", "textarea", "a castle on a hill", False),  # ungrouped (priority 0)
        ("Init Image", "image", "example.png", False),
        ("CFG Scale", "float", 7.5, False),  # group "Sampling" (priority 5), by own priority
        ("Steps", "int", 20, False),
        ("Seed", "seed", -1, False),
        ("Sampler", "choice", "euler", True),  # group "Extras" is advanced
        ("Tiling", "bool", False, True),
    ]
    by_label = {f.label: f for f in fields}
    assert by_label["Prompt"].help == "What to draw"
    assert (by_label["Steps"].minimum, by_label["Steps"].maximum, by_label["Steps"].step) == (
        1,
        150,
        1,
    )
    assert (by_label["CFG Scale"].minimum, by_label["CFG Scale"].maximum) == (1, 30)
    assert by_label["CFG Scale"].step == 0.5
    assert by_label["Sampler"].choices == ("euler", "dpmpp_2m", "ddim")
    assert by_label["Steps"].node_title == "Sampling" and by_label["Tiling"].node_title == "Extras"
    assert by_label["Init Image"].key == "17-inputs-image"  # the upload, not SwarmUI's base64 slot


def test_a_workflow_without_swarm_inputs_is_no_app():
    workflow = load_workflow(Path(__file__).parent / "fixtures" / "sd15_txt2img.json")
    assert read_swarmui(workflow) is None
    assert read_app(workflow) is None
