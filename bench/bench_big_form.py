"""Start-up of the app on very big workflows: N `ImageScale` nodes (4 fields each) after one
`LoadImage`. For each N: the fields, the seconds to build the app (`create_app`), to launch it
and to serve its page (``GET /``, what Gradio's start-up check fetches with a 3 s timeout), or
the one-line refusal.

    python bench/bench_big_form.py [N ...]            # default: 250 500 1000
    python bench/bench_big_form.py --no-limit 500 1000  # past the field limit, to measure it
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from viewcomfy_ui.errors import ViewComfyError
from viewcomfy_ui.ui import page as page_module
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app


def workflow(nodes: int) -> dict:
    api: dict = {"1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}}}
    for i in range(2, nodes + 2):
        api[str(i)] = {
            "class_type": "ImageScale",
            "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 512 + i, "height": 512, "crop": "disabled"},
        }  # fmt: skip
    api[str(nodes + 2)] = {"class_type": "SaveImage", "inputs": {"images": [str(nodes + 1), 0], "filename_prefix": "x"}}  # fmt: skip
    return api


def measure(nodes: int, folder: Path) -> str:
    path = folder / f"big_{nodes}.json"
    path.write_text(json.dumps(workflow(nodes)))
    started = time.perf_counter()
    try:
        app = create_app(AppConfig(workflow=path, api_url=None, port=0))
    except ViewComfyError as exc:
        return f"refused in {time.perf_counter() - started:.1f} s: {exc}"
    built = time.perf_counter() - started
    try:
        app.launch(prevent_thread_lock=True, quiet=True)
        launched = time.perf_counter() - started
        fetched = time.perf_counter()
        size = len(httpx.get(f"http://127.0.0.1:{app.page.server_port}/", timeout=120).content)
        page = time.perf_counter() - fetched
        return (
            f"built {built:.1f} s, launched {launched:.1f} s, GET / {page:.1f} s ({size >> 10} KiB)"
        )
    except Exception as exc:  # noqa: BLE001 - reported: Gradio's own start-up failure
        return f"built {built:.1f} s, launch failed after {time.perf_counter() - started:.1f} s: {str(exc)[:90]}"
    finally:
        app.close()


def main() -> None:
    args = sys.argv[1:]
    if "--no-limit" in args:
        args.remove("--no-limit")
        page_module.MAX_FORM_FIELDS = 10**9
    with tempfile.TemporaryDirectory() as folder:
        for nodes in [int(a) for a in args] or [250, 500, 1000]:
            print(f"{nodes} nodes ({nodes * 4} fields): {measure(nodes, Path(folder))}", flush=True)


if __name__ == "__main__":
    main()
