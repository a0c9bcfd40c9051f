"""Derive viewcomfy_ui/data/custom_nodes.json and CUSTOM_NODES_LICENSES.md from a real ComfyUI.

Install ComfyUI 0.3.64 with the packs below in ``custom_nodes/`` (no models, an empty input
folder; SwarmUI's two node folders are copied out of its repository with its LICENSE.txt), run
it with a python whose packages are its venv's plus the packs' requirements (a separate venv;
never the shared one), dump its ``/object_info`` outside the repository, then build:

    python scripts/build_custom_nodes.py --dump http://127.0.0.1:8190 /work/comfy/object_info-0.3.64-packs.json
    python scripts/build_custom_nodes.py /work/comfy/object_info-0.3.64-packs.json \
        /work/comfy/packs/ComfyUI/custom_nodes --log /work/comfy/packs/comfy-packs.log

Keeps what form inference needs (types, ranges, defaults, choices, upload flags, display names,
the widgets each VHS format adds, the declaration order of optional inputs), never tooltips,
descriptions or code. A choice list that is empty on that server (model files, input files:
they differ per server) is kept as an open list, ``{"options": [], "open": true}``. Classes
ComfyUI's core declares (``../shared/comfyui/object_info-0.3.64.json``) are left out, as are
packs with no licence file. Packs written for a newer core than 0.3.64 (KJNodes' LTXV and
MiniMax nodes, LTXVideo, SwarmUI) and packs importing heavy libraries they only use when running
(insightface, ultralytics, facexlib) were loaded with those modules, and the few newer-core
names they import, stubbed (a ``sitecustomize.py`` in the dump venv, never part of this
project), and with two newer-core arguments dropped from their copies (LTXVideo's
``SymmetricPatchifier(start_end=)``, SwarmUI's ``Flux2`` imports); ReActor's face restore list
is its six default model names (it downloads them when its folder is empty). Their
declarations are still the packs' own.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import httpx
from build_core_nodes import KEPT_OPTIONS, compact

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "viewcomfy_ui" / "data"
CORE = ROOT.parent / "shared" / "comfyui" / "object_info-0.3.64.json"
KEPT = KEPT_OPTIONS | {"forceInput", "formats"}  # forceInput: a widget type used as a socket;
# formats: the widgets each choice of VHS_VideoCombine.format adds (pix_fmt, crf...)
PLACEHOLDERS = {"", "none", "None"}  # what a model list holds on a server without models
LOCAL_PATH = re.compile(r"/\S*/(site-packages|ComfyUI)/")  # this machine's folders, not news
IMPORT_FAILED = re.compile(r"Cannot import .*/custom_nodes/([^/ ]+) module for custom nodes: (.*)")

# custom_nodes/<folder>: GitHub repository
PACKS = {
    "ComfyUI-VideoHelperSuite": "Kosinkadink/ComfyUI-VideoHelperSuite",
    "ComfyUI-LTXVideo": "Lightricks/ComfyUI-LTXVideo",
    "efficiency-nodes-comfyui": "jags111/efficiency-nodes-comfyui",
    "comfyui_controlnet_aux": "Fannovel16/comfyui_controlnet_aux",
    "ComfyUI_essentials": "cubiq/ComfyUI_essentials",
    "ComfyUI-AdvancedLivePortrait": "PowerHouseMan/ComfyUI-AdvancedLivePortrait",
    "ComfyUI_tinyterraNodes": "TinyTerra/ComfyUI_tinyterraNodes",
    "was-node-suite-comfyui": "WASasquatch/was-node-suite-comfyui",
    "ComfyUI-KJNodes": "kijai/ComfyUI-KJNodes",
    "rgthree-comfy": "rgthree/rgthree-comfy",
    "ComfyUI-Impact-Pack": "ltdrdata/ComfyUI-Impact-Pack",
    "ComfyUI_UltimateSDUpscale": "ssitu/ComfyUI_UltimateSDUpscale",
    "ComfyUI-WanVideoWrapper": "kijai/ComfyUI-WanVideoWrapper",
    "comfyui-reactor-node": "Gourieff/comfyui-reactor-node",
    "ComfyUI-PuLID-Flux": "balazik/ComfyUI-PuLID-Flux",
    "ComfyUI-HunyuanVideoWrapper": "kijai/ComfyUI-HunyuanVideoWrapper",
    "ComfyUI_IPAdapter_plus": "cubiq/ComfyUI_IPAdapter_plus",
    "ComfyUI-Custom-Scripts": "pythongosssss/ComfyUI-Custom-Scripts",
    "ComfyUI-GGUF": "city96/ComfyUI-GGUF",
    "ComfyUI_LayerStyle": "chflame163/ComfyUI_LayerStyle",
    "ComfyUI_LayerStyle_Advance": "chflame163/ComfyUI_LayerStyle_Advance",
    "ComfyUI-AnimateDiff-Evolved": "Kosinkadink/ComfyUI-AnimateDiff-Evolved",
    "ComfyUI-Advanced-ControlNet": "Kosinkadink/ComfyUI-Advanced-ControlNet",
    "ComfyUI-Florence2": "kijai/ComfyUI-Florence2",
    "PuLID_ComfyUI": "cubiq/PuLID_ComfyUI",
    "ComfyUI_InstantID": "cubiq/ComfyUI_InstantID",
    "ComfyUI-SUPIR": "kijai/ComfyUI-SUPIR",
    "comfyui_segment_anything": "storyicon/comfyui_segment_anything",
    "ComfyMath": "evanspearman/ComfyMath",
    "ComfyUI-Impact-Subpack": "ltdrdata/ComfyUI-Impact-Subpack",
    # SwarmUI's own nodes: src/BuiltinExtensions/ComfyUIBackend/ExtraNodes/<folder> (MIT)
    "SwarmComfyCommon": "mcmonkeyprojects/SwarmUI",
    "SwarmComfyExtra": "mcmonkeyprojects/SwarmUI",
}
COMMITS = {"SwarmComfyCommon": "062407c7", "SwarmComfyExtra": "062407c7"}  # copied, not cloned
LICENCE_MARKERS = {
    "GNU GENERAL PUBLIC LICENSE": "GPL-3.0",
    "GNU AFFERO GENERAL PUBLIC LICENSE": "AGPL-3.0",
    "Apache License": "Apache-2.0",
    "MIT License": "MIT",
    "LTX-2 Community License": "LTX-2 Community License",
    "non-commercial": "non-commercial (see file)",
}
NOT_BUNDLED = {"non-commercial (see file)"}  # the app may be used commercially


def licence(folder: Path) -> str | None:
    """The licence named by the pack's LICENSE file, or None without one."""
    for path in sorted(folder.glob("LICEN[CS]E*")) + sorted(folder.glob("COPYING*")):
        head = path.read_text("utf-8", errors="replace")[:400]
        return next(
            (name for marker, name in LICENCE_MARKERS.items() if marker in head), "see file"
        )
    return None


