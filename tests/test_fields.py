"""Form field inference on real workflows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from viewcomfy_ui import arrange
from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.fields import MEDIA_KINDS, SEED_MAX, infer_fields, shown_label
from viewcomfy_ui.media import MEDIA_TYPES, media_kind
from viewcomfy_ui.workflow import flatten, load_workflow

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "workflows"
OBJECT_INFO = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "comfyui" / "object_info-0.3.64.json"
)


def by_key(fields):
    return {f.key: f for f in fields}


def test_txt2img_fields_kinds_labels_and_sections():
    fields = by_key(infer_fields(load_workflow(FIXTURES / "sd15_txt2img.json")))
    kinds = {key.split("-inputs-")[1]: f.kind for key, f in fields.items()}
    assert kinds["seed"] == "seed" and kinds["steps"] == "int" and kinds["cfg"] == "float"
    assert kinds["sampler_name"] == "choice" and kinds["scheduler"] == "choice"
    assert kinds["text"] == "textarea" and kinds["filename_prefix"] == "text"
    labels = sorted(f.label for f in fields.values() if f.kind == "textarea")
    assert labels == ["Negative prompt", "Positive prompt"]
    assert not fields[next(k for k in fields if k.endswith("-inputs-seed"))].advanced
    assert fields[next(k for k in fields if k.endswith("filename_prefix"))].advanced
    ckpt = fields[next(k for k in fields if k.endswith("ckpt_name"))]
    assert ckpt.kind == "choice" and ckpt.allow_custom and ckpt.advanced
    sampler = fields[next(k for k in fields if k.endswith("sampler_name"))]
    assert "euler" in sampler.choices and "dpmpp_2m" in sampler.choices


def test_links_nulls_dicts_and_ui_only_keys_are_not_fields():
    workflow = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png", "upload": "image"}},
        "2": {
            "class_type": "Custom",
            "inputs": {
                "x": ["1", 0],
                "cfg": None,
                "lora_1": {"on": True},
                "video-preview": "",
                "control_after_generate": "fixed",
            },
        },
    }
    fields = infer_fields(workflow)
    assert [f.key for f in fields] == ["1-inputs-image"]
    assert fields[0].kind == "image"


def test_seeds_stay_exact_64_bit_ints():
    big = 2**64 - 1
    [field] = infer_fields({"3": {"class_type": "KSampler", "inputs": {"seed": big}}})
    assert field.kind == "seed" and field.value == big and type(field.value) is int
    assert field.maximum == SEED_MAX


def test_custom_node_heuristics():
    workflow = {
        "7": {
            "class_type": "MyLoader",
            "inputs": {
                "noise_seed": 5,
                "add_noise": "enable",
                "denoise": 1,
                "model_name": "x.safetensors",
                "prompt": "a cat",
                "flag": False,
                "tag": "short",
            },
        },
        "8": {"class_type": "VHS_LoadVideo", "inputs": {"video": "clip.mp4"}},
        "9": {"class_type": "LoadAudioCustom", "inputs": {"audio": "a.wav"}},
    }
    f = {x.input_name: x for x in infer_fields(workflow)}
    assert f["noise_seed"].kind == "seed"
    assert f["add_noise"].kind == "choice" and f["add_noise"].choices == ("enable", "disable")
    assert f["model_name"].kind == "choice" and f["model_name"].allow_custom
    assert f["prompt"].kind == "textarea" and f["flag"].kind == "bool" and f["tag"].kind == "text"
    assert f["video"].kind == "video" and f["audio"].kind == "audio"


def test_json_int_on_a_float_input_is_a_float_with_round_applied():
    fields = by_key(
        infer_fields(
            {"3": {"class_type": "KSampler", "inputs": {"cfg": 7.6000000000000005, "denoise": 1}}}
        )
    )
    assert fields["3-inputs-cfg"].value == 7.6
    assert fields["3-inputs-denoise"].kind == "float" and fields["3-inputs-denoise"].value == 1.0


def test_float_noise_is_cleared_for_display():
    [field] = infer_fields(
        {"3": {"class_type": "KSampler", "inputs": {"denoise": 0.2700000000000001}}}
    )
    assert field.value == 0.27
    [exact] = infer_fields({"1": {"class_type": "MyNode", "inputs": {"a": 6.283185307179586}}})
    assert exact.value == 6.283185307179586, "a real value's digits are not noise"


def test_corrupted_export_is_flagged_not_crashed():
    fields = by_key(
        infer_fields(
            {
                "86": {
                    "class_type": "KSamplerAdvanced",
                    "inputs": {"add_noise": 138073435077572, "noise_seed": "randomize"},
                }
            }
        )
    )
    assert fields["86-inputs-noise_seed"].warning and fields["86-inputs-add_noise"].warning


def test_primitives_are_surfaced_with_the_target_declaration():
    fields = by_key(infer_fields(load_workflow(FIXTURES / "ltx2_i2v_primitives.json")))
    prompt = fields["5175-inputs-value"]
    assert prompt.kind == "textarea" and prompt.label == "Positive Prompt" and not prompt.advanced


def test_demo_seed_like_primitive_takes_its_targets_range():
    fields = by_key(infer_fields(load_workflow(DEMO_WORKFLOW)))
    tint = fields["3-inputs-value"]
    assert tint.kind == "seed" and tint.maximum == 0xFFFFFF and tint.label == "Tint seed"
    assert fields["1-inputs-image"].kind == "image"
    assert fields["2-inputs-upscale_method"].kind == "choice"


def test_repeated_titles_are_disambiguated():
    fields = infer_fields(load_workflow(FIXTURES / "all_preprocessors.json"))
    labels = [f.label for f in fields]
    assert len(labels) == len(set(labels))
    titles = {f.node_title for f in fields if f.node_title.startswith("Load Image")}
    assert len(titles) > 1


def test_flattened_params_recover_classes_from_input_names():
    workflow = load_workflow(FIXTURES / "sd15_txt2img.json")
    from_api = infer_fields(workflow)
    from_flat = infer_fields(flatten(workflow.api))
    assert [(f.key, f.kind) for f in from_flat] == [(f.key, f.kind) for f in from_api]


def test_object_info_declarations_win():
    object_info = {
        "KSampler": {
            "input": {
                "required": {
                    "steps": ["INT", {"default": 20, "min": 1, "max": 77}],
                    "sampler_name": [["only_this"], {}],
                }
            },
            "display_name": "Sampler X",
        }
    }
    fields = by_key(
        infer_fields(
            {"3": {"class_type": "KSampler", "inputs": {"steps": 20, "sampler_name": "only_this"}}},
            object_info,
        )
    )
    assert fields["3-inputs-steps"].maximum == 77
    assert fields["3-inputs-sampler_name"].choices == ("only_this",)


def test_subgraph_ids_stay_opaque():
    fields = infer_fields(load_workflow(FIXTURES / "subgraph_ids.json"))
    assert all(f.node_id == "173:132" for f in fields)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_whole_corpus_gives_unique_labelled_fields_with_and_without_object_info():
    object_info = json.loads(OBJECT_INFO.read_text()) if OBJECT_INFO.exists() else None
    files = sorted(CORPUS.glob("*.json"))
    assert len(files) > 200
    for path in files:
        workflow = load_workflow(path)
        for info in (None, object_info):
            fields = infer_fields(workflow, info)
            assert len({f.key for f in fields}) == len(fields)
            assert all(f.label and f.node_title for f in fields)
            assert len({f.label for f in fields}) == len(fields), f"{path.name}: labels repeat"


def test_every_kind_inferred_on_the_corpus_has_a_widget_class():
    from viewcomfy_ui.ui.kinds import KINDS

    kinds = {f.kind for path in FIXTURES.glob("*.json") for f in infer_fields(load_workflow(path))}
    if CORPUS.is_dir():
        kinds |= {
            f.kind for path in CORPUS.glob("*.json") for f in infer_fields(load_workflow(path))
        }
    assert kinds <= set(KINDS) and {"seed", "image", "choice", "color"} <= kinds


def test_the_page_has_a_widget_for_every_kind_in_the_kinds_table_and_no_other():
    from viewcomfy_ui.field_kinds import FIELD_KINDS
    from viewcomfy_ui.ui.kinds import KINDS

    assert set(KINDS) == set(FIELD_KINDS)
    assert {name for name, kind in KINDS.items() if kind.media} == set(MEDIA_KINDS)


@pytest.mark.parametrize("name", ["image", "video", "file"])
def test_a_gif_input_gets_the_upload_its_output_shows_in(name):
    """A gif is an image upload, as a gif output is an image in the gallery (it was a video
    upload, which browsers cannot play)."""
    workflow = {"1": {"class_type": "MyLoader", "inputs": {name: "loop.gif"}}}
    [field] = infer_fields(workflow)
    assert field.kind == media_kind("loop.gif") == "image"


@pytest.mark.parametrize("name", sorted(MEDIA_TYPES))
def test_an_upload_takes_the_media_kind_an_output_of_its_extension_has(name):
    """One extension table: an undeclared `file` input holding an image, video or audio file
    gets that upload; any other file stays text."""
    [field] = infer_fields({"1": {"class_type": "MyLoader", "inputs": {"file": f"in.{name}"}}})
    kind = media_kind(f"in.{name}")
    assert field.kind == (kind if kind in ("image", "video", "audio") else "text")


def primitive(title: str, value: int = 7) -> dict:
    return {"class_type": "PrimitiveInt", "_meta": {"title": title}, "inputs": {"value": value}}


def test_only_real_seeds_are_seeds():
    workflow = {
        "1": primitive("Int"),  # feeds KSampler.seed
        "2": primitive("Int"),  # feeds KSampler.steps
        "3": primitive("Int"),  # feeds a reroute that feeds KSamplerAdvanced.noise_seed
        "4": {"class_type": "Reroute", "inputs": {"": ["3", 0]}},
        "5": primitive("Tint seed", 0x123456),  # titled as a seed: feeds a colour
        "6": primitive("Length", 77),  # feeds a custom node's length
        "10": {"class_type": "KSampler", "inputs": {"seed": ["1", 0], "steps": ["2", 0]}},
        "11": {"class_type": "KSamplerAdvanced", "inputs": {"noise_seed": ["4", 0]}},
        "12": {"class_type": "EmptyImage", "inputs": {"color": ["5", 0]}},
        "13": {"class_type": "WanSoundImageToVideo", "inputs": {"length": ["6", 0]}},
        "14": {"class_type": "MyNode", "inputs": {"seed_2": 3, "seedream_steps": 4, "batch": 5}},
    }
    kinds = {f.key: f.kind for f in infer_fields(workflow)}
    assert kinds["1-inputs-value"] == kinds["3-inputs-value"] == kinds["5-inputs-value"] == "seed"
    assert kinds["2-inputs-value"] == kinds["6-inputs-value"] == "int"
    assert kinds["14-inputs-seed_2"] == "seed"
    assert kinds["14-inputs-seedream_steps"] == kinds["14-inputs-batch"] == "int"


def test_saved_seed_mode_is_kept():
    fields = by_key(
        infer_fields(
            {
                "3": {
                    "class_type": "KSampler",
                    "inputs": {"seed": 1, "control_after_generate": "fixed"},
                }
            }
        )
    )
    assert fields["3-inputs-seed"].seed_mode == "fixed"


def test_saved_values_outside_a_range_are_kept_and_said_quietly():
    workflow = {
        "1": {"class_type": "KSampler", "inputs": {"steps": 0}},
        "2": {"class_type": "MyVideoLoader", "inputs": {"custom_width": 0, "custom_height": 512}},
        "3": {"class_type": "VHS_LoadVideo", "inputs": {"custom_width": 0}},
    }
    fields = by_key(infer_fields(workflow))
    steps = fields["1-inputs-steps"]
    assert steps.value == 0 and steps.minimum == 1 and "saved value 0" in steps.warning
    width, height = fields["2-inputs-custom_width"], fields["2-inputs-custom_height"]
    assert width.minimum is None and width.warning is None, "a wrong guess is dropped, not shown"
    assert height.minimum == 1
    vhs = fields["3-inputs-custom_width"]  # the pack's bundled declaration: 0 means "as saved"
    assert vhs.minimum == 0 and vhs.warning is None


def test_warnings_claim_a_server_only_when_one_was_consulted():
    workflow = {
        "1": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "2": {"class_type": "KSampler", "inputs": {"sampler_name": "my_sampler"}},
    }
    bundled = by_key(infer_fields(workflow))
    assert bundled["1-inputs-vae_name"].warning is None
    assert "server" not in bundled["2-inputs-sampler_name"].warning
    assert bundled["2-inputs-sampler_name"].value == "my_sampler"
    server = {
        "VAELoader": {"input": {"required": {"vae_name": [["other.safetensors"], {}]}}},
        "KSampler": {"input": {"required": {"sampler_name": [["euler"], {}]}}},
    }
    consulted = by_key(infer_fields(workflow, server))
    assert "on the server" in consulted["1-inputs-vae_name"].warning
    assert "on the server" in consulted["2-inputs-sampler_name"].warning


def test_form_order_prompts_and_uploads_then_sampler_then_size_then_the_rest():
    fields = infer_fields(load_workflow(FIXTURES / "sd15_img2img.json"))
    opened = [f for f in fields if not f.advanced]
    assert sorted(f.kind for f in opened[:3]) == ["image", "textarea", "textarea"]
    names = [f.input_name for f in opened]
    assert names.index("seed") < names.index("steps") < names.index("sampler_name")
    advanced = {f.input_name for f in fields if f.advanced}
    assert {"ckpt_name", "filename_prefix"} <= advanced


def test_internal_knobs_go_to_advanced_and_a_node_too_big_for_the_room_left_goes_whole():
    knobs = {
        "precision": "fp16", "device": "cuda", "tile_size": 512, "config": '{"a": [1, 2]}',
        "prompt": "a cat",
    }  # fmt: skip
    workflow = {
        "1": {"class_type": "MyNode", "inputs": knobs},
        "2": {"class_type": "ShowTextMine", "inputs": {"text": "shown, not edited"}},
        "3": {"class_type": "Many", "inputs": {f"knob_{i}": i for i in range(40)}},
    }
    fields = by_key(infer_fields(workflow))
    for name in ("precision", "device", "tile_size", "config"):
        assert fields[f"1-inputs-{name}"].advanced, name
    assert not fields["1-inputs-prompt"].advanced
    assert fields["2-inputs-text"].advanced
    assert [f.key for f in fields.values() if not f.advanced] == ["1-inputs-prompt"]
    assert all(fields[f"3-inputs-knob_{i}"].advanced for i in range(40))


def test_the_open_form_takes_whole_nodes_a_little_past_25_never_half_a_node():
    workflow = {
        "1": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat"}},
        **{
            str(n): {"class_type": "Knobs", "inputs": {f"k{i}": i for i in range(6)}}
            for n in range(2, 8)
        },
    }
    fields = infer_fields(workflow)
    opened = [f for f in fields if not f.advanced]
    assert len(opened) == 1 + 4 * 6  # the 5th node of 6 starts at 25: it goes whole
    for node in {f.node_id for f in fields}:
        sections = {f.advanced for f in fields if f.node_id == node}
        assert len(sections) == 1, f"node {node} is split between the form and Advanced"
    sizes = {"2": 9, "3": 6, "4": 6, "5": 10, "6": 3}  # 1 + 9 + 6 + 6 = 22: 10 more is too many
    workflow = {"1": workflow["1"]} | {
        n: {"class_type": "Knobs", "inputs": {f"k{i}": i for i in range(size)}}
        for n, size in sizes.items()
    }
    fields = infer_fields(workflow)
    assert {f.node_id for f in fields if not f.advanced} == {"1", "2", "3", "4", "6"}
    assert all(f.advanced for f in fields if f.node_id == "5")  # moved whole; 3 more still fit


def test_a_first_node_too_big_for_any_form_is_cut_at_25():
    workflow = {"1": {"class_type": "Many", "inputs": {f"knob_{i}": i for i in range(40)}}}
    opened = [f.input_name for f in infer_fields(workflow) if not f.advanced]
    assert opened == [f"knob_{i}" for i in range(25)]


def test_title_markers_choose_the_basic_and_advanced_forms():
    workflow = {
        "3": {"class_type": "KSampler", "_meta": {"title": "VC_ADV Sampler"}, "inputs": {"seed": 1, "steps": 20}},
        "6": {"class_type": "CLIPTextEncode", "_meta": {"title": "VC_BASIC Your prompt"}, "inputs": {"text": "a cat"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly"}},
    }  # fmt: skip
    fields = by_key(infer_fields(workflow))
    assert set(fields) == {"3-inputs-seed", "3-inputs-steps", "6-inputs-text"}
    assert not fields["6-inputs-text"].advanced and fields["6-inputs-text"].label == "Your prompt"
    assert fields["3-inputs-seed"].advanced and fields["3-inputs-seed"].node_title == "Sampler"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_every_corpus_form_opens_with_about_25_fields_whole_nodes_prompts_and_uploads_first(
    monkeypatch,
):
    for path in sorted(CORPUS.glob("*.json")):
        workflow = load_workflow(path)
        fields = infer_fields(workflow)
        with monkeypatch.context() as uncapped:
            uncapped.setattr(arrange, "MAX_OPEN", 10**6)
            knobs = {f.key for f in infer_fields(workflow) if f.advanced}  # advanced by kind
        opened = [f for f in fields if not f.advanced]
        assert len(opened) <= 25 + 5, path.name
        open_nodes = {f.node_id for f in opened}
        capped = {f.node_id for f in fields if f.advanced and f.key not in knobs}
        if len(open_nodes) > 1:  # (one node too big for a form alone is cut at 25)
            assert not open_nodes & capped, f"{path.name}: the cap cuts a node in two"
        leads = {  # nodes with an open prompt (a text encoder's or value node's) or upload
            f.node_id
            for f in opened
            if f.kind in MEDIA_KINDS
            or (f.kind in ("text", "textarea") and "prompt" in f.label.lower())
            or (f.kind == "textarea" and re.search("encode|primitive|literal", f.class_type or "", re.I))
        }  # fmt: skip
        lead = [f.node_id in leads for f in opened]
        assert lead == sorted(lead, reverse=True), f"{path.name}: they come first"


def test_two_prompts_of_one_encoder_get_distinct_labels():
    workflow = {
        "131": {"class_type": "CLIPTextEncodeFlux", "inputs": {"clip_l": "", "t5xxl": "", "guidance": 3.5}},
        "3": {"class_type": "KSampler", "inputs": {"negative": ["131", 0]}},
    }  # fmt: skip
    labels = {f.input_name: f.label for f in infer_fields(workflow)}
    assert labels["clip_l"] == "Negative CLIP-L prompt"
    assert labels["t5xxl"] == "Negative T5-XXL prompt"


def test_bundled_custom_node_declarations_without_a_server():
    workflow = {
        "1": {"class_type": "VHS_LoadVideo", "inputs": {"video": "clip.mp4", "frame_load_cap": 0}},
        "2": {"class_type": "VHS_VideoCombine", "inputs": {"frame_rate": 8, "format": "video/h264-mp4"}},
    }  # fmt: skip
    fields = by_key(infer_fields(workflow))
    assert fields["1-inputs-video"].kind == "video"
    assert (
        fields["2-inputs-frame_rate"].kind == "float" and fields["2-inputs-frame_rate"].value == 8
    )
    fmt = fields["2-inputs-format"]
    assert fmt.kind == "choice" and "image/gif" in fmt.choices and fmt.warning is None


def test_open_choice_lists_take_any_value_without_a_warning():
    """A model list empty on the server that built the bundled data says nothing of a value."""
    workflow = {"1": {"class_type": "VHS_LoadVideo", "inputs": {"video": "never_seen.mp4"}}}
    workflow["2"] = {"class_type": "IPAdapterModelLoader", "inputs": {"ipadapter_file": "ip-plus"}}
    for f in infer_fields(workflow):
        assert f.allow_custom and f.warning is None, f.key
        assert f.kind == "video" or f.value in f.choices


def test_frontend_only_inputs_are_not_fields_but_newer_inputs_are():
    workflow = {
        "1": {"class_type": "ImageScaleToTotalPixels", "inputs": {"megapixels": 1.0, "resolution_steps": 64}},
        "2": {"class_type": "SaveAudioMP3", "inputs": {"filename_prefix": "a", "audioUI": "", "bitrate": "V0"}},
        "3": {"class_type": "SaveVideo", "inputs": {"filename_prefix": "v", "video-preview": ""}},
        "4": {"class_type": "PreviewAny", "inputs": {"preview": "", "previewMode": None}},
        "5": {"class_type": "CreateVideo", "inputs": {"fps": 24, "bit_depth": 8}},
        "6": {"class_type": "RegexReplace", "inputs": {"pattern": "\\d+"}},
        "7": {"class_type": "SaveGLB", "inputs": {"filename_prefix": "m", "image": ""}},
    }  # fmt: skip
    keys = {f.key for f in infer_fields(workflow)}
    assert keys == {
        "1-inputs-megapixels", "2-inputs-filename_prefix", "2-inputs-bitrate",
        "3-inputs-filename_prefix", "5-inputs-fps", "5-inputs-bit_depth", "6-inputs-pattern",
        "7-inputs-filename_prefix",
    }  # fmt: skip


def test_force_input_declarations_are_connections_not_fields():
    workflow = {"1": {"class_type": "AddLabel", "inputs": {"caption": "hello", "text": "x"}}}
    keys = {f.key for f in infer_fields(workflow)}
    assert "1-inputs-caption" not in keys and "1-inputs-text" in keys
    shown = {"2": {"class_type": "ShowText|pysssss", "inputs": {"text": "shown, not edited"}}}
    assert infer_fields(shown) == [], "a display-only node's text is not an input"


def test_load_image_whose_mask_is_used_gets_the_mask_editor():
    """sd15_inpainting: LoadImage #20's MASK (output 1) feeds VAEEncodeForInpaint.mask."""
    workflow = load_workflow(FIXTURES / "sd15_inpainting.json")
    image = by_key(infer_fields(workflow))["20-inputs-image"]
    assert image.kind == "image-mask" and not image.advanced
    unused = {k: v for k, v in workflow.api.items() if k != "26"}  # nothing reads the mask
    assert by_key(infer_fields(unused))["20-inputs-image"].kind == "image"
    miswired = {  # a STRING input does not take a mask
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
        "2": {"class_type": "StringConcatenate", "inputs": {"string_a": "x", "string_b": ["1", 1]}},
    }
    assert by_key(infer_fields(miswired))["1-inputs-image"].kind == "image"


