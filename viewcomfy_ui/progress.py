"""ComfyUI console progress: tqdm lines, written by the local engine and read by the app."""

from __future__ import annotations

import re
from dataclasses import dataclass

BAR_WIDTH = 10
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
    """A tqdm-style progress line, as ComfyUI prints it."""
    fraction = n / total if total else 1.0
    filled = fraction * BAR_WIDTH
    full = int(filled)
    partial = " ▏▎▍▌▋▊▉"[int((filled - full) * 8)] if full < BAR_WIDTH else ""
    bar = ("█" * full + partial).ljust(BAR_WIDTH)
    rate = n / elapsed if elapsed > 0 else 0.0
    remaining = (total - n) / rate if rate > 0 else 0.0
    return (
        f"{round(fraction * 100):3d}%|{bar}| {n}/{total} "
        f"[{_clock(elapsed)}<{_clock(remaining)}, {rate:5.2f}it/s]"
    )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
