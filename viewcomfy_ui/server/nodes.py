"""Model-free core ComfyUI nodes, with ComfyUI's class names, inputs and arithmetic.

Images are float32 arrays ``[batch, height, width, 3]`` in 0..1 and masks ``[batch, h, w]``,
as in ComfyUI; files are written as ComfyUI does (``clip(255 * x).astype(uint8)``).
Each node is a function taking its inputs as keyword arguments and returning a tuple of
outputs; output nodes also receive a `ctx` and add files to it. `NODES` holds one `Node` record
per class: its function, its shape plan and its flags.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, ImageSequence

from . import budget

Array = np.ndarray
RESAMPLE = {
    "nearest-exact": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass
class OutputFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class RunContext:
    """What a node may use besides its inputs: file lookup, progress, and collected outputs."""

    resolve_input: Callable[[str], Path]
    progress: Callable[[int, int], None]
    outputs: list[OutputFile] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def next_name(self, prefix: str, extension: str) -> str:
        base = Path(str(prefix).replace("\\", "/")).name or "ComfyUI"
        count = self.counters[base] = self.counters.get(base, 0) + 1
        return f"{base}_{count:05}_.{extension}"


# --- pixels <-> arrays -------------------------------------------------------------------------


def to_uint8(image: Array) -> Array:
    return np.clip(255.0 * image, 0, 255).astype(np.uint8)


def to_pil(image: Array) -> Image.Image:
    return Image.fromarray(to_uint8(image))


def from_pil(image: Image.Image) -> Array:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def resize(images: Array, width: int, height: int, method: str, crop: str = "disabled") -> Array:
    """ComfyUI's common_upscale: optional centre crop to the target aspect, then resample."""
    out = []
    for image in images:
        pil = to_pil(image)
        if crop == "center":
            w, h = pil.size
            old, new = w / h, width / height
            if old > new:
                x = round((w - w * (new / old)) / 2)
                pil = pil.crop((x, 0, w - x, h))
            elif old < new:
                y = round((h - h * (old / new)) / 2)
                pil = pil.crop((0, y, w, h - y))
        out.append(from_pil(pil.resize((width, height), RESAMPLE.get(method, Image.BICUBIC))))
    return np.stack(out)


def gaussian_kernel_1d(size: int, sigma: float) -> Array:
    """ComfyUI's gaussian kernel (coordinates spread over -1..1), in one dimension."""
    x = np.linspace(-1.0, 1.0, size, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def gaussian_blur(images: Array, radius: int, sigma: float) -> Array:
    kernel = gaussian_kernel_1d(radius * 2 + 1, sigma)
    padded = np.pad(images, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="reflect")
    h, w = images.shape[1:3]
    rows = sum(k * padded[:, i : i + h, :, :] for i, k in enumerate(kernel))
    return sum(k * rows[:, :, i : i + w, :] for i, k in enumerate(kernel)).astype(np.float32)


# --- loaders -----------------------------------------------------------------------------------


def load_image(image: str, ctx: RunContext) -> tuple[Array, Array]:
    frames, masks = [], []
    with Image.open(ctx.resolve_input(image)) as pil:
        for frame in ImageSequence.Iterator(pil):
            frame = ImageOps.exif_transpose(frame)
            if frame.mode == "I":
                frame = frame.point(lambda i: i * (1 / 255))
            rgb = from_pil(frame)
            if frames and rgb.shape != frames[0].shape:
                continue
            frames.append(rgb)
            if "A" in frame.getbands():
                alpha = np.asarray(frame.getchannel("A"), dtype=np.float32) / 255.0
                masks.append(1.0 - alpha)
            else:
                masks.append(np.zeros(rgb.shape[:2], dtype=np.float32))
    return np.stack(frames), np.stack(masks)


def load_image_mask(image: str, channel: str, ctx: RunContext) -> tuple[Array]:
    with Image.open(ctx.resolve_input(image)) as pil:
        pil = ImageOps.exif_transpose(pil)
        if pil.getbands() != ("R", "G", "B", "A"):
            pil = pil.convert("RGBA")
        band = {"red": "R", "green": "G", "blue": "B", "alpha": "A"}[channel]
        mask = np.asarray(pil.getchannel(band), dtype=np.float32) / 255.0
    return ((1.0 - mask if channel == "alpha" else mask)[None],)


def empty_image(width: int, height: int, batch_size: int = 1, color: int = 0) -> tuple[Array]:
    rgb = [((color >> shift) & 0xFF) / 255.0 for shift in (16, 8, 0)]
    return (np.broadcast_to(np.array(rgb, np.float32), (batch_size, height, width, 3)).copy(),)


# --- image operations --------------------------------------------------------------------------


def image_invert(image: Array) -> tuple[Array]:
    return (1.0 - image,)


def image_scale(
    image: Array, upscale_method: str, width: int, height: int, crop: str
) -> tuple[Array]:
    if width == 0 and height == 0:
        return (image,)
    h, w = image.shape[1:3]
    width = width or max(1, round(w * height / h))
    height = height or max(1, round(h * width / w))
    return (resize(image, width, height, upscale_method, crop),)


def image_scale_by(image: Array, upscale_method: str, scale_by: float) -> tuple[Array]:
    h, w = image.shape[1:3]
    width, height = max(1, round(w * scale_by)), max(1, round(h * scale_by))
    return (resize(image, width, height, upscale_method),)


def image_blur(image: Array, blur_radius: int, sigma: float) -> tuple[Array]:
    if blur_radius == 0:
        return (image,)
    return (gaussian_blur(image, blur_radius, sigma),)


def image_sharpen(image: Array, sharpen_radius: int, sigma: float, alpha: float) -> tuple[Array]:
    if sharpen_radius == 0:
        return (image,)
    blurred = gaussian_blur(image, sharpen_radius, sigma)
    return (np.clip(image + 10.0 * alpha * (image - blurred), 0.0, 1.0),)


def _soft_light(a: Array, b: Array) -> Array:
    g = np.where(a <= 0.25, ((16 * a - 12) * a + 4) * a, np.sqrt(a))
    return np.where(b <= 0.5, a - (1 - 2 * b) * a * (1 - a), a + (2 * b - 1) * (g - a))


BLEND_MODES: dict[str, Callable[[Array, Array], Array]] = {
    "normal": lambda a, b: b,
    "multiply": lambda a, b: a * b,
    "screen": lambda a, b: 1 - (1 - a) * (1 - b),
    "overlay": lambda a, b: np.where(a <= 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b)),
    "soft_light": _soft_light,
    "difference": lambda a, b: a - b,
}


