"""The command lines: `python app.py` (ports, URLs, upload limit, run-folder cleanup) and
`python -m viewcomfy_ui params` (never overwrites silently)."""

from __future__ import annotations

import gc
import json
import os
import shutil
import time

import httpx
import pytest

from viewcomfy_ui.__main__ import main as cli_main
from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app
from viewcomfy_ui.ui.main import main as app_main
from viewcomfy_ui.ui.page import OUTPUT_ROOT

pytestmark = pytest.mark.leak_prone


@pytest.mark.parametrize(
    "argv",
    [["--port", "99999"], ["--port", "-1"], ["--api-url", "not-a-url"], ["--protocol", "x"]],
)
def test_bad_flags_end_in_one_line(argv, capsys):
    assert app_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "usage:" not in err and "Traceback" not in err


@pytest.fixture
def launched():
    """Launch apps like `python app.py` does (App.launch), closing them after the test."""
    apps = []

    def launch(**settings):
        app = create_app(AppConfig(workflow=DEMO_WORKFLOW, api_url=None, **settings))
        apps.append(app)
        app.launch(prevent_thread_lock=True, quiet=True)
        return app, f"http://127.0.0.1:{app.page.server_port}"

    yield launch
    for app in apps:
        app.close()


def test_port_zero_serves_on_a_free_port_and_uploads_are_capped(launched):
    app, url = launched(port=0, max_file_size=4096)
    assert app.page.server_port not in (0, 7860)
    assert httpx.get(url + "/").status_code == 200
    small = httpx.post(url + "/gradio_api/upload", files={"files": ("a.png", b"x" * 1000)})
    assert small.status_code == 200
    big = httpx.post(url + "/gradio_api/upload", files={"files": ("b.png", b"x" * 10_000)})
    assert big.status_code == 413


def test_old_run_folders_are_removed_even_if_their_session_never_ends():
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    old, fresh = OUTPUT_ROOT / "run-test-abandoned", OUTPUT_ROOT / "run-test-fresh"
    for folder in (old, fresh):
        (folder / "outputs").mkdir(parents=True, exist_ok=True)
        (folder / "outputs" / "big.png").write_bytes(b"x" * 1000)
    hours_ago = time.time() - 3 * 3600
    os.utime(old, (hours_ago, hours_ago))
    try:
        app = create_app(AppConfig(workflow=DEMO_WORKFLOW, api_url=None, keep_outputs=3600.0))
        app.close()  # it sweeps once before its first wait, so this is deterministic
        gc.collect()  # Gradio leaves event loops unclosed: finalize them here, not mid-import
        assert not old.exists() and fresh.exists()  # swept when the app was created
    finally:
        for folder in (old, fresh):
            shutil.rmtree(folder, ignore_errors=True)


def test_params_never_overwrites_without_force(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "workflow_api_parameters.json"
    assert cli_main(["params", str(DEMO_WORKFLOW)]) == 0
    written = json.loads(target.read_text())
    assert written and "wrote workflow_api_parameters.json" in capsys.readouterr().out

    target.write_text("my edits")
    assert cli_main(["params", str(DEMO_WORKFLOW)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == "my edits"

    assert cli_main(["params", str(DEMO_WORKFLOW), "--force"]) == 0
    assert json.loads(target.read_text()) == written
    capsys.readouterr()
    assert cli_main(["params", str(DEMO_WORKFLOW), "-o", "-"]) == 0
    assert json.loads(capsys.readouterr().out) == written
