"""The status line: waiting, running (with progress), done, failed or cancelled. Pure; returns
safe HTML. `scrub` is the one place a server-given string loses the API keys before it is shown."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..progress import Progress

State = Literal["ready", "warning", "waiting", "running", "done", "failed", "cancelled"]
MIN_SECRET_LENGTH = 4  # shorter "secrets" would blank ordinary text
REDACTED = "***"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")
# What layers below put before a reason ("the run failed: node 3 (X) failed: ..."): the status
# says "Failed" once, so these go.
RUN_FAILED = re.compile(r"^\s*(?:the\s+)?run\s+failed\s*(?::\s*|$)", re.I)
NODE_FAILED = re.compile(r"^(node \S+ \([^)]*\)) failed: ", re.I)
NO_REASON = "the server gave no reason; see the logs"


@dataclass(frozen=True)
class Status:
    state: State
    text: str
    progress: Progress | None = None

    def html(self) -> str:
        fraction = self.progress.fraction if self.progress else {"done": 1.0}.get(self.state, 0.0)
        bar = (
            f'<div class="vc-bar"><span style="width:{fraction * 100:.1f}%"></span></div>'
            if self.state in ("running", "waiting", "done")
            else ""
        )
        return (
            f'<div class="vc-status vc-{self.state}" data-state="{self.state}">{bar}'
            f'<span class="vc-text">{html.escape(self.text)}</span></div>'
        )


def waiting(seconds: float) -> Status:
    text = f"Waiting for a worker… {seconds:.0f} s"
    if seconds >= 10:
        text += " (a cold start can take a few minutes)"
    return Status("waiting", text)


def running(progress: Progress | None, seconds: float) -> Status:
    if progress is None:
        return Status("running", f"Running… {seconds:.0f} s")
    text = f"Running — {progress.fraction:.0%} ({progress.step}/{progress.total})"
    if progress.eta_seconds:
        text += f", about {progress.eta_seconds} s left"
    return Status("running", text, progress)


def done(seconds: float, prompt_id: str, seeds: dict[str, int], outputs: int) -> Status:
    parts = [f"Done in {seconds:.1f} s", f"{outputs} output{'s' if outputs != 1 else ''}"]
    if prompt_id:
        parts.append(f"prompt {prompt_id}")
    parts += [f"seed {value}" for value in seeds.values()]
    return Status("done", " · ".join(parts))


def failed(reason: str) -> Status:
    """'Failed: <reason>', saying "failed" once however many layers said it."""
    return Status("failed", f"Failed: {failure_reason(reason)}")


def failure_reason(text: str) -> str:
    """Why a run failed, in one line, without the "the run failed:" / "Failed:" prefixes the
    client and the status put before it ("node 3 (ImageBlur) failed: x" -> "node 3
    (ImageBlur): x")."""
    reason = clean_line(text).strip()
    while True:
        shorter = RUN_FAILED.sub("", reason, count=1)
        if shorter.lower().startswith("failed:"):
            shorter = shorter[len("failed:") :].lstrip()
        if shorter == reason:
            break
        reason = shorter
    return NODE_FAILED.sub(r"\1: ", reason) or NO_REASON


def cancelled() -> Status:
    return Status("cancelled", "Cancelled: the run was stopped. Ready to run again.")


def scrub(text: str, secrets: Iterable[str], limit: int | None = None) -> str:
    """`text` without any of `secrets`, then cut to `limit` characters (scrubbing first, so a
    cut never leaves a prefix). A secret's start already cut off by the server before a final
    "…" is removed too."""
    for secret in secrets:
        if len(secret) < MIN_SECRET_LENGTH:
            continue
        text = text.replace(secret, REDACTED)
        if text.endswith("…"):
            body = text[:-1]
            cut = next(
                (
                    n
                    for n in range(len(secret) - 1, MIN_SECRET_LENGTH - 2, -1)
                    if body.endswith(secret[:n])
                ),
                0,
            )
            if cut:
                text = body[:-cut] + REDACTED + "…"
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_line(line: str) -> str:
    """A console line without ANSI colour codes or control characters."""
    return ANSI.sub("", line)
