"""The status line: waiting, running (with progress), or how the run ended (ui/outcome.py), in
words made here, once. Pure; returns safe HTML. `scrub` is the one place a server-given string
loses the API keys before it is shown."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from ..errors import CancelledBy
from ..progress import RunProgress
from ..redact import MIN_SECRET_LENGTH, REDACTED, redact
from .outcome import Done, Failed, Outcome

if TYPE_CHECKING:
    from .runner import RunUpdate

State = Literal[
    "ready", "warning", "waiting", "running", "done", "failed", "cancelled", "interrupted"
]  # interrupted: a kept run whose app stopped mid-run (the history)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")
NO_REASON = "the server gave no reason; see the logs"
HEADLINE_CHARS = 240  # a longer status opens in full below its first line
SCAN_MARGIN = 1024  # beyond a cut's limit, past the longest spelling `redact` looks for


@dataclass(frozen=True)
class Status:
    state: State
    text: str
    fraction: float | None = None  # the progress bar's fill, when known

    def html(self) -> str:
        """The status as HTML: the bar, then the text's first line; a longer text (a server's
        error) is never cut: the whole of it opens below the line."""
        fraction = self.fraction if self.fraction is not None else float(self.state == "done")
        bar = (
            f'<div class="vc-bar"><span style="width:{fraction * 100:.1f}%"></span></div>'
            if self.state in ("running", "waiting", "done")
            else ""
        )
        head, whole = headline(self.text), ""
        if head != self.text:
            whole = (
                '<details class="vc-whole"><summary>The whole message</summary>'
                f'<pre style="white-space:pre-wrap;overflow-wrap:anywhere">'
                f"{html.escape(self.text)}</pre></details>"
            )
        return (
            f'<div class="vc-status vc-{self.state}" data-state="{self.state}">{bar}'
            f'<span class="vc-text">{html.escape(head)}</span>{whole}</div>'
        )


def headline(text: str) -> str:
    """A text's first line, cut near HEADLINE_CHARS at a space (with "…") when longer."""
    line = text.strip().split("\n", 1)[0].rstrip()
    if line != text.strip():
        line += " …"
    if len(line) <= HEADLINE_CHARS:
        return line
    cut = line[:HEADLINE_CHARS]
    space = cut.rfind(" ", HEADLINE_CHARS // 2)
    return (cut[:space] if space > 0 else cut).rstrip() + " …"


def of(update: RunUpdate, seeds: dict[str, int]) -> Status:
    """A run update's status: how it ended, else how it goes."""
    if update.outcome is not None:
        return ended(update.outcome, seeds)
    if update.waiting:
        return waiting(update.elapsed)
    return running(update.progress, update.elapsed)


def waiting(seconds: float) -> Status:
    text = f"Waiting for a worker… {seconds:.0f} s"
    if seconds >= 10:
        text += " (a cold start can take a few minutes)"
    return Status("waiting", text)


def running(progress: RunProgress | None, seconds: float) -> Status:
    """'KSampler (node 3) · step 12 of 20 · node 4 of 9 · about 8 s left': what the console
    told (ViewComfy's tells only the steps); 'Running… 12 s' before it tells anything."""
    if progress is not None and progress.queued:
        return Status("waiting", f"Waiting for its turn… {seconds:.0f} s (one run at a time)")
    if progress is None or not (progress.node_id or progress.step):
        return Status("running", f"Running… {seconds:.0f} s")
    return Status("running", progress.words(), progress.fraction)


def ended(outcome: Outcome, seeds: dict[str, int]) -> Status:
    """How a run ended, in one line; `seeds`: the seeds it was sent with."""
    if isinstance(outcome, Done):
        return done(outcome, seeds)
    if isinstance(outcome, Failed):
        return failed(outcome)
    return cancelled(outcome.by)


def done(outcome: Done, seeds: dict[str, int]) -> Status:
    count = len(outcome.outputs)
    parts = [f"Done in {outcome.seconds:.1f} s", f"{count} output{'s' if count != 1 else ''}"]
    if outcome.prompt_id:
        parts.append(f"prompt {outcome.prompt_id}")
    parts += [f"seed {value}" for value in seeds.values()]
    return Status("done", " · ".join(parts))


def failed(outcome: Failed) -> Status:
    """'Failed: node 3 (ImageBlur): reason' (the node when known)."""
    reason = clean_line(outcome.reason).strip() or NO_REASON
    return Status("failed", f"Failed: {replace(outcome, reason=reason).detail}")


def cancelled(by: CancelledBy = "client") -> Status:
    if by == "server":
        return Status("cancelled", "Cancelled on the server. Ready to run again.")
    return Status("cancelled", "Cancelled: the run was stopped. Ready to run again.")


def scrub(text: str, secrets: Iterable[str], limit: int | None = None) -> str:
    """`text` without any of `secrets` in any spelling (`redact`: any case, URL-encoded, hex,
    base64, or any 8-character piece of one), then cut to `limit` characters (scrubbing first,
    so a cut never leaves a prefix). A secret's start already cut off by the server before a
    final "…" is removed too."""
    secrets = tuple(secrets)
    if limit is not None and len(text) > 2 * limit + SCAN_MARGIN:  # the rest is never shown
        text = text[: 2 * limit + SCAN_MARGIN] + "…"
    text = redact(text, secrets)
    for secret in secrets:
        if len(secret) < MIN_SECRET_LENGTH or not text.endswith("…"):
            continue
        body = text[:-1].lower()
        cut = next(
            (n for n in range(len(secret) - 1, 2, -1) if body.endswith(secret[:n].lower())), 0
        )
        if cut:
            text = text[: -cut - 1] + REDACTED + "…"
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_line(line: str) -> str:
    """A console line without ANSI colour codes or control characters."""
    return ANSI.sub("", line)
