"""How much image data a run on the built-in engine will hold, known before it runs.

Every node's output shape is worked out from the graph alone: uploaded images from their headers
(size, frame count, EXIF rotation), never decoded; every other node from its inputs' shapes and
values. The sum of what the nodes hold (float32, as the engine keeps every node's output until
the run ends) is checked against a budget, so a run that would not fit is refused up front.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

DEFAULT_MAX_IMAGE_BYTES = 1 << 30
ENV_MAX_IMAGE_MB = "VIEWCOMFY_MAX_IMAGE_MB"
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def default_max_image_bytes() -> int:
    """The budget: ``VIEWCOMFY_MAX_IMAGE_MB`` when set, else 1 GiB."""
    raw = os.environ.get(ENV_MAX_IMAGE_MB, "").strip()
    return int(float(raw) * 2**20) if raw else DEFAULT_MAX_IMAGE_BYTES


@dataclass(frozen=True)
class Tensor:
    """The shape of an image (`channels` 3) or mask (`channels` 1) batch."""

    batch: int
    height: int
    width: int
    channels: int = 3

    @property
    def nbytes(self) -> int:
        return max(self.batch, 0) * max(self.height, 0) * max(self.width, 0) * self.channels * 4

    def describe(self) -> str:
        kind = "image" if self.channels == 3 else "mask"
        return f"{self.batch} {kind}(s) of {self.width}x{self.height}"


class PlanError(Exception):
    def __init__(self, message: str, node_id: str) -> None:
        super().__init__(message)
        self.node_id = node_id


class OverBudget(PlanError):
    """The run would hold more image data than the budget; the message names node and limit."""


class UnusableInputs(PlanError):
    """A node's inputs cannot be used: text where a number belongs, a file that is no image."""


def _over(node_id: str, class_type: str, made: str, total: int, limit: int) -> OverBudget:
    return OverBudget(
        f"node {node_id} ({class_type}) would make {made}, bringing the run to "
        f"{total / 2**20:,.0f} MiB of image data; the limit is {limit / 2**20:,.0f} MiB "
        f"(server option --max-image-mb or {ENV_MAX_IMAGE_MB}): use smaller sizes or batches",
        node_id,
    )


def header_shape(path: Path) -> tuple[Tensor, Tensor]:
    """The image and mask a LoadImage of `path` makes, from the file's header alone."""
    with Image.open(path) as image:
        width, height = image.size
        frames = getattr(image, "n_frames", 1)
        if image.getexif().get(0x0112) in _ROTATED:
            width, height = height, width
    return Tensor(frames, height, width), Tensor(frames, height, width, 1)


def _same(image: Tensor, **_: Any) -> tuple[Tensor]:
    return (image,)


def _scale(image: Tensor, width: int, height: int, **_: Any) -> tuple[Tensor]:
    if width == 0 and height == 0:
        return (image,)
    width = width or max(1, round(image.width * height / max(image.height, 1)))
    height = height or max(1, round(image.height * width / max(image.width, 1)))
    return (replace(image, width=width, height=height),)


def _scale_by(image: Tensor, scale_by: float, **_: Any) -> tuple[Tensor]:
    width, height = max(1, round(image.width * scale_by)), max(1, round(image.height * scale_by))
    return (replace(image, width=width, height=height),)


def _crop(image: Tensor, width: int, height: int, x: int, y: int, **_: Any) -> tuple[Tensor]:
    x, y = min(x, image.width - 1), min(y, image.height - 1)
    return (
        replace(image, width=min(width, image.width - x), height=min(height, image.height - y)),
    )


def _rotate(image: Tensor, rotation: str, **_: Any) -> tuple[Tensor]:
    if rotation in ("90 degrees", "270 degrees"):
        return (replace(image, width=image.height, height=image.width),)
    return (image,)


# class_type -> output shapes from the inputs (tensors for links to images, values otherwise)
PLANS: dict[str, Callable[..., tuple[Any, ...]]] = {
    "EmptyImage": lambda width, height, batch_size=1, **_: (Tensor(batch_size, height, width),),
    "ImageInvert": _same,
    "ImageBlur": _same,
    "ImageSharpen": _same,
    "ImageFlip": _same,
    "ImageScale": _scale,
    "ImageScaleBy": _scale_by,
    "ImageBlend": lambda image1, **_: (image1,),
    "ImageCrop": _crop,
    "ImageRotate": _rotate,
    "RepeatImageBatch": lambda image, amount, **_: (replace(image, batch=image.batch * amount),),
    "ImageBatch": lambda image1, image2, **_: (replace(image1, batch=image1.batch + image2.batch),),
    "ImageToMask": lambda image, **_: (replace(image, channels=1),),
    "MaskToImage": lambda mask, **_: (replace(mask, channels=3),),
    "InvertMask": lambda mask, **_: (mask,),
    "SolidMask": lambda width, height, **_: (Tensor(1, height, width, 1),),
}


def check_budget(
    order: list[str],
    workflow: Mapping[str, Mapping[str, Any]],
    inputs_of: Callable[[Mapping[str, Any], dict[str, tuple[Any, ...]], str], dict[str, Any]],
    find_file: Callable[[str], Path | None],
    limit: int,
) -> None:
    """The run's image data in bytes; OverBudget at the first node that takes it over `limit`.

    `inputs_of(node, planned, class_type)` is the engine's own input resolution, fed with
    planned outputs instead of arrays, so defaults and coercion are the engine's.
    """
    planned: dict[str, tuple[Any, ...]] = {}
    total = 0
    for node_id in order:
        class_type = workflow[node_id]["class_type"]
        try:
            outputs = _plan(workflow[node_id], class_type, planned, inputs_of, find_file)
        except Image.DecompressionBombError as exc:
            made = str(exc).split(" exceeds")[0].lower()
            raise _over(node_id, class_type, made, limit + 1, limit) from exc
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
            raise UnusableInputs(f"node {node_id} ({class_type}): {exc}", node_id) from exc
        planned[node_id] = outputs
        tensors = [t for t in outputs if isinstance(t, Tensor)]
        total += sum(t.nbytes for t in tensors)
        if total > limit:
            raise _over(node_id, class_type, tensors[0].describe(), total, limit)
    return total


def _plan(
    node: Mapping[str, Any],
    class_type: str,
    planned: dict[str, tuple[Any, ...]],
    inputs_of: Callable[[Mapping[str, Any], dict[str, tuple[Any, ...]], str], dict[str, Any]],
    find_file: Callable[[str], Path | None],
) -> tuple[Any, ...]:
    kwargs = inputs_of(node, planned, class_type)
    if class_type in ("LoadImage", "LoadImageMask"):
        path = find_file(kwargs.get("image", ""))
        try:
            image, mask = header_shape(path) if path else (Tensor(0, 0, 0), Tensor(0, 0, 0, 1))
        except (OSError, SyntaxError) as exc:
            raise ValueError(f"{kwargs['image']!r} is not an image Pillow can read") from exc
        return (image, mask) if class_type == "LoadImage" else (replace(mask, batch=1),)
    if class_type in PLANS:
        return PLANS[class_type](**kwargs)
    if class_type.startswith("Primitive"):
        return (kwargs.get("value"),)
    return ()  # output nodes: their encoded files are small next to the images they take