def test_shared_labels_name_their_node_after_a_dot_and_read_plainly_under_its_heading():
    sampler = {"noise_seed": 1, "steps": 20, "cfg": 7.0, "add_noise": "enable"}
    workflow = {
        "86": {"class_type": "KSamplerAdvanced", "inputs": dict(sampler)},
        "87": {"class_type": "KSamplerAdvanced", "inputs": dict(sampler)},
        "5": {"class_type": "PrimitiveInt", "_meta": {"title": "Frames"}, "inputs": {"value": 9}},
        "6": {"class_type": "PrimitiveInt", "_meta": {"title": "Frames"}, "inputs": {"value": 5}},
    }
    fields = by_key(infer_fields(workflow))
    seed = fields["86-inputs-noise_seed"]
    assert seed.label == "Seed · KSampler (Advanced) #86"
    assert seed.node_title == "KSampler (Advanced) #86"
    assert shown_label(seed) == "Seed"  # under its heading, the node is not named again
    frames = fields["5-inputs-value"]
    assert frames.label == frames.node_title == "Frames #5"
    assert shown_label(frames) is None  # the heading is the field's name
    assert all(label.count("(") <= 1 for label in (f.label for f in fields.values()))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_no_corpus_label_nests_parentheses_or_repeats_its_heading():
    for path in sorted(CORPUS.glob("*.json")):
        for f in infer_fields(load_workflow(path)):
            assert not re.search(r"\([^)]*\(", f.label), (path.name, f.label)
            shown = shown_label(f)
            assert shown is None or f.node_title not in shown, (path.name, f.label)


