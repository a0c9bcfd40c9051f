"""ComfyUI console progress: tqdm lines, written by the local engine and read by the app."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tqdm import tqdm

_TQDM = re.compile(
    r"(?P<percent>\d{1,3})%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)"
    r"(?:\s*\[(?P<elapsed>[\d:]+)<(?P<eta>[\d:?]+)(?:,\s*(?P<rate>[^\]]*))?\])?"
)


@dataclass(frozen=True)
class Progress:
    fraction: float
    step: int
    total: int
    eta_seconds: int | None


def parse_progress(line: str) -> Progress | None:
    """The progress in a tqdm line such as `` 45%|████▌     | 9/20 [00:03<00:04,  2.61it/s]``."""
    match = _TQDM.search(line[-400:])
    if not match:
        return None
    step, total = int(match["n"]), int(match["total"])
    if total <= 0 or step > total:
        return None
    return Progress(
        fraction=step / total, step=step, total=total, eta_seconds=_seconds(match["eta"])
    )


def _seconds(clock: str | None) -> int | None:
    if not clock or "?" in clock:
        return None
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def tqdm_line(n: int, total: int, elapsed: float) -> str:
    """A tqdm progress line, as ComfyUI prints it (``45%|████▌     | 9/20 [00:03<00:04, 2.6it/s]``)."""
    return tqdm.format_meter(n, total, elapsed)
