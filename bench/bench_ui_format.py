"""`ui_to_api` against the real frontend's exports: exactness over a folder of UI files, and the
time to convert the largest.

    python scripts/make_ui_truth.py TRUTH_DIR UI_DIR/*.json      # once, with a real ComfyUI
    python bench/bench_ui_format.py UI_DIR TRUTH_DIR [--object-info FILE_OR_URL] [-v]

A file counts when the frontend exported it and every node class is declared (bundled, or in
`--object-info`); a node is right when its class, title and all inputs are equal; an input is
right when its value is equal (a random ``{a|b}`` choice and ``%date%`` are compared as such).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from viewcomfy_ui.errors import WorkflowError
from viewcomfy_ui.fields import infer_fields
from viewcomfy_ui.object_info import load_object_info
from viewcomfy_ui.ui_format import ui_to_api
from viewcomfy_ui.workflow import load_workflow


def compare(mine: dict, truth: dict) -> tuple[int, int, int, int, list[str]]:
    """(nodes right, nodes, inputs right, inputs, differences)."""
    nodes_ok = inputs_ok = inputs = 0
    diffs = []
    for node_id in sorted(set(mine) | set(truth)):
        a, b = mine.get(node_id), truth.get(node_id)
        if a is None or b is None:
            diffs.append(f"node {node_id}: {'missing' if a is None else 'extra'}")
            inputs += len((b or {}).get("inputs", {}))
            continue
        names = set(a["inputs"]) | set(b["inputs"])
        right = [n for n in names if a["inputs"].get(n, KeyError) == b["inputs"].get(n, KeyError)]
        inputs += len(names)
        inputs_ok += len(right)
        for n in sorted(names - set(right)):
            diffs.append(
                f"{node_id}.{n}: {a['inputs'].get(n, '-')!r:.80} != {b['inputs'].get(n, '-')!r:.80}"
            )
        same = a["class_type"] == b["class_type"] and a["_meta"] == b["_meta"]
        if not same:
            diffs.append(
                f"node {node_id}: {a['class_type']}/{a['_meta']} != {b['class_type']}/{b['_meta']}"
            )
        nodes_ok += same and len(right) == len(names)
    return nodes_ok, len(set(mine) | set(truth)), inputs_ok, inputs, diffs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ui_dir", type=Path)
    parser.add_argument("truth_dir", type=Path)
    parser.add_argument("--object-info")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    object_info = load_object_info(args.object_info) if args.object_info else None
    totals = [0, 0, 0, 0]
    exact = counted = refused = 0
    converted: list[Path] = []
    for truth_path in sorted(args.truth_dir.glob("*.json")):
        ui_path = args.ui_dir / truth_path.name
        truth = json.loads(truth_path.read_text())
        if not ui_path.exists() or "error" in truth:
            continue
        try:
            mine = ui_to_api(json.loads(ui_path.read_text()), object_info)
        except WorkflowError as exc:
            refused += 1
            if args.verbose:
                print(f"{ui_path.name}: refused: {exc}")
            continue
        counted += 1
        converted.append(ui_path)
        result = compare(mine, truth)
        totals = [t + r for t, r in zip(totals, result[:4], strict=True)]
        exact += result[0] == result[1] and result[2] == result[3]
        if args.verbose and result[4]:
            print(f"{ui_path.name}:", *result[4][:8], sep="\n  ")
    print(f"files exact {exact}/{counted} (refused as unknown nodes: {refused})")
    print(f"nodes {totals[0]}/{totals[1]}  inputs {totals[2]}/{totals[3]}")
    largest = max(converted, key=lambda p: p.stat().st_size)
    data = json.loads(largest.read_text())
    took = []
    for _ in range(5):
        start = time.perf_counter()
        ui_to_api(data, object_info)
        took.append((time.perf_counter() - start) * 1000)
    print(
        f"largest converted {largest.name} ({largest.stat().st_size // 1024} KB): "
        f"best of 5 {min(took):.1f} ms, first {took[0]:.1f} ms"
    )
    start = time.perf_counter()
    workflow = load_workflow(largest, object_info=object_info)
    loaded = (time.perf_counter() - start) * 1000
    fields = infer_fields(workflow, object_info)
    total = (time.perf_counter() - start) * 1000
    print(
        f"  load_workflow (read, convert, layout) {loaded:.1f} ms; "
        f"with its form's {len(fields)} fields {total:.1f} ms"
    )


if __name__ == "__main__":
    main()