def test_a_nodes_fields_follow_its_declaration_not_the_files_key_order():
    inputs = {"cfg": 7.0, "denoise": 1.0, "sampler_name": "euler", "scheduler": "normal"}
    workflow = {"3": {"class_type": "KSampler", "inputs": {**inputs, "seed": 1, "steps": 20}}}
    names = [f.input_name for f in infer_fields(workflow)]
    assert names == ["seed", "steps", "cfg", "sampler_name", "scheduler", "denoise"]
    info = {
        "Mine": {
            "input": {"required": {"b": ["INT", {}], "a": ["INT", {}]}, "optional": {"c": ["INT", {}]}},
            "input_order": {"required": ["b", "a"], "optional": ["c"]},
        }
    }  # fmt: skip
    mine = {"9": {"class_type": "Mine", "inputs": {"c": 3, "a": 1, "extra": 4, "b": 2}}}
    assert [f.input_name for f in infer_fields(mine, info)] == ["b", "a", "c", "extra"]
    undeclared = {"9": {"class_type": "Unknown", "inputs": {"z": 1, "a": 2}}}
    assert [f.input_name for f in infer_fields(undeclared)] == ["z", "a"]  # as saved


def test_an_int_named_seed_gets_the_seed_control_the_comfyui_frontend_gives_it():
    info = {"MySampler": {"input": {"required": {"seed": ["INT", {"min": 0, "max": 2**64 - 1}]}}}}
    workflow = {"1": {"class_type": "MySampler", "inputs": {"seed": 42}}}
    (seed,) = infer_fields(workflow, info)
    assert (seed.kind, seed.seed_mode) == ("seed", "randomize")


