"""Run ViewComfy's own public Python client against this project's server (by hand, loopback).

    python scripts/check_viewcomfy_client.py path/to/ViewComfy_API/Python/api.py

Their `api.py` is imported from the given path (it is not part of this repository). Both of its
versions work: the realtime one (github.com/ViewComfy/cloud-public at HEAD; its gateway constant
`API_URL` is pointed at a `python -m viewcomfy_ui serve` started here), checked with
`infer_with_logs`, `infer` + `infer_info`, `infer` + `infer_cancel` + `infer_info`, and a failed
run's `error_data`; and the direct one (commit f9a57aa, no `API_URL`), checked with
`infer_with_logs`, `infer`, and a failed run through each. Exits 0 when all work.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"client_id": "check-id", "client_secret": "check-secret"}
DEPLOYMENT = "https://example.invalid/api-endpoint"  # sent as view_comfy_api_url, never fetched
SLOW = {  # a graph that takes a few seconds on the built-in engine, to be cancelled
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 1024, "height": 1024, "batch_size": 1, "color": 0},
    },
    **{
        str(i): {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i - 1), 0], "blur_radius": 15, "sigma": 5.0},
        }
        for i in range(2, 22)
    },
    "22": {"class_type": "SaveImage", "inputs": {"images": ["21", 0], "filename_prefix": "slow"}},
}
FAILING = {  # fails in node 3: a WebP image is at most 16383 pixels wide
    "1": {"class_type": "EmptyImage", "inputs": {"width": 16384, "height": 1, "color": 0}},
    "3": {"class_type": "SaveAnimatedWEBP", "inputs": {"images": ["1", 0]}},
}
FAILURE = {
    "exception_message": "a WebP image is at most 16383 pixels a side, not 16384x1: scale it "
    "down, or save it with SaveAnimatedPNG",
    "node_id": "3",
    "node_type": "SaveAnimatedWEBP",
}


def load_their_client(path: Path):
    spec = importlib.util.spec_from_file_location("viewcomfy_reference_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "VIEWCOMFY_SERVER_CLIENT_ID": KEYS["client_id"],
        "VIEWCOMFY_SERVER_CLIENT_SECRET": KEYS["client_secret"],
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "viewcomfy_ui", "serve", "--port", str(port)], cwd=ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start")


def check_outputs(result) -> str:
    assert result is not None and result.status == "success", vars(result) if result else None
    sizes = []
    for output in result.outputs:
        body = httpx.get(output.filepath).content  # no keys
        assert len(body) == output.size, (output.filename, len(body), output.size)
        sizes.append(f"{output.filename} ({output.content_type}, {len(body)} B)")
    return ", ".join(sizes)


def check_inline_outputs(result) -> str:
    assert result is not None and result.status == "success", vars(result) if result else None
    sizes = []
    for output in result.outputs:
        body = base64.b64decode(output.data)
        assert len(body) == output.size, (output.filename, len(body), output.size)
        sizes.append(f"{output.filename} ({output.content_type}, {len(body)} B)")
    return ", ".join(sizes)


async def check_direct(api, url: str) -> None:
    """The direct protocol (``POST /``, SSE or JSON), as their f9a57aa client speaks it."""
    common = {"api_url": url, **KEYS}
    logs: list[str] = []
    result = await api.infer_with_logs(
        params={"3-inputs-value": 42}, logging_callback=logs.append, **common
    )
    print(f"\n[1] infer_with_logs: {len(logs)} log lines, {check_inline_outputs(result)}")
    result = await api.infer(params={"3-inputs-value": 7}, **common)
    print(f"[2] infer: {check_inline_outputs(result)}")

    logs.clear()
    failed = await api.infer_with_logs(
        params={"1-inputs-color": 1}, logging_callback=logs.append,
        override_workflow_api=FAILING, **common,
    )  # fmt: skip
    assert failed is None and logs[-1].startswith("error: "), (failed, logs[-1:])
    assert json.loads(logs[-1].removeprefix("error: ")) == FAILURE, logs[-1]
    print(f"[3] a failed infer_with_logs logs: {logs[-1]}")
    try:
        await api.infer(params={"1-inputs-color": 1}, override_workflow_api=FAILING, **common)
    except Exception as exc:  # noqa: BLE001 (their client raises a bare Exception)
        assert "status 500" in str(exc) and "node 3 (SaveAnimatedWEBP)" in str(exc), exc
        print(f"[4] a failed infer raises: {exc}")
    else:
        raise AssertionError("a failed infer returned")


async def check_realtime(api) -> None:
    common = {"view_comfy_api_url": DEPLOYMENT, **KEYS}

    result = await api.infer_with_logs(params={"3-inputs-value": 42}, **common)
    print(f"\n[1] infer_with_logs: {result.status}, outputs: {check_outputs(result)}")

    scheduled = await api.infer(params={"3-inputs-value": 7}, **common)
    print(f"[2] infer: scheduled {scheduled.prompt_id} ({scheduled.message})")
    for _ in range(300):
        [info] = await api.infer_info(prompt_ids=[scheduled.prompt_id], **common)
        if info.completed:
            break
        await asyncio.sleep(0.1)
    print(f"    infer_info: {info.status}, outputs: {check_outputs(info)}")

    slow = await api.infer(params={"1-inputs-color": 255}, override_workflow_api=SLOW, **common)
    [running] = await api.infer_info(prompt_ids=[slow.prompt_id], **common)
    reply = await api.infer_cancel(prompt_id=slow.prompt_id, **common)
    for _ in range(300):
        [info] = await api.infer_info(prompt_ids=[slow.prompt_id], **common)
        if info.completed:
            break
        await asyncio.sleep(0.1)
    assert running.completed is False and info.status == "cancelled", (running.status, info.status)
    print(
        f"[3] infer_cancel: {reply}; before: {running.status} (completed={running.completed}), "
        f"after: {info.status} in {info.execution_time_seconds} s"
    )

    failed = await api.infer(params={"1-inputs-color": 1}, override_workflow_api=FAILING, **common)
    for _ in range(300):
        [info] = await api.infer_info(prompt_ids=[failed.prompt_id], **common)
        if info.completed:
            break
        await asyncio.sleep(0.1)
    assert info.status == "error" and info.error_data == FAILURE, (info.status, info.error_data)
    print(f"[4] a failed run: {info.status}, error_data {info.error_data}")


async def main(api, url: str) -> None:
    if hasattr(api, "API_URL"):  # the realtime client talks to its gateway constant
        api.API_URL = url
        await check_realtime(api)
    else:
        await check_direct(api, url + "/")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    server, gateway = start_server()
    try:
        asyncio.run(main(load_their_client(Path(sys.argv[1])), gateway))
        print("ViewComfy's client works against this server.")
    finally:
        server.terminate()
        server.wait(10)
