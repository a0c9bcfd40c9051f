"""Live preview frames on their way from an engine to a client: only the newest is kept, at most
`MAX_RATE` a second leave, each re-encoded as a small JPEG (whatever the engine sent)."""

from __future__ import annotations

import io
import threading
import warnings

from PIL import Image

from ..models import Preview

MAX_SIDE = 512
MAX_RATE = 8.0  # frames a second per run, whatever the engine sends
MAX_SOURCE_PIXELS = 4096 * 4096  # a frame announcing more is dropped before it is decoded
MAX_SOURCE_BYTES = 16 << 20
JPEG_QUALITY = 80


def small_jpeg(frame: Preview) -> Preview | None:
    """`frame` as a JPEG of at most `MAX_SIDE` px a side, or None if it is not an image we can
    read within the limits (dropped: a broken preview never fails a run)."""
    if len(frame.data) > MAX_SOURCE_BYTES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(frame.data))
            if image.width * image.height > MAX_SOURCE_PIXELS:
                return None
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
            image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=JPEG_QUALITY)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
        return None
    return Preview(frame.prompt_id, frame.node_id, "image/jpeg", out.getvalue())


class LatestFrame:
    """A one-frame mailbox between the engine's thread and the event loop: a new frame
    replaces one not yet taken, so frames never queue behind a newer one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Preview | None = None

    @property
    def pending(self) -> bool:
        return self._frame is not None

    def put(self, frame: Preview) -> None:
        with self._lock:
            self._frame = frame

    def take(self) -> Preview | None:
        with self._lock:
            frame, self._frame = self._frame, None
        return frame
