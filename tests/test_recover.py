"""A flattened parameters file names titles, not classes: each node's class is recovered."""

from __future__ import annotations

import json
from pathlib import Path

from viewcomfy_ui.fields import infer_fields, node_classes
from viewcomfy_ui.nodespecs import NodeSpecs, bundled_specs, core_object_info
from viewcomfy_ui.recover import GENERIC_MIN, recover_class
from viewcomfy_ui.workflow import flatten, load_workflow

OBJECT_INFO = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "comfyui" / "object_info-0.3.64.json"
)


def recovered(title: str, inputs: dict, specs: NodeSpecs | None = None):
    return recover_class(specs or bundled_specs(), title, inputs, frozenset({"upload"}))


def test_a_title_that_is_a_class_name_is_that_class():
    found = recovered("KSampler", {"seed": 1, "steps": 20, "model": ["4", 0]})
    assert (found.class_type, found.rule) == ("KSampler", "class name")


def test_a_title_that_is_a_display_name_is_that_class():
    found = recovered("CLIP Text Encode (Prompt)", {"text": "a cat", "clip": ["4", 1]})
    assert (found.class_type, found.rule) == ("CLIPTextEncode", "display name")


def test_a_typed_title_is_matched_by_input_names_and_value_types():
    inputs = {
        "seed": 5, "steps": 20, "cfg": 7, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
        "latent_image": ["5", 0],
    }  # fmt: skip
    found = recovered("My sampler", inputs)
    assert (found.class_type, found.rule) == ("KSampler", "inputs")
    advanced = {**inputs, "add_noise": "enable", "noise_seed": 5, "start_at_step": 0,
                "end_at_step": 10000, "return_with_leftover_noise": "disable"}  # fmt: skip
    del advanced["seed"], advanced["denoise"]
    assert recovered("KSampler", advanced).class_type == "KSamplerAdvanced", (
        "a title naming another class does not win over inputs that class does not take"
    )


def test_among_classes_that_take_the_inputs_the_value_types_decide():
    assert recovered("length", {"value": 121}).class_type == "PrimitiveInt"
    assert recovered("strength", {"value": 0.5}).class_type == "PrimitiveFloat"
    assert recovered("Positive Prompt", {"value": "a cat"}).class_type == "PrimitiveStringMultiline"
    assert recovered("suffix", {"value": "_v2"}).class_type == "PrimitiveString"


def test_an_uploaded_file_not_in_the_bundled_list_is_still_a_load_image():
    found = recovered("Portrait", {"image": "my photo.jpg", "upload": "image"})
    assert found.class_type == "LoadImage"


def test_data_is_not_a_file_name_so_a_base64_image_is_no_loader():
    found = recovered("Load Image (Base64)", {"image": "iVBORw0KGgo" * 100})
    assert found.class_type is None and found.rule == "none fits"


def test_a_newer_or_older_version_of_the_titled_class_is_still_that_class():
    newer = {"images": ["1", 0], "audio": ["2", 0], "fps": 24, "bit_depth": 8}
    assert recovered("Create Video", newer).class_type == "CreateVideo"
    assert recovered("Create H3 Video", newer).rule == "most inputs"


def test_a_live_object_info_is_searched_too():
    live = {
        **core_object_info(),
        "MyLoader": {
            "input": {"required": {"zzz_file": [["a.bin"], {}], "zzz_gain": ["FLOAT", {}]}}
        },
    }
    found = recovered("Loader", {"zzz_file": "a.bin", "zzz_gain": 1}, NodeSpecs(live))
    assert found.class_type == "MyLoader"


def test_core_is_preferred_to_a_custom_pack_on_a_tie():
    custom = NodeSpecs({"ImageBlurCopy": {"input": {"required": dict(
        core_object_info()["ImageBlur"]["input"]["required"])}}})  # fmt: skip
    specs = NodeSpecs(core_object_info(), fallback=custom)
    found = recovered("Soften", {"image": ["1", 0], "blur_radius": 3, "sigma": 1.0}, specs)
    assert found.class_type == "ImageBlur"


def test_a_recovered_class_gives_real_choices_float_steps_and_hides_frontend_keys():
    flat = {
        "_3-node-class_type-info": "Main sampler",
        "3-inputs-seed": 5, "3-inputs-steps": 20, "3-inputs-cfg": 7, "3-inputs-sampler_name": "euler",
        "3-inputs-scheduler": "normal", "3-inputs-denoise": 1, "3-inputs-model": ["4", 0],
        "3-inputs-positive": ["6", 0], "3-inputs-negative": ["7", 0],
        "3-inputs-latent_image": ["5", 0],
        "_9-node-class_type-info": "Shrink",
        "9-inputs-upscale_method": "lanczos", "9-inputs-megapixels": 1,
        "9-inputs-resolution_steps": 8, "9-inputs-image": ["8", 0],
    }  # fmt: skip
    fields = {f.key: f for f in infer_fields(flat)}
    cfg, sampler = fields["3-inputs-cfg"], fields["3-inputs-sampler_name"]
    assert cfg.kind == "float" and cfg.step == 0.1 and cfg.value == 7.0
    assert sampler.kind == "choice" and "dpmpp_2m" in sampler.choices
    assert fields["9-inputs-megapixels"].kind == "float"
    assert "9-inputs-resolution_steps" not in fields, "a frontend-only key of the recovered class"
    assert node_classes(flat) == {"3": "KSampler", "9": "ImageScaleToTotalPixels"}


