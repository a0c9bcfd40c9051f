"""Loading workflows, flattening them as ViewComfy does, and applying changed values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viewcomfy_ui.errors import ParamsError, WorkflowError
from viewcomfy_ui.workflow import (
    Workflow,
    apply_params,
    flatten,
    is_context_key,
    load_workflow,
    split_key,
    workflow_title,
)

FIXTURES = Path(__file__).parent / "fixtures"


def reference_flatten(workflow: dict) -> dict:
    """ViewComfy's workflow_api_parameters_creator, transcribed for comparison."""
    flattened = {}
    for node_id, node in workflow.items():
        flattened[f"_{node_id}-node-class_type-info"] = node.get("_meta", {}).get(
            "title"
        ) or node.get("class_type")
        for key, value in node.get("inputs", {}).items():
            flattened[f"{node_id}-inputs-{key}"] = value
    return flattened


@pytest.mark.parametrize("name", [p.name for p in FIXTURES.glob("*.json")])
def test_flatten_matches_reference_parameter_maker(name):
    raw = json.loads((FIXTURES / name).read_text())
    workflow = load_workflow(FIXTURES / name)
    assert list(workflow.params.items()) == list(reference_flatten(workflow.api).items())
    assert workflow.params == flatten(
        raw if "class_type" in next(iter(raw.values())) else workflow.api
    )


def test_flattened_file_loads_as_params(tmp_path):
    flat = flatten(load_workflow(FIXTURES / "sd15_txt2img.json").api)
    path = tmp_path / "workflow_api_parameters.json"
    path.write_text(json.dumps(flat, indent=4))
    loaded = load_workflow(path)
    assert loaded.api is None and loaded.params == flat


@pytest.mark.parametrize(
    "wrapped",
    [
        lambda w: {"prompt": w, "client_id": "x"},
        lambda w: {"input": {"workflow": w, "images": []}},
        lambda w: {**w, "_comfyuimini_meta": {"title": "x"}, "stable-restyle": {"a": 1}},
    ],
)
def test_wrapped_payloads_and_non_node_entries(wrapped):
    api = load_workflow(FIXTURES / "sd15_txt2img.json").api
    assert load_workflow(wrapped(api)).api == api


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "got a JSON array"),
        ('{"nodes": [], "links": [], "version": 0.4}', "UI-format"),
        ('{"a": 1}', "has no ComfyUI nodes"),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "my_flow.json"
    path.write_text(content)
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    assert message in str(err.value) and "my_flow.json" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_ui_format_file_loads_as_its_api_export():
    workflow = load_workflow(FIXTURES.parent / "data" / "ui_format" / "bypass_mute.json")
    expected = json.loads(
        (FIXTURES.parent / "data" / "ui_format" / "bypass_mute.api.json").read_text()
    )
    assert workflow.api == expected
    assert workflow.params == flatten(expected)


def test_a_ui_node_of_an_unknown_pack_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "ui.json"
    node = {"id": 7, "type": "FaceSwap", "title": "Swap", "properties": {"cnr_id": "reactor"}}
    path.write_text(json.dumps({"nodes": [node], "links": []}))
    with pytest.raises(WorkflowError) as err:
        load_workflow(path)
    message = str(err.value)
    assert message.startswith("ui.json: node 7 ('Swap') is a FaceSwap from the node pack 'reactor'")
    assert "--object-info" in message and "--comfyui-url" in message and "\n" not in message


def test_missing_file():
    with pytest.raises(WorkflowError, match="no such file"):
        load_workflow("/nonexistent/flow.json")


def test_apply_params_keeps_opaque_ids_and_does_not_mutate():
    api = {
        "267:275": {"class_type": "KSampler", "inputs": {"seed": 1, "model": ["4", 0]}},
        "5-abc": {"class_type": "X", "inputs": {"resize_type.width": 2, "➕ Add Lora": ""}},
    }
    new = apply_params(
        api,
        {
            "267:275-inputs-seed": 2**64 - 1,
            "5-abc-inputs-resize_type.width": 9,
            "_5-abc-node-class_type-info": "x",
        },
    )
    assert new["267:275"]["inputs"] == {"seed": 2**64 - 1, "model": ["4", 0]}
    assert new["5-abc"]["inputs"]["resize_type.width"] == 9
    assert api["267:275"]["inputs"]["seed"] == 1


def test_split_key_splits_on_first_inputs_only():
    assert split_key("5-abc-inputs-x-inputs-y") == ("5-abc", "x-inputs-y")
    with pytest.raises(ParamsError):
        split_key("6-text")


@pytest.mark.parametrize("key", ["99-inputs-seed", "3-inputs-nonexistent"])
def test_unknown_keys_raise_clear_error(key):
    api = load_workflow(FIXTURES / "sd15_txt2img.json").api
    with pytest.raises(
        ParamsError, match=key.split("-inputs-")[0] if key.startswith("99") else "has no input"
    ):
        apply_params(api, {key: 1})


