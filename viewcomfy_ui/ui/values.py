"""From form values to request params: validation, changed values, seeds. Pure: no I/O.

Only values that differ from the workflow are sent, plus new uploads; a seed in "randomize"
mode gets a fresh value (increment/decrement: one up/down); params are never empty. Uploads arrive already resolved by
the page (`Media.upload`: a path to send, or None for the workflow's own file).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fields import Field
from .kinds import JS_SAFE_INT, kind_of


@dataclass
class Params:
    """What a run sends: JSON `values`, upload `files` (key -> path), and the seeds it used."""

    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)

    def for_client(self) -> dict[str, Any]:
        return {**self.values, **self.files}


def validate(f: Field, raw: Any) -> str | None:
    """Why `raw` is not acceptable for field `f`, or None. The workflow's own value always is."""
    kind = kind_of(f)
    error = kind.validate(f, raw)
    if error is not None and raw == kind.reset(f, None):
        return None
    return error


def missing_upload(f: Field, raw: Any, *, required: bool) -> str | None:
    """Why a `required` upload (one whose workflow file the endpoint lacks) cannot be sent
    empty, or None. An image editor's value is empty without a background."""
    if not required or not kind_of(f).media:
        return None
    empty = not raw or (isinstance(raw, Mapping) and raw.get("background") is None)
    if not empty:
        return None
    return f"{f.label}: upload a file (the workflow's {str(f.value)!r} is not on the server)"


def build_params(
    fields: Sequence[Field],
    values: Mapping[str, Any],
    modes: Mapping[str, str] | None = None,
    *,
    rng: random.Random | None = None,
) -> Params:
    """The params to send for these form values, by field key (assumed valid: `validate` first).

    A media field's value is the path of a new upload, or None to keep the workflow's file.
    `modes` gives each seed's mode (default: the field's `seed_mode`).
    """
    rng = rng or random.Random()
    modes = modes or {}
    params = Params()
    for f in fields:
        kind, raw = kind_of(f), values[f.key]
        if kind.media:
            if raw:
                params.files[f.key] = Path(raw)
            continue
        value = kind.coerce(f, raw)
        if f.kind == "seed":
            value = next_seed(f, value, modes.get(f.key, f.seed_mode), rng)
            params.seeds[f.key] = value
        if value != f.value or type(value) is not type(f.value):
            params.values[f.key] = value
    if not params.values and not params.files:
        _ensure_not_empty(fields, params)
    return params


def next_seed(f: Field, value: int, mode: str, rng: random.Random) -> int:
    """The seed a run uses: fresh (randomize), as shown (fixed), or one up or down, wrapping
    around the field's range."""
    if mode == "randomize":
        return random_seed(f, rng)
    low = int(f.minimum) if f.minimum is not None else 0
    high = int(f.maximum) if f.maximum is not None else JS_SAFE_INT
    if mode == "increment":
        return value + 1 if value < high else low
    if mode == "decrement":
        return value - 1 if value > low else high
    return value


def random_seed(f: Field, rng: random.Random) -> int:
    low = int(f.minimum) if f.minimum is not None else 0
    high = min(int(f.maximum) if f.maximum is not None else JS_SAFE_INT, JS_SAFE_INT)
    return rng.randint(low, max(low, high))


def _ensure_not_empty(fields: Sequence[Field], params: Params) -> None:
    """Nothing changed and no seed is randomized: send one of the workflow's own values, since
    a request needs at least one parameter."""
    first = next((f for f in fields if not kind_of(f).media), None)
    if first is not None:
        params.values[first.key] = first.value
