"""What a run on the built-in engine will need, known before it runs.

Every node's output shape is worked out from the graph alone: uploaded images from their headers
(each page's size, EXIF rotation), never decoded; every other node from its inputs' shapes and
values. A node's `Cost` adds what its outputs do not show: the scratch memory it works in, and
the files it writes. The run's peak (everything kept so far, as the engine keeps every node's
output until the run ends, plus the node's outputs and scratch) is checked against the image
budget, and its files against the output limits, so a run that would not fit is refused up front.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from ..checks import MEGABYTES, from_env
from ..errors import ViewComfyError

DEFAULT_MAX_IMAGE_BYTES = 1 << 30
DEFAULT_MAX_OUTPUT_BYTES = 256 << 20
DEFAULT_MAX_OUTPUT_FILES = 1024
ENV_MAX_IMAGE_MB = "VIEWCOMFY_MAX_IMAGE_MB"
MAX_PAGES = 4096  # pages of one file whose sizes are read (EmptyImage's largest batch)
PIL_PIXEL = 4  # bytes a decoded RGB(A) pixel takes in Pillow
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_ONE_CANVAS = {"GIF", "PNG", "WEBP", "FLI"}  # formats whose frames are all drawn on one canvas


def default_max_image_bytes() -> int:
    """The budget: ``VIEWCOMFY_MAX_IMAGE_MB`` when set, else 1 GiB."""
    value = from_env(os.environ, ENV_MAX_IMAGE_MB)
    return int(MEGABYTES(value) * 2**20) if value else DEFAULT_MAX_IMAGE_BYTES


@dataclass(frozen=True)
class Limits:
    """A run's limits: image data held at once (`image_bytes`), and the files it writes."""

    image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    output_files: int = DEFAULT_MAX_OUTPUT_FILES


@dataclass(frozen=True)
class Tensor:
    """The shape of an image (`channels` 3) or mask (`channels` 1) batch."""

    batch: int
    height: int
    width: int
    channels: int = 3

    @property
    def pixels(self) -> int:
        return max(self.batch, 0) * max(self.height, 0) * max(self.width, 0)

    @property
    def nbytes(self) -> int:
        return self.pixels * self.channels * 4

    def describe(self) -> str:
        kind = "image" if self.channels == 3 else "mask"
        return f"{self.batch} {kind}(s) of {self.width}x{self.height}"


@dataclass(frozen=True)
class Cost:
    """What a node needs besides its outputs: `scratch` bytes while it runs (`what` says why,
    when it is not plain working memory), `files` it writes, and `file_bytes`, the part of those
    files' size known before it runs (texts; an encoded image's size is known only once made)."""

    scratch: int = 0
    files: int = 0
    file_bytes: int = 0
    what: str = ""


@dataclass(frozen=True)
class RunPlan:
    """A run's needs: `peak_bytes` of image data at once, `files` and `file_bytes` written."""

    peak_bytes: int
    files: int
    file_bytes: int

    @property
    def memory(self) -> int:
        """Bytes the run may hold at once: its image data at the peak, and the files whose size
        is known before (texts; they stay in memory until the run ends). An encoded image is
        smaller than the float32 image it came from, which the image data counts."""
        return self.peak_bytes + self.file_bytes


class PlanError(ViewComfyError):
    """A node's output cannot be planned, or would take the run over its budget."""

    def __init__(self, message: str, node_id: str) -> None:
        super().__init__(message)
        self.node_id = node_id


class OverBudget(PlanError):
    """The run would hold more image data than the budget; the message names node and limit."""


class TooMuchOutput(PlanError):
    """The run would write more files or bytes than its limits; the message names node and limit."""


class UnusableInputs(PlanError):
    """A node's inputs cannot be used: text where a number belongs, a file that is no image."""


def _over(node_id: str, class_type: str, doing: str, total: int, limit: int) -> OverBudget:
    return OverBudget(
        f"node {node_id} ({class_type}) would {doing}, bringing the run to "
        f"{total / 2**20:,.0f} MiB of image data; the limit is {limit / 2**20:,.0f} MiB "
        f"(server option --max-image-mb or {ENV_MAX_IMAGE_MB}): use smaller sizes or batches",
        node_id,
    )


