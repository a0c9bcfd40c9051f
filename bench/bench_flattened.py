"""Flattened-parameter fidelity: the form from ``workflow_api_parameters.json`` vs the API file's.

    python bench/bench_flattened.py [OBJECT_INFO ...] [--corpus DIR] [--list]

Every API-format corpus workflow is flattened as ViewComfy writes it (``flatten``: each node's
``_meta.title``, no class types). Its fields from ``infer_fields(flat)`` are compared with those
from ``infer_fields(api)``, without ``/object_info`` (bundled declarations) and with each given
``/object_info`` file (default: the shared core one of ComfyUI 0.3.64). A field counts as right
when both forms have it with the same kind; a field only one side has is wrong. "exact" also
asks the same choices, range and step; "differ" counts the fields both forms have whose kind,
choices, step, minimum or maximum differ (``--list`` prints each: file, field, attribute, API
value, flattened value). Also: how many nodes got their class back, and how many got another
class (a wrong guess: its ranges and choices are not the node's).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from viewcomfy_ui.fields import Field, infer_fields, node_classes  # noqa: E402
from viewcomfy_ui.workflow import flatten, load_workflow  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "workflows"
OBJECT_INFO = ROOT.parent / "shared" / "comfyui" / "object_info-0.3.64.json"


ATTRIBUTES = ("kind", "choices", "step", "minimum", "maximum")


def _exact(f: Field) -> tuple:
    return tuple(getattr(f, name) for name in ATTRIBUTES)


def measure(workflows: list, object_info: dict | None, label: str, listing: bool = False) -> None:
    right = exact = total = nodes = recovered = guessed_wrong = 0
    misses: Counter = Counter()
    differ: Counter = Counter()
    for workflow in workflows:
        flat = flatten(workflow.api)
        want = {f.key: f for f in infer_fields(workflow.api, object_info)}
        got = {f.key: f for f in infer_fields(flat, object_info)}
        classes = node_classes(flat, object_info)
        nodes += len(workflow.api)
        recovered += sum(classes.get(n) == node["class_type"] for n, node in workflow.api.items())
        guessed_wrong += sum(
            classes.get(n) not in (None, node["class_type"]) for n, node in workflow.api.items()
        )
        for key in want.keys() | got.keys():
            total += 1
            w, g = want.get(key), got.get(key)
            if w and g:
                names = [name for name in ATTRIBUTES if getattr(w, name) != getattr(g, name)]
                differ.update(names)
                for name in names if listing else ():
                    print(
                        f"  {workflow.name} {key} {name}: {getattr(w, name)} | {getattr(g, name)}"
                    )
            if w and g and w.kind == g.kind:
                right += 1
                exact += _exact(w) == _exact(g)
            else:
                node = workflow.api[key.partition("-inputs-")[0]]
                name = key.partition("-inputs-")[2]
                found = classes.get(key.partition("-inputs-")[0])
                misses[
                    f"{node['class_type']}.{name}: {g and g.kind} (want {w and w.kind}) as {found}"
                ] += 1
    print(
        f"{label:34} {total:5} fields: right kind {100 * right / total:6.2f} %, "
        f"exact {100 * exact / total:6.2f} %; classes recovered {recovered}/{nodes} "
        f"({100 * recovered / nodes:.1f} %), another class {guessed_wrong}"
    )
    print(f"{'':34} differ: " + ", ".join(f"{name} {differ[name]}" for name in ATTRIBUTES))
    for text, count in misses.most_common(15):
        print(f"    {count:4}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("object_info", type=Path, nargs="*", default=[OBJECT_INFO])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--list", action="store_true", help="print each differing attribute")
    args = parser.parse_args()
    workflows = [load_workflow(p) for p in sorted(args.corpus.glob("*.json"))]
    measure(workflows, None, "without /object_info", args.list)
    for path in args.object_info:
        measure(workflows, json.loads(path.read_text()), f"with {path.name}", args.list)


if __name__ == "__main__":
    main()
