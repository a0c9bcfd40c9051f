"""Bundled node declarations: core first, then the custom node packs; facts only, with licences."""

from __future__ import annotations

import json
from importlib import resources

from viewcomfy_ui.fields import infer_fields
from viewcomfy_ui.nodespecs import (
    NodeSpecs,
    bundled_specs,
    core_object_info,
    core_specs,
    custom_object_info,
)


def data(name: str) -> str:
    return resources.files("viewcomfy_ui").joinpath(f"data/{name}").read_text("utf-8")


def test_bundled_lookup_knows_core_and_the_most_used_custom_nodes():
    specs = bundled_specs()
    assert specs.get("KSampler").inputs["cfg"].options["round"] == 0.01
    combine = specs.get("VHS_VideoCombine")
    assert combine.inputs["frame_rate"].type == "FLOAT", "VHS frame rate saved as 8 is a float"
    assert combine.inputs["format"].choices and "video/h264-mp4" in combine.inputs["format"].choices
    assert specs.get("ImageResize+").inputs["interpolation"].type == "COMBO"
    assert "VHS_VideoCombine" in specs and "VHS_VideoCombine" not in core_specs()
    assert specs.get("NoSuchNode") is None


def test_core_declarations_win_over_a_custom_class_of_the_same_name():
    custom = NodeSpecs.from_object_info(
        {"ImageBlur": {"input": {"required": {"blur_radius": ["STRING", {}]}}}}
    )
    specs = NodeSpecs.from_object_info(core_object_info(), fallback=custom)
    assert specs.get("ImageBlur").inputs["blur_radius"].type == "INT"


def test_class_types_lists_each_lookup_level_core_first():
    custom = NodeSpecs.from_object_info({"MyNode": {"input": {}}, "ImageBlur": {"input": {}}})
    specs = NodeSpecs.from_object_info(core_object_info(), fallback=custom)
    levels = list(specs.class_types())
    assert (0, "ImageBlur") in levels and (1, "MyNode") in levels
    assert levels.index((0, "ImageBlur")) < levels.index((1, "ImageBlur"))


def test_model_lists_from_a_server_without_models_are_open_not_closed():
    specs = bundled_specs()
    unet = specs.get("UnetLoaderGGUF").inputs["unet_name"]
    assert unet.type == "COMBO" and unet.open_choices and unet.choices == ()
    assert not specs.get("VHS_VideoCombine").inputs["format"].open_choices


def test_bundled_custom_data_holds_no_tooltips_descriptions_or_code():
    text = data("custom_nodes.json")
    for word in ("def ", "import "):
        assert word not in text
    keys: set[str] = set()  # of nodes and of input options ("description" may be an input)
    for node in json.loads(text).values():
        keys.update(node)
        for _kind, options in node["inputs"].values():
            keys.update(options)
    assert not keys & {"tooltip", "description"}
    assert set(core_object_info()).isdisjoint(custom_object_info()), "core classes are not repeated"


def test_every_bundled_pack_has_its_repository_commit_and_licence_noted():
    packs = {node["pack"] for node in json.loads(data("custom_nodes.json")).values()}
    notes = data("CUSTOM_NODES_LICENSES.md")
    rows = {
        line.split(" | ")[0].strip("| "): line
        for line in notes.splitlines()
        if line.startswith("| ")
    }
    for pack in packs:
        assert pack in rows, f"{pack} has no licence row"
        assert "none found" not in rows[pack] and "| yes |" in rows[pack]


def test_custom_declarations_give_the_right_widgets_where_values_mislead():
    workflow = {
        "1": {"class_type": "VHS_VideoCombine", "inputs": {"frame_rate": 8, "format": "video/h264-mp4", "images": ["2", 0]}},
        "2": {"class_type": "ImageResize+", "inputs": {"width": 512, "interpolation": "lanczos", "image": ["3", 0]}},
    }  # fmt: skip
    guessed = {f.key: f for f in infer_fields(workflow, core_object_info())}
    declared = {
        f.key: f for f in infer_fields(workflow, {**custom_object_info(), **core_object_info()})
    }
    assert guessed["1-inputs-frame_rate"].kind == "int", "without declarations 8 looks like an int"
    assert declared["1-inputs-frame_rate"].kind == "float"
    assert declared["1-inputs-format"].kind == "choice"
    assert "video/h264-mp4" in declared["1-inputs-format"].choices
    assert declared["2-inputs-interpolation"].kind == "choice"


