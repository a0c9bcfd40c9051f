"""Widget fidelity without a server: kinds inferred from bundled data + rules vs. a real server's.

    python bench/bench_fidelity.py [TRUTH_OBJECT_INFO] [CORPUS_DIR]

TRUTH_OBJECT_INFO is the full ``/object_info`` of a real ComfyUI with the custom node packs
installed (made by ``scripts/build_custom_nodes.py --dump``; default
``/work/comfy/object_info-0.3.64-packs.json``, kept outside the repository), with the upload
widgets the packs' JavaScript adds marked as the frontend shows them (``frontend_uploads``). For every literal
input of every corpus workflow, the field kind from ``infer_fields(params)`` (no server) and
from ``infer_fields(params, object_info=<bundled core + custom>)`` (what the no-server path
gives once fields.py consults ``bundled_specs()``) is compared with the kind from
``infer_fields(params, object_info=<truth>)``, separately for core nodes, custom nodes the truth
declares, and classes nobody declares (newer core, packs not installed: no truth, not scored).
Also lists the inputs core workflows save that core nodes do not declare (frontend-only keys).
"""

from __future__ import annotations

import json
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


def kinds(workflow, object_info=None) -> dict[str, str]:
    return {f.key: f.kind for f in infer_fields(workflow, object_info)}


def main() -> None:
    if not TRUTH.exists():
        sys.exit(f"{TRUTH}: no such file; dump a real ComfyUI's /object_info first (see docstring)")
    truth_info = frontend_uploads(json.loads(TRUTH.read_text()))
    core = core_object_info()
    bundled = {**custom_object_info(), **core}
    scores = {g: Counter() for g in ("core", "custom", "undeclared")}
    misses: dict[str, Counter] = {"today": Counter(), "bundled": Counter()}
    frontend_only: Counter = Counter()
    for path in sorted(CORPUS.glob("*.json")):
        workflow = load_workflow(path)
        truth, today, with_bundled = (
            kinds(workflow, truth_info),
            kinds(workflow),
            kinds(workflow, bundled),
        )
        for node_id, node in workflow.api.items():
            class_type = node.get("class_type")
            group = (
                "core"
                if class_type in core
                else "custom"
                if class_type in truth_info
                else "undeclared"
            )
            for name, value in (node.get("inputs") or {}).items():
                if is_link(value):
                    continue
                if group == "core" and name not in _declared(core[class_type]):
                    frontend_only[f"{class_type}.{name}"] += 1
                key = f"{node_id}-inputs-{name}"
                want = truth.get(key)
                scores[group]["inputs"] += 1
                for label, got in (("today", today.get(key)), ("bundled", with_bundled.get(key))):
                    if got == want:
                        scores[group][label] += 1
                    elif group != "undeclared":
                        misses[label][f"{class_type}.{name}: {got} (want {want})"] += 1
    for group, score in scores.items():
        n = score["inputs"] or 1
        note = " (no truth: both sides guess)" if group == "undeclared" else ""
        print(
            f"{group:10} {score['inputs']:5} literal inputs: today {100 * score['today'] / n:5.1f} %, "
            f"with bundled declarations {100 * score['bundled'] / n:5.1f} %{note}"
        )
    for label, counter in misses.items():
        print(f"\nwrong kinds {label} ({sum(counter.values())}), most frequent:")
        for text, count in counter.most_common(12):
            print(f"  {count:4}  {text}")
    print(f"\ncore inputs saved in workflows but not declared by core ({len(frontend_only)}):")
    for text, count in sorted(frontend_only.items()):
        print(f"  {count:4}  {text}")


def _declared(info: dict) -> set[str]:
    inputs = info.get("input") or {}
    return {*(inputs.get("required") or {}), *(inputs.get("optional") or {})}


if __name__ == "__main__":
    main()