def image_blend(image1: Array, image2: Array, blend_factor: float, blend_mode: str) -> tuple[Array]:
    if image1.shape[1:3] != image2.shape[1:3]:
        image2 = resize(image2, image1.shape[2], image1.shape[1], "bicubic", "center")
    blended = BLEND_MODES[blend_mode](image1, image2)
    out = image1 * (1 - blend_factor) + blended * blend_factor
    return (np.clip(out, 0.0, 1.0).astype(np.float32),)


def image_crop(image: Array, width: int, height: int, x: int, y: int) -> tuple[Array]:
    h, w = image.shape[1:3]
    x, y = min(x, w - 1), min(y, h - 1)
    return (image[:, y : y + height, x : x + width, :],)


def image_flip(image: Array, flip_method: str) -> tuple[Array]:
    axis = 1 if flip_method.startswith("x") else 2
    return (np.flip(image, axis=axis).copy(),)


def image_rotate(image: Array, rotation: str) -> tuple[Array]:
    turns = {"none": 0, "90 degrees": 1, "180 degrees": 2, "270 degrees": 3}[rotation]
    return (np.rot90(image, k=turns, axes=(2, 1)).copy(),)  # clockwise, as ComfyUI


def repeat_image_batch(image: Array, amount: int) -> tuple[Array]:
    return (np.concatenate([image] * amount),)


def image_batch(image1: Array, image2: Array) -> tuple[Array]:
    if image1.shape[1:3] != image2.shape[1:3]:
        image2 = resize(image2, image1.shape[2], image1.shape[1], "bilinear", "center")
    return (np.concatenate([image1, image2]),)


def image_to_mask(image: Array, channel: str) -> tuple[Array]:
    index = {"red": 0, "green": 1, "blue": 2}.get(channel)
    if index is None:  # an RGB image has no alpha
        return (np.zeros(image.shape[:3], np.float32),)
    return (image[..., index].copy(),)


def mask_to_image(mask: Array) -> tuple[Array]:
    return (np.repeat(mask[..., None], 3, axis=-1),)


def invert_mask(mask: Array) -> tuple[Array]:
    return (1.0 - mask,)


def solid_mask(value: float, width: int, height: int) -> tuple[Array]:
    return (np.full((1, height, width), value, np.float32),)


def primitive(value: Any) -> tuple[Any]:
    return (value,)


# --- outputs -----------------------------------------------------------------------------------