def test_custom_loaders_file_lists_are_uploads_as_the_frontend_shows_them():
    specs = bundled_specs()
    assert specs.get("VHS_LoadVideo").inputs["video"].upload == "video"
    assert specs.get("VHS_LoadAudioUpload").inputs["audio"].upload == "audio"
    assert specs.get("VHS_VideoCombine").inputs["format"].upload is None


def test_declaration_order_comes_from_input_order_or_the_declarations_keys():
    assert bundled_specs().get("KSampler").order[:4] == ("model", "seed", "steps", "cfg")
    assert bundled_specs().get("AddLabel").order[:3] == ("image", "text_x", "text_y")  # a pack
    info = {
        "Ordered": {
            "input": {"required": {"b": ["INT", {}], "a": ["INT", {}]}, "optional": {"c": ["INT", {}]}},
            "input_order": {"required": ["a", "b"], "optional": ["c"]},
        },
        "Keys": {"input": {"required": {"b": ["INT", {}]}, "optional": {"c": ["INT", {}], "a": ["INT", {}]}}},
    }  # fmt: skip
    specs = NodeSpecs.from_object_info(info)
    assert specs.get("Ordered").order == ("a", "b", "c")
    assert specs.get("Keys").order == ("b", "c", "a")
    assert specs.get("Ordered").sort_inputs(["x", "c", "b", "a", "y"]) == ["a", "b", "c", "x", "y"]


VHS_COMBINE = {
    "input": {
        "required": {
            "images": ["IMAGE"],
            "frame_rate": ["FLOAT", {"default": 8, "min": 1, "step": 1}],
            "format": [
                ["image/gif", "video/h264-mp4"],
                {"formats": {"video/h264-mp4": [
                    ["pix_fmt", ["yuv420p", "yuv420p10le"]],
                    ["crf", "INT", {"default": 19, "min": 0, "max": 100, "step": 1}],
                    ["save_metadata", "BOOLEAN", {"default": True}],
                ]}},
            ],
        }
    }
}  # fmt: skip


def test_widgets_of_the_chosen_format_are_declared_by_that_format():
    spec = NodeSpecs({"VHS_VideoCombine": VHS_COMBINE}).get("VHS_VideoCombine")
    chosen = spec.chosen_inputs({"format": "video/h264-mp4"})
    assert chosen["pix_fmt"].choices == ("yuv420p", "yuv420p10le")
    assert chosen["crf"].type == "INT" and chosen["crf"].options["max"] == 100
    assert spec.chosen_inputs({"format": "image/gif"}) == {}


def test_a_custom_loaders_file_list_is_an_upload_as_the_frontend_shows_it():
    raw = {
        "VHS_LoadVideo": {"input": {"required": {"video": [[]], "frame_load_cap": ["INT", {}]}}},
        "VHS_LoadAudioUpload": {"input": {"required": {"audio": [["a.wav", "b.mp3"]]}}},
        "MyLoadPreset": {"input": {"required": {"image": [["portrait", "landscape"]]}}},
        "ImageSwitch": {"input": {"required": {"image": [[]]}}},
    }
    specs = NodeSpecs(raw)
    assert specs.get("VHS_LoadVideo").inputs["video"].upload == "video"
    assert specs.get("VHS_LoadAudioUpload").inputs["audio"].upload == "audio"
    assert specs.get("MyLoadPreset").inputs["image"].upload is None, "choices that are not files"
    assert specs.get("ImageSwitch").inputs["image"].upload is None, "a class that loads nothing"


def test_bundled_custom_declarations_keep_the_order_of_optional_inputs():
    raw = custom_object_info()
    with_optional = next(n for n, i in raw.items() if len(i["input"]["optional"]) > 2)
    order = bundled_specs().get(with_optional).order
    assert set(raw[with_optional]["input_order"]["optional"]) <= set(order)
    assert list(order[-len(raw[with_optional]["input_order"]["optional"]) :]) == list(
        raw[with_optional]["input_order"]["optional"]
    )
