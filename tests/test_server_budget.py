"""Work the built-in engine's budget counts (issue 19, section 1): every page of an upload, the
declared ranges, output files, cancellation inside a node, and nodes' scratch memory."""

from __future__ import annotations

import io
import json
import threading
import tracemalloc
from pathlib import Path

import httpx
import numpy as np
import pytest
from local_server import local_server
from PIL import Image, PngImagePlugin, TiffImagePlugin

from viewcomfy_ui.__main__ import main as cli_main
from viewcomfy_ui.server import budget, nodes
from viewcomfy_ui.server.engine import BuiltinEngine, InputFiles, InvalidInputError, RunCancelled

pytestmark = pytest.mark.leak_prone
SMALL_BUDGET = 48 * 2**20


def post(url: str, workflow: dict, params: dict, files: dict | None = None) -> httpx.Response:
    fields = {"logs": "false", "params": json.dumps(params), "workflow_api": json.dumps(workflow)}
    parts = [(k, (None, v)) for k, v in fields.items()] + list((files or {}).items())
    return httpx.post(url, files=parts, timeout=120)


def tiff(*sizes: tuple[int, int]) -> bytes:
    """A multi-page TIFF, one page per size (deflated: a big blank page is a few KB)."""
    pages = [Image.new("RGB", size) for size in sizes]
    buffer = io.BytesIO()
    pages[0].save(
        buffer, format="TIFF", save_all=True, append_images=pages[1:],
        compression="tiff_adobe_deflate",
    )  # fmt: skip
    return buffer.getvalue()


def noise_png(width: int, height: int) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


LOAD_AND_SAVE = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
}


@pytest.fixture
def decoded(monkeypatch) -> list[tuple[int, int]]:
    """The size of every TIFF page Pillow decodes while the test runs."""
    sizes: list[tuple[int, int]] = []
    load = TiffImagePlugin.TiffImageFile.load

    def spy(self):
        if self.tile:
            sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "load", spy)
    return sizes


@pytest.fixture(scope="module")
def small_url():
    with local_server(engine=BuiltinEngine(max_image_bytes=SMALL_BUDGET)) as url:
        yield url


@pytest.fixture(scope="module")
def url():
    with local_server() as u:
        yield u


# --- every page of an upload --------------------------------------------------------------------


def test_a_tiff_whose_later_page_is_huge_is_refused_before_any_page_is_decoded(small_url, decoded):
    """A 1x1 first page hid a 2000x2000 one (issue 19: 9000x9000 took 2.7 GB)."""
    upload = tiff((1, 1), (2000, 2000))
    reply = post(small_url, LOAD_AND_SAVE, {}, {"1-inputs-image": ("t.tif", upload)})
    assert reply.status_code == 422
    assert "node 1 (LoadImage)" in reply.json()["detail"]
    assert "2 pages, the largest 2000x2000" in reply.json()["detail"]
    assert decoded == []


def test_pages_of_another_size_are_skipped_without_being_decoded(url, decoded):
    upload = tiff((4, 3), (600, 500), (4, 3))
    reply = post(url, LOAD_AND_SAVE, {}, {"1-inputs-image": ("t.tif", upload)})
    assert reply.status_code == 201, reply.text
    assert len(reply.json()["outputs"]) == 2, "the pages the size of the first, as ComfyUI"
    assert (600, 500) not in decoded and decoded.count((4, 3)) == 2


def test_a_file_of_more_pages_than_the_limit_is_refused(url, decoded, monkeypatch):
    """The limit is 4096 (the largest batch a node makes); 8 here, as Pillow writes big TIFFs
    slowly."""
    monkeypatch.setattr(budget, "MAX_PAGES", 8)
    upload = tiff(*[(1, 1)] * 9)
    reply = post(url, LOAD_AND_SAVE, {}, {"1-inputs-image": ("t.tif", upload)})
    assert reply.status_code == 422
    assert "node 1 (LoadImage): the file has over 8 pages; the limit is 8" in reply.text
    assert decoded == []


def test_an_mpo_is_read_as_its_first_image_as_comfyui_does(url):
    buffer = io.BytesIO()
    first, second = Image.new("RGB", (64, 48), "red"), Image.new("RGB", (64, 48), "blue")
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    reply = post(url, LOAD_AND_SAVE, {}, {"1-inputs-image": ("m.mpo", buffer.getvalue())})
    assert reply.status_code == 201, reply.text
    assert len(reply.json()["outputs"]) == 1


