"""From form values to request params: validation, changed values, seeds. Pure, no Gradio.

Only values that differ from the workflow are sent, plus new uploads; a seed whose "randomize"
box is ticked gets a fresh value; params are never empty.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fields import MEDIA_KINDS, Field

JS_SAFE_INT = 2**53 - 1


@dataclass
class Params:
    """What a run sends: JSON `values`, upload `files` (key -> path), and the seeds it used."""

    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)

    def for_client(self) -> dict[str, Any]:
        return {**self.values, **self.files}


def validate(f: Field, raw: Any) -> str | None:
    """Why `raw` is not acceptable for field `f`, or None when it is."""
    if f.kind in ("int", "seed"):
        number = parse_int(raw)
        if number is None:
            return f"{f.label}: enter a whole number"
        return _range_error(f, number)
    if f.kind == "float":
        if not _is_number(raw):
            return f"{f.label}: enter a number"
        return _range_error(f, float(raw))
    if f.kind == "choice" and (raw is None or raw == ""):
        return f"{f.label}: choose a value"
    if f.kind == "choice" and not f.allow_custom and f.choices and raw not in f.choices:
        return f"{f.label}: choose one of the listed values"
    return None


def parse_int(raw: Any) -> int | None:
    """An exact int from a number, a digit string (seeds are text in the browser) or a colour
    (``#rrggbb`` or ``rgb(r, g, b)``, from a colour picker)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and (color := _parse_color(raw)) is not None:
        return color
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if math.isfinite(raw) and raw.is_integer() else None
    if isinstance(raw, str):
        text = raw.strip().replace("_", "")
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def build_params(
    fields: Sequence[Field],
    values: Sequence[Any],
    randomize: Mapping[str, bool],
    *,
    default_files: Mapping[str, Path] | None = None,
    rng: random.Random | None = None,
) -> Params:
    """The params to send for these form values (assumed valid: call `validate` first)."""
    rng = rng or random.Random()
    default_files = default_files or {}
    params = Params()
    for f, raw in zip(fields, values, strict=True):
        if f.kind in MEDIA_KINDS:
            if raw and not _same_file(Path(raw), default_files.get(f.key)):
                params.files[f.key] = Path(raw)
            continue
        if f.kind == "seed" and randomize.get(f.key):
            value = random_seed(f, rng)
            params.seeds[f.key] = value
            params.values[f.key] = value
            continue
        value = coerce(f, raw)
        if f.kind == "seed":
            params.seeds[f.key] = value
        if value != f.value or type(value) is not type(f.value):
            params.values[f.key] = value
    if not params.values and not params.files:
        _ensure_not_empty(fields, params, rng)
    return params


def coerce(f: Field, raw: Any) -> Any:
    """A form value as the JSON type the node expects (real ints, floats and booleans)."""
    if f.kind in ("int", "seed"):
        return parse_int(raw)
    if f.kind == "float":
        return float(raw)
    if f.kind == "bool":
        return bool(raw)
    if f.kind in ("text", "textarea"):
        return "" if raw is None else str(raw)
    if f.kind == "choice" and isinstance(f.value, int | float) and isinstance(raw, str):
        return raw  # a custom value typed into a numeric dropdown stays as typed
    return raw


def _parse_color(text: str) -> int | None:
    text = text.strip().lower()
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return int(text[1:], 16)
    match = re.fullmatch(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,[^)]*)?\)", text)
    if match:
        r, g, b = (min(255, int(v)) for v in match.groups())
        return (r << 16) | (g << 8) | b
    return None


def color_hex(value: int) -> str:
    """``#rrggbb`` for an int colour."""
    return f"#{value & 0xFFFFFF:06x}"


def random_seed(f: Field, rng: random.Random) -> int:
    low = int(f.minimum) if f.minimum is not None else 0
    high = min(int(f.maximum) if f.maximum is not None else JS_SAFE_INT, JS_SAFE_INT)
    return rng.randint(low, max(low, high))


def _ensure_not_empty(fields: Sequence[Field], params: Params, rng: random.Random) -> None:
    """Nothing changed: a fresh seed makes the request valid and the result new."""
    seed = next((f for f in fields if f.kind == "seed"), None)
    if seed is not None:
        value = random_seed(seed, rng)
        params.values[seed.key] = params.seeds[seed.key] = value
        return
    first = next((f for f in fields if f.kind not in MEDIA_KINDS), None)
    if first is not None:
        params.values[first.key] = first.value


def _range_error(f: Field, number: float) -> str | None:
    if f.minimum is not None and number < f.minimum:
        return f"{f.label}: must be at least {_fmt(f.minimum)}"
    if f.maximum is not None and number > f.maximum:
        return f"{f.label}: must be at most {_fmt(f.maximum)}"
    return None


def _fmt(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _is_number(raw: Any) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)


def _same_file(path: Path, default: Path | None) -> bool:
    if default is None or not default.is_file() or not path.is_file():
        return False
    return file_digest(path) == file_digest(default)


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
