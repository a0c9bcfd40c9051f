"""Which outputs are a run's results and which are by-products, from the workflow and names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from viewcomfy_ui.media import media_kind
from viewcomfy_ui.output_pick import OutputPick

FIXTURES = Path(__file__).parent / "fixtures"


def node(class_type: str, **inputs) -> dict:
    return {"class_type": class_type, "inputs": inputs}


MESH = {  # as the corpus's 3d-mesh workflow: a SaveGLB and a PreviewImage of the render
    "82": node("SaveGLB", filename_prefix="3d_mesh", mesh=["80", 0]),
    "93": node("PreviewImage", images=["90", 0]),
}


def test_save_node_outputs_are_results_and_previews_are_not():
    pick = OutputPick.of(MESH)
    names = ["3d_mesh_00001_.glb", "ComfyUI_temp_qwert_00001_.png", "ComfyUI_temp_qwert_00002_.png"]
    assert pick.results(names) == [True, False, False]


def test_thirty_files_for_four_wanted_images_show_the_four():
    workflow = {
        "9": node("SaveImage", filename_prefix="portraits/%date:yyyy-MM-dd%/face"),
        "12": node("PreviewImage", images=["8", 0]),
        "13": node("PreviewImage", images=["10", 0]),
    }
    saved = [f"face_{n:05}_.png" for n in range(1, 5)]
    previews = [f"ComfyUI_temp_abcde_{n:05}_.png" for n in range(1, 27)]
    flags = OutputPick.of(workflow).results(previews[:13] + saved + previews[13:])
    assert flags.count(True) == 4 and flags[13:17] == [True] * 4


def test_the_longest_prefix_names_the_node():
    workflow = json.loads((FIXTURES.parent.parent / "examples" / "photo_effects.json").read_text())
    pick = OutputPick.of(workflow)
    assert pick.origin("photo_effects_00001_.png").node_id == "9"
    assert pick.origin("photo_effects_anim_00001_.webp").node_id == "11"


def test_video_combine_without_save_is_a_by_product():
    workflow = {
        "5": node("VHS_VideoCombine", filename_prefix="RVM", save_output=False),
        "6": node("VHS_VideoCombine", filename_prefix="RVM_final", save_output=True),
        "7": node("SaveAudio", filename_prefix="audio/track"),
    }
    names = ["RVM_00001.mp4", "RVM_final_00001.mp4", "track_00001_.flac", "RVM_00001.png"]
    assert OutputPick.of(workflow).results(names) == [False, True, True, False]


def test_prefix_tokens_match_anything():
    workflow = {"9": node("SaveImage", filename_prefix="%KSampler.seed%_img")}
    assert OutputPick.of(workflow).results(["1234_img_00001_.png", "ComfyUI_temp_abcde_1.png"]) == [
        True,
        False,
    ]


@pytest.mark.parametrize(
    "names",
    [
        ["ComfyUI_temp_abcde_00001_.png"],  # only previews: the only result stays
        ["ComfyUI_temp_abcde_00001_.png", "ComfyUI_temp_abcde_00002_.png"],
    ],
)
def test_a_users_only_outputs_are_never_hidden(names):
    assert OutputPick.of(MESH).results(names) == [True] * len(names)


def test_names_no_rule_places_are_results():
    names = ["3d_mesh_00001_.glb", "output.txt", "ComfyUI_temp_abcde_00001_.png"]
    assert OutputPick.of(MESH).results(names) == [True, True, False]


def test_the_builtin_engines_previews_are_previews():
    workflow = {"9": node("SaveImage", filename_prefix="ComfyUI"), "10": node("PreviewImage")}
    names = ["ComfyUI_00001_.png", "ComfyUI_temp_00001_.png"]
    assert OutputPick.of(workflow).results(names) == [True, False]


def test_without_a_graph_names_still_tell_previews():
    names = ["ComfyUI_00001_.png", "ComfyUI_temp_abcde_00001_.png"]
    assert OutputPick.of(None).results(names) == [True, False]
    assert OutputPick().results(["a/b/ComfyUI_temp_abcde_00001_.png", "x.png"]) == [False, True]


def test_a_curated_form_shows_the_outputs_its_author_picked():
    workflow = {
        "9": node("SaveImage", filename_prefix="final"),
        "10": node("SaveImage", filename_prefix="mask"),
        "11": node("PreviewImage", images=["3", 0]),
    }
    names = ["final_00001_.png", "mask_00001_.png", "ComfyUI_temp_abcde_00001_.png"]
    assert OutputPick.of(workflow, ["10"]).results(names) == [False, True, False]
    assert OutputPick.of(workflow, ["11"]).results(names) == [False, False, True]
    assert OutputPick.of(workflow, ["9", "11"]).results(names) == [True, False, True]


def test_hostile_names_and_graphs_do_not_break_it():
    workflow = {"1": "not a node", "2": node("SaveImage", filename_prefix="a(b]*"), "3": {}}
    pick = OutputPick.of(workflow)
    assert pick.results(["a(b]*_00001_.png", "../../etc/passwd"]) == [True, True]
    assert OutputPick.of({"2": node("SaveImage", filename_prefix="%date%")}).nodes[0].names is None


@pytest.mark.parametrize(
    ("name", "content_type", "head"),
    [
        ("mesh.glb", "application/octet-stream", b"glTF\x02\x00\x00\x00"),
        ("mesh.gltf", "application/json", b'{"asset":'),
        ("mesh.obj", "text/plain", b"v 0 0 0\n"),
        ("cloud.ply", "application/octet-stream", b"ply\nformat "),
        ("scene.splat", "application/octet-stream", b"\x00\x00\x80?"),
        ("model", "model/gltf-binary", b""),
    ],
)
def test_3d_files_are_3d_whatever_type_the_server_gives(name, content_type, head):
    assert media_kind(name, content_type, head) == "model3d"
