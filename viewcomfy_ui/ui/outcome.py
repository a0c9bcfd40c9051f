"""How a run ended, as data: done (its outputs), failed (why, and which node) or cancelled (by
whom). The runner makes these from the client's results and errors, the queue and the history
keep them, and the status line (ui/status.py) makes its words from them, once. Every string in
them came from the server and is already scrubbed of the keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CancelledBy, RunCancelledError, RunFailedError, ViewComfyError
from ..models import Failure
from ..outputs import SavedOutput

Scrub = Callable[[str], str]


@dataclass(frozen=True)
class Done:
    outputs: tuple[SavedOutput, ...]
    prompt_id: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Failed(Failure):
    """Why a run failed (`reason`, and the node when known; `detail` is the one line)."""

    @classmethod
    def of(cls, failure: Failure, scrub: Scrub) -> Failed:
        """A server's failure (`Failure.from_data`), scrubbed."""
        return cls(scrub(failure.reason), scrub(failure.node_id), scrub(failure.node_type))


@dataclass(frozen=True)
class Cancelled:
    by: CancelledBy = "client"  # "client": the visitor asked; "server": stopped over there


Outcome = Done | Failed | Cancelled


def outcome_of_error(exc: ViewComfyError | OSError | ValueError, scrub: Scrub) -> Outcome:
    """The outcome a run's error stands for: a cancel says by whom, a run failure keeps its
    node; any other error (a refused key, a broken reply, a vanished upload) is its message."""
    if isinstance(exc, RunCancelledError):
        return Cancelled(exc.by)
    if isinstance(exc, RunFailedError):
        return Failed.of(Failure(exc.reason, exc.node_id, exc.node_type), scrub)
    return Failed(scrub(str(exc)))