def open_lists(nodes: dict) -> dict:
    """Choice lists that were empty on the model-less server become open lists."""
    for node in nodes.values():
        for name, (kind, opts) in node["inputs"].items():
            choices = kind if isinstance(kind, list) else opts.get("options")
            is_combo = isinstance(kind, list) or kind == "COMBO"
            if is_combo and all(str(c) in PLACEHOLDERS for c in choices or []):
                node["inputs"][name] = ["COMBO", {**opts, "options": [], "open": True}]
    return nodes


def optional_order(info: dict) -> list[str]:
    """The optional inputs in declaration order (the bundle's ``inputs`` are sorted)."""
    order = (info.get("input_order") or {}).get("optional")
    return list(order if order is not None else (info.get("input") or {}).get("optional") or {})


def kept_formats(formats: dict) -> dict:
    """A ``formats`` option with only the facts a form needs in each widget's options."""
    kept = {}
    for choice, widgets in formats.items():
        kept[choice] = [
            [w[0], *(({k: v for k, v in x.items() if k in KEPT}) if isinstance(x, dict) else x
                     for x in w[1:])]
            for w in widgets
        ]  # fmt: skip
    return kept


def import_failures(log: Path | None) -> dict[str, str]:
    """Pack folder -> the reason ComfyUI's startup log gives for not importing it."""
    text = log.read_text("utf-8", errors="replace") if log else ""
    return {m[1]: LOCAL_PATH.sub("", m[2].strip()) for m in IMPORT_FAILED.finditer(text)}