def _too_many(node_id: str, class_type: str, what: str, limit: str, option: str) -> TooMuchOutput:
    return TooMuchOutput(
        f"node {node_id} ({class_type}) would bring the run to {what}; the limit is {limit} "
        f"(server option {option}): save fewer or smaller outputs",
        node_id,
    )


def page_sizes(image: Image.Image) -> list[tuple[int, int]]:
    """The upright (width, height) of each page or frame a LoadImage reads, from headers alone.

    Frames of GIF, APNG and WebP share one canvas; TIFF pages are each read (their headers only),
    and Pillow already reports them upright; an MPO is read as its first image, as ComfyUI does.
    """
    if image.format in _ONE_CANVAS or image.format == "MPO":
        count = 1 if image.format == "MPO" else getattr(image, "n_frames", 1)
        if count > MAX_PAGES:
            raise ValueError(f"the file has {count} frames; the limit is {MAX_PAGES}")
        return [_upright_size(image)] * count
    sizes = [_upright_size(image)]
    while True:  # page by page: counting them first would read every page's header at once
        try:
            image.seek(len(sizes))
        except EOFError:
            break
        if len(sizes) == MAX_PAGES:
            raise ValueError(f"the file has over {MAX_PAGES} pages; the limit is {MAX_PAGES}")
        sizes.append(_upright_size(image))
    image.seek(0)
    return sizes


def _upright_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    return (height, width) if orientation(image) in _ROTATED else (width, height)


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1: upright) a loader applies to the current page once decoded, from
    headers alone: Pillow turns TIFF pages itself, and a PNG's EXIF counts only when it comes
    before the pixels (Pillow's own lookup would decode the whole image to find a later one)."""
    if image.format == "TIFF":
        return 1
    exif = Image.Image.getexif(image) if image.format == "PNG" else image.getexif()
    return exif.get(0x0112) or 1


def kept_pages(sizes: list[tuple[int, int]]) -> list[int]:
    """The pages a LoadImage keeps: those the size of the first, as ComfyUI does."""
    return [index for index, size in enumerate(sizes) if size == sizes[0]]


# --- shape plans: a node's output shapes from its inputs (tensors for links to images, values
# otherwise); every plan also gets `find_file`, which only the loaders use.

Plan = Callable[..., tuple[Any, ...]]


def plan_load_image(image: str, find_file: Callable[[str], Path | None], **_: Any) -> tuple:
    pages = _pages(image, find_file)
    if not pages:
        return Tensor(0, 0, 0), Tensor(0, 0, 0, 1)
    (width, height), kept = pages[0], len(kept_pages(pages))
    return Tensor(kept, height, width), Tensor(kept, height, width, 1)


def plan_load_image_mask(image: str, find_file: Callable[[str], Path | None], **_: Any) -> tuple:
    pages = _pages(image, find_file)
    width, height = pages[0] if pages else (0, 0)
    return (Tensor(1 if pages else 0, height, width, 1),)


def _pages(name: str, find_file: Callable[[str], Path | None]) -> list[tuple[int, int]]:
    path = find_file(name)
    if path is None:
        return []
    try:
        with Image.open(path) as image:
            return page_sizes(image)
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f"{name!r} is not an image Pillow can read") from exc


def plan_empty(width: int, height: int, batch_size: int = 1, **_: Any) -> tuple[Tensor]:
    return (Tensor(batch_size, height, width),)


def plan_same(image: Tensor, **_: Any) -> tuple[Tensor]:
    return (image,)


def plan_scale(image: Tensor, width: int, height: int, **_: Any) -> tuple[Tensor]:
    if width == 0 and height == 0:
        return (image,)
    width = width or max(1, round(image.width * height / max(image.height, 1)))
    height = height or max(1, round(image.height * width / max(image.width, 1)))
    return (replace(image, width=width, height=height),)


