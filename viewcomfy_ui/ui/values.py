"""From form values to request params: validation, changed values, seeds. Pure: no I/O.

Only values that differ from the workflow are sent, plus new uploads; a seed whose "randomize"
box is ticked gets a fresh value; params are never empty. Uploads arrive already resolved by
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
    """Why `raw` is not acceptable for field `f`, or None when it is."""
    return kind_of(f).validate(f, raw)


def build_params(
    fields: Sequence[Field],
    values: Mapping[str, Any],
    randomize: Mapping[str, bool],
    *,
    rng: random.Random | None = None,
) -> Params:
    """The params to send for these form values, by field key (assumed valid: `validate` first).

    A media field's value is the path of a new upload, or None to keep the workflow's file.
    """
    rng = rng or random.Random()
    params = Params()
    for f in fields:
        kind, raw = kind_of(f), values[f.key]
        if kind.media:
            if raw:
                params.files[f.key] = Path(raw)
            continue
        if f.kind == "seed" and randomize.get(f.key):
            value = random_seed(f, rng)
            params.seeds[f.key] = value
            params.values[f.key] = value
            continue
        value = kind.coerce(f, raw)
        if f.kind == "seed":
            params.seeds[f.key] = value
        if value != f.value or type(value) is not type(f.value):
            params.values[f.key] = value
    if not params.values and not params.files:
        _ensure_not_empty(fields, params, rng)
    return params


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
    first = next((f for f in fields if not kind_of(f).media), None)
    if first is not None:
        params.values[first.key] = first.value
