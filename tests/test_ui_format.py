"""UI-format workflows (ComfyUI's Save) converted as ComfyUI's frontend exports them.

The truth in tests/data/ui_format was recorded from the real frontend (ComfyUI 0.3.64, frontend
1.27.10) by ``scripts/make_ui_truth.py``: hand-made graphs covering each conversion rule (the
official templates are GPL-3.0 and stay out of the project; with COMFYUI_URL and
COMFYUI_TEMPLATES set, the live test below checks them all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from viewcomfy_ui.errors import WorkflowError
from viewcomfy_ui.fields import infer_fields
from viewcomfy_ui.nodespecs import core_object_info, custom_object_info
from viewcomfy_ui.ui_format import dynamic_prompt, format_date
from viewcomfy_ui.ui_widgets import node_widgets
from viewcomfy_ui.workflow import load_workflow, ui_to_api

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "ui_format"
CASES = sorted(p.stem for p in DATA.glob("*.api.json"))
COMFYUI_URL = os.environ.get("COMFYUI_URL", "").rstrip("/")
TEMPLATES = os.environ.get("COMFYUI_TEMPLATES", "")


def case(name: str) -> tuple[dict, dict]:
    """A hand-made UI file and what the real frontend exported for it."""
    ui = json.loads((DATA / f"{name.removesuffix('.api')}.json").read_text())
    return ui, json.loads((DATA / f"{name}.json").read_text())


def ui_graph(*nodes: dict, links: list | None = None, **extra) -> dict:
    return {"nodes": list(nodes), "links": links or [], **extra}


def node(node_id: int, type_: str, values: list | None = None, **more) -> dict:
    return {"id": node_id, "type": type_, "mode": 0, "widgets_values": values or [], **more}


@pytest.mark.parametrize("name", CASES)
def test_hand_made_graphs_convert_exactly_as_the_frontend_exports_them(name):
    ui, truth = case(name)
    assert ui_to_api(ui) == truth
    assert ui_to_api(ui, {**custom_object_info(), **core_object_info()}) == truth


def test_the_cases_cover_every_rule():
    """Seed controls, a primitive, reroutes, dynamic prompts, filename patterns, bypass (passed
    on, or dropped when no input fits), mute, subgraph instances, a legacy group node,
    frontend-only widgets, renamed classes, missing trailing values and integers past 2^53."""
    truths = {name: case(name)[1] for name in CASES}
    sub = truths["subgraphs.api"]
    assert {"6:3", "7:3", "9:3"} <= set(sub) and sub["7:3"]["inputs"]["blur_radius"] == 5
    assert sub["6:3"]["inputs"]["blur_radius"] == ["2", 0]
    controls = truths["controls_reroutes_notes.api"]
    assert controls["4"]["inputs"]["width"] == 768  # the PrimitiveNode's value
    assert controls["10"]["inputs"] == {"filename_prefix": "42/fox", "images": ["6", 0]}
    assert controls["2"]["inputs"]["text"] == "a red fox \nin snow  {literal} http:"
    assert controls["5"]["inputs"]["sampler_name"] == "euler"  # 'sample_euler' fixed on load
    bypass = truths["bypass_mute.api"]
    assert bypass["5"]["inputs"]["model"] == ["1", 0] and bypass["9"]["inputs"] == {}
    assert "latent_image" not in bypass["13"]["inputs"]  # a bypassed VAEEncode passes no LATENT
    widgets = truths["frontend_widgets.api"]
    assert widgets["9"]["class_type"] == "ControlNetLoader"  # saved as T2IAdapterLoader
    assert widgets["16"]["inputs"]["noise_seed"] == 2**53  # 2^53 + 1 as JavaScript reads it
    assert widgets["14"]["inputs"]["scheduler"] == "simple"  # a missing value: the default
    assert widgets["6"]["inputs"]["audioUI"] == "" and widgets["8"]["inputs"]["preview"] == ""


def test_each_core_node_gets_the_widgets_the_frontend_creates():
    measured = json.loads((DATA / "widgets_by_class.json").read_text())
    declared = core_object_info()
    wrong = {}
    for class_type, widgets in measured.items():
        if class_type not in declared or class_type == "WebcamCapture":  # its button sends nothing
            continue
        mine = [[w.name, w.saved, w.sent] for w in node_widgets(class_type, declared[class_type])]
        if mine != widgets:
            wrong[class_type] = mine
    assert len(measured) > 450 and wrong == {}


def test_a_seed_control_is_saved_but_not_sent_and_its_mode_is_kept():
    ui = ui_graph(node(3, "RandomNoise", [123, "fixed"]))
    workflow = load_workflow(ui)
    assert workflow.api["3"]["inputs"] == {"noise_seed": 123}
    assert workflow.layout.seed_modes == {"3-inputs-noise_seed": "fixed"}
    (seed,) = infer_fields(workflow)
    assert seed.kind == "seed" and seed.seed_mode == "fixed"


def test_a_legacy_true_control_means_randomize():
    ui = ui_graph(node(1, "KSampler", [5, True, 20, 8, "euler", "normal", 1]))
    assert load_workflow(ui).layout.seed_modes == {"1-inputs-seed": "randomize"}


def test_groups_become_sections_and_notes_their_help():
    workflow = load_workflow(DATA / "controls_reroutes_notes.json")
    titles = [(s.title, s.node_ids, s.help) for s in workflow.layout.sections]
    assert titles == [
        ("Prompt", ("2", "3"), None),
        ("Sampling", ("5",), "Keep steps low on a CPU."),
    ]
    (note,) = workflow.layout.notes
    assert (note.text, note.near[0]) == ("Put the checkpoint in **models/checkpoints**.", "1")
    fields = {f.key: f for f in infer_fields(workflow)}
    seed = fields["5-inputs-seed"]
    assert (seed.node_title, seed.seed_mode, seed.help) == ("Sampling", "increment", None)
    assert seed.section_help == "Keep steps low on a CPU."  # the section's, shown once
    assert fields["5-inputs-steps"].group == seed.group and fields["5-inputs-steps"].help is None
    assert fields["2-inputs-text"].node_title == fields["3-inputs-text"].node_title == "Prompt"
    checkpoint = fields["1-inputs-ckpt_name"]
    assert (checkpoint.help, checkpoint.section_help) == (
        None,
        "Put the checkpoint in **models/checkpoints**.",
    )
    order = [f.group or f.node_id for f in infer_fields(workflow)]
    assert order == sorted(order, key=order.index)  # a section's fields stay together


def test_an_unknown_node_names_its_pack_and_the_way_out():
    ui = ui_graph(
        node(4, "CheckpointLoaderSimple", ["m.safetensors"]),
        node(12, "AcmeFaceWarp", [], properties={"aux_id": "acme/comfyui-warp"}),
    )
    with pytest.raises(WorkflowError) as err:
        ui_to_api(ui)
    assert str(err.value) == (
        "node 12 is a AcmeFaceWarp from the node pack 'acme/comfyui-warp', which the "
        "node declarations do not know; give --object-info with the /object_info of a ComfyUI "
        "that has that pack (or run it with --comfyui-url)"
    )
    declared = {"AcmeFaceWarp": {"input": {"required": {"on": ["BOOLEAN", {}]}}}}
    assert ui_to_api(ui, {**core_object_info(), **declared})["12"]["inputs"] == {"on": False}


def test_a_server_without_a_pack_still_gets_the_bundled_declarations_of_it():
    ui = ui_graph(node(7, "PixelPerfectResolution", [768, 1024, "Crop and Resize"]))
    server = core_object_info()  # a ComfyUI without controlnet_aux
    assert ui_to_api(ui, server)["7"]["inputs"] == {
        "image_gen_width": 768, "image_gen_height": 1024, "resize_mode": "Crop and Resize",
    }  # fmt: skip


def test_a_core_node_newer_than_the_declarations_says_so():
    ui = ui_graph(node(3, "GeminiImage9Node", [], properties={"cnr_id": "comfy-core"}))
    with pytest.raises(WorkflowError, match=r"a core node of a newer ComfyUI than 0\.3\.64"):
        ui_to_api(ui)
    with pytest.raises(WorkflowError, match="neither the given /object_info nor the bundled"):
        ui_to_api(ui, core_object_info())


def test_a_subgraph_without_its_definition_is_named_as_such():
    ui, _ = case("subgraphs.api")
    del ui["definitions"]
    with pytest.raises(WorkflowError, match="is a subgraph whose definition the file lacks"):
        ui_to_api(ui)


def test_a_legacy_group_node_expands_with_its_values_and_links():
    ui, _ = case("group_node.api")
    workflow = load_workflow(ui)
    assert {"10:0", "10:1", "10:2", "10:3"} <= set(workflow.api)
    assert workflow.api["10:1"]["inputs"]["blur_radius"] == ["2", 0]  # fed from outside
    assert workflow.api["10:1"]["inputs"]["sigma"] == 2.5  # the group node's own value
    assert workflow.layout.seed_modes["10:0-inputs-noise_seed"] == "fixed"


def test_a_graph_with_nothing_to_run_is_refused_in_one_line():
    ui = ui_graph(node(1, "Note", ["read me"]), node(2, "SaveImage", ["x"], mode=2))
    with pytest.raises(WorkflowError, match=r"^flow\.json is a ComfyUI UI-format workflow with no"):
        load_workflow(ui, name="flow.json")


def test_a_link_loop_is_one_line_error_not_a_crash():
    reroute = {
        "id": 1,
        "type": "Reroute",
        "mode": 0,
        "inputs": [{"name": "", "type": "*", "link": 1}],
    }
    reroute["outputs"] = [{"name": "", "type": "*", "links": [1, 2]}]
    save = node(2, "SaveImage", ["x"], inputs=[{"name": "images", "type": "IMAGE", "link": 2}])
    ui = ui_graph(reroute, save, links=[[1, 1, 0, 1, 0, "*"], [2, 1, 0, 2, 0, "IMAGE"]])
    with pytest.raises(WorkflowError, match="loop"):
        ui_to_api(ui)


def test_values_a_custom_node_saves_as_an_object_are_left_to_their_defaults():
    ui = ui_graph(node(1, "SaveImage", None, widgets_values={"filename_prefix": "x"}))
    assert ui_to_api(ui)["1"]["inputs"] == {"filename_prefix": "ComfyUI"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a // note\nb", {"a \nb"}),
        ("a /* x\ny */ b", {"a  b"}),
        ("{red|blue} car", {"red car", "blue car"}),
        ("{a|{b|c}}", {"a", "b", "c"}),
        ("\\{kept\\} \\| too", {"{kept} | too"}),
        ("see http://x.org", {"see http:"}),
    ],
)
def test_dynamic_prompts_as_the_frontend_writes_them(text, expected):
    assert {dynamic_prompt(text) for _ in range(30)} <= expected


def test_filename_dates_as_the_frontend_formats_them():
    moment = datetime(2026, 3, 4, 5, 6, 7)
    assert format_date("yyyy-MM-dd hh:mm:ss yy M/d", moment) == "2026-03-04 05:06:07 26 3/4"


def test_export_api_writes_the_frontend_export_and_params_takes_ui_files(tmp_path):
    out = tmp_path / "workflow_api.json"
    source = DATA / "bypass_mute.json"
    run = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "export-api", str(source), "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text()) == case("bypass_mute.api")[1]
    assert f"wrote {out} (11 nodes)" in run.stdout
    again = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "export-api", str(source), "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert again.returncode == 2 and "already exists" in again.stderr
    params = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "params", str(source), "-o", "-"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert json.loads(params.stdout)["5-inputs-seed"] == 42


def test_export_api_names_the_missing_pack_in_one_line(tmp_path):
    ui = ui_graph(node(3, "AcmeFaceWarp", [], properties={"cnr_id": "comfyui-acme-warp"}))
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(ui))
    run = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "export-api", str(path), "-o", "-",
         "--object-info", str(tmp_path / "none.json")],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "none.json" in run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "export-api", str(path), "-o", "-"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "'comfyui-acme-warp'" in run.stderr and "--object-info" in run.stderr


# --- against the real frontend --------------------------------------------------------------


@pytest.mark.skipif(
    not COMFYUI_URL, reason="set COMFYUI_URL to a running ComfyUI to test against it"
)
def test_the_real_frontend_agrees_on_the_cases_and_templates(tmp_path):
    """The hand-made cases rebuilt in the real page, and (with COMFYUI_TEMPLATES, a folder of UI
    files such as the comfyui-workflow-templates package's) every file whose nodes it knows."""
    import asyncio

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_ui_truth import build_cases, record

    from viewcomfy_ui.object_info import load_object_info

    files = asyncio.run(build_cases(COMFYUI_URL, tmp_path / "ui"))
    if TEMPLATES:
        files += [
            p for p in sorted(Path(TEMPLATES).glob("*.json")) if not p.name.startswith("index")
        ]
    asyncio.run(record(COMFYUI_URL, tmp_path / "truth", files, widgets=False))
    object_info = load_object_info(COMFYUI_URL)
    checked = 0
    for path in files:
        truth_path = tmp_path / "truth" / path.name
        if not truth_path.exists():
            continue  # not a UI file
        truth = json.loads(truth_path.read_text())
        ui = json.loads(path.read_text())
        try:
            mine = ui_to_api(ui, object_info)
        except WorkflowError:
            assert any(v.get("class_type") is None for v in truth.values()), path.name
            continue
        assert mine == truth, path.name
        checked += 1
    assert checked >= 4
