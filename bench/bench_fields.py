"""`infer_fields` over the whole corpus: total and worst file (target: worst under 50 ms), and
the fields open at first on the three largest workflows (target: about 25, whole nodes).

    python bench/bench_fields.py [../shared/corpus/workflows]

Each file is loaded once, then inferred 5 times; the median per file is reported. Run with and
without the shared /object_info to see both paths.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from viewcomfy_ui.fields import infer_fields  # noqa: E402
from viewcomfy_ui.nodespecs import (  # noqa: E402
    bundled_specs,
    core_object_info,
    core_specs,
    custom_object_info,
)
from viewcomfy_ui.workflow import load_workflow  # noqa: E402

CORPUS = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "corpus" / "workflows"
OBJECT_INFO = ROOT.parent / "shared" / "comfyui" / "object_info-0.3.64.json"


def measure(object_info, label: str | None = None) -> None:
    workflows = [(p.name, load_workflow(p)) for p in sorted(CORPUS.glob("*.json"))]
    per_file = []
    for name, workflow in workflows:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            infer_fields(workflow, object_info)
            times.append(time.perf_counter() - start)
        per_file.append((statistics.median(times), name))
    total = sum(t for t, _ in per_file)
    worst, worst_name = max(per_file)
    label = label or ("with /object_info" if object_info else "no server (bundled spec)")
    print(
        f"{label}: {len(per_file)} files, total {total * 1000:.0f} ms, median {statistics.median(t for t, _ in per_file) * 1000:.2f} ms, worst {worst * 1000:.2f} ms ({worst_name})"
    )


def open_fields(count: int = 3) -> None:
    """Fields open at first (and nodes shown in both the form and Advanced) on the largest files."""
    forms = []
    for path in sorted(CORPUS.glob("*.json")):
        fields = infer_fields(load_workflow(path))
        opened = [f for f in fields if not f.advanced]
        both = {f.node_id for f in opened} & {f.node_id for f in fields if f.advanced}
        forms.append((len(fields), len(opened), len(both), path.name))
    for total, opened, both, name in sorted(forms, reverse=True)[:count]:
        print(f"{name}: {total} fields, {opened} open, {both} nodes also in Advanced (by kind)")


if __name__ == "__main__":
    start = time.perf_counter()
    core_specs()
    print(
        f"loading the bundled core spec (once per process): {(time.perf_counter() - start) * 1000:.0f} ms"
    )
    start = time.perf_counter()
    bundled_specs().get("VHS_VideoCombine")
    print(
        f"loading the bundled custom declarations (once): {(time.perf_counter() - start) * 1000:.0f} ms"
    )
    measure(None)
    measure({**custom_object_info(), **core_object_info()}, "bundled core + custom declarations")
    if OBJECT_INFO.exists():
        measure(json.loads(OBJECT_INFO.read_text()))
    open_fields()
