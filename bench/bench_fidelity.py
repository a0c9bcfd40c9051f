"""Custom node fidelity: kinds inferred without a server, and with a live ``/object_info``,
vs. the kinds ComfyUI's frontend shows.

    python bench/bench_fidelity.py [TRUTH_OBJECT_INFO] [CORPUS_DIR]

TRUTH_OBJECT_INFO is the full ``/object_info`` of a real ComfyUI with the custom node packs
installed (made by ``scripts/build_custom_nodes.py --dump``; default
``/work/comfy/object_info-0.3.64-packs.json``, kept outside the repository). The truth is that
declaration with what the packs' JavaScript adds, as the frontend shows it (``frontend_view``:
VHS_LoadVideo.video is an upload, VHS_VideoCombine's ``crf`` an INT of its format). For every literal input of every
corpus workflow, the field kind from ``infer_fields(workflow)`` (no server: bundled
declarations and rules) and from ``infer_fields(workflow, object_info=<the raw dump>)`` (a live
server) is compared with the kind from ``infer_fields(workflow, object_info=<truth>)``,
separately for core nodes, custom nodes the truth declares, and classes nobody declares (newer
core, packs not installed: no truth, not scored). Also counts, per pack, the corpus classes the
bundle lacks, and lists the inputs core workflows save that core nodes do not declare.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from build_custom_nodes import frontend_uploads  # noqa: E402

from viewcomfy_ui.fields import infer_fields  # noqa: E402
from viewcomfy_ui.nodespecs import core_object_info, custom_object_info  # noqa: E402
from viewcomfy_ui.workflow import is_link, load_workflow  # noqa: E402

TRUTH = (
    Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/comfy/object_info-0.3.64-packs.json")
)
CORPUS = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT.parent / "shared" / "corpus" / "workflows"


def frontend_view(object_info: dict) -> dict:
    """The declarations as ComfyUI's frontend shows them: the packs' JavaScript uploads
    (``frontend_uploads``) and each format's widgets (VHS_VideoCombine's ``pix_fmt``, ``crf``...,
    declared only inside its ``format`` option) as inputs of their node."""
    view = frontend_uploads(copy.deepcopy(object_info))
    for info in view.values():
        sections = info.get("input") or {}
        for section in list(sections.values()):
            for spec in list((section or {}).values()):
                opts = spec[1] if isinstance(spec, list) and len(spec) > 1 else None
                formats = opts.get("formats") if isinstance(opts, dict) else None
                for widgets in (formats or {}).values():
                    for name, *declared in widgets:
                        sections.setdefault("optional", {}).setdefault(name, declared)
    return view


def kinds(workflow, object_info=None) -> dict[str, str]:
    return {f.key: f.kind for f in infer_fields(workflow, object_info)}


def main() -> None:
    if not TRUTH.exists():
        sys.exit(f"{TRUTH}: no such file; dump a real ComfyUI's /object_info first (see docstring)")
    live = json.loads(TRUTH.read_text())
    truth_info = frontend_view(live)
    core, bundled = core_object_info(), custom_object_info()
    scores = {g: Counter() for g in ("core", "custom", "undeclared")}
    misses: dict[str, Counter] = {"no server": Counter(), "live": Counter()}
    frontend_only: Counter = Counter()
    missing_classes: Counter = Counter()
    for path in sorted(CORPUS.glob("*.json")):
        workflow = load_workflow(path)
        truth, alone, served = kinds(workflow, truth_info), kinds(workflow), kinds(workflow, live)
        for node_id, node in workflow.api.items():
            class_type = node.get("class_type")
            group = (
                "core"
                if class_type in core
                else "custom"
                if class_type in truth_info
                else "undeclared"
            )
            if group == "custom" and class_type not in bundled:
                missing_classes[f"{truth_info[class_type].get('python_module')}: {class_type}"] += 1
            for name, value in (node.get("inputs") or {}).items():
                if is_link(value):
                    continue
                if group == "core" and name not in _declared(core[class_type]):
                    frontend_only[f"{class_type}.{name}"] += 1
                key = f"{node_id}-inputs-{name}"
                want = truth.get(key)
                scores[group]["inputs"] += 1
                for label, got in (("no server", alone.get(key)), ("live", served.get(key))):
                    if got == want:
                        scores[group][label] += 1
                    elif group != "undeclared":
                        misses[label][f"{class_type}.{name}: {got} (want {want})"] += 1
    for group, score in scores.items():
        n = score["inputs"] or 1
        note = " (no truth: all sides guess)" if group == "undeclared" else ""
        print(
            f"{group:10} {score['inputs']:5} literal inputs: without a server "
            f"{100 * score['no server'] / n:5.1f} %, with a live /object_info "
            f"{100 * score['live'] / n:5.1f} %{note}"
        )
    for label, counter in misses.items():
        print(f"\nwrong kinds, {label} ({sum(counter.values())}), most frequent:")
        for text, count in counter.most_common(int(os.environ.get("TOP", "15"))):
            print(f"  {count:4}  {text}")
    print(
        f"\ncorpus nodes of classes the truth declares but the bundle lacks ({len(missing_classes)}):"
    )
    for text, count in missing_classes.most_common(25):
        print(f"  {count:4}  {text}")
    print(f"\ncore inputs saved in workflows but not declared by core ({len(frontend_only)}):")
    for text, count in sorted(frontend_only.items()):
        print(f"  {count:4}  {text}")


def _declared(info: dict) -> set[str]:
    inputs = info.get("input") or {}
    return {*(inputs.get("required") or {}), *(inputs.get("optional") or {})}


if __name__ == "__main__":
    main()
