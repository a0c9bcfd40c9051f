"""ComfyUI console progress: tqdm lines, written by the local engine and read by the app, and
`ProgressTracker`, which reads a run's console into what the status says (its node, step, place
among the nodes to run, time left). Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

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


# --- a run's progress, from its console lines ------------------------------------------------

NODES_TO_RUN = "{count} nodes to run"  # written by the ComfyUI engine once the prompt is queued
_NODES_TO_RUN = re.compile(r"(?P<count>\d+) nodes to run")
_EXECUTING = re.compile(r"Executing node (?P<id>\S+) \((?P<about>.*)\)")
_CACHED = re.compile(r"Reusing cached results of (?P<count>\d+) nodes?\b")
QUEUED_LINES = ("got prompt", "waiting for other runs to free memory")  # before it runs
MAX_TITLE_CHARS = 60


@dataclass(frozen=True)
class RunProgress:
    """What a run's console told so far: the node executing (`node_id`, `title`), its place
    among the nodes that run (`node_number` of `node_total`; cached nodes count as done; 0: not
    known) and its tqdm `step`. ViewComfy's console has only tqdm lines: the rest stays empty.
    `started`: a line other than those of a queued prompt was seen (it runs, not waits its
    turn: ComfyUI runs one prompt at a time)."""

    node_id: str = ""
    title: str = ""
    node_number: int = 0
    node_total: int = 0
    step: Progress | None = None
    started: bool = False

    @property
    def queued(self) -> bool:
        """Waiting its turn in ComfyUI's queue: our engine told the nodes to run, nothing
        ran yet (a console that says only "got prompt" may be running: it is not told)."""
        return not self.started and self.node_total > 0

    @property
    def fraction(self) -> float | None:
        """How far, for a progress bar: the nodes done plus the current node's steps, else the
        steps alone; None when nothing is known."""
        steps = self.step.fraction if self.step else 0.0
        if self.node_total and self.node_number:
            return min(1.0, (self.node_number - 1 + steps) / self.node_total)
        return self.step.fraction if self.step else None

    def words(self) -> str:
        """'KSampler (node 3) · step 12 of 20 · node 4 of 9 · about 8 s left'; what is known."""
        parts = [f"{self.title} (node {self.node_id})" if self.node_id else "Running"]
        if self.step:
            parts.append(f"step {self.step.step} of {self.step.total}")
        if self.node_number and self.node_total:
            parts.append(f"node {self.node_number} of {self.node_total}")
        if self.step and self.step.eta_seconds:
            parts.append(f"about {_duration(self.step.eta_seconds)} left")
        return " · ".join(parts)


class ProgressTracker:
    """Reads a run's console line by line (`feed`); `now` is its `RunProgress`."""

    def __init__(self) -> None:
        self._total = 0
        self._cached = 0
        self._executed: set[str] = set()
        self._now = RunProgress()

    @property
    def now(self) -> RunProgress:
        return self._now

    def feed(self, line: str) -> None:
        line = line.strip()
        if match := _EXECUTING.fullmatch(line):
            self._executed.add(match["id"])
            about = match["about"]
            title = about.rsplit(", ", 1)[0] if ", " in about else about  # "title, class_type"
            number = self._number()
            self._now = RunProgress(match["id"], _short(title), number, self._total, started=True)
        elif match := _NODES_TO_RUN.fullmatch(line):
            self._total = int(match["count"])
            self._now = replace(self._now, node_total=self._total)
        elif line in QUEUED_LINES:
            pass
        elif match := _CACHED.match(line):
            self._cached = int(match["count"])
            self._now = replace(self._now, started=True)
        elif step := parse_progress(line):
            self._now = replace(self._now, step=step, started=True)
        elif line:
            self._now = replace(self._now, started=True)

    def _number(self) -> int:
        done = self._cached + len(self._executed)
        return min(done, self._total) if self._total else 0


def _short(title: str) -> str:
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"
