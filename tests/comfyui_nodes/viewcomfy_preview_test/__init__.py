"""A model-free ComfyUI node for viewcomfy-ui's preview tests: `ViewComfyPreviewTest` makes a
gradient image in `steps` steps (numpy work, no sleep) and sends a JPEG preview of each step
through ComfyUI's progress bar, as a sampler does. Install it by linking this folder into a
ComfyUI's custom_nodes/ (see tests/test_real_comfyui_previews.py)."""

import comfy.utils
import numpy as np
import torch
from PIL import Image


class ViewComfyPreviewTest:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "steps": ("INT", {"default": 8, "min": 1, "max": 200}),
                "size": ("INT", {"default": 256, "min": 16, "max": 1024}),
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**31 - 1}),
            }
        }

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, steps, size, seed):
        rng = np.random.default_rng(seed)
        bar = comfy.utils.ProgressBar(steps)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
        image = np.zeros((size, size, 3), np.float32)
        for step in range(1, steps + 1):
            for _ in range(20):  # a moment of work per step, so the frames are spread out
                noise = rng.random((size, size, 3), dtype=np.float32)
                np.fft.ifft2(np.fft.fft2(noise[..., 0])).real.sum()
            t = step / steps
            image = np.stack([xs * t, ys, (1 - xs) * t], axis=-1)
            shown = Image.fromarray((image * 255).astype(np.uint8))
            bar.update_absolute(step, steps, ("JPEG", shown, 512))
        return (torch.from_numpy(image)[None],)


NODE_CLASS_MAPPINGS = {"ViewComfyPreviewTest": ViewComfyPreviewTest}
NODE_DISPLAY_NAME_MAPPINGS = {"ViewComfyPreviewTest": "viewcomfy-ui preview test"}