def test_the_form_says_when_no_class_fits_a_node():
    flat = {"_7-node-class_type-info": "Mystery", "7-inputs-zzz_a": 3, "7-inputs-zzz_b": "x"}
    fields = infer_fields(flat)
    assert "no known node takes the inputs of 'Mystery'" in (fields[0].warning or "")
    assert fields[1].warning is None, "said once per node"
    assert node_classes(flat) == {"7": None}


def test_flattened_forms_match_the_api_forms_on_a_mixed_workflow():
    api = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "me.png", "upload": "image"},
              "_meta": {"title": "Portrait"}},
        "2": {"class_type": "ImageScaleBy", "inputs": {"image": ["1", 0], "upscale_method":
              "nearest-exact", "scale_by": 2}, "_meta": {"title": "Bigger"}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
    }  # fmt: skip
    object_info = json.loads(OBJECT_INFO.read_text())
    for info in (None, object_info):
        want = [(f.key, f.kind, f.step, f.choices) for f in infer_fields(api, info)]
        assert [
            (f.key, f.kind, f.step, f.choices) for f in infer_fields(flatten(api), info)
        ] == want


def test_a_model_file_the_bundled_list_lacks_still_fits_the_loader_of_that_list():
    assert recovered("My VAE", {"vae_name": "ae.safetensors"}).class_type == "VAELoader"


def test_on_a_live_server_core_classes_come_before_custom_packs_on_a_tie():
    live = {
        "AAAConstant": {"input": {"required": {"value": ["INT", {}]}},
                        "python_module": "custom_nodes.some-pack"},
        "PrimitiveInt": {"input": {"required": {"value": ["INT", {}]}}, "python_module": "nodes"},
        "AnyValue": {"input": {"required": {"value": ["*", {}]}}, "python_module": "nodes"},
    }  # fmt: skip
    assert recovered("length", {"value": 121}, NodeSpecs(live)).class_type == "PrimitiveInt"


# comfy-pack's pixel-art example, flattened (CPackInputInt, a class no declaration has, titled
# "height"/"width"): only the keys of those two nodes.
PIXEL_ART_SIZES = {
    "_13-node-class_type-info": "height",
    "13-inputs-value": 512, "13-inputs-min": 24, "13-inputs-max": 2048,
    "_14-node-class_type-info": "width",
    "14-inputs-value": 512, "14-inputs-min": 24, "14-inputs-max": 2048,
}  # fmt: skip


def test_a_class_whose_range_refuses_the_saved_value_is_not_taken(tmp_path):
    path = tmp_path / "workflow_api_parameters.json"
    path.write_text(json.dumps(PIXEL_ART_SIZES))
    workflow = load_workflow(path)
    assert node_classes(workflow) == {"13": None, "14": None}, "not a 0-10 slider"
    fields = {f.key: f for f in infer_fields(workflow)}
    for node in ("13", "14"):
        value, low, high = (fields[f"{node}-inputs-{name}"] for name in ("value", "min", "max"))
        assert (value.kind, value.value, value.minimum, value.maximum) == ("int", 512, None, None)
        assert "above" not in (value.warning or ""), "no false range warning"
        assert (low.kind, low.step, high.kind, high.maximum) == ("int", 1, "int", None)


def test_one_or_two_generic_inputs_do_not_make_a_custom_class():
    custom = NodeSpecs({
        f"Pack{n}Text": {"input": {"required": {"text": ["STRING", {}], f"zz{n}": ["INT", {}]}}}
        for n in range(GENERIC_MIN)
    } | {"PackPrompt": {"input": {"required": {"text": ["STRING", {"multiline": True}]}}}})  # fmt: skip
    specs = NodeSpecs(core_object_info(), fallback=custom)
    assert recovered("scene", {"text": "a cat"}, specs).class_type is None
    assert recovered("Pack prompt", {"text": "a cat"}, specs).class_type == "PackPrompt", (
        "a title naming the class is evidence enough"
    )
    assert recovered("scene", {"text": "a cat", "zz1": 3}, specs).class_type == "Pack1Text"


def test_a_title_shaped_like_an_undeclared_class_name_is_an_unknown_class():
    inputs = {"width": 832, "height": 1216, "batch_size": 1}
    found = recovered("EmptyFlux2LatentImage", inputs)  # newer than the bundled declarations
    assert (found.class_type, found.rule) == (None, "unknown class")
    assert recovered("EmptyLatentImage", inputs).class_type == "EmptyLatentImage"
    assert recovered("My latent", inputs).class_type is not None, "a typed title: inputs decide"
