"""Fields open at first (not under Advanced) per corpus workflow, before a user does anything.

    python bench/bench_form.py [N]

Prints the N workflows with the most fields (default 3): fields in all, open at first, and the
first open fields in order. Target: at most 25 open (arrange.MAX_OPEN), prompts and uploads first.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from viewcomfy_ui.fields import infer_fields  # noqa: E402
from viewcomfy_ui.workflow import load_workflow  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "workflows"


def main(top: int) -> None:
    rows = []
    for path in sorted(CORPUS.glob("*.json")):
        fields = infer_fields(load_workflow(path))
        rows.append((len(fields), [f for f in fields if not f.advanced], path.name))
    rows.sort(key=lambda row: -row[0])
    for total, opened, name in rows[:top]:
        print(f"{name}: {total} fields, {len(opened)} open at first")
        print("   first open: " + ", ".join(f"{f.label} [{f.kind}]" for f in opened[:8]))
    counts = [len(opened) for _, opened, _ in rows]
    print(
        f"all {len(rows)} workflows: open at first median {statistics.median(counts)}, "
        f"max {max(counts)}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
