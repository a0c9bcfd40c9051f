"""Which knobs a big form opens, its sections' headings and which fields share a row (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from viewcomfy_ui.arrange import heading, pairs, section_title
from viewcomfy_ui.fields import infer_fields
from viewcomfy_ui.workflow import load_workflow

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "workflows"
UPSCALER = {  # UltimateSDUpscale's widgets, as saved in the corpus
    "upscale_by": 2, "seed": 5, "steps": 20, "cfg": 1, "sampler_name": "euler",
    "scheduler": "simple", "denoise": 0.18, "mode_type": "Linear", "tile_width": 1024,
    "tile_height": 1024, "mask_blur": 8, "tile_padding": 32, "seam_fix_mode": "None",
    "seam_fix_denoise": 1, "seam_fix_width": 64, "seam_fix_mask_blur": 8,
    "seam_fix_padding": 16, "force_uniform_tiles": True, "tiled_decode": False,
}  # fmt: skip


def flux_with_upscaler() -> dict:
    """A Flux graph (guidance, custom sampler, a LoRA) whose image an upscaler reworks."""
    return {
        "1": {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle", "clip": ["9", 1]}},
        "2": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["1", 0]}},
        "3": {"class_type": "RandomNoise", "inputs": {"noise_seed": 42}},
        "4": {"class_type": "BasicScheduler", "inputs": {"scheduler": "beta", "steps": 25, "denoise": 1.0}},
        "5": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "6": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
        "7": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["3", 0], "sigmas": ["4", 0]}},
        "8": {"class_type": "UltimateSDUpscale", "inputs": {**UPSCALER, "image": ["7", 0]}},
        "9": {"class_type": "LoraLoader", "inputs": {"lora_name": "turbo.safetensors", "strength_model": 1.0, "strength_clip": 1.0}},
        "10": {"class_type": "SaveImage", "inputs": {"filename_prefix": "out", "images": ["8", 0]}},
    }  # fmt: skip


def opened(fields) -> dict[str, str]:
    return {f.key: f.label for f in fields if not f.advanced}


def test_the_knobs_of_the_generation_are_open_the_upscalers_internals_are_not():
    fields = infer_fields(flux_with_upscaler())
    shown = opened(fields)
    for key in (
        "1-inputs-text", "2-inputs-guidance", "3-inputs-noise_seed", "4-inputs-steps",
        "4-inputs-denoise", "5-inputs-sampler_name", "6-inputs-width", "6-inputs-height",
        "9-inputs-strength_model", "9-inputs-strength_clip",
    ):  # fmt: skip
        assert key in shown, key
    internals = [k for k in UPSCALER if k.startswith(("seam_fix", "tile_")) or k == "mask_blur"]
    assert all(f"8-inputs-{name}" not in shown for name in internals)
    assert "10-inputs-filename_prefix" not in shown and "9-inputs-lora_name" not in shown


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not present")
def test_the_largest_corpus_workflow_opens_guidance_steps_and_lora_strength_not_upscaler_knobs():
    largest = max(CORPUS.glob("*.json"), key=lambda p: p.stat().st_size)
    fields = infer_fields(load_workflow(largest))
    shown = [f for f in fields if not f.advanced]
    names = {f.input_name for f in shown}
    assert {"guidance", "strength_model", "strength_clip"} <= names
    assert any(f.label == "Steps" for f in shown), "the 'Steps' value node is open, so named"
    assert not [f.input_name for f in shown if f.class_type == "UltimateSDUpscale"]
    assert len(shown) <= 30


def test_several_sampler_nodes_share_one_sampler_section_with_distinct_labels():
    fields = [f for f in infer_fields(flux_with_upscaler()) if not f.advanced]
    sampler = [f for f in fields if f.node_id in ("2", "3", "4", "5")]
    assert len({f.group for f in sampler}) == 1 and section_title(sampler) == "Sampler"
    keys = [f.key for f in fields]
    start = keys.index(sampler[0].key)
    assert keys[start : start + len(sampler)] == [f.key for f in sampler], "one run of fields"
    assert len({f.label for f in sampler}) == len(sampler)


def test_headings_read_like_a_person_wrote_them():
    assert heading("WanAnimateToVideo #232:62") == "Wan Animate To Video"
    assert heading("KSamplerSelect") == "KSampler Select"
    assert heading("CFGGuider #425") == "CFG Guider"
    assert heading("EmptySD3LatentImage") == "Empty SD3 Latent Image"
    assert heading("Load LoRA") == "Load LoRA"
    assert heading("CLIP Text Encode (Prompt) #6") == "CLIP Text Encode (Prompt)"


def test_neighbouring_nodes_of_one_kind_share_a_section_labelled_apart():
    workflow = {
        str(n): {"class_type": "ImageCrop", "inputs": {"width": 64, "height": 64, "x": n, "y": 0}}
        for n in (11, 12, 13)
    }
    fields = infer_fields(workflow)
    assert len({f.group for f in fields}) == 1
    assert section_title(fields) == "Image Crop"
    assert len({f.label for f in fields}) == len(fields)


def test_related_numbers_share_a_row_long_texts_and_uploads_stand_alone():
    fields = infer_fields(
        {
            "1": {"class_type": "ImageScale", "inputs": {"upscale_method": "lanczos", "width": 512, "height": 512, "crop": "center"}},
            "2": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
            "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat"}},
            "4": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
        }
    )  # fmt: skip

    def rows(node: str) -> list[list[str]]:
        return [
            [f.input_name for f in row] for row in pairs([f for f in fields if f.node_id == node])
        ]

    assert ["width", "height"] in rows("1")
    assert rows("2") == [["seed"], ["steps", "cfg"], ["sampler_name", "scheduler"], ["denoise"]]
    assert rows("3") == [["text"]]
    together = [f for f in fields if f.node_id in ("3", "4")]
    assert [[f.input_name for f in row] for row in pairs(together * 2)] == [
        ["text"],
        ["image"],
        ["text"],
        ["image"],
    ]  # an upload never shares its row; two prompts do
    prompt = together[0]
    assert pairs([prompt, prompt]) == [[prompt, prompt]]
