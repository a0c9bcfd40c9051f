"""Derive viewcomfy_ui/data/core_nodes.json from a ComfyUI /object_info dump.

Keeps only what form inference needs (types, ranges, defaults, choices, upload flags, display
names); drops ComfyUI's tooltip and description texts. Usage:

    python scripts/build_core_nodes.py ../shared/comfyui/object_info-0.3.64.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KEPT_OPTIONS = {
    "default",
    "min",
    "max",
    "step",
    "round",
    "multiline",
    "control_after_generate",
    "image_upload",
    "audio_upload",
    "video_upload",
    "options",
    "display",
    "label_on",
    "label_off",
    "forceInput",
    "dynamicPrompts",
    "widgetType",
}
OUT = Path(__file__).resolve().parent.parent / "viewcomfy_ui" / "data" / "core_nodes.json"


def compact(object_info: dict, kept: set[str] = KEPT_OPTIONS) -> dict:
    """Each class's display name, category, output flag, inputs (kept options only), required."""
    nodes = {}
    for class_type, info in sorted(object_info.items()):
        inputs, required, optional = {}, [], []
        for section in ("required", "optional"):
            for name, spec in (info.get("input", {}).get(section) or {}).items():
                kind = spec[0] if spec else None
                opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                inputs[name] = [kind, {k: v for k, v in opts.items() if k in kept}]
                (required if section == "required" else optional).append(name)
        order = info.get("input_order") or {}
        for names, section in ((required, "required"), (optional, "optional")):
            given = [n for n in order.get(section) or () if n in names]
            names[:] = given + [n for n in names if n not in given]
        nodes[class_type] = {
            "display_name": info.get("display_name") or class_type,
            "category": info.get("category") or "",
            "output_node": bool(info.get("output_node")),
            "inputs": inputs,
            "required": required,
            "optional": optional,  # declaration order (the frontend maps widget values by it)
        }
    return nodes


if __name__ == "__main__":
    source = json.loads(Path(sys.argv[1]).read_text())
    OUT.write_text(json.dumps(compact(source), separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
