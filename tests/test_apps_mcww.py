"""MCWW's title markers ``<Label:category[/tab]:row[/col]> args`` become fields (fixture built
from MCWW's title documentation: ``tests/data/apps/SOURCES.md``)."""

from __future__ import annotations

import json
from pathlib import Path

from viewcomfy_ui.apps import read_app, read_mcww
from viewcomfy_ui.workflow import load_workflow

FILE = Path(__file__).parent / "data" / "apps" / "mcww_titles_api.json"


def test_marked_nodes_are_the_form_by_category_tab_row_and_column():
    app = read_app(load_workflow(FILE))
    fields = app.fields()
    assert [(f.key, f.label, f.kind, f.value, f.advanced) for f in fields] == [
        ("6-inputs-text", "Prompt", "textarea", "a cat in a garden", False),
        ("10-inputs-image", "Image", "image", "cat.png", False),
        ("22-inputs-value", "Steps", "int", 20, False),  # important: under the outputs
        ("21-inputs-value", "Seed", "seed", 42, True),  # advanced row 2, column 1
        ("20-inputs-value", "CFG", "float", 7.0, True),  # column 2
        ("23-inputs-value", "Enabled", "bool", True, True),  # a custom category
    ]
    assert app.outputs == ("9",)
    by_label = {f.label: f for f in fields}
    assert (by_label["CFG"].minimum, by_label["CFG"].maximum, by_label["CFG"].step) == (1, 10, 0.1)
    assert (by_label["Steps"].minimum, by_label["Steps"].maximum) == (1, 50)
    assert by_label["Image"].node_title == "Reference"  # its tab
    assert by_label["Enabled"].node_title == "ControlNet"
    assert by_label["Prompt"].node_title == "Prompt"  # no raw marker shown


def test_a_nodes_field_is_its_first_unlinked_input_by_mcwws_preference():
    data = json.loads(FILE.read_text())
    data["3"]["_meta"]["title"] = "<Sampler:advanced:3>"  # KSampler: no upload, no text, no bool
    fields = {f.label: f for f in read_mcww(load_workflow(data)).fields()}
    assert fields["Sampler"].key == "3-inputs-denoise"  # its first literal number input
    data["3"]["_meta"]["title"] = "KSampler"
    data["6"]["_meta"]["title"] = "Prompt"
    data["10"]["_meta"]["title"] = "Load Image"
    for node_id in ("20", "21", "22", "23", "9"):
        data[node_id]["_meta"]["title"] = "plain"
    assert read_mcww(load_workflow(data)) is None
