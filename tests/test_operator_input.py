"""Operator input (issue 19, section 5): every bad flag, environment variable or workflow file
ends in one line saying what is wrong and a non-zero exit, never a traceback, and nothing bad is
accepted silently (`serve` answering nothing with --max-connections 0, links that never live)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from viewcomfy_ui.__main__ import main as cli_main
from viewcomfy_ui.checks import InputError, Number
from viewcomfy_ui.errors import WorkflowError
from viewcomfy_ui.ui.config import ConfigError, parse_config
from viewcomfy_ui.workflow import load_workflow

ROOT = Path(__file__).resolve().parent.parent
NOT_HERE = "192.0.2.1"  # TEST-NET-1: an address no machine of ours has


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--history-max-gb", "1e308"], {}, "--history-max-gb: must be a number above 0"),
        (["--history-max-gb", "nan"], {}, "--history-max-gb"),
        (["--history-max-gb", "-inf"], {}, "--history-max-gb"),
        (["--concurrency", "9" * 5000], {}, "whole number from 1 to 1024"),
        (["--host", "256.0.0.1"], {}, "--host: must be an IP address or host name"),
        (["--host", NOT_HERE], {}, "--host: must be an address of this machine"),
        ([], {"VIEWCOMFY_HISTORY_MAX_GB": "1e308"}, "(from VIEWCOMFY_HISTORY_MAX_GB)"),
        ([], {"GRADIO_SERVER_PORT": "abc"}, "--port: must be a port number"),
        ([], {"GRADIO_SERVER_PORT": "9" * 5000}, "(from GRADIO_SERVER_PORT)"),
        ([], {"VIEWCOMFY_MAX_IMAGE_MB": "abc"}, "VIEWCOMFY_MAX_IMAGE_MB must be a number"),
        ([], {"VIEWCOMFY_MAX_IMAGE_MB": "1e308"}, "VIEWCOMFY_MAX_IMAGE_MB must be a number"),
    ],
)
def test_bad_app_settings_are_one_line_config_errors(argv, env, needle):
    with pytest.raises(ConfigError) as caught:
        parse_config(argv, env)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_good_values_pass_and_a_flag_wins_over_a_bad_variable():
    config = parse_config(["--history-max-gb", "0.5", "--host", "localhost"], {})
    assert config.history_max_bytes == 512 << 20 and config.host == "localhost"
    assert parse_config(["--port", "7001"], {"GRADIO_SERVER_PORT": "abc"}).port == 7001
    assert parse_config([], {"VIEWCOMFY_MAX_IMAGE_MB": "512"}).host == "127.0.0.1"


def test_one_number_check_for_every_flag():
    positive = Number(0, 10, low_included=False)
    assert positive("2.5") == 2.5 and positive(" 10 ") == 10.0
    for bad in ("0", "-1", "nan", "inf", "1e308", "10.01", "", "1" * 5000):
        with pytest.raises(InputError, match="must be a number above 0 and at most 10"):
            positive(bad)
    whole = Number(1, 100, whole=True)
    assert whole("7") == 7 and isinstance(whole("7"), int)
    for bad in ("0", "1.5", "1e2", "9" * 5000, "x"):
        with pytest.raises(InputError, match="must be a whole number from 1 to 100"):
            whole(bad)


@pytest.mark.parametrize(
    "env",
    [{"GRADIO_SERVER_PORT": "abc"}, {"VIEWCOMFY_MAX_IMAGE_MB": "abc"}],
)
def test_the_app_refuses_a_bad_variable_before_gradio_loads(env):
    """Gradio reads GRADIO_SERVER_PORT as it is imported: that traceback never shows."""
    run = subprocess.run(
        [sys.executable, "app.py", "--history-max-gb", "1"], capture_output=True, text=True,
        cwd=ROOT, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    assert run.returncode == 2
    assert one_line(run.stderr).startswith("error: ") and next(iter(env)) in run.stderr


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--max-upload-mb", "nan"], "--max-upload-mb: must be a number from 0.01 to 1048576"),
        (["--max-upload-mb", "1e308"], "--max-upload-mb"),
        (["--max-upload-mb", "-1"], "--max-upload-mb"),
        (["--max-upload-mb", "0"], "--max-upload-mb"),
        (["--max-image-mb", "nan"], "--max-image-mb"),
        (["--max-image-mb", "1e308"], "--max-image-mb"),
        (["--max-connections", "0"], "--max-connections: must be a whole number from 1"),
        (["--max-connections", "-1"], "--max-connections"),
        (["--link-ttl", "-5"], "--link-ttl: must be a number from 1 to 2592000"),
        (["--link-ttl", "0"], "--link-ttl"),
        (["--link-ttl", "nan"], "--link-ttl"),
        (["--head-timeout", "0"], "--head-timeout: must be a number from 0.1 to 3600"),
        (["--head-timeout", "-1"], "--head-timeout"),
        (["--head-timeout", "nan"], "--head-timeout"),
        (["--host", "256.0.0.1"], "--host: must be an IP address or host name"),
        (["--port", "9" * 5000], "--port: must be a port number"),
    ],
)
def test_bad_serve_flags_end_in_one_line_before_anything_starts(argv, needle, capsys):
    with pytest.raises(SystemExit) as exited:
        cli_main(["serve", *argv])
    assert exited.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: python -m viewcomfy_ui serve: argument ") and needle in line


def test_serve_names_a_bad_image_budget_variable(monkeypatch, capsys):
    monkeypatch.setenv("VIEWCOMFY_MAX_IMAGE_MB", "abc")
    with pytest.raises(SystemExit):
        cli_main(["serve"])
    line = one_line(capsys.readouterr().err)
    assert "--max-image-mb" in line and "(from VIEWCOMFY_MAX_IMAGE_MB)" in line
    assert cli_main(["params", str(ROOT / "examples" / "photo_effects.json"), "-o", "-"]) == 0


def deep(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text('{"1": {"class_type": "X", "inputs": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}}")  # fmt: skip
    return path


def long_number(tmp_path: Path) -> Path:
    path = tmp_path / "long.json"
    path.write_text('{"3": {"class_type": "KSampler", "inputs": {"seed": ' + "9" * 5000 + "}}}")
    return path


@pytest.mark.parametrize(
    ("make", "needle"),
    [(deep, "nests objects or arrays more than 64 deep"), (long_number, "number too long")],
)
def test_a_hostile_workflow_file_is_one_line_error(tmp_path, capsys, make, needle):
    path = make(tmp_path)
    with pytest.raises(WorkflowError, match=needle):
        load_workflow(path)
    assert cli_main(["params", str(path), "-o", "-"]) == 2
    assert needle in one_line(capsys.readouterr().err)


def test_the_app_refuses_a_hostile_workflow_in_one_line(tmp_path):
    run = subprocess.run(
        [sys.executable, "app.py", "--workflow", str(deep(tmp_path))], capture_output=True,
        text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "more than 64 deep" in one_line(run.stderr)