node_ids = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8
).filter(lambda s: "-inputs-" not in s)
input_names = st.text(min_size=1, max_size=10).filter(lambda s: "-inputs-" not in s)
values = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False),
    st.text(),
    st.booleans(),
)


@given(
    st.dictionaries(
        node_ids,
        st.dictionaries(input_names, values, min_size=1, max_size=4),
        min_size=1,
        max_size=5,
    ),
    st.data(),
)
def test_apply_params_round_trips_through_flatten(nodes, data):
    workflow = {nid: {"class_type": "C", "inputs": inputs} for nid, inputs in nodes.items()}
    flat = flatten(workflow)
    keys = [k for k in flat if not is_context_key(k)]
    changes = {
        k: data.draw(values) for k in data.draw(st.lists(st.sampled_from(keys), unique=True))
    }
    applied = apply_params(workflow, changes)
    assert flatten(applied) == {**flat, **changes}
    assert apply_params(workflow, {}) == workflow


def test_params_cli_writes_reference_file(tmp_path):
    out = tmp_path / "params.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "viewcomfy_ui",
            "params",
            str(FIXTURES / "sd15_txt2img.json"),
            "-o",
            str(out),
        ],
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    expected = json.dumps(
        reference_flatten(load_workflow(FIXTURES / "sd15_txt2img.json").api), indent=4
    )
    assert out.read_text() == expected


def test_params_cli_reports_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "ui.json"
    bad.write_text('{"nodes": [], "links": []}')  # nothing to run
    run = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "params", str(bad)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert run.returncode == 2
    assert "UI-format" in run.stderr and "Traceback" not in run.stderr


LAYERS = [
    {"errors", "paths", "media", "field_kinds", "redact", "checks"},
    {"workflow", "nodespecs", "recover", "fields", "arrange", "curated", "apps", "demo"}
    | {"ui_format", "ui_widgets", "ui_layout", "ui_group_nodes", "output_pick", "preflight"},
    {"models", "api", "client", "outputs", "object_info"},
    {"progress"},
    {"server"},
    {"history"},
    {"ui"},
]  # as viewcomfy_ui/__init__.py's docstring says


def test_each_module_imports_only_its_own_or_earlier_layers():
    import ast

    package = Path(__file__).resolve().parent.parent / "viewcomfy_ui"
    layer_of = {name: i for i, names in enumerate(LAYERS) for name in names}
    broken = []
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).with_suffix("").parts
        if parts[0] in ("__init__", "__main__"):
            continue
        own = layer_of[parts[0]]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = parts[: len(parts) - node.level]  # the package the import is relative to
                target = (*base, *(node.module or "").split("."))
                top = target[0] if target[0] else node.names[0].name
                if top in layer_of and layer_of[top] > own:
                    broken.append(f"{'/'.join(parts)} imports {top}")
    assert broken == []


@pytest.mark.parametrize(
    ("file_name", "title"),
    [
        ("flux_dev_api.json", "Flux dev"),
        ("character_sheet_card_v1.0_api.json", "Character sheet card"),
        ("Wan2.2_Smooth_I2V-workflow.json", "Wan2.2 Smooth I2V"),
        ("example.workflow_api.json", "Example"),
        ("sd1.5-parallel-3.json", "Sd1.5 parallel 3"),
        ("my workflow (1).JSON", "My"),
    ],
)
def test_page_title_is_the_file_name_without_workflow_api_or_a_version(file_name, title):
    assert workflow_title(Workflow(params={}, api={}, name=file_name)) == title


@pytest.mark.parametrize(
    ("sink", "title"),
    [
        ("SaveImage", "Image workflow"),
        ("VHS_VideoCombine", "Video workflow"),
        ("SaveAudioMP3", "Audio workflow"),
        ("PrimitiveInt", "ComfyUI workflow"),
    ],
)
def test_a_file_named_only_workflow_api_is_titled_by_what_it_makes(sink, title):
    api = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
        "2": {"class_type": sink, "inputs": {"images": ["1", 0]}},
    }
    for name in ("workflow_api.json", "workflow_api (2).json", "api.json", "workflow-v2.json"):
        assert workflow_title(Workflow(params=flatten(api), api=api, name=name)) == title
    assert (
        workflow_title(Workflow(params={}, api=None, name="workflow_api.json"))
        == "ComfyUI workflow"
    )


@pytest.mark.parametrize("number", ["1e999", "NaN", "-Infinity"])
def test_a_number_that_is_not_finite_is_refused_in_one_line(tmp_path, number):
    path = tmp_path / "flow_api.json"
    path.write_text(
        '{"1": {"class_type": "ImageBlur", "inputs": {"sigma": NUMBER}}}'.replace("NUMBER", number)
    )
    with pytest.raises(WorkflowError, match="not finite") as err:
        load_workflow(path)
    assert number in str(err.value) and "\n" not in str(err.value)
