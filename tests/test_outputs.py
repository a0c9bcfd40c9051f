"""Saving outputs under safe names, and telling media kinds apart."""

from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path

import pytest

from viewcomfy_ui import paths
from viewcomfy_ui.errors import MalformedResultError
from viewcomfy_ui.models import FileOutput, PromptResult
from viewcomfy_ui.outputs import media_kind, safe_filename, save_outputs

# A file or socket the client leaks fails these tests, even when only the GC finds it (the
# collect after each leak-prone test, conftest.py).
pytestmark = [
    pytest.mark.leak_prone,
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]


def result(*outputs):
    return PromptResult("p", "success", True, 1.0, {}, list(outputs))


def out(name, data=b"data", content_type="image/png"):
    return FileOutput(name, content_type, base64.b64encode(data).decode(), len(data))


@pytest.mark.parametrize(
    "hostile",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "..\\..\\windows\\win.ini",
        "C:\\temp\\x.png",
        "a\x00b\n.png",
        "..",
        "",
        "CON.png",
        "<script>.png",
    ],
)
def test_hostile_names_stay_inside_the_folder(tmp_path, hostile):
    [path] = save_outputs(result(out(hostile)), tmp_path)
    assert path.parent == tmp_path
    assert path.read_bytes() == b"data"
    assert not any(c in path.name for c in "\x00\n<>/\\:")


def test_same_names_never_overwrite(tmp_path):
    (tmp_path / "ComfyUI_00001_.png").write_bytes(b"old")
    paths = save_outputs(
        result(out("ComfyUI_00001_.png", b"a"), out("ComfyUI_00001_.png", b"b")), tmp_path
    )
    assert len(set(paths)) == 2
    assert (tmp_path / "ComfyUI_00001_.png").read_bytes() == b"old"
    assert sorted(p.read_bytes() for p in paths) == [b"a", b"b"]


def test_extension_added_from_content_type(tmp_path):
    [path] = save_outputs(result(out("noext", content_type="video/mp4")), tmp_path)
    assert path.suffix == ".mp4"


@pytest.mark.parametrize(
    ("name", "content_type", "head", "kind"),
    [
        ("a.bin", "application/octet-stream", b"\x89PNG\r\n\x1a\n", "image"),
        ("a.mp4", "", b"\x00\x00\x00\x18ftypisom", "video"),
        ("a", "", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio"),
        ("clip.webm", "", b"", "video"),
        ("song.flac", "", b"", "audio"),
        ("notes", "text/plain", b"hello", "text"),
        ("x.glb", "model/gltf-binary", b"glTF", "model3d"),
        ("x.zip", "application/zip", b"PK\x03\x04", "other"),
    ],
)
def test_media_kind(name, content_type, head, kind):
    assert media_kind(name, content_type, head) == kind


def test_safe_filename_keeps_unicode_and_bounds_length():
    assert safe_filename("café 猫.png") == "café 猫.png"
    assert len(safe_filename("x" * 500 + ".png")) <= 120


def test_ten_thousand_outputs_with_one_name_are_all_saved(tmp_path):
    outputs = [out("a.png", str(i).encode()) for i in range(10_050)]
    paths = save_outputs(result(*outputs), tmp_path)
    assert len(set(paths)) == 10_050
    assert paths[0].name == "a.png" and paths[-1].name == "a_10049.png"
    assert paths[-1].read_bytes() == b"10049"
    [again] = save_outputs(result(out("a.png", b"next")), tmp_path)
    assert again.name == "a_10050.png"


def test_repr_of_an_output_leaves_out_its_data():
    big = out("video.mp4", b"x" * 3_000_000, content_type="video/mp4")
    text = repr(result(big))
    assert "video.mp4" in text and len(text) < 300


def test_an_output_decoded_on_arrival_saves_and_reads_the_same(tmp_path):
    raw = bytes(range(256)) * 40
    decoded = FileOutput("a.png", "image/png", size=len(raw), body=raw)
    assert decoded.content() is raw, "no copy"
    assert decoded.data == base64.b64encode(raw).decode()
    renamed = dataclasses.replace(decoded, filename="b.png")  # as the UI does to scrub names
    assert renamed.body is raw and renamed.filename == "b.png"
    assert "body" not in repr(decoded) and str(len(raw)) in repr(decoded)
    [path] = save_outputs(result(decoded), tmp_path)
    assert path.read_bytes() == raw


def test_invalid_base64_is_a_malformed_result_and_leaves_no_file(tmp_path):
    broken = FileOutput("a.png", "image/png", "not base64!!", 3)
    with pytest.raises(MalformedResultError, match="not valid base64"):
        save_outputs(result(broken), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_names_forgotten_by_the_name_memory_are_found_again_without_trying_each_suffix(
    tmp_path, monkeypatch
):
    """Busy names pushed out of the memory by others (issue 19: 60,000 outputs over 20,000
    names) are found again in a few probes, not by trying every suffix from 1: counted in file
    system probes (existence checks and exclusive opens), since time is noise."""
    monkeypatch.setattr(paths, "_MAX_REMEMBERED", 8)
    probes = [0]
    lexists, path_open = os.path.lexists, Path.open

    def counted_lexists(path):
        probes[0] += 1
        return lexists(path)

    def counted_open(self, *args, **kwargs):
        probes[0] += 1
        return path_open(self, *args, **kwargs)

    monkeypatch.setattr(os.path, "lexists", counted_lexists)
    monkeypatch.setattr(Path, "open", counted_open)
    saved: dict[Path, bytes] = {}
    for round_ in range(200):  # each busy name comes back after 10 others evicted it
        names = [f"busy_{b}.png" for b in range(10)] + [
            f"other_{round_}_{o}.png" for o in range(10)
        ]
        for name in names:
            data = f"{round_}:{name}".encode()
            [path] = save_outputs(result(out(name, data)), tmp_path)
            saved[path] = data
    assert len(saved) == 4000 and len(list(tmp_path.iterdir())) == 4000  # all kept, none reused
    assert all(path.read_bytes() == data for path, data in saved.items())  # none overwritten
    assert probes[0] < 12 * len(saved)  # trying each suffix: ~50 per file (200 rounds)