def save_image(images: Array, ctx: RunContext, filename_prefix: str = "ComfyUI") -> tuple:
    for index, image in enumerate(images):
        buffer = io.BytesIO()
        to_pil(image).save(buffer, format="PNG", compress_level=4)
        ctx.outputs.append(
            OutputFile(ctx.next_name(filename_prefix, "png"), "image/png", buffer.getvalue())
        )
        ctx.progress(index + 1, len(images))
    return ()


def preview_image(images: Array, ctx: RunContext) -> tuple:
    return save_image(images, ctx, filename_prefix="ComfyUI_temp")


def save_animated_webp(
    images: Array, ctx: RunContext, filename_prefix: str = "ComfyUI", fps: float = 6.0,
    lossless: bool = True, quality: int = 80, method: str = "default",
) -> tuple:  # fmt: skip
    frames = [to_pil(image) for image in images]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
        lossless=lossless, quality=quality, method={"fastest": 0, "slowest": 6}.get(method, 4),
        loop=0,
    )  # fmt: skip
    ctx.outputs.append(
        OutputFile(ctx.next_name(filename_prefix, "webp"), "image/webp", buffer.getvalue())
    )
    return ()


def save_animated_png(
    images: Array, ctx: RunContext, filename_prefix: str = "ComfyUI", fps: float = 6.0,
    compress_level: int = 4,
) -> tuple:  # fmt: skip
    frames = [to_pil(image) for image in images]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="PNG", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
        compress_level=compress_level, loop=0,
    )  # fmt: skip
    ctx.outputs.append(
        OutputFile(ctx.next_name(filename_prefix, "png"), "image/png", buffer.getvalue())
    )
    return ()


def preview_any(source: Any, ctx: RunContext) -> tuple:
    if isinstance(source, np.ndarray):
        text = f"array of shape {list(source.shape)}"
    elif isinstance(source, str):
        text = source
    else:
        text = json.dumps(source)
    ctx.outputs.append(
        OutputFile(ctx.next_name("ComfyUI_text", "txt"), "text/plain", text.encode())
    )
    return ()


# --- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A built-in node: `run` computes its outputs, `plan` their shapes before the run (see
    `budget`); `takes_ctx`: `run` also gets the RunContext; `is_output`: ComfyUI executes it
    (and what it needs) without being asked."""

    run: Callable[..., tuple]
    plan: budget.Plan
    takes_ctx: bool = False
    is_output: bool = False


def _output(run: Callable[..., tuple]) -> Node:
    return Node(run, budget.plan_nothing, takes_ctx=True, is_output=True)


NODES: dict[str, Node] = {
    "LoadImage": Node(load_image, budget.plan_load_image, takes_ctx=True),
    "LoadImageMask": Node(load_image_mask, budget.plan_load_image_mask, takes_ctx=True),
    "EmptyImage": Node(empty_image, budget.plan_empty),
    "ImageInvert": Node(image_invert, budget.plan_same),
    "ImageScale": Node(image_scale, budget.plan_scale),
    "ImageScaleBy": Node(image_scale_by, budget.plan_scale_by),
    "ImageBlur": Node(image_blur, budget.plan_same),
    "ImageSharpen": Node(image_sharpen, budget.plan_same),
    "ImageBlend": Node(image_blend, budget.plan_blend),
    "ImageCrop": Node(image_crop, budget.plan_crop),
    "ImageFlip": Node(image_flip, budget.plan_same),
    "ImageRotate": Node(image_rotate, budget.plan_rotate),
    "RepeatImageBatch": Node(repeat_image_batch, budget.plan_repeat),
    "ImageBatch": Node(image_batch, budget.plan_batch),
    "ImageToMask": Node(image_to_mask, budget.plan_image_to_mask),
    "MaskToImage": Node(mask_to_image, budget.plan_mask_to_image),
    "InvertMask": Node(invert_mask, budget.plan_same_mask),
    "SolidMask": Node(solid_mask, budget.plan_solid_mask),
    "PrimitiveInt": Node(primitive, budget.plan_value),
    "PrimitiveFloat": Node(primitive, budget.plan_value),
    "PrimitiveString": Node(primitive, budget.plan_value),
    "PrimitiveStringMultiline": Node(primitive, budget.plan_value),
    "PrimitiveBoolean": Node(primitive, budget.plan_value),
    "SaveImage": _output(save_image),
    "PreviewImage": _output(preview_image),
    "SaveAnimatedWEBP": _output(save_animated_webp),
    "SaveAnimatedPNG": _output(save_animated_png),
    "PreviewAny": _output(preview_any),
}
