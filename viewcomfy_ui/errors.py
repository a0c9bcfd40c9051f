"""Typed exceptions. Everything the library raises on purpose derives from `ViewComfyError`.

Messages are one line, say what went wrong and what to do, and never contain a secret.
"""

from __future__ import annotations


class ViewComfyError(Exception):
    """Base class of every error raised by viewcomfy_ui."""


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
    """The run started but failed (an `error` event). `logs` holds the lines seen so far."""

    def __init__(self, message: str, *, logs: list[str] | None = None) -> None:
        super().__init__(message)
        self.logs = list(logs or [])


class IncompleteStreamError(RunFailedError):
    """The event stream or socket ended without a result (dropped connection, proxy timeout)."""


class RunCancelledError(APIError):
    """The run was cancelled (`infer_canceled_message`). `logs` holds the lines seen so far."""

    def __init__(self, message: str, *, logs: list[str] | None = None) -> None:
        super().__init__(message)
        self.logs = list(logs or [])


class MalformedResultError(APIError):
    """The server's result was not a valid prompt result."""


class ResultTooLargeError(MalformedResultError):
    """The result is larger than the client's `max_result_bytes`."""
