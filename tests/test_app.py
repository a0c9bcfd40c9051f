"""The app's run endpoint, driven with gradio_client against real servers on loopback."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from apps import endpoint_ids, gradio_client, running_app
from gradio_client import Client, handle_file
from PIL import Image
from scripted_server import Reply, ScriptedServer, result_json, sse, stream

from viewcomfy_ui.server.engine import BuiltinEngine, RunCancelled

pytestmark = pytest.mark.leak_prone
FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "top-secret-value-42"


class RunApi:
    """The app's /run endpoint, its parameters and returns found by elem_id (or label)."""

    def __init__(self, url: str, page) -> None:
        self.client = Client(url, verbose=False)
        self.inputs, self.outputs = endpoint_ids(page)
        api = self.client.view_api(return_format="dict", print_info=False)
        params = api["named_endpoints"]["/run"]["parameters"]
        assert len(params) == len(self.inputs)
        self.labels = {p["label"]: i for i, p in enumerate(params)}
        self.defaults = [p.get("parameter_default") for p in params]

    def close(self) -> None:
        self.client.close()  # its heartbeat thread holds a connection to the app

    def default(self, label: str):
        return self.defaults[self.labels[label]]

    def run(self, **changes) -> dict[str, object]:
        """Press Run with the form's defaults, changed where an elem_id or a label is given."""
        args = list(self.defaults)
        for name, value in changes.items():
            index = self.inputs.index(name) if name in self.inputs else self.labels[name]
            args[index] = value
        result = self.client.predict(*args, api_name="/run")
        return dict(zip(self.outputs, result, strict=True))


@pytest.fixture(scope="module")
def demo():
    with running_app() as (url, app):
        api = RunApi(url, app.page)
        yield api
        api.close()


def test_default_run_on_local_engine_returns_gallery_and_zip(demo):
    out = demo.run()
    assert 'data-state="done"' in out["status"]
    assert out["logs"].startswith("got prompt") and "Prompt executed" in out["logs"]
    assert len(out["gallery"]) == 2 and len(out["files"]) == 3, out["gallery"]
    assert any(path.endswith("all_outputs.zip") for path in out["files"])
    assert "3-inputs-value" in json.loads(out["api-params"]), (
        "an unchanged form still sends a fresh seed"
    )


def test_upload_and_changed_values_reach_the_engine(demo, tmp_path):
    image = tmp_path / "mine.png"
    Image.new("RGBA", (50, 40), (200, 10, 10, 128)).save(image)
    out = demo.run(**{
        "field-1-inputs-image": handle_file(str(image)),
        "field-2-inputs-width": 64,
        "field-4-inputs-width": 64,
    })  # fmt: skip
    assert 'data-state="done"' in out["status"]
    png = next(item["image"] for item in out["gallery"] if item["image"].endswith(".png"))
    with Image.open(png) as image:
        assert image.size[0] == 64
    sent = json.loads(out["api-params"])
    assert sent["2-inputs-width"] == 64 and sent["1-inputs-image"] == "<file: mine.png>"


@pytest.fixture
def scripted():
    with ScriptedServer() as server:
        yield server


@contextmanager
def app_client(scripted, fixture: str = "sd15_txt2img.json"):
    """The app in front of the scripted ViewComfy server, with keys set: its /run endpoint."""
    settings = {"api_url": scripted.url, "client_id": "id", "client_secret": SECRET}
    with running_app(FIXTURES / fixture, **settings) as (url, app):
        api = RunApi(url, app.page)
        yield api
        api.close()


def test_refused_run_names_each_field_in_the_status_and_sends_nothing(scripted):
    with app_client(scripted) as client:
        out = client.run(**{
            "field-5-inputs-width": 99999,  # a number box: Gradio has no range to check
            "field-3-inputs-denoise": 7,  # a slider: Gradio's own check must not answer first
            "field-3-inputs-seed": "12abc",
        })  # fmt: skip
    status = out["status"]
    assert 'data-state="failed"' in status and "Not sent" in status
    assert "Width: must be at most 16384" in status
    assert "Denoise: must be at most 1" in status
    assert "Seed: enter a whole number" in status
    assert scripted.requests == []