def test_the_plan_sizes_a_rotated_tiff_page_as_pillow_turns_it(tmp_path):
    """TIFF pages are reported upright by Pillow: the plan must not turn them a second time."""
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x0112] = 6
    Image.new("RGB", (5, 7)).save(tmp_path / "r.tif", tiffinfo=info)
    workflow = {**LOAD_AND_SAVE, "1": {"class_type": "LoadImage", "inputs": {"image": "r.tif"}}}
    [out] = BuiltinEngine().run(workflow, InputFiles(tmp_path), print, threading.Event())
    with Image.open(io.BytesIO(out.data)) as made:
        assert made.size == (7, 5)


def test_checking_a_png_reads_its_header_and_never_decodes_it(tmp_path, monkeypatch):
    """Pillow looks for a PNG's EXIF after its pixels by decoding them: the plan must not."""
    Image.new("RGB", (300, 200)).save(tmp_path / "x.png")
    decoded = []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: decoded.append(self))
    BuiltinEngine().check(LOAD_AND_SAVE, InputFiles(tmp_path))
    assert decoded == []


def test_a_jpeg_is_turned_as_its_exif_says_and_planned_turned(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (50, 20)).save(tmp_path / "x.jpg", exif=exif.tobytes())
    workflow = {**LOAD_AND_SAVE, "1": {"class_type": "LoadImage", "inputs": {"image": "x.jpg"}}}
    engine, inputs = BuiltinEngine(), InputFiles(tmp_path)
    [out] = engine.run(workflow, inputs, lambda line: None, threading.Event())
    with Image.open(io.BytesIO(out.data)) as made:
        assert made.size == (20, 50)


# --- declared ranges ----------------------------------------------------------------------------


def blur(radius: int | list) -> dict:
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "color": 0}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": radius}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


@pytest.mark.parametrize(
    ("workflow", "needle"),
    [
        (blur(6000), "node 2 (ImageBlur): blur_radius 6000 is above its maximum 31"),
        (
            {
                **blur(1),
                "2": {
                    "class_type": "ImageSharpen",
                    "inputs": {"image": ["1", 0], "sharpen_radius": 6000},
                },
            },
            "node 2 (ImageSharpen): sharpen_radius 6000 is above its maximum 31",
        ),
        (
            {**blur(["9", 0]), "9": {"class_type": "PrimitiveInt", "inputs": {"value": 6000}}},
            "node 2 (ImageBlur): blur_radius 6000 is above its maximum 31",
        ),
        (
            {**blur(1), "1": {"class_type": "EmptyImage", "inputs": {"width": 0, "color": 0}}},
            "node 1 (EmptyImage): width 0 is below its minimum 1",
        ),
        (
            {
                **blur(1),
                "2": {
                    "class_type": "ImageBlend",
                    "inputs": {"image1": ["1", 0], "image2": ["1", 0], "blend_mode": "bogus"},
                },
            },
            "node 2 (ImageBlend): blend_mode 'bogus' is not one of its choices: 'normal',",
        ),
    ],
)
def test_a_value_outside_its_declared_range_is_refused_before_the_run(url, workflow, needle):
    reply = post(url, workflow, {"1-inputs-color": 1})
    assert reply.status_code == 422
    assert needle in reply.json()["detail"]


# --- output files -------------------------------------------------------------------------------


def test_output_files_the_plan_shows_are_refused_before_the_run(url):
    previews = {
        str(n): {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}} for n in range(2, 202)
    }
    text = {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "x" * (4 << 20)}}
    reply = post(url, {"1": text, **previews}, {"1-inputs-value": "y" * (4 << 20)})
    assert reply.status_code == 422
    assert "MiB of files; the limit is 256 MiB (server option --max-output-mb)" in reply.text

    many = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 1, "height": 1, "batch_size": 4096}},
        "2": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 49}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}},
    }
    reply = post(url, many, {"1-inputs-width": 1})
    assert reply.status_code == 422
    assert (
        "node 3 (SaveImage) would bring the run to 200,704 files; the limit is 1,024 "
        "(server option --max-output-files)"
    ) in reply.json()["detail"]


def test_a_run_whose_files_outgrow_the_limit_while_it_runs_fails_with_one_line():
    """Encoded sizes are known only once made: 8 noise images of ~770 KB, a 2 MiB limit."""
    workflow = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "2": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 8}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}},
    }
    with local_server(engine=BuiltinEngine(max_output_bytes=2 << 20)) as url:
        reply = post(url, workflow, {}, {"1-inputs-image": ("n.png", noise_png(512, 512))})
    assert reply.status_code == 500
    assert reply.json()["detail"] == (
        "node 3 (SaveImage): the run's files came to over 2 MiB, its limit "
        "(server option --max-output-mb): save fewer or smaller outputs"
    )


