"""rgthree's Power Lora Loader rows: what /object_info does not declare, the form still shows."""

from __future__ import annotations

import gradio as gr

from viewcomfy_ui.fields import infer_fields
from viewcomfy_ui.ui.kinds import field_widget, kind_of
from viewcomfy_ui.workflow import apply_params

API = {
    "10": {
        "class_type": "Power Lora Loader (rgthree)",
        "inputs": {
            "PowerLoraLoaderHeaderWidget": {"type": "PowerLoraLoaderHeaderWidget"},
            "lora_1": {"on": True, "lora": "detail.safetensors", "strength": 0.8},
            "lora_2": {"on": False, "lora": "style.safetensors", "strength": 1, "strengthTwo": 1},
            "➕ Add Lora": "",
            "model": ["4", 0],
            "clip": ["4", 1],
        },
        "_meta": {"title": "Power Lora Loader (rgthree)"},
    }
}
LIVE = {  # what a server with rgthree says: none of the rows
    "Power Lora Loader (rgthree)": {
        "input": {"required": {}, "optional": {"model": ["MODEL"], "clip": ["CLIP"]}},
        "display_name": "Power Lora Loader (rgthree)",
    }
}


def test_each_row_is_a_lora_field_and_the_widgets_of_the_loader_are_not_fields():
    for info in (None, LIVE):
        fields = {f.input_name: f for f in infer_fields(API, info)}
        assert set(fields) == {"lora_1", "lora_2"}
        assert fields["lora_1"].kind == "lora"
        assert fields["lora_1"].value == {"on": True, "lora": "detail.safetensors", "strength": 0.8}


def test_a_row_edited_in_its_table_goes_back_as_the_dict_rgthree_reads():
    row = next(f for f in infer_fields(API) if f.input_name == "lora_2")
    kind = kind_of(row)
    with gr.Blocks():
        widget = field_widget(row)
    assert isinstance(widget.component, gr.Dataframe)
    assert kind.reset(row, None) == [[False, "style.safetensors", 1]]
    edited = [[True, "style.safetensors", "0.5"]]
    assert kind.validate(row, edited) is None
    value = kind.coerce(row, edited)
    assert value == {"on": True, "lora": "style.safetensors", "strength": 0.5, "strengthTwo": 1}
    applied = apply_params(API, {row.key: value})
    assert applied["10"]["inputs"]["lora_2"]["on"] is True
    assert kind.validate(row, [[True, "", 1]]) and kind.validate(row, [[True, "a", "x"]])
