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

from ..errors import ViewComfyError

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


class PlanError(ViewComfyError):
    """A node's output cannot be planned, or would take the run over its budget."""

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


# --- shape plans: a node's output shapes from its inputs (tensors for links to images, values
# otherwise); every plan also gets `find_file`, which only the loaders use.

Plan = Callable[..., tuple[Any, ...]]


def plan_load_image(image: str, find_file: Callable[[str], Path | None], **_: Any) -> tuple:
    return _loaded(image, find_file)


def plan_load_image_mask(image: str, find_file: Callable[[str], Path | None], **_: Any) -> tuple:
    return (replace(_loaded(image, find_file)[1], batch=1),)


def _loaded(name: str, find_file: Callable[[str], Path | None]) -> tuple[Tensor, Tensor]:
    path = find_file(name)
    if path is None:
        return Tensor(0, 0, 0), Tensor(0, 0, 0, 1)
    try:
        return header_shape(path)
    except (OSError, SyntaxError) as exc:
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


def plan_blend(image1: Tensor, **_: Any) -> tuple[Tensor]:
    return (image1,)


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
    """Output nodes: their encoded files are small next to the images they take."""
    return ()


def check_budget(
    order: list[str],
    workflow: Mapping[str, Mapping[str, Any]],
    inputs_of: Callable[[Mapping[str, Any], dict[str, tuple[Any, ...]], str], dict[str, Any]],
    plan_of: Callable[[str], Plan],
    find_file: Callable[[str], Path | None],
    limit: int,
) -> int:
    """The run's image data in bytes; OverBudget at the first node that takes it over `limit`.

    `inputs_of(node, planned, class_type)` is the engine's own input resolution, fed with
    planned outputs instead of arrays, so defaults and coercion are the engine's; `plan_of`
    gives a node's shape plan by class type.
    """
    planned: dict[str, tuple[Any, ...]] = {}
    total = 0
    for node_id in order:
        node = workflow[node_id]
        class_type = node["class_type"]
        try:
            kwargs = inputs_of(node, planned, class_type)
            outputs = plan_of(class_type)(**kwargs, find_file=find_file)
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
