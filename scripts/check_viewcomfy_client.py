"""Run ViewComfy's own public Python client against this project's server (by hand, loopback).

    python scripts/check_viewcomfy_client.py path/to/ViewComfy_API/Python/api.py

Their `api.py` is imported from the given path (it is not part of this repository); only its
gateway constant `API_URL` is pointed at a `python -m viewcomfy_ui serve` started here. Then:
`infer_with_logs`, `infer` + `infer_info`, and `infer` + `infer_cancel` + `infer_info`.
Exits 0 when all three work.
"""

from __future__ import annotations

import asyncio
import importlib.util
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


def load_their_client(path: Path, gateway: str):
    spec = importlib.util.spec_from_file_location("viewcomfy_reference_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.API_URL = gateway
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


async def main(api) -> None:
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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    server, gateway = start_server()
    try:
        asyncio.run(main(load_their_client(Path(sys.argv[1]), gateway)))
        print("ViewComfy's client works against this server.")
    finally:
        server.terminate()
        server.wait(10)
