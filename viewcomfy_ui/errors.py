"""Typed exceptions. Everything the library raises on purpose derives from `ViewComfyError`.

Messages are one line, say what went wrong and what to do, and never contain a secret.
"""

from __future__ import annotations

from typing import Literal


class ViewComfyError(Exception):
    """Base class of every error raised by viewcomfy_ui."""


def at_node(reason: str, node_id: str = "", node_type: str = "") -> str:
    """A failure as one line: "node 3 (ImageBlur): reason", or the reason alone when no node
    is named. The one wording of a node's failure (client errors, the page, the server)."""
    if not node_id and not node_type:
        return reason
    kind = f" ({node_type})" if node_type else ""
    return f"node {node_id or '?'}{kind}: {reason}"


class WorkflowError(ViewComfyError):
    """A workflow file or dict could not be understood."""


class ParamsError(ViewComfyError):
    """Parameters do not fit the workflow (unknown key, empty params, bad value)."""


class EmptyParamsError(ParamsError):
    """`params` was empty: ViewComfy rejects that, and ComfyUI would serve a cached result."""


class APIError(ViewComfyError):
    """The endpoint answered with something other than a successful run."""


class TransportError(APIError):
    """The endpoint could not be reached, or the connection broke."""


class APITimeoutError(TransportError):
    """The request took longer than its time budget."""


class HTTPStatusError(APIError):
    """The endpoint answered with an error status (other than a bad key)."""

    def __init__(self, message: str, *, status_code: int, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class AuthenticationError(HTTPStatusError):
    """401/403: the client id or secret was refused."""


class RateLimitError(HTTPStatusError):
    """429 after all allowed retries."""


class LinkExpiredError(HTTPStatusError):
    """403 from output storage: the output's presigned link has expired."""


class RunFailedError(APIError):
    """The run started but failed (an `error` event, or a result whose status says so).

    The data, not a sentence: `reason` is the bare cause ("Invalid image file: x.png"), and
    `node_id` / `node_type` name the node that raised it when the server said which ("" when
    not). `logs` holds the lines seen so far. `str()` is one line for scripts:
    "the run failed: node 3 (ImageBlur): reason" (`at_node`).
    """

    prefix = "the run failed: "

    def __init__(
        self,
        reason: str = "",
        *,
        node_id: str = "",
        node_type: str = "",
        logs: list[str] | None = None,
    ) -> None:
        self.reason = reason.strip() or "the server gave no reason"
        self.node_id = node_id
        self.node_type = node_type
        self.logs = list(logs or [])
        super().__init__(self.prefix + at_node(self.reason, node_id, node_type))


class IncompleteStreamError(RunFailedError):
    """The event stream or socket ended without a result (dropped connection, proxy timeout)."""

    prefix = ""


CancelledBy = Literal["client", "server"]


class RunCancelledError(APIError):
    """The run was cancelled. `by`: "client" when this client asked for it, "server" when the
    server stopped it for another reason (the dashboard, another client, a shutdown).
    `logs` holds the lines seen so far."""

    def __init__(
        self, message: str, *, by: CancelledBy = "server", logs: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.by = by
        self.logs = list(logs or [])


class MalformedResultError(APIError):
    """The server's result was not a valid prompt result."""


class ResultTooLargeError(MalformedResultError):
    """The result is larger than the client's `max_result_bytes`."""
