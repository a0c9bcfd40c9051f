"""Apps made for other tools load through the app's one path (file -> form): the author's
picks, in the author's order, instead of the inferred form."""

from __future__ import annotations

import json
from pathlib import Path

from viewcomfy_ui.ui.main import _forms

DATA = Path(__file__).parent / "data"


def test_app_mode_picks_in_a_ui_file_are_the_form_in_their_order(tmp_path):
    ui = json.loads((DATA / "ui_format" / "photo_groups.json").read_text())
    ui["extra"]["linearData"] = {"inputs": [[3, "sigma"], ["1", "image"]], "outputs": [6]}
    path = tmp_path / "app.json"
    path.write_text(json.dumps(ui))
    (form,) = _forms(path)
    assert form.curated is not None, "App Mode picks make a curated form"
    fields = form.fields(None)
    assert [f.key for f in fields] == ["3-inputs-sigma", "1-inputs-image"]
    assert fields[0].value == 1.5 and fields[1].kind == "image"


def test_a_ui_file_without_picks_keeps_the_inferred_form(tmp_path):
    (form,) = _forms(DATA / "ui_format" / "photo_groups.json")
    assert form.curated is None
    assert "3-inputs-sigma" in {f.key for f in form.fields(None)}


def test_api_files_with_other_tools_inputs_are_curated_forms():
    for name in ("swarmui_inputs_api.json", "mcww_titles_api.json", "comfydeploy_inputs_api.json"):
        (form,) = _forms(DATA / "apps" / name)
        assert form.curated is not None, name
        assert form.fields(None), name
