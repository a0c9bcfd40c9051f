"""Work the built-in engine's budget must count (issue 19, section 1): each case in a fresh
process, on the engine directly (check, then run), with its peak RSS, wall time and outcome.

    python bench/bench_budget.py [case ...]    # tiff tiff2g blur preview files bytes cancel big load

Cases: `tiff` a 1x1 + 9000x9000 two-page TIFF as the demo's image (`tiff2g`: with a 2 GiB
budget, which it fits); `blur` ImageBlur radius 6000 on 64x64; `preview` 200 PreviewAny on a
4 MiB string; `files` SaveImage of 200,704 1x1 images; `bytes` SaveImage of 100 noise images of
1024x1024 (~3 MiB each as PNG);
`cancel` a cancel 1 s into a radius-31 blur of 2 x 4096x4096 (seconds from cancel to the end);
`cancelsave` a cancel 1 s into SaveImage's PNG encoding of 8192x8192 noise (2 GiB budget);
`big` EmptyImage 8192x8192 -> SaveImage; `load` an 8192x8192 PNG through the demo (2 GiB budget).
Peak RSS is compared with the run's planned bytes and the budget (target: <= 1.5x the budget).
To measure another checkout, run this file with PYTHONPATH=<checkout>.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # after PYTHONPATH: it may pick another
CASES = (
    "tiff",
    "tiff2g",
    "blur",
    "preview",
    "files",
    "bytes",
    "cancel",
    "cancelsave",
    "big",
    "load",
)
TIMEOUT = 300


def graph(*nodes: tuple[str, dict]) -> dict:
    return {str(i): {"class_type": c, "inputs": inputs} for i, (c, inputs) in enumerate(nodes, 1)}


def demo(image: str) -> dict:
    from viewcomfy_ui.demo import DEMO_WORKFLOW

    workflow = json.loads(Path(DEMO_WORKFLOW).read_text())
    workflow["1"]["inputs"]["image"] = image
    return workflow


def case(name: str, folder: Path) -> tuple[dict, int]:
    """The workflow of a case, and its budget in bytes."""
    import numpy as np
    from PIL import Image

    if name.startswith("tiff"):
        Image.new("RGB", (1, 1)).save(
            folder / "t.tif", save_all=True, append_images=[Image.new("RGB", (9000, 9000))],
            compression="tiff_adobe_deflate",
        )  # fmt: skip
        return demo("t.tif"), (2 << 30 if name == "tiff2g" else 1 << 30)
    if name == "bytes":
        noise = np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), dtype=np.uint8)
        Image.fromarray(noise).save(folder / "noise.png", compress_level=1)
        return graph(
            ("LoadImage", {"image": "noise.png"}),
            ("RepeatImageBatch", {"image": ["1", 0], "amount": 100}),
            ("SaveImage", {"images": ["2", 0]}),
        ), 2 << 30
    if name == "cancelsave":
        noise = np.random.default_rng(0).integers(0, 255, (8192, 8192, 3), dtype=np.uint8)
        Image.fromarray(noise).save(folder / "big.png", compress_level=1)
        return graph(
            ("LoadImage", {"image": "big.png"}), ("SaveImage", {"images": ["1", 0]})
        ), 2 << 30
    if name == "load":
        noise = np.random.default_rng(0).integers(0, 255, (8192, 8192, 3), dtype=np.uint8)
        Image.fromarray(noise).save(folder / "big.png", compress_level=1)
        return demo("big.png"), 2 << 30
    if name == "blur":
        return graph(
            ("EmptyImage", {"width": 64, "height": 64}),
            ("ImageBlur", {"image": ["1", 0], "blur_radius": 6000, "sigma": 1.0}),
            ("PreviewImage", {"images": ["2", 0]}),
        ), 1 << 30
    if name == "preview":
        text = ("PrimitiveStringMultiline", {"value": "x" * (4 << 20)})
        previews = [("PreviewAny", {"source": ["1", 0]})] * 200
        return graph(text, *previews), 1 << 30
    if name == "files":
        return graph(
            ("EmptyImage", {"width": 1, "height": 1, "batch_size": 4096}),
            ("RepeatImageBatch", {"image": ["1", 0], "amount": 49}),
            ("SaveImage", {"images": ["2", 0]}),
        ), 1 << 30
    if name == "cancel":
        return graph(
            ("EmptyImage", {"width": 4096, "height": 4096, "batch_size": 2}),
            ("ImageBlur", {"image": ["1", 0], "blur_radius": 31, "sigma": 10.0}),
            ("PreviewImage", {"images": ["2", 0]}),
        ), 1 << 30
    if name == "big":
        return graph(
            ("EmptyImage", {"width": 8192, "height": 8192}),
            ("SaveImage", {"images": ["1", 0]}),
        ), 1 << 30
    raise SystemExit(f"unknown case {name!r}; pick from {', '.join(CASES)}")


def child(name: str, folder: Path) -> None:
    """Run one case (its files made by an earlier process in `folder`): one JSON line."""
    import resource

    from viewcomfy_ui.server.engine import BuiltinEngine, InputFiles

    workflow, budget = json.loads((folder / "case.json").read_text())
    engine = BuiltinEngine(budget)
    inputs = InputFiles(folder, None)
    cancelled = threading.Event()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.monotonic()
    stopped: list[float] = []
    first_node_done = threading.Event()

    def log(line: str) -> None:
        if "|" in line:
            first_node_done.set()

    if name.startswith("cancel"):

        def cancel() -> None:
            first_node_done.wait()
            time.sleep(1.0)
            stopped.append(time.monotonic())
            cancelled.set()

        threading.Thread(target=cancel, daemon=True).start()
    planned = None
    try:
        engine.check(workflow, inputs)
        if hasattr(engine, "plan"):
            planned = engine.plan(workflow, inputs).peak_bytes >> 20
        outputs = engine.run(workflow, inputs, log, cancelled)
        outcome = f"ran: {len(outputs)} files, {sum(len(o.data) for o in outputs) / 2**20:.0f} MiB"
    except Exception as exc:  # noqa: BLE001 - the outcome is what we report
        outcome = f"{type(exc).__name__}: {str(exc)[:150]}"
    end = time.monotonic()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({
            "case": name, "seconds": round(end - start, 2),
            "after_cancel": round(end - stopped[0], 2) if stopped else None,
            "peak_mib": round(peak), "base_mib": round(base), "budget_mib": budget >> 20,
            "plan_mib": planned,
            "outcome": outcome,
        })
    )  # fmt: skip


def main(names: list[str]) -> None:
    print(
        f"{'case':8} {'seconds':>8} {'cancel->end':>11} {'base MiB':>8} {'plan MiB':>8} "
        f"{'peak MiB':>9} "
        f"{'x budget':>8}  outcome"
    )
    for name in names or CASES:
        try:
            with tempfile.TemporaryDirectory() as folder:
                for step in ("--prepare", "--child"):
                    done = subprocess.run(
                        [sys.executable, __file__, step, name, folder],
                        capture_output=True, text=True, timeout=TIMEOUT, check=False,
                    )  # fmt: skip
        except subprocess.TimeoutExpired:
            print(f"{name:8} {'>' + str(TIMEOUT):>8}")
            continue
        if done.returncode:
            print(f"{name:8} crashed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        after = "" if r["after_cancel"] is None else f"{r['after_cancel']:.2f}"
        ratio = r["peak_mib"] / r["budget_mib"]
        print(
            f"{name:8} {r['seconds']:8.2f} {after:>11} {r['base_mib']:8} "
            f"{'' if r['plan_mib'] is None else r['plan_mib']:>8} {r['peak_mib']:9} "
            f"{ratio:8.2f}  {r['outcome']}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--prepare"]:
        (Path(sys.argv[3]) / "case.json").write_text(
            json.dumps(case(sys.argv[2], Path(sys.argv[3])))
        )
    elif sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], Path(sys.argv[3]))
    else:
        main(sys.argv[1:])