def test_api_users_get_a_seed_mode(scripted):
    scripted.replies.append(Reply(201, JSON, result_json().encode()))
    with app_client(scripted) as client:
        client.run(**{"field-3-inputs-seed": "41", "field-3-inputs-seed-mode": "increment"})
    assert json.loads(scripted.requests[0].fields["params"]) == {"3-inputs-seed": 42}


PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
JSON = {"Content-Type": "application/json"}


def test_401_is_shown_as_a_readable_message_without_the_secret(scripted):
    scripted.replies.append(Reply(401, JSON, b'{"detail": "Invalid API key"}'))
    with app_client(scripted) as client:
        out = client.run()
    assert 'data-state="failed"' in out["status"] and "refused the API key" in out["status"]
    assert SECRET not in json.dumps(out)
    assert scripted.requests[0].headers["client_secret"] == SECRET


def test_error_event_keeps_the_logs_so_far(scripted):
    events = [
        ("log_message", "got prompt"),
        ("log_message", "loading model"),
        ("error", "<b>OOM</b> in KSampler"),
    ]
    body = b"".join(sse(name, data) for name, data in events)
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, stream([body])))
    with app_client(scripted) as client:
        out = client.run()
    assert "Failed: &lt;b&gt;OOM&lt;/b&gt; in KSampler" in out["status"]
    text = re.sub(r"<[^>]+>", "", out["status"])
    assert text.lower().count("fail") == 1, f"'failed' said once: {text}"
    assert out["logs"] == "got prompt\nloading model"


def test_missing_keys_disable_run_and_say_what_to_set(scripted):
    with running_app(FIXTURES / "sd15_txt2img.json", api_url=scripted.url) as (_url, app):
        config = app.page.config
    status = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "status")
    assert "VIEWCOMFY_CLIENT_SECRET" in status["props"]["value"]
    button = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "run")
    assert button["props"]["interactive"] is False


def test_plain_request_mode_uses_infer(scripted):
    hostile = [
        {"filename": "../../x.png", "content_type": "image/png", "data": PNG_1PX, "size": 70}
    ]
    scripted.replies.append(Reply(201, JSON, result_json(hostile).encode()))
    with app_client(scripted) as client:
        out = client.run(mode="plain", **{"field-6-inputs-text": "a red fox"})
    assert scripted.requests[0].fields["logs"] == "false"
    sent = json.loads(scripted.requests[0].fields["params"])
    assert sent["6-inputs-text"] == "a red fox"
    assert Path(out["gallery"][0]["image"]).name == "x.png"


def test_uploaded_image_keeps_its_transparency(scripted, tmp_path):
    scripted.replies.append(Reply(201, JSON, result_json().encode()))
    image = tmp_path / "cutout.png"
    Image.new("RGBA", (30, 20), (0, 200, 0, 60)).save(image)
    with app_client(scripted, "sd15_img2img.json") as client:
        client.run(**{"field-10-inputs-image": handle_file(str(image))})
    _, data = scripted.requests[0].files["10-inputs-image"]
    sent = Image.open(io.BytesIO(data))
    assert sent.mode == "RGBA" and sent.getpixel((0, 0)) == (0, 200, 0, 60)


def test_thousands_of_log_lines_keep_the_panel_bounded(scripted):
    body = b"".join(sse("log_message", f"line {i}") for i in range(5000)) + sse(
        "prompt_result", result_json()
    )
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, stream(chunks)))
    with app_client(scripted) as client:
        job = client.client.submit(api_name="/run")
        job.result(timeout=60)
        updates = job.outputs()
    final = dict(zip(client.outputs, updates[-1], strict=True))
    shown = final["logs"].splitlines()
    assert shown[-1] == "line 4999" and len(shown) <= 1000
    assert 'data-state="done"' in final["status"]
    assert len(updates) < 100, "log lines are batched, not one page update per line"


def test_colour_picker_runs_end_to_end(tmp_path):
    workflow = tmp_path / "solid.json"
    workflow.write_text(json.dumps({
        "1": {"class_type": "EmptyImage", "inputs": {"width": 4, "height": 4, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "solid"}},
    }))  # fmt: skip
    with running_app(workflow) as (url, app):
        client = RunApi(url, app.page)
        assert client.default("Color") == "#000000"
        out = client.run(**{"field-1-inputs-color": "#ff8000"})
        client.close()
    with Image.open(out["gallery"][0]["image"]) as image:
        assert image.convert("RGB").getpixel((0, 0)) == (255, 128, 0)


