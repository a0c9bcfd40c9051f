"""Model-free core ComfyUI nodes, with ComfyUI's class names, inputs and arithmetic.

Images are float32 arrays ``[batch, height, width, 3]`` in 0..1 and masks ``[batch, h, w]``,
as in ComfyUI; files are written as ComfyUI does (``clip(255 * x).astype(uint8)``).
Each node is a function taking its inputs as keyword arguments and returning a tuple of
outputs; output nodes also receive a `ctx` and add files to it. `NODES` holds one `Node` record
per class: its function, its shape plan, its cost and its flags.

Work on whole images goes strip by strip (`strips`): scratch memory stays a few MiB whatever the
image's size, and a cancelled run (`cancellable`) stops at the next strip.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import ViewComfyError
from . import budget

Array = np.ndarray
RESAMPLE = {
    "nearest-exact": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
WEBP_MAX_SIDE = 16383
PREVIEW_SIDE = 512
PREVIEW_STEPS = 6  # frames of ImageBlur's blur growing, when a client watches previews
STRIP_WORK = 4 << 20  # bytes of work between two cancellation checks
_cancelled: ContextVar[threading.Event | None] = ContextVar("cancelled", default=None)


class Cancelled(ViewComfyError):
    """The run was cancelled while a node worked."""


class OutputsOverLimit(ViewComfyError):
    """The run's files went over a limit (bytes or count) while it ran."""


@contextmanager
def cancellable(cancelled: threading.Event) -> Iterator[None]:
    """Nodes run in this block stop (`Cancelled`) at their next `checkpoint` once `cancelled`
    is set."""
    token = _cancelled.set(cancelled)
    try:
        yield
    finally:
        _cancelled.reset(token)


def checkpoint() -> None:
    event = _cancelled.get()
    if event is not None and event.is_set():
        raise Cancelled("the run was cancelled")


def pause(seconds: float) -> None:
    """Wait `seconds`, or stop (`Cancelled`) as soon as the run is cancelled."""
    event = _cancelled.get()
    if event is not None and event.wait(seconds):
        raise Cancelled("the run was cancelled")


