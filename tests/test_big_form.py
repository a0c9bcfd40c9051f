"""A workflow too big for one page (issue 19, section 5: 1,000 nodes, 4,000 fields) is refused
at start in one line that says why and what to do, instead of Gradio's "When localhost is not
accessible..." after 20 s; forms of 2,000 fields still start (bench/bench_big_form.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from viewcomfy_ui.errors import WorkflowError
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app
from viewcomfy_ui.ui.page import MAX_FORM_FIELDS

pytestmark = pytest.mark.leak_prone
ROOT = Path(__file__).resolve().parent.parent


def big_workflow(folder: Path, nodes: int = 1000) -> Path:
    """`nodes` ImageScale nodes after one LoadImage: four fields each."""
    api: dict = {"1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}}}
    for i in range(2, nodes + 2):
        inputs = {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 512 + i, "height": 512, "crop": "disabled"}  # fmt: skip
        api[str(i)] = {"class_type": "ImageScale", "inputs": inputs}
    path = folder / "huge_workflow.json"
    path.write_text(json.dumps(api))
    return path


def test_a_form_too_big_to_start_is_refused_saying_what_to_do(tmp_path):
    with pytest.raises(WorkflowError) as caught:
        create_app(AppConfig(workflow=big_workflow(tmp_path), api_url=None, port=0))
    message = str(caught.value)
    assert "4001 fields" in message and "VC_BASIC" in message and "view_comfy.json" in message
    assert "\n" not in message
    assert MAX_FORM_FIELDS >= 2000, "forms of 2,000 fields start (in about 12 s)"


def test_the_app_says_so_in_one_line_at_once(tmp_path):
    run = subprocess.run(
        [sys.executable, "app.py", "--workflow", str(big_workflow(tmp_path)), "--port", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: ") and "more than the 3000 a page can start with" in line
