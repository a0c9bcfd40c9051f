"""The form a tab keeps in its sessionStorage comes back on load as far as it fits: values a
field refuses and files outside Gradio's own upload folder are left out, and a lost upload is
named in a warning."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import gradio as gr
import pytest
from gradio.utils import get_upload_folder

from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.fields import infer_fields
from viewcomfy_ui.ui.form_keeper import FormKeeper
from viewcomfy_ui.ui.kinds import field_widget
from viewcomfy_ui.workflow import load_workflow

BLUR, SEED, IMAGE = "6-inputs-blur_radius", "3-inputs-value", "1-inputs-image"


@pytest.fixture
def keeper() -> FormKeeper:
    with gr.Blocks():
        widgets = [field_widget(f) for f in infer_fields(load_workflow(DEMO_WORKFLOW))]
        return FormKeeper(widgets)


def restored(keeper: FormKeeper, kept: dict) -> dict[str, object]:
    shown = keeper.restore(json.dumps(kept))
    by_component = {w.component: w.field.key for w in keeper.widgets}
    by_component |= {w.mode: w.field.key + "#mode" for w in keeper.widgets if w.mode}
    return {by_component[c]: v for c, v in shown.items() if c in by_component}


def test_values_that_fit_come_back_and_others_do_not(keeper):
    form = restored(keeper, {BLUR: 7, SEED: 42, f"{SEED}#mode": "fixed", "6-inputs-x": 1})
    assert form == {BLUR: 7, SEED: 42, f"{SEED}#mode": "fixed"}
    refused = restored(keeper, {BLUR: "<script>", f"{SEED}#mode": "sideways"})
    assert BLUR not in refused and f"{SEED}#mode" not in refused


def test_an_upload_comes_back_only_from_gradios_upload_folder(keeper, tmp_path):
    upload = Path(get_upload_folder()) / "test-form-keeper" / "photo.png"
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(b"\x89PNG")
    try:
        assert restored(keeper, {IMAGE: {"path": str(upload)}}) == {IMAGE: str(upload.resolve())}
        outside = tmp_path / "secret.png"
        outside.write_bytes(b"x")
        for hostile in (str(outside), "/etc/passwd", f"{upload.parent}/../../../etc/passwd"):
            with pytest.warns(UserWarning, match="without the upload of"):
                assert IMAGE not in restored(keeper, {IMAGE: {"path": hostile}})
    finally:
        upload.unlink()


def test_nothing_kept_restores_nothing(keeper):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for saved in (None, "", "not json", "[1, 2]"):
            assert restored(keeper, {}) == {} and keeper.restore(saved) == {keeper.saved: None}