def strips(height: int, row_work: int, least: int = 1) -> Iterator[slice]:
    """Row ranges covering `height` rows of `row_work` bytes of work each, about `STRIP_WORK`
    (and at least `least` rows) at a time, with a cancellation check before each."""
    step = max(least, STRIP_WORK // max(row_work, 1))
    for top in range(0, height, step):
        checkpoint()
        yield slice(top, min(top + step, height))


@dataclass
class OutputFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class RunContext:
    """What a node may use besides its inputs: file lookup, progress, and collected outputs,
    within `limits` (their files' count and bytes); `preview` (when a client watches) shows a
    frame, and a node showing its steps waits `step_seconds` after each."""

    resolve_input: Callable[[str], Path]
    progress: Callable[[int, int], None]
    preview: Callable[[Image.Image], None] | None = None
    step_seconds: float = 0.0
    limits: budget.Limits = field(default_factory=budget.Limits)
    outputs: list[OutputFile] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    output_bytes: int = 0

    def show_steps(self, before: Array, after: Array) -> None:
        """With a preview watcher: `before` turning into `after` (two ``[h, w, 3]`` images) in
        `PREVIEW_STEPS` frames, `step_seconds` apart, each a progress step (the built-in
        engine's slow effect, so a run shows what previews look like)."""
        if self.preview is None:
            return
        start, end = thumbnail(before), thumbnail(after)
        for step in range(1, PREVIEW_STEPS + 1):
            self.preview(Image.blend(start, end, step / PREVIEW_STEPS))
            self.progress(step, PREVIEW_STEPS)
            pause(self.step_seconds)

    def next_name(self, prefix: str, extension: str) -> str:
        base = Path(str(prefix).replace("\\", "/")).name or "ComfyUI"
        count = self.counters[base] = self.counters.get(base, 0) + 1
        return f"{base}_{count:05}_.{extension}"

    def new_file(self) -> io.BytesIO:
        """A buffer to encode a file into: each write checks for cancellation and for the
        run's output bytes, so a long encoding stops at once."""
        return _Encoding(self)

    def add(self, prefix: str, extension: str, content_type: str, data: bytes) -> None:
        """Keep a file; `OutputsOverLimit` when it takes the run over a limit."""
        if len(self.outputs) >= self.limits.output_files:
            raise OutputsOverLimit(
                f"the run made more than {self.limits.output_files:,} files, its limit "
                "(server option --max-output-files): save fewer outputs"
            )
        self.check_bytes(len(data))
        self.output_bytes += len(data)
        self.outputs.append(OutputFile(self.next_name(prefix, extension), content_type, data))

    def check_bytes(self, more: int) -> None:
        """`OutputsOverLimit` when `more` bytes would take the run's files over their limit."""
        if self.output_bytes + more > self.limits.output_bytes:
            raise OutputsOverLimit(
                f"the run's files came to over {self.limits.output_bytes / 2**20:,.0f} MiB, "
                "its limit (server option --max-output-mb): save fewer or smaller outputs"
            )


class _Encoding(io.BytesIO):
    """A file being encoded for a run (see `RunContext.new_file`)."""

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        self.ctx = ctx

    def write(self, data: Any) -> int:
        checkpoint()
        written = super().write(data)
        self.ctx.check_bytes(self.tell())
        return written


# --- pixels <-> arrays -------------------------------------------------------------------------


def to_uint8(image: Array) -> Array:
    """One image or mask as bytes, as ComfyUI writes it: ``clip(255 * x).astype(uint8)``."""
    out = np.empty(image.shape, np.uint8)
    for rows in strips(len(image), image[:1].nbytes):
        part = image[rows] * np.float32(255.0)
        np.clip(part, 0, 255, out=part)
        out[rows] = part
    return out


def to_pil(image: Array) -> Image.Image:
    """One ``[h, w, 3]`` image as a Pillow image, filled strip by strip."""
    height, width = image.shape[:2]
    pil = Image.new("RGB", (width, height))
    for rows in strips(height, image[:1].nbytes):
        pil.paste(Image.fromarray(to_uint8(image[rows])), (0, rows.start))
    return pil


def thumbnail(image: Array) -> Image.Image:
    """One ``[h, w, 3]`` image at most `PREVIEW_SIDE` px a side (every n-th pixel, then
    resized: the full image is never converted)."""
    height, width = image.shape[:2]
    every = max(1, -(-max(height, width) // PREVIEW_SIDE))
    small = to_pil(np.ascontiguousarray(image[::every, ::every]))
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    return small


def from_pil(image: Image.Image, out: Array | None = None, mask: Array | None = None) -> Array:
    """A Pillow image as ``[h, w, 3]`` float32 (into `out` when given), strip by strip; `mask`,
    when given, gets 1 - alpha where the image has an alpha band."""
    width, height = image.size
    out = np.empty((height, width, 3), np.float32) if out is None else out
    alpha = mask is not None and "A" in image.getbands()
    for rows in strips(height, width * 12):
        piece = image.crop((0, rows.start, width, rows.stop))
        if piece.mode == "I":
            piece = piece.point(lambda i: i * (1 / 255))
        rgb = np.asarray(piece.convert("RGB"), dtype=np.float32)
        np.divide(rgb, np.float32(255.0), out=out[rows])
        if alpha:
            a = np.asarray(piece.getchannel("A"), dtype=np.float32) / np.float32(255.0)
            np.subtract(np.float32(1.0), a, out=mask[rows])
    return out


def resize_one(
    image: Array, width: int, height: int, method: str, crop: str = "disabled"
) -> Image.Image:
    """ComfyUI's common_upscale of one image: optional centre crop to the target aspect, then
    resample; the result as a Pillow image."""
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
    checkpoint()
    return pil.resize((width, height), RESAMPLE.get(method, Image.BICUBIC))


def resize(
    images: Array, width: int, height: int, method: str, crop: str = "disabled",
    out: Array | None = None,
) -> Array:  # fmt: skip
    """Every image through `resize_one`, into `out` (a new array when not given)."""
    if out is None:
        out = np.empty((len(images), height, width, 3), np.float32)
    for index, image in enumerate(images):
        from_pil(resize_one(image, width, height, method, crop), out[index])
    return out


def gaussian_kernel_1d(size: int, sigma: float) -> Array:
    """ComfyUI's gaussian kernel (coordinates spread over -1..1), in one dimension."""
    x = np.linspace(-1.0, 1.0, size, dtype=np.float64)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def gaussian_blur(images: Array, radius: int, sigma: float) -> Array:
    """ComfyUI's blur (reflect padding, the 2-D gaussian as two 1-D passes), a strip of rows at
    a time: each strip reads the rows it needs through index tables, never a padded copy."""
    kernel = gaussian_kernel_1d(radius * 2 + 1, sigma).astype(np.float32)
    height, width = images.shape[1:3]
    rows_at = np.pad(np.arange(height), radius, mode="reflect")
    columns_at = np.pad(np.arange(width), radius, mode="reflect")
    out = np.empty(images.shape, np.float32)
    for index, image in enumerate(images):
        for rows in strips(height, image[:1].nbytes, least=2 * radius):
            source = image[rows_at[rows.start : rows.stop + 2 * radius]]
            vertical = _weighted_sum(source, kernel, rows.stop - rows.start, axis=0)
            out[index, rows] = _weighted_sum(vertical[:, columns_at], kernel, width, axis=1)
    return out


def _weighted_sum(source: Array, kernel: Array, length: int, axis: int) -> Array:
    """sum(kernel[i] * source shifted by i along `axis`), `length` long, in place."""

    def shifted(i: int) -> Array:
        return source[i : i + length] if axis == 0 else source[:, i : i + length]

    total = shifted(0) * kernel[0]
    term = np.empty_like(total)
    for i, weight in enumerate(kernel[1:], start=1):
        np.multiply(shifted(i), weight, out=term)
        total += term
    return total


def _by_rows(out: Array, work: Callable[[int, slice], Array], factor: int = 1) -> Array:
    """``out[i, rows] = work(i, rows)`` strip by strip, for each image `i` of `out`; `factor`:
    temporaries `work` makes, in rows of `out`."""
    for index in range(len(out)):
        for rows in strips(out.shape[1], out[0, :1].nbytes * factor):
            out[index, rows] = work(index, rows)
    return out


# --- loaders -----------------------------------------------------------------------------------


TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(image: Image.Image) -> Image.Image:
    """The current page decoded and turned as its EXIF orientation says (as ComfyUI's
    exif_transpose; a copy only when it turns), the orientation read from the headers as the
    budget read it."""
    turn = TURNS.get(budget.orientation(image))
    image.load()
    return image.transpose(turn) if turn is not None else image


def load_image(image: str, ctx: RunContext) -> tuple[Array, Array]:
    """Every page the size of the first (others are never decoded), with masks from alpha."""
    with Image.open(ctx.resolve_input(image)) as pil:
        pages = budget.page_sizes(pil)
        kept = budget.kept_pages(pages)
        width, height = pages[0]
        images = np.empty((len(kept), height, width, 3), np.float32)
        masks = np.zeros((len(kept), height, width), np.float32)
        for slot, page in enumerate(kept):
            checkpoint()
            pil.seek(page)
            frame = upright(pil)
            if frame.size != (width, height):
                raise ValueError(f"page {page + 1} of {image!r} is not the size its header says")
            from_pil(frame, images[slot], masks[slot])
    return images, masks


def load_image_mask(image: str, channel: str, ctx: RunContext) -> tuple[Array]:
    band = {"red": "R", "green": "G", "blue": "B", "alpha": "A"}[channel]
    with Image.open(ctx.resolve_input(image)) as pil:
        frame = upright(pil)
        width, height = frame.size
        mask = np.empty((1, height, width), np.float32)
        for rows in strips(height, width * 4):
            piece = frame.crop((0, rows.start, width, rows.stop))
            if piece.getbands() != ("R", "G", "B", "A"):
                piece = piece.convert("RGBA")
            values = np.asarray(piece.getchannel(band), dtype=np.float32) / np.float32(255.0)
            mask[0, rows] = 1.0 - values if channel == "alpha" else values
    return (mask,)


def empty_image(width: int, height: int, batch_size: int = 1, color: int = 0) -> tuple[Array]:
    rgb = [((color >> shift) & 0xFF) / 255.0 for shift in (16, 8, 0)]
    return (np.broadcast_to(np.array(rgb, np.float32), (batch_size, height, width, 3)).copy(),)


# --- image operations --------------------------------------------------------------------------


def image_invert(image: Array) -> tuple[Array]:
    out = np.empty(image.shape, np.float32)
    return (_by_rows(out, lambda i, rows: 1.0 - image[i, rows]),)


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


def image_blur(image: Array, blur_radius: int, sigma: float, ctx: RunContext) -> tuple[Array]:
    if blur_radius == 0:
        return (image,)
    blurred = gaussian_blur(image, blur_radius, sigma)
    ctx.show_steps(image[0], blurred[0])
    return (blurred,)


def image_sharpen(image: Array, sharpen_radius: int, sigma: float, alpha: float) -> tuple[Array]:
    if sharpen_radius == 0:
        return (image,)
    blurred = gaussian_blur(image, sharpen_radius, sigma)  # becomes the result, strip by strip

    def sharpened(i: int, rows: slice) -> Array:
        part = image[i, rows]
        return np.clip(part + 10.0 * alpha * (part - blurred[i, rows]), 0.0, 1.0)

    return (_by_rows(blurred, sharpened, factor=4),)


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
    """image2 (resized to image1's size, one image at a time) over image1; a batch of one blends
    with each image of the other."""
    if len(image1) != len(image2) and min(len(image1), len(image2)) != 1:
        raise ValueError(
            f"image1 is a batch of {len(image1)} and image2 of {len(image2)}; "
            "blend batches of the same size, or one image with a batch"
        )
    height, width = image1.shape[1:3]
    same_size = image2.shape[1:3] == (height, width)
    out = np.empty((max(len(image1), len(image2)), height, width, 3), np.float32)
    mode = BLEND_MODES[blend_mode]
    second: Array | None = None
    for index in range(len(out)):
        first = image1[min(index, len(image1) - 1)]
        if same_size:
            second = image2[min(index, len(image2) - 1)]
        elif second is None or len(image2) > 1:
            resized = resize_one(image2[index % len(image2)], width, height, "bicubic", "center")
            second = from_pil(resized)
        for rows in strips(height, first[:1].nbytes * 8):
            a, b = first[rows], second[rows]
            part = a * (1 - blend_factor) + mode(a, b) * blend_factor
            np.clip(part, 0.0, 1.0, out=out[index, rows])
    return (out,)


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
    """image2 after image1, resized to its size straight into the result when they differ."""
    height, width = image1.shape[1:3]
    out = np.empty((len(image1) + len(image2), height, width, 3), np.float32)
    out[: len(image1)] = image1
    if image2.shape[1:3] == (height, width):
        out[len(image1) :] = image2
    else:
        resize(image2, width, height, "bilinear", "center", out=out[len(image1) :])
    return (out,)


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
        buffer = ctx.new_file()
        to_pil(image).save(buffer, format="PNG", compress_level=4)
        ctx.add(filename_prefix, "png", "image/png", buffer.getvalue())
        ctx.progress(index + 1, len(images))
    return ()


def preview_image(images: Array, ctx: RunContext) -> tuple:
    return save_image(images, ctx, filename_prefix="ComfyUI_temp")


def save_animated_webp(
    images: Array, ctx: RunContext, filename_prefix: str = "ComfyUI", fps: float = 6.0,
    lossless: bool = True, quality: int = 80, method: str = "default",
) -> tuple:  # fmt: skip
    if max(images.shape[1:3]) > WEBP_MAX_SIDE:
        raise ValueError(
            f"a WebP image is at most {WEBP_MAX_SIDE} pixels a side, not {images.shape[2]}x"
            f"{images.shape[1]}: scale it down, or save it with SaveAnimatedPNG"
        )
    frames = [to_pil(image) for image in images]
    buffer = ctx.new_file()
    frames[0].save(
        buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
        lossless=lossless, quality=quality, method={"fastest": 0, "slowest": 6}.get(method, 4),
        loop=0,
    )  # fmt: skip
    ctx.add(filename_prefix, "webp", "image/webp", buffer.getvalue())
    return ()


def save_animated_png(
    images: Array, ctx: RunContext, filename_prefix: str = "ComfyUI", fps: float = 6.0,
    compress_level: int = 4,
) -> tuple:  # fmt: skip
    frames = [to_pil(image) for image in images]
    buffer = ctx.new_file()
    frames[0].save(
        buffer, format="PNG", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
        compress_level=compress_level, loop=0,
    )  # fmt: skip
    ctx.add(filename_prefix, "png", "image/png", buffer.getvalue())
    return ()


def preview_any(source: Any, ctx: RunContext) -> tuple:
    if isinstance(source, np.ndarray):
        text = f"array of shape {list(source.shape)}"
    elif isinstance(source, str):
        text = source
    else:
        text = json.dumps(source)
    ctx.add("ComfyUI_text", "txt", "text/plain", text.encode())
    return ()


# --- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A built-in node: `run` computes its outputs; `plan` their shapes and `cost` its scratch
    memory and files, before the run (see `budget`); `takes_ctx`: `run` also gets the
    RunContext; `is_output`: ComfyUI executes it (and what it needs) without being asked."""

    run: Callable[..., tuple]
    plan: budget.Plan
    cost: budget.Costing = budget.no_cost
    takes_ctx: bool = False
    is_output: bool = False


def _output(run: Callable[..., tuple], cost: budget.Costing) -> Node:
    return Node(run, budget.plan_nothing, cost, takes_ctx=True, is_output=True)


NODES: dict[str, Node] = {
    "LoadImage": Node(load_image, budget.plan_load_image, budget.cost_load_image, True),
    "LoadImageMask": Node(
        load_image_mask, budget.plan_load_image_mask, budget.cost_load_image_mask, True
    ),
    "EmptyImage": Node(empty_image, budget.plan_empty),
    "ImageInvert": Node(image_invert, budget.plan_same),
    "ImageScale": Node(image_scale, budget.plan_scale, budget.cost_scale),
    "ImageScaleBy": Node(image_scale_by, budget.plan_scale_by, budget.cost_scale),
    "ImageBlur": Node(image_blur, budget.plan_same, takes_ctx=True),
    "ImageSharpen": Node(image_sharpen, budget.plan_same),
    "ImageBlend": Node(image_blend, budget.plan_blend, budget.cost_two_images),
    "ImageCrop": Node(image_crop, budget.plan_crop),
    "ImageFlip": Node(image_flip, budget.plan_same),
    "ImageRotate": Node(image_rotate, budget.plan_rotate),
    "RepeatImageBatch": Node(repeat_image_batch, budget.plan_repeat),
    "ImageBatch": Node(image_batch, budget.plan_batch, budget.cost_two_images),
    "ImageToMask": Node(image_to_mask, budget.plan_image_to_mask),
    "MaskToImage": Node(mask_to_image, budget.plan_mask_to_image),
    "InvertMask": Node(invert_mask, budget.plan_same_mask),
    "SolidMask": Node(solid_mask, budget.plan_solid_mask),
    "PrimitiveInt": Node(primitive, budget.plan_value),
    "PrimitiveFloat": Node(primitive, budget.plan_value),
    "PrimitiveString": Node(primitive, budget.plan_value),
    "PrimitiveStringMultiline": Node(primitive, budget.plan_value),
    "PrimitiveBoolean": Node(primitive, budget.plan_value),
    "SaveImage": _output(save_image, budget.cost_save_images),
    "PreviewImage": _output(preview_image, budget.cost_save_images),
    "SaveAnimatedWEBP": _output(save_animated_webp, budget.cost_save_animation),
    "SaveAnimatedPNG": _output(save_animated_png, budget.cost_save_animation),
    "PreviewAny": _output(preview_any, budget.cost_preview_any),
}
