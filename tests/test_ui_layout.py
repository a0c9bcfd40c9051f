"""What a UI-format file's canvas says about the form: notes as the help of sections (never of a
field), shown as inert Markdown, and fields inside subgraph instances named after them."""

from __future__ import annotations

import json
from pathlib import Path

from viewcomfy_ui.fields import infer_fields
from viewcomfy_ui.ui.note_markdown import note_markdown
from viewcomfy_ui.workflow import load_workflow

DATA = Path(__file__).parent / "data" / "ui_format"


def node(node_id: int, type_: str, values: list, pos: list, size=(300, 120), **more) -> dict:
    return {
        "id": node_id, "type": type_, "mode": 0, "widgets_values": values,
        "pos": pos, "size": list(size), **more,
    }  # fmt: skip


def note(node_id: int, text: str, pos: list) -> dict:
    return node(node_id, "Note", [text], pos, size=(300, 100))


def graph(*nodes: dict, groups: list | None = None) -> dict:
    """An empty image saved, laid out on a canvas, with `nodes` (notes) added."""
    base = [
        node(1, "EmptyImage", [512, 512, 1, 0], [0, 0]),
        node(2, "ImageBlur", [3, 1.0], [400, 0], inputs=[{"name": "image", "link": 1}]),
        node(3, "SaveImage", ["out"], [800, 0], inputs=[{"name": "images", "link": 2}]),
    ]
    links = [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"]]
    return {"nodes": base + list(nodes), "links": links, "groups": groups or []}


def helped(ui: dict) -> dict[str, str]:
    """The section help texts of the form, by the title of the section showing them."""
    fields = infer_fields(load_workflow(ui))
    assert all(f.help is None for f in fields)  # never a field's own info line
    return {f.node_title: f.section_help for f in fields if f.section_help}


def test_a_note_next_to_a_node_is_its_sections_help_not_its_first_fields():
    # image2image.json: the note about denoise sat under the KSampler's Seed
    fields = infer_fields(load_workflow(graph(note(9, "Mind the **sigma**.", [400, 200]))))
    blur = [f for f in fields if f.node_id == "2"]
    assert [f.section_help for f in blur] == ["Mind the **sigma**.", None]
    assert all(f.help is None for f in blur)


def test_a_note_outside_a_group_next_to_a_grouped_node_is_that_groups_help():
    # the s2v template: a note beside the "Video S2V Extend" group, about it
    groups = [{"title": "Look", "bounding": [380, -80, 360, 260]}]
    ui = graph(note(9, "Chain more of these.", [400, 250]), groups=groups)
    assert helped(ui) == {"Look": "Chain more of these."}


def test_a_note_far_from_every_node_goes_to_the_top_of_the_form():
    ui = graph(note(9, "About this workflow.", [5000, 5000]))
    fields = infer_fields(load_workflow(ui))
    first_open = next(f for f in fields if not f.advanced)
    assert first_open.section_help == "About this workflow."
    assert [f.key for f in fields if f.section_help] == [first_open.key]


def test_a_group_holding_only_a_note_does_not_lose_it():
    groups = [{"title": "Read me", "bounding": [2000, 2000, 400, 300]}]
    ui = graph(note(9, "Models go in models/.", [2050, 2080]), groups=groups)
    assert list(helped(ui).values()) == ["Models go in models/."]


def test_nodes_inside_subgraph_instances_are_named_after_them_not_by_internal_ids():
    fields = infer_fields(load_workflow(DATA / "subgraphs.json"))
    titles = {f.node_title for f in fields if ":" in f.node_id}
    assert titles == {f"Image Blur in New Subgraph #{i}" for i in (6, 7, 9)}
    assert not any(f"#{f.node_id}" in f.label for f in fields if ":" in f.node_id)


def test_nodes_sharing_a_title_in_one_subgraph_instance_keep_unique_titles():
    ui = json.loads((DATA / "subgraphs.json").read_text())
    inner = ui["definitions"]["subgraphs"][0]["nodes"]
    twin = {**next(n for n in inner if n["type"] == "ImageBlur"), "id": 40, "inputs": []}
    inner.append(twin)
    titles = {f.node_id: f.node_title for f in infer_fields(load_workflow(ui))}
    assert titles["7:3"] == "Image Blur in New Subgraph #7:3"
    assert titles["7:40"] == "Image Blur in New Subgraph #7:40"
    assert len({titles[n] for n in titles if ":" in n}) == len([n for n in titles if ":" in n])


def test_a_note_never_injects_html_nor_loads_images_from_elsewhere():
    shown = note_markdown(
        'Hi <script>alert(1)</script><img src=x onerror="alert(2)"> ![t](http://x.test/a.png) '
        "[ok](https://docs.comfy.org) [bad](javascript:alert(3))\n"
        "``<img src=y>` and \\`<img src=z>\\`\n"  # backticks Markdown does not take as code
        "```x`\n<img src=w>\n```\n"  # not a fence: its info string has a backtick
        "  ```python\nif a <b>: pass\n  ```"
    )
    assert "<script" not in shown and "<img" not in shown and "![" not in shown
    assert "[t](http://x.test/a.png)" in shown and "[ok](https://docs.comfy.org)" in shown
    assert "javascript:" not in shown
    assert "  ```python\nif a <b>: pass\n  ```" in shown  # a code block is shown as written


def test_a_long_note_is_cut_with_an_ellipsis_and_its_code_block_closed():
    shown = note_markdown("intro\n~~~~\n" + "x = 1 " * 1000)
    assert len(shown) < 2100 and "…" in shown and shown.endswith("…\n~~~~")
    assert note_markdown("short") == "short"
