"""The app shows a curated form's picked outputs as its results (the rest under "Other
outputs"), driven with gradio_client against a scripted ViewComfy server."""

from __future__ import annotations

import json
from pathlib import Path

from apps import running_app
from scripted_server import Reply, ScriptedServer, result_json
from test_app import PNG_1PX, RunApi

APPS = Path(__file__).parent / "data" / "apps"


def test_a_curated_form_shows_the_outputs_its_author_picked(tmp_path):
    workflow = json.loads((APPS / "mcww_titles_api.json").read_text())  # output: SaveImage 9
    workflow["12"] = {
        "class_type": "SaveImage",
        "inputs": {"filename_prefix": "mask", "images": ["8", 0]},
    }
    workflow["13"] = {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}}
    path = tmp_path / "mcww_api.json"
    path.write_text(json.dumps(workflow))
    names = ["mask_00001_.png", "mcww_00001_.png", "ComfyUI_temp_abcde_00001_.png"]
    outputs = [{"filename": n, "content_type": "image/png", "data": PNG_1PX} for n in names]
    with ScriptedServer() as scripted:
        scripted.replies.append(
            Reply(201, {"Content-Type": "application/json"}, result_json(outputs).encode())
        )
        settings = {"api_url": scripted.url, "client_id": "id", "client_secret": "secret"}
        with running_app(path, **settings) as (url, app):
            api = RunApi(url, app.page)
            try:
                out = api.run(mode="plain")
            finally:
                api.close()
    assert [Path(i["image"]).name for i in out["gallery"]] == ["mcww_00001_.png"]
    shown = out["other-gallery"]  # an update: shown, with its value
    others = [Path(i["image"]).name for i in shown["value"]]
    assert others == ["mask_00001_.png", "ComfyUI_temp_abcde_00001_.png"]
    assert len(out["files"]) == 4, "every output is downloadable, and the zip"
