"""Media types: which kind of media a file is, from its bytes, content type or extension. Pure.

The one extension table for outputs (`outputs.py`: what the page shows a saved file as) and for
uploads (`fields.py`: which upload widget an undeclared input gets).
"""

from __future__ import annotations

import mimetypes
from typing import Literal

MediaKind = Literal["image", "video", "audio", "text", "model3d", "other"]

# extension -> (kind, content type). ``.gif`` is an image: animated GIFs (VHS_VideoCombine's
# "image/gif" format too) play in an image gallery and in an <img>, browsers' <video> cannot play
# them, their bytes sniff as an image (GIF8), and LoadImage reads them; so a gif output shows in
# the gallery as an image and a gif input gets an image upload. "model3d": what Gradio's Model3D
# shows (meshes; Gaussian splats as .splat, and .ply, which it reads as a splat or a mesh).
MEDIA_TYPES: dict[str, tuple[MediaKind, str]] = {
    "png": ("image", "image/png"), "jpg": ("image", "image/jpeg"),
    "jpeg": ("image", "image/jpeg"), "webp": ("image", "image/webp"),
    "gif": ("image", "image/gif"), "bmp": ("image", "image/bmp"),
    "tif": ("image", "image/tiff"), "tiff": ("image", "image/tiff"),
    "avif": ("image", "image/avif"),
    "mp4": ("video", "video/mp4"), "webm": ("video", "video/webm"),
    "mov": ("video", "video/quicktime"), "mkv": ("video", "video/x-matroska"),
    "avi": ("video", "video/x-msvideo"), "m4v": ("video", "video/x-m4v"),
    "wav": ("audio", "audio/wav"), "mp3": ("audio", "audio/mpeg"),
    "flac": ("audio", "audio/flac"), "ogg": ("audio", "audio/ogg"),
    "opus": ("audio", "audio/opus"), "m4a": ("audio", "audio/mp4"),
    "aac": ("audio", "audio/aac"),
    "txt": ("text", "text/plain"), "json": ("text", "application/json"),
    "md": ("text", "text/markdown"), "csv": ("text", "text/csv"),
    "glb": ("model3d", "model/gltf-binary"), "gltf": ("model3d", "model/gltf+json"),
    "obj": ("model3d", "model/obj"), "stl": ("model3d", "model/stl"),
    "ply": ("model3d", "model/x-ply"), "splat": ("model3d", "model/x-splat"),
}  # fmt: skip


def extension(filename: str) -> str:
    """The lower-case extension of `filename`, without the dot ("" when it has none)."""
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def extension_kind(filename: str) -> MediaKind:
    """The kind of media `filename`'s extension names ("other" when the table has none)."""
    return MEDIA_TYPES.get(extension(filename), ("other", ""))[0]


def extension_for(content_type: str) -> str:
    """An extension (with its dot) for a content type, or "" when none is known."""
    bare = content_type.split(";")[0].strip().lower()
    known = next((f".{ext}" for ext, (_, ctype) in MEDIA_TYPES.items() if ctype == bare), "")
    return known or mimetypes.guess_extension(bare) or ""


def media_kind(filename: str, content_type: str = "", head: bytes = b"") -> MediaKind:
    """The kind of an output, from its bytes' magic first, then content type, then extension.

    A 3D extension wins over the content type: servers send .obj and .ply as text or bytes,
    .gltf as JSON."""
    sniffed = _sniff(head)
    if sniffed:
        return sniffed
    if extension_kind(filename) == "model3d" or content_type.lower().startswith("model/"):
        return "model3d"
    major = content_type.split("/", 1)[0].lower()
    if major in ("image", "video", "audio", "text"):
        return major  # type: ignore[return-value]
    if content_type.lower() == "application/json":
        return "text"
    return extension_kind(filename)


def _sniff(head: bytes) -> MediaKind | None:
    if head.startswith(b"glTF"):
        return "model3d"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio"
    if head.startswith((b"fLaC", b"OggS", b"ID3")):
        return "audio"
    if head[4:8] == b"ftyp":
        return "audio" if head[8:11] == b"M4A" else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video"
    return None