def plan_scale_by(image: Tensor, scale_by: float, **_: Any) -> tuple[Tensor]:
    width, height = max(1, round(image.width * scale_by)), max(1, round(image.height * scale_by))
    return (replace(image, width=width, height=height),)


def plan_blend(image1: Tensor, image2: Tensor, **_: Any) -> tuple[Tensor]:
    if image1.batch != image2.batch and min(image1.batch, image2.batch) != 1:
        raise ValueError(
            f"image1 is a batch of {image1.batch} and image2 of {image2.batch}; "
            "blend batches of the same size, or one image with a batch"
        )
    return (replace(image1, batch=max(image1.batch, image2.batch)),)


def plan_crop(image: Tensor, width: int, height: int, x: int, y: int, **_: Any) -> tuple[Tensor]:
    x, y = min(x, image.width - 1), min(y, image.height - 1)
    return (
        replace(image, width=min(width, image.width - x), height=min(height, image.height - y)),
    )


def plan_rotate(image: Tensor, rotation: str, **_: Any) -> tuple[Tensor]:
    if rotation in ("90 degrees", "270 degrees"):
        return (replace(image, width=image.height, height=image.width),)
    return (image,)


def plan_repeat(image: Tensor, amount: int, **_: Any) -> tuple[Tensor]:
    return (replace(image, batch=image.batch * amount),)


def plan_batch(image1: Tensor, image2: Tensor, **_: Any) -> tuple[Tensor]:
    return (replace(image1, batch=image1.batch + image2.batch),)


def plan_image_to_mask(image: Tensor, **_: Any) -> tuple[Tensor]:
    return (replace(image, channels=1),)


def plan_mask_to_image(mask: Tensor, **_: Any) -> tuple[Tensor]:
    return (replace(mask, channels=3),)


def plan_same_mask(mask: Tensor, **_: Any) -> tuple[Tensor]:
    return (mask,)


def plan_solid_mask(width: int, height: int, **_: Any) -> tuple[Tensor]:
    return (Tensor(1, height, width, 1),)


def plan_value(value: Any, **_: Any) -> tuple[Any]:
    return (value,)


def plan_nothing(**_: Any) -> tuple[()]:
    return ()


# --- costs: what a node needs besides its outputs, from the same inputs as its plan and the
# outputs it plans (`made`).

Costing = Callable[..., Cost]


def no_cost(**_: Any) -> Cost:
    return Cost()


def cost_load_image(image: str, find_file: Callable[[str], Path | None], **_: Any) -> Cost:
    """One page decoded, and turned upright (a copy); pages of another size than the first are
    never decoded but count as an image and a mask each, as a file is judged by every page it
    holds (ComfyUI's loader decodes them all)."""
    pages = _pages(image, find_file)
    if not pages:
        return Cost()
    (width, height), kept = pages[0], set(kept_pages(pages))
    skipped = sum(w * h * 16 for index, (w, h) in enumerate(pages) if index not in kept)
    what = f"read {image!r}: {len(pages)} pages, the largest {_largest(pages)}" if skipped else ""
    return Cost(scratch=2 * PIL_PIXEL * width * height + skipped, what=what)


def _largest(pages: list[tuple[int, int]]) -> str:
    width, height = max(pages, key=lambda size: size[0] * size[1])
    return f"{width}x{height}"


def cost_load_image_mask(image: str, find_file: Callable[[str], Path | None], **_: Any) -> Cost:
    """The first page decoded, and turned upright (a copy)."""
    pages = _pages(image, find_file)
    width, height = pages[0] if pages else (0, 0)
    return Cost(scratch=2 * PIL_PIXEL * width * height)


def _resize_scratch(source: Tensor, target: Tensor) -> int:
    """Resizing one image with Pillow: the source and its centre crop, Pillow's two passes (the
    first as wide as the target, as high as the source) and the result."""
    one_in, one_out = source.height * source.width, target.height * target.width
    return PIL_PIXEL * (2 * one_in + target.width * source.height + one_out)


def cost_scale(made: tuple[Tensor], image: Tensor, **_: Any) -> Cost:
    return Cost(scratch=_resize_scratch(image, made[0]) if made[0] != image else 0)