def test_vhs_format_widgets_get_their_formats_kinds_and_a_live_file_list_is_an_upload():
    api = {
        "1": {"class_type": "VHS_LoadVideo", "inputs": {"video": "clip.mp4", "frame_load_cap": 0}},
        "2": {"class_type": "VHS_VideoCombine", "inputs": {
            "images": ["1", 0], "frame_rate": 8, "format": "video/h264-mp4",
            "pix_fmt": "yuv420p", "crf": 19, "save_metadata": True}},
    }  # fmt: skip
    live = {
        "VHS_LoadVideo": {"input": {"required": {"video": [[]], "frame_load_cap": ["INT", {}]}}},
        "VHS_VideoCombine": {"input": {"required": {
            "images": ["IMAGE"], "frame_rate": ["FLOAT", {"min": 1}],
            "format": [["image/gif", "video/h264-mp4"], {"formats": {"video/h264-mp4": [
                ["pix_fmt", ["yuv420p", "yuv420p10le"]], ["crf", "INT", {"min": 0, "max": 100}],
                ["save_metadata", "BOOLEAN", {"default": True}]]}}]}}},
    }  # fmt: skip
    for info in (None, live):
        fields = by_key(infer_fields(api, info))
        assert fields["1-inputs-video"].kind == "video"
        assert fields["2-inputs-frame_rate"].kind == "float"
        pix_fmt = fields["2-inputs-pix_fmt"]
        assert pix_fmt.kind == "choice" and pix_fmt.choices == ("yuv420p", "yuv420p10le")
        assert fields["2-inputs-crf"].kind == "int" and fields["2-inputs-crf"].maximum == 100
        assert fields["2-inputs-save_metadata"].kind == "bool"


def test_undeclared_strengths_are_floats_and_short_mode_strings_are_choices():
    api = {"1": {"class_type": "SomePackSampler", "inputs": {
        "denoise_strength": 1, "noise_aug_strength": 0, "steps": 30,
        "precision": "bf16", "attention_mode": "sdpa", "caption": "a cat on a mat"}}}  # fmt: skip
    fields = {f.input_name: f for f in infer_fields(api)}
    assert fields["denoise_strength"].kind == fields["noise_aug_strength"].kind == "float"
    assert fields["steps"].kind == "int"
    precision = fields["precision"]
    assert precision.kind == "choice" and precision.choices == ("bf16",) and precision.allow_custom
    assert fields["attention_mode"].kind == "choice" and fields["caption"].kind == "text"
