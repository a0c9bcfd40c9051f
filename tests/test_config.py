"""App settings from flags, the environment and a .env file; clear errors for bad ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.ui.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_run_the_demo_locally():
    config = parse_config([], {})
    assert config.workflow == DEMO_WORKFLOW and config.api_url is None
    assert (config.host, config.port, config.concurrency, config.auth) == (
        "127.0.0.1",
        7860,
        4,
        None,
    )


def test_environment_and_flags():
    env = {
        "VIEWCOMFY_API_URL": "https://x.example/api", "VIEWCOMFY_CLIENT_ID": "id", "VIEWCOMFY_CLIENT_SECRET": "sec",
        "VIEWCOMFY_AUTH": "ann:pw", "SPACE_ID": "me/space", "GRADIO_SERVER_PORT": "7000",
    }  # fmt: skip
    config = parse_config(["--title", "My flow", "--concurrency", "2"], env)
    assert config.api_url == "https://x.example/api" and config.client_secret == "sec"
    assert config.auth == ("ann", "pw") and config.host == "0.0.0.0" and config.port == 7000
    assert config.title == "My flow" and config.concurrency == 2
    assert "sec" not in repr(config) and "pw" not in repr(config)
    assert (
        parse_config(["--api-url", "https://flag.example"], env).api_url == "https://flag.example"
    )
    assert (
        parse_config(["--comfyui-url", "http://127.0.0.1:8188"], {}).comfyui_url
        == "http://127.0.0.1:8188"
    )


@pytest.mark.parametrize("argv", [["--auth", "nopassword"], ["--concurrency", "0"]])
def test_bad_settings_raise_config_errors(argv):
    with pytest.raises(ConfigError):
        parse_config(argv, {})


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--workflow", "/nope/flow.json"], "no such file"),
        (["--auth", "x"], "USER:PASS"),
        (["--object-info", "/nope/oi.json"], "no such file"),
    ],
)
def test_app_reports_bad_settings_in_one_line(argv, needle):
    run = subprocess.run(
        [sys.executable, "app.py", *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert run.returncode == 2
    assert needle in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_dotenv_next_to_app_is_read(tmp_path):
    (tmp_path / "app.py").write_text((ROOT / "app.py").read_text())
    (tmp_path / "viewcomfy_ui").symlink_to(ROOT / "viewcomfy_ui")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / ".env").write_text("VIEWCOMFY_WORKFLOW=/from/dotenv.json\n")
    run = subprocess.run(
        [sys.executable, "app.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert "/from/dotenv.json" in run.stderr