def test_a_run_of_big_texts_waits_for_memory_other_runs_hold():
    """Texts stay in memory until the run ends: the runs at once share memory for them too."""
    engine = BuiltinEngine(max_image_bytes=8 << 20)  # runs at once share 16 MiB
    previews = {
        str(n): {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}} for n in (2, 3)
    }
    text = {"class_type": "PrimitiveString", "inputs": {"value": "x" * (5 << 20)}}
    workflow, lines, finished = {"1": text, **previews}, [], threading.Event()
    waiting = threading.Event()

    def log(line: str) -> None:
        lines.append(line)
        if line == "waiting for other runs to free memory":
            waiting.set()

    def run() -> None:
        engine.run(workflow, InputFiles(Path(".")), log, threading.Event())
        finished.set()

    with engine.memory.hold(8 << 20, threading.Event(), print):  # another run's 8 MiB
        worker = threading.Thread(target=run)
        worker.start()
        assert waiting.wait(30), "10 MiB of texts do not fit beside the other run's 8 MiB"
        assert not finished.is_set()
    worker.join(30)
    assert finished.is_set() and lines[-1].startswith("Prompt executed")


# --- cancellation inside a node ------------------------------------------------------------------


def test_a_cancel_stops_a_long_node_between_its_strips(monkeypatch):
    workflow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 2048, "height": 1024, "color": 0}},
        "2": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["1", 0], "blur_radius": 31, "sigma": 10.0},
        },
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    cancelled, checks = threading.Event(), []
    check = nodes.checkpoint

    def counted() -> None:
        checks.append(1)
        if len(checks) == 3:  # the blur's third strip of seven: the user presses Cancel
            cancelled.set()
        check()

    monkeypatch.setattr(nodes, "checkpoint", counted)
    nodes_done: list[str] = []
    with pytest.raises(RunCancelled):
        BuiltinEngine().run(workflow, InputFiles(Path(".")), nodes_done.append, cancelled)
    assert len(checks) == 3, "it stopped at the next strip"
    assert not any("2/3" in line for line in nodes_done), "the blur never finished"


# --- scratch memory -----------------------------------------------------------------------------


def test_the_plan_counts_a_nodes_scratch_memory():
    """SaveImage holds one image as a Pillow image (4 bytes a pixel) besides its input."""
    workflow = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 1024, "height": 1024}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}},
    }
    with pytest.raises(InvalidInputError, match=r"node 2 \(SaveImage\) would need 4 MiB while it"):
        BuiltinEngine(max_image_bytes=14 << 20).check(workflow, InputFiles(Path(".")))
    assert BuiltinEngine().plan(workflow, InputFiles(Path("."))).peak_bytes == 16 << 20


def test_a_runs_arrays_stay_within_its_plan(tmp_path):
    """numpy's allocations (traced) peak within 1.5x what the plan counted, through every kind of
    node that works on whole images."""
    (tmp_path / "x.png").write_bytes(noise_png(640, 480))
    workflow = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 31}},
        "3": {"class_type": "ImageSharpen", "inputs": {"image": ["2", 0], "sharpen_radius": 9}},
        "4": {"class_type": "ImageScale", "inputs": {"image": ["3", 0], "width": 800}},
        "5": {"class_type": "ImageBlend", "inputs": {"image1": ["4", 0], "image2": ["1", 0]}},
        "6": {"class_type": "ImageBatch", "inputs": {"image1": ["5", 0], "image2": ["1", 0]}},
        "7": {"class_type": "ImageInvert", "inputs": {"image": ["6", 0]}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["7", 0]}},
    }
    engine, inputs = BuiltinEngine(), InputFiles(tmp_path)
    planned = engine.plan(workflow, inputs).peak_bytes
    tracemalloc.start()
    try:
        engine.run(workflow, inputs, lambda line: None, threading.Event())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * planned, f"peak {peak >> 20} MiB for {planned >> 20} MiB planned"


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-output-mb", "nan"],
        ["--max-output-mb", "0"],
        ["--max-output-mb", "1e308"],
        ["--max-output-files", "-1"],
        ["--max-output-files", "1.5"],
    ],
)
def test_output_limit_flags_refuse_unusable_values(argv, capsys):
    try:
        code = cli_main(["serve", *argv])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert f"argument {argv[0]}: must be" in capsys.readouterr().err
