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


def test_several_logins():
    assert parse_config(["--auth", "ann:pw, bob:p:w2"], {}).auth == (("ann", "pw"), ("bob", "p:w2"))
    assert parse_config(["--auth", "ann:p,w"], {}).auth == (("ann", "p,w"),), (
        "a comma in a password"
    )


def test_environment_and_flags():
    env = {
        "VIEWCOMFY_API_URL": "https://x.example/api", "VIEWCOMFY_CLIENT_ID": "id", "VIEWCOMFY_CLIENT_SECRET": "sec",
        "VIEWCOMFY_AUTH": "ann:pw", "SPACE_ID": "me/space", "GRADIO_SERVER_PORT": "7000",
    }  # fmt: skip
    config = parse_config(["--title", "My flow", "--concurrency", "2"], env)
    assert config.api_url == "https://x.example/api" and config.client_secret == "sec"
    assert config.auth == (("ann", "pw"),) and config.host == "0.0.0.0" and config.port == 7000
    assert config.title == "My flow" and config.concurrency == 2
    assert "sec" not in repr(config) and "pw" not in repr(config)
    assert (
        parse_config(["--api-url", "https://flag.example"], env).api_url == "https://flag.example"
    )
    assert (
        parse_config(["--comfyui-url", "http://127.0.0.1:8188"], {}).comfyui_url
        == "http://127.0.0.1:8188"
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--auth", "nopassword"], "USER:PASS"),
        (["--auth", "ann:pw,bob:"], "USER:PASS"),
        (["--auth", "ann:pw,ann:pw2"], "names a user twice"),
        (["--concurrency", "0"], "whole number from 1 to 1024"),
        (["--port", "99999"], "port number from 1 to 65535"),
        (["--port", "-1"], "port number from 1 to 65535"),
        (["--port", "http"], "port number from 1 to 65535"),
        (["--api-url", "not-a-url"], "not an http(s) URL"),
        (["--api-url", "ftp://x.example/api"], "not an http(s) URL"),
        (["--comfyui-url", "localhost:8188"], "not an http(s) URL"),
        (["--protocol", "websocket"], "realtime or sse"),
        (["--max-file-size", "lots"], "size like 200mb"),
        (["--keep-outputs", "0"], "whole number from 1 to"),
        (["--gateway-url", "https://gw.example"], "needs --api-url"),
        (
            [
                "--api-url",
                "https://x.example",
                "--protocol",
                "sse",
                "--gateway-url",
                "https://g.example",
            ],
            "only used with --protocol realtime",
        ),
    ],
)
def test_bad_settings_raise_one_line_config_errors(argv, needle):
    with pytest.raises(ConfigError) as caught:
        parse_config(argv, {})
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_the_environment_goes_through_the_same_checks():
    for env, needle in [
        ({"GRADIO_SERVER_PORT": "99999"}, "--port"),
        ({"VIEWCOMFY_API_URL": "not-a-url"}, "--api-url"),
        ({"VIEWCOMFY_PROTOCOL": "grpc"}, "--protocol"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            parse_config([], env)
    typed = parse_config([], {"GRADIO_SERVER_PORT": "7001", "VIEWCOMFY_CONCURRENCY": "3"})
    assert (typed.port, typed.concurrency) == (7001, 3)


def test_a_password_is_never_echoed_in_an_error():
    with pytest.raises(ConfigError) as caught:
        parse_config([], {"VIEWCOMFY_AUTH": "hunter2-no-colon"})
    assert "hunter2" not in str(caught.value)


def test_port_zero_means_any_free_port():
    assert parse_config(["--port", "0"], {}).port == 0
    assert parse_config([], {"GRADIO_SERVER_PORT": "0"}).port == 0


def test_protocol_defaults_to_realtime_for_viewcomfy_and_sse_for_the_local_engine():
    remote = parse_config(["--api-url", "https://x.example/api"], {})
    assert (remote.protocol, remote.gateway_url) == ("realtime", "https://api.viewcomfy.com")
    local = parse_config([], {})
    assert (local.protocol, local.gateway_url) == ("sse", None)
    assert parse_config(["--protocol", "realtime"], {}).protocol == "realtime"
    env = {"VIEWCOMFY_API_URL": "https://x.example/api", "VIEWCOMFY_PROTOCOL": "sse"}
    assert parse_config([], env).protocol == "sse"
    assert parse_config(["--protocol", "realtime"], env).protocol == "realtime"
    own = parse_config(
        [], {**env, "VIEWCOMFY_PROTOCOL": "", "VIEWCOMFY_GATEWAY_URL": "https://gw.example"}
    )
    assert (own.protocol, own.gateway_url) == ("realtime", "https://gw.example")


def test_upload_limit_and_output_lifetime():
    config = parse_config(["--max-file-size", "5mb", "--keep-outputs", "30"], {})
    assert (config.max_file_size, config.keep_outputs) == (5 << 20, 1800.0)
    assert parse_config([], {"VIEWCOMFY_MAX_FILE_SIZE": "1 GB"}).max_file_size == 1 << 30
    assert parse_config([], {}).max_file_size == 200 << 20


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--workflow", "/nope/flow.json"], "no such file"),
        (["--auth", "x"], "USER:PASS"),
        (["--object-info", "/nope/oi.json"], "no such file"),
        (["--port", "99999"], "--port"),
        (["--api-url", "not-a-url"], "--api-url"),
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