def test_an_output_named_like_the_zip_does_not_clash_with_it(scripted):
    empty_zip = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="
    outs = [
        {
            "filename": "all_outputs.zip",
            "content_type": "application/zip",
            "data": empty_zip,
            "size": 22,
        },
        {"filename": "a.png", "content_type": "image/png", "data": PNG_1PX, "size": 70},
    ]
    scripted.replies.append(Reply(201, JSON, result_json(outs).encode()))
    with app_client(scripted) as client:
        files = client.run(mode="plain")["files"]
    assert len(files) == 3
    archive = next(
        f for f in files if zipfile.is_zipfile(f) and len(zipfile.ZipFile(f).namelist()) == 2
    )
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["a.png", "all_outputs.zip"]


@pytest.mark.parametrize("protocol", ["sse", "realtime"])
def test_the_api_snippet_runs_as_shown_on_this_machine(protocol, tmp_path):
    """The API accordion's Python, run as a developer would: in a folder holding the uploaded
    file, against the engine the snippet names (the app's own here, through $VIEWCOMFY_API_URL
    as its first comment says)."""
    image = tmp_path / "mine.png"
    Image.new("RGB", (48, 32), (10, 200, 10)).save(image)
    with running_app(protocol=protocol) as (url, app):
        out = RunApi(url, app.page).run(**{
            "field-1-inputs-image": handle_file(str(image)),
            "field-6-inputs-blur_radius": 4,
        })  # fmt: skip
        assert 'data-state="done"' in out["status"]
        code = out["api-python"]
        assert "python -m viewcomfy_ui serve" in code and "127.0.0.1:8000" in code
        assert app.local_server.url.rstrip("/") not in code, "the embedded port is never shown"
        folder = tmp_path / "dev"
        folder.mkdir()
        (folder / "mine.png").write_bytes(image.read_bytes())
        env = {**os.environ, "VIEWCOMFY_API_URL": app.local_server.url}
        env.pop("VIEWCOMFY_CLIENT_ID", None), env.pop("VIEWCOMFY_CLIENT_SECRET", None)
        env["PYTHONPATH"] = str(Path(__file__).parent.parent)
        ran = subprocess.run(
            [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "got prompt" in ran.stdout, "the snippet streams the engine's logs"
    saved = sorted(p.suffix for p in (folder / "outputs").iterdir())
    assert saved == [".png", ".webp"]
    shown = next(item["image"] for item in out["gallery"] if item["image"].endswith(".png"))
    with Image.open(shown) as app_png, Image.open(next((folder / "outputs").glob("*.png"))) as png:
        assert png.tobytes() == app_png.tobytes(), (
            "the same upload, values and seed as the page's run"
        )


def test_with_history_on_a_script_runs_the_form_with_no_arguments_and_gets_its_results(tmp_path):
    with running_app(data_dir=tmp_path) as (url, app), gradio_client(url) as client:
        result = client.predict(api_name="/run")  # no browser token: the run is its session's
        out = dict(zip(endpoint_ids(app.page)[1], result, strict=True))
    assert 'data-state="done"' in out["status"], out["status"]
    assert len(out["gallery"]) == 2 and len(out["files"]) == 3, out["gallery"]


class StoppedOnTheServer(BuiltinEngine):
    """Stops every run itself, as ComfyUI's dashboard or a shutdown would: no client asked."""

    def run(self, workflow, inputs, log, cancelled):
        log("got prompt")
        cancelled.set()
        raise RunCancelled("ComfyUI interrupted the run")


def test_with_history_a_run_cancelled_on_the_server_is_kept_as_cancelled(tmp_path, monkeypatch):
    monkeypatch.setattr("viewcomfy_ui.ui.main.make_engine", lambda *_: StoppedOnTheServer())
    settings = {"data_dir": tmp_path, "protocol": "realtime"}
    with running_app(**settings) as (url, app), gradio_client(url) as client:
        out = dict(zip(endpoint_ids(app.page)[1], client.predict(api_name="/run"), strict=True))
    assert 'data-state="cancelled"' in out["status"] and "Cancelled on the server" in out["status"]
    [kept] = out["history-gallery"]
    assert " · cancelled" in kept["caption"], "kept as cancelled, not failed"
