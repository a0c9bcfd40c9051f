"""ComfyUI App Mode: the inputs and outputs an author picked (``extra.linearData``) are the form.

Real App Mode files from the official templates (``tests/data/apps/SOURCES.md``): the API
prompts beside them were written from the UI files' widget values (the frontend's conversion is
``workflow.ui_to_api``'s job, not this reader's).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from viewcomfy_ui.apps import read_app, read_app_mode
from viewcomfy_ui.workflow import load_workflow

DATA = Path(__file__).parent / "data" / "apps"
CONTACT = DATA / "template_contact_sheet_step_1.app.json"
CONTACT_API = DATA / "template_contact_sheet_step_1.api.json"


def _contact() -> tuple[dict, dict]:
    return json.loads(CONTACT.read_text()), json.loads(CONTACT_API.read_text())


def test_picked_inputs_in_order_with_the_authors_labels_under_their_nodes():
    ui, api = _contact()
    app = read_app_mode(ui, api, name=CONTACT.name)
    fields = app.fields()
    assert [(f.key, f.label, f.node_title) for f in fields] == [
        ("1-inputs-image", "Character Image", "Load Character Image"),
        ("2-inputs-image", "Scene Image", "Load Background Image"),
        ("5-inputs-image", "Product Image", "Load Product Image"),
        ("3-inputs-aspect_ratio", "aspect_ratio", "Nano Banana Pro (Google Gemini Image)"),
        ("3-inputs-resolution", "resolution", "Nano Banana Pro (Google Gemini Image)"),
        ("125-inputs-value", "prompt", "Prompt Template"),
    ]
    assert [f.kind for f in fields] == ["image", "image", "image", "text", "text", "textarea"]
    assert [f.value for f in fields[:3]] == [
        "snake_on_jacket.jpg", "forest_background.jpg", "brown_moisturizer_bottle.jpg",
    ]  # fmt: skip
    assert fields[3].group == fields[4].group != fields[5].group  # one node, one group
    assert not any(f.advanced for f in fields)
    assert app.outputs == ("4",)
    assert app.title == "Template contact sheet step 1"


def test_declarations_give_the_picked_widgets_their_choices():
    ui, api = _contact()
    gemini = {
        "input": {
            "required": {
                "prompt": ["STRING", {"multiline": True}],
                "aspect_ratio": [["auto", "1:1", "16:9"], {"default": "auto"}],
                "resolution": [["1K", "2K", "4K"], {}],
            }
        },
        "display_name": "Nano Banana Pro (Google Gemini Image)",
        "category": "api node/image/Gemini",
    }
    fields = {f.key: f for f in read_app_mode(ui, api).fields({"GeminiImage2Node": gemini})}
    assert fields["3-inputs-resolution"].choices == ("1K", "2K", "4K")
    assert fields["3-inputs-resolution"].value == "4K"
    assert fields["3-inputs-aspect_ratio"].label == "aspect_ratio"


def test_widget_ids_and_subgraph_inputs_reach_the_inner_node():
    """Newer files name ``<graph uuid>:<node>:<widget>``; a subgraph instance's widget is the
    inner widget its subgraph input links to (``"12:5"`` in the prompt)."""
    ui = json.loads((DATA / "image_mage_flow_turbo_t2i_int8.json").read_text())
    api = {  # the prompt's nodes that the picks name
        "12:5": {
            "class_type": "TextEncodeMageFlowEdit",
            "inputs": {"prompt": ui["nodes"][1]["widgets_values"][0], "negative_prompt": ""},
            "_meta": {"title": "TextEncodeMageFlowEdit"},
        },
        "27": {
            "class_type": "ResolutionSelector",
            "inputs": {"aspect_ratio": "1:1 (Square)", "megapixels": 1},
            "_meta": {"title": "Resolution Selector"},
        },
        "10": {"class_type": "SaveImageAdvanced", "inputs": {}, "_meta": {"title": "Save"}},
    }
    app = read_app_mode(ui, api)
    assert [(f.key, f.label) for f in app.fields()] == [
        ("12:5-inputs-prompt", "prompt"),
        ("27-inputs-aspect_ratio", "aspect_ratio"),
        ("27-inputs-megapixels", "megapixels"),
    ]
    assert app.fields()[0].value.startswith("Vintage analogue film photograph")
    assert app.outputs == ("10",)


def test_an_older_files_inner_node_id_goes_through_its_instance_and_takes_its_label():
    ui = json.loads((DATA / "image_joyai_image_edit.json").read_text())
    api = {
        "41": {
            "class_type": "LoadImage", "inputs": {"image": "perfume_bottle.png.png"},
            "_meta": {"title": "Reference image"},
        },
        "170:174": {
            "class_type": "TextEncodeJoyImageEdit", "inputs": {"prompt": "Change the background"},
            "_meta": {"title": "TextEncodeJoyImageEdit (Positive)"},
        },
    }  # fmt: skip
    fields = read_app_mode(ui, api).fields()
    assert [(f.key, f.label, f.kind) for f in fields] == [
        ("41-inputs-image", "Input Image", "image"),
        ("170:174-inputs-prompt", "Prompt", "textarea"),
    ]


def test_a_promoted_inner_widget_without_a_subgraph_input_is_found_through_its_instance():
    """Instances list promoted widgets in ``properties.proxyWidgets`` (no link needed)."""
    ui = json.loads((DATA / "image_joyai_image_edit.json").read_text())
    ui["extra"]["linearData"]["inputs"] = [["12", "strength"]]  # CFGNorm inside instance 170
    api = {
        "170:12": {
            "class_type": "CFGNorm",
            "inputs": {"strength": 1},
            "_meta": {"title": "CFGNorm"},
        }
    }
    assert read_app_mode(ui, api) is None  # not promoted: nothing to show, the inferred form
    instance = next(n for n in ui["nodes"] if n["id"] == 170)
    instance["properties"]["proxyWidgets"].append(["12", "strength"])
    fields = read_app_mode(ui, api).fields()
    assert [(f.key, f.label, f.value) for f in fields] == [
        ("170:12-inputs-strength", "strength", 1)
    ]


def test_entries_naming_nothing_or_a_linked_widget_are_dropped():
    ui, api = _contact()
    ui["extra"]["linearData"]["inputs"] += [["999", "image"], ["3", "no_such_widget"]]
    api = copy.deepcopy(api)
    api["2"]["inputs"]["image"] = ["98", 0]  # a widget fed by a link: nothing to edit
    keys = [f.key for f in read_app_mode(ui, api).fields()]
    assert keys == [
        "1-inputs-image", "5-inputs-image", "3-inputs-aspect_ratio", "3-inputs-resolution",
        "125-inputs-value",
    ]  # fmt: skip


def test_a_file_without_picks_is_no_app():
    ui, api = _contact()
    del ui["extra"]["linearData"]
    assert read_app_mode(ui, api) is None
    ui["extra"]["linearData"] = {"inputs": [], "outputs": []}
    assert read_app_mode(ui, api) is None


def test_loading_the_prompt_then_reading_the_app():
    ui, _ = _contact()
    workflow = load_workflow(CONTACT_API)
    app = read_app(workflow, ui)
    assert app is not None and app.workflow is not workflow
    assert [f.label for f in app.fields()][:3] == [
        "Character Image",
        "Scene Image",
        "Product Image",
    ]
    assert read_app(workflow) is None  # the prompt alone carries no App Mode picks