def frontend_uploads(object_info: dict) -> dict:
    """Mark, in an ``/object_info``, the file lists a pack's JavaScript turns into uploads, as
    ComfyUI's frontend shows them (VHS_LoadVideo.video, VHS_LoadAudioUpload.audio...): an empty
    list (the server's input folder) named ``video``, ``audio`` or ``image`` of a loader class."""
    for class_type, info in object_info.items():
        if "load" not in class_type.lower():
            continue
        for section in (info.get("input") or {}).values():
            for name in ("video", "audio", "image"):
                spec = (section or {}).get(name)
                if not isinstance(spec, list) or not spec:
                    continue
                opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                choices = spec[0] if isinstance(spec[0], list) else opts.get("options")
                if (isinstance(spec[0], list) or spec[0] == "COMBO") and not choices:
                    section[name] = [spec[0], {**opts, f"{name}_upload": True}]
    return object_info


def build(object_info: dict, custom_nodes: Path) -> tuple[dict, list[dict]]:
    core = json.loads(CORE.read_text())
    packs = []
    classes: dict[str, dict] = {}
    for folder, repo in PACKS.items():
        path = custom_nodes / folder
        module = f"custom_nodes.{folder}"
        names = [c for c, i in object_info.items() if i.get("python_module") == module]
        commit = (
            COMMITS.get(folder)
            or subprocess.run(
                ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
            ).stdout.strip()
        )
        entry = {"folder": folder, "repo": repo, "commit": commit, "licence": licence(path)}
        entry["classes"] = len(names)
        packs.append(entry)
        if not entry["licence"] or entry["licence"] in NOT_BUNDLED or not names:
            continue
        nodes = compact({c: object_info[c] for c in names if c not in core}, KEPT)
        for class_type, node in nodes.items():
            node["pack"] = folder
            node["optional"] = optional_order(object_info[class_type])
            for _kind, opts in node["inputs"].values():
                if "formats" in opts:
                    opts["formats"] = kept_formats(opts["formats"])
        classes.update(open_lists(nodes))
    return classes, packs


def licences_markdown(packs: list[dict], failures: dict[str, str]) -> str:
    lines = [
        "# Bundled custom node declarations: sources and licences",
        "",
        "`custom_nodes.json` holds, for each class of these packs, only facts a form needs: input",
        "names, types, ranges, defaults, choice lists, display name and category, as a real ComfyUI",
        "0.3.64 (CPU, no models) reported them in `/object_info` with the pack installed at the",
        "commit below. No code, tooltips or descriptions are copied. Built by",
        "`scripts/build_custom_nodes.py`.",
        "",
        "| pack | repository | commit | licence | classes | bundled |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in packs:
        if not p["classes"]:
            bundled = "no: did not import"
        elif not p["licence"]:
            bundled = "no: no licence file"
        elif p["licence"] in NOT_BUNDLED:
            bundled = "no: non-commercial licence"
        else:
            bundled = "yes"
        lines.append(
            f"| {p['folder']} | https://github.com/{p['repo']} | `{p['commit'][:12]}` | "
            f"{p['licence'] or 'none found'} | {p['classes']} | {bundled} |"
        )
    if failures:
        lines += ["", "Packs that did not import in that ComfyUI (its startup log):", ""]
        lines += [f"- {folder}: `{reason}`" for folder, reason in sorted(failures.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", metavar="COMFYUI_URL", help="save that server's /object_info")
    parser.add_argument("source", type=Path, help="an /object_info JSON file")
    parser.add_argument("custom_nodes", type=Path, nargs="?", help="ComfyUI's custom_nodes/")
    parser.add_argument("--log", type=Path, help="ComfyUI's startup log (import failures)")
    args = parser.parse_args()
    if args.dump:
        reply = httpx.get(args.dump.rstrip("/") + "/object_info", timeout=120)
        args.source.write_text(json.dumps(reply.raise_for_status().json()))
        print(f"saved {args.source}")
        return
    if args.custom_nodes is None:
        parser.error("give the custom_nodes folder the packs are installed in")
    object_info = frontend_uploads(json.loads(args.source.read_text()))
    classes, packs = build(object_info, args.custom_nodes)
    out = DATA / "custom_nodes.json"
    out.write_text(json.dumps(classes, separators=(",", ":"), sort_keys=True) + "\n")
    notes = licences_markdown(packs, import_failures(args.log))
    (DATA / "CUSTOM_NODES_LICENSES.md").write_text(notes)
    print(f"wrote {out} ({len(classes)} classes, {out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
