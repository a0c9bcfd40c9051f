"""Load a ComfyUI ``/object_info`` (node declarations) from a file or a running ComfyUI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from .errors import ViewComfyError


def load_object_info(source: str) -> dict[str, Any]:
    """From a JSON file, or a ComfyUI URL (``http://host:8188`` or its ``/object_info``)."""
    if source.startswith(("http://", "https://")):
        url = source.rstrip("/")
        if not url.endswith("/object_info"):
            url += "/object_info"
        try:
            response = httpx.get(url, timeout=30)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise ViewComfyError(f"cannot read node declarations from {url} ({exc})") from None
    else:
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ViewComfyError(
                f"{source}: no such file; give an object_info.json or a ComfyUI URL"
            ) from None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ViewComfyError(
                f"{source} is not a readable object_info JSON file ({exc})"
            ) from None
    if not isinstance(data, dict):
        raise ViewComfyError(f"{source} is not an object_info dict of node classes")
    return data
