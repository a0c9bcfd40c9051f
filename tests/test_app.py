"""The app's run endpoint, driven with gradio_client against real servers on loopback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from apps import running_app
from gradio_client import Client, handle_file
from PIL import Image
from scripted_server import Reply, ScriptedServer, result_json, sse, stream

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "top-secret-value-42"


def by_label(client: Client) -> dict[str, int]:
    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/run"][
        "parameters"
    ]
    return {p["label"]: i for i, p in enumerate(params)}, [
        p.get("parameter_default") for p in params
    ]


def outputs(result) -> dict[str, object]:
    status, logs, gallery, *rest = result
    return {
        "status": status,
        "logs": logs,
        "gallery": gallery,
        "files": rest[5],
        "params": rest[6],
        "python": rest[7],
        "curl": rest[8],
    }


@pytest.fixture(scope="module")
def demo():
    with running_app() as (url, _):
        yield Client(url, verbose=False)


def test_default_run_on_local_engine_returns_gallery_and_zip(demo):
    out = outputs(demo.predict(api_name="/run"))
    assert 'data-state="done"' in out["status"]
    assert out["logs"].startswith("got prompt") and "Prompt executed" in out["logs"]
    assert len(out["gallery"]) == 2
    assert any(path.endswith("all_outputs.zip") for path in out["files"])
    assert "3-inputs-value" in json.loads(out["params"]), (
        "an unchanged form still sends a fresh seed"
    )


def test_upload_and_changed_values_reach_the_engine(demo, tmp_path):
    labels, defaults = by_label(demo)
    image = tmp_path / "mine.png"
    Image.new("RGBA", (50, 40), (200, 10, 10, 128)).save(image)
    args = list(defaults)
    args[labels["Photo"]] = handle_file(str(image))
    args[labels["Width (Resize)"]] = 64
    args[labels["Width (Tint)"]] = 64
    out = outputs(demo.predict(*args, api_name="/run"))
    assert 'data-state="done"' in out["status"]
    png = next(item["image"] for item in out["gallery"] if item["image"].endswith(".png"))
    assert Image.open(png).size[0] == 64
    sent = json.loads(out["params"])
    assert sent["2-inputs-width"] == 64 and sent["1-inputs-image"] == "<file: mine.png>"


def test_out_of_range_value_is_refused_before_sending(demo):
    labels, defaults = by_label(demo)
    args = list(defaults)
    args[labels["Width (Resize)"]] = 99999
    with pytest.raises(Exception, match="400"):  # Gradio's own range check on the number
        demo.predict(*args, api_name="/run")
    args = list(defaults)
    args[labels["Tint seed"]] = "12abc"
    with pytest.raises(Exception, match="enter a whole number"):  # our validator, on the seed text
        demo.predict(*args, api_name="/run")


@pytest.fixture
def scripted():
    with ScriptedServer() as server:
        yield server


def test_401_is_shown_as_a_readable_message_without_the_secret(scripted):
    scripted.replies.append(
        Reply(401, {"Content-Type": "application/json"}, b'{"detail": "Invalid API key"}')
    )
    with running_app(
        FIXTURES / "sd15_txt2img.json", api_url=scripted.url, client_id="id", client_secret=SECRET
    ) as (url, _):
        out = outputs(Client(url, verbose=False).predict(api_name="/run"))
    assert 'data-state="failed"' in out["status"] and "refused the API key" in out["status"]
    assert SECRET not in json.dumps(out)
    assert scripted.requests[0].headers["client_secret"] == SECRET


def test_error_event_keeps_the_logs_so_far(scripted):
    body = (
        sse("log_message", "got prompt")
        + sse("log_message", "loading model")
        + sse("error", "<b>OOM</b> in KSampler")
    )
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, stream([body])))
    with running_app(
        FIXTURES / "sd15_txt2img.json", api_url=scripted.url, client_id="id", client_secret=SECRET
    ) as (url, _):
        out = outputs(Client(url, verbose=False).predict(api_name="/run"))
    assert "Failed: the run failed: &lt;b&gt;OOM&lt;/b&gt; in KSampler" in out["status"]
    assert out["logs"] == "got prompt\nloading model"


def test_missing_keys_disable_run_and_say_what_to_set(scripted):
    with running_app(FIXTURES / "sd15_txt2img.json", api_url=scripted.url) as (_url, app):
        config = app.page.config
    status = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "status")
    assert "VIEWCOMFY_CLIENT_SECRET" in status["props"]["value"]
    run = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "run")
    assert run["props"]["interactive"] is False


def test_plain_request_mode_uses_infer(scripted):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    out_json = result_json(
        [{"filename": "../../x.png", "content_type": "image/png", "data": png, "size": 70}]
    )
    scripted.replies.append(Reply(201, {"Content-Type": "application/json"}, out_json.encode()))
    with running_app(
        FIXTURES / "sd15_txt2img.json", api_url=scripted.url, client_id="id", client_secret=SECRET
    ) as (url, _):
        client = Client(url, verbose=False)
        labels, defaults = by_label(client)
        args = list(defaults)
        args[labels["Request"]] = "plain"
        args[labels["Positive prompt"]] = "a red fox"
        out = outputs(client.predict(*args, api_name="/run"))
    assert scripted.requests[0].fields["logs"] == "false"
    sent = json.loads(scripted.requests[0].fields["params"])
    assert sent["6-inputs-text"] == "a red fox"
    assert Path(out["gallery"][0]["image"]).name == "x.png"


def test_uploaded_image_keeps_its_transparency(scripted, tmp_path):
    scripted.replies.append(
        Reply(201, {"Content-Type": "application/json"}, result_json().encode())
    )
    image = tmp_path / "cutout.png"
    Image.new("RGBA", (30, 20), (0, 200, 0, 60)).save(image)
    with running_app(
        FIXTURES / "sd15_img2img.json", api_url=scripted.url, client_id="id", client_secret=SECRET
    ) as (url, _):
        client = Client(url, verbose=False)
        labels, defaults = by_label(client)
        args = list(defaults)
        args[labels["Image"]] = handle_file(str(image))
        client.predict(*args, api_name="/run")
    _, data = scripted.requests[0].files["10-inputs-image"]
    sent = Image.open(io.BytesIO(data))
    assert sent.mode == "RGBA" and sent.getpixel((0, 0)) == (0, 200, 0, 60)


def test_thousands_of_log_lines_keep_the_panel_bounded(scripted):
    lines = b"".join(sse("log_message", f"line {i}") for i in range(5000))
    body = lines + sse("prompt_result", result_json())
    scripted.replies.append(
        Reply(
            201,
            {"Content-Type": "text/event-stream"},
            stream([body[i : i + 4096] for i in range(0, len(body), 4096)]),
        )
    )
    with running_app(
        FIXTURES / "sd15_txt2img.json", api_url=scripted.url, client_id="id", client_secret=SECRET
    ) as (url, _):
        client = Client(url, verbose=False)
        job = client.submit(api_name="/run")
        job.result(timeout=60)
        updates = job.outputs()
    final = outputs(updates[-1])
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
    with running_app(workflow) as (url, _):
        client = Client(url, verbose=False)
        labels, defaults = by_label(client)
        args = list(defaults)
        assert args[labels["Color"]] == "#000000"
        args[labels["Color"]] = "#ff8000"
        out = outputs(client.predict(*args, api_name="/run"))
    assert Image.open(out["gallery"][0]["image"]).convert("RGB").getpixel((0, 0)) == (255, 128, 0)


def test_an_output_named_like_the_zip_does_not_clash_with_it(scripted):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    outs = [
        {
            "filename": "all_outputs.zip",
            "content_type": "application/zip",
            "data": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==",
            "size": 22,
        },
        {"filename": "a.png", "content_type": "image/png", "data": png, "size": 70},
    ]
    scripted.replies.append(
        Reply(201, {"Content-Type": "application/json"}, result_json(outs).encode())
    )
    with running_app(
        FIXTURES / "sd15_txt2img.json", api_url=scripted.url, client_id="id", client_secret=SECRET
    ) as (url, _):
        client = Client(url, verbose=False)
        labels, defaults = by_label(client)
        args = list(defaults)
        args[labels["Request"]] = "plain"
        files = outputs(client.predict(*args, api_name="/run"))["files"]
    assert len(files) == 3
    import zipfile

    archive = next(
        f for f in files if zipfile.is_zipfile(f) and len(zipfile.ZipFile(f).namelist()) == 2
    )
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["a.png", "all_outputs.zip"]