def cost_two_images(image1: Tensor, image2: Tensor, **_: Any) -> Cost:
    """ImageBlend and ImageBatch resize image2 to image1's size, one image at a time."""
    if (image1.height, image1.width) == (image2.height, image2.width):
        return Cost()
    resized = replace(image1, batch=1)
    return Cost(scratch=_resize_scratch(image2, resized) + resized.nbytes)


def cost_save_images(images: Tensor, **_: Any) -> Cost:
    """A file per image; one image at a time as a Pillow image."""
    return Cost(scratch=PIL_PIXEL * images.height * images.width, files=max(images.batch, 0))


def cost_save_animation(images: Tensor, **_: Any) -> Cost:
    """One file; every frame as a Pillow image, and Pillow's encoder's copy of each."""
    return Cost(scratch=2 * PIL_PIXEL * images.pixels, files=1)


def cost_preview_any(source: Any, **_: Any) -> Cost:
    if isinstance(source, Tensor):
        return Cost(files=1)
    text = source if isinstance(source, str) else json.dumps(source)
    return Cost(files=1, file_bytes=len(text.encode("utf-8", "surrogatepass")))


def _doing(tensors: list[Tensor], cost: Cost) -> str:
    """What a node over the budget would do: "make 2 image(s) of 4x4 and read 'a.tif': ..."."""
    doing = [f"make {tensors[0].describe()}"] if tensors else []
    if cost.what:
        doing.append(cost.what)
    elif cost.scratch and not tensors:
        doing.append(f"need {cost.scratch / 2**20:,.0f} MiB while it works")
    return " and ".join(doing)


class Planned(Protocol):
    """A node as the budget sees it: its shape plan and its cost."""

    plan: Plan
    cost: Costing


def check_budget(
    order: list[str],
    workflow: Mapping[str, Mapping[str, Any]],
    inputs_of: Callable[[Mapping[str, Any], dict[str, tuple[Any, ...]], str], dict[str, Any]],
    node_of: Callable[[str], Planned],
    find_file: Callable[[str], Path | None],
    limits: Limits,
) -> RunPlan:
    """The run's needs; OverBudget or TooMuchOutput at the first node that takes it over `limits`.

    `inputs_of(node, planned, class_type)` is the engine's own input resolution, fed with
    planned outputs instead of arrays, so defaults, coercion and range checks are the engine's;
    `node_of` gives a node's plan and cost by class type.
    """
    planned: dict[str, tuple[Any, ...]] = {}
    held = peak = files = file_bytes = 0
    for node_id in order:
        node = workflow[node_id]
        class_type = node["class_type"]
        try:
            kwargs = inputs_of(node, planned, class_type)
            outputs = node_of(class_type).plan(**kwargs, find_file=find_file)
            cost = node_of(class_type).cost(**kwargs, made=outputs, find_file=find_file)
        except Image.DecompressionBombError as exc:
            made = "make " + str(exc).split(" exceeds")[0].lower()
            raise _over(
                node_id, class_type, made, limits.image_bytes + 1, limits.image_bytes
            ) from exc
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
            raise UnusableInputs(f"node {node_id} ({class_type}): {exc}", node_id) from exc
        planned[node_id] = outputs
        tensors = [t for t in outputs if isinstance(t, Tensor)]
        held += sum(t.nbytes for t in tensors)
        peak = max(peak, held + cost.scratch)
        if peak > limits.image_bytes:
            raise _over(node_id, class_type, _doing(tensors, cost), peak, limits.image_bytes)
        files += cost.files
        file_bytes += cost.file_bytes
        if files > limits.output_files:
            raise _too_many(
                node_id, class_type, f"{files:,} files", f"{limits.output_files:,}",
                "--max-output-files",
            )  # fmt: skip
        if file_bytes > limits.output_bytes:
            raise _too_many(
                node_id, class_type, f"{file_bytes / 2**20:,.0f} MiB of files",
                f"{limits.output_bytes / 2**20:,.0f} MiB", "--max-output-mb",
            )  # fmt: skip
    return RunPlan(peak, files, file_bytes)
