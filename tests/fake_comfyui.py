"""A fake ComfyUI on loopback, following the message shapes and order recorded from ComfyUI 0.3.64
(shared/comfyui/recorded/messages.jsonl): status, execution_start, execution_cached,
executing per node, progress (with binary preview frames: PREVIEW_IMAGE, or
PREVIEW_IMAGE_WITH_METADATA for a client whose first message sets the feature flag
`supports_preview_metadata`, as ComfyUI's server.py), executed, execution_success,
status, executing null; /history lags behind execution_success; identical graphs are cached.

It does not compute images: output nodes write small, valid files of their kind.
Validation and failures follow a real ComfyUI 0.3.64 (checked by tests/test_real_comfyui.py):
a missing LoadImage file, a value out of range or not in a list, a dangling link or a graph
without outputs is a 400 before anything runs; an input file that is not an image fails at run
time; errors and interrupts end with ``status`` and ``executing null`` like a success.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import struct
import threading
import time
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from PIL import Image

from viewcomfy_ui.nodespecs import core_object_info
from viewcomfy_ui.workflow import is_link

SLOW_NODE = "FakeSlowNode"  # a test node that reports `steps` progress steps, 0.1 s each
PREVIEW_IMAGE, PREVIEW_IMAGE_WITH_METADATA = 1, 4  # ComfyUI's BinaryEventTypes


def preview_frame(step: int, *, node_id: str, prompt_id: str, metadata: bool) -> bytes:
    """A binary preview message as ComfyUI sends it: a JPEG whose colour changes each step."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), ((40 * step) % 256, 90, 200)).save(buffer, format="JPEG")
    if not metadata:
        return struct.pack(">II", PREVIEW_IMAGE, 1) + buffer.getvalue()
    meta = json.dumps({"node_id": node_id, "prompt_id": prompt_id, "display_node_id": node_id,
                       "parent_node_id": None, "real_node_id": node_id, "image_type": "image/jpeg"})  # fmt: skip
    return (
        struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(meta))
        + meta.encode()
        + buffer.getvalue()
    )


def png(color=(30, 90, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buffer, format="PNG")
    return buffer.getvalue()


def webp_animation() -> bytes:
    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64
FLAC = b"fLaC" + b"\x00" * 64


class FakeComfyUI:
    def __init__(self, *, history_lag: float = 0.3, send_executed: bool = True) -> None:
        self.history_lag = history_lag
        self.send_executed = send_executed
        self.object_info = copy.deepcopy(
            core_object_info()
        )  # tests modify it: never the shared one
        self.object_info[SLOW_NODE] = {
            "input": {"required": {"steps": ["INT", {"default": 5, "min": 1, "max": 10000}]}, "optional": {"anything": ["*", {}]}},
            "output_node": False, "display_name": "Slow node", "category": "testing",
        }  # fmt: skip
        self.object_info["VHS_VideoCombine"] = {
            "input": {"required": {"images": ["IMAGE", {}], "frame_rate": ["FLOAT", {"default": 8}], "filename_prefix": ["STRING", {}]}},
            "output_node": True, "display_name": "Video Combine", "category": "vhs",
        }  # fmt: skip
        self.files: dict[tuple[str, str, str], bytes] = {}  # (type, subfolder, filename) -> bytes
        self.history: dict[str, dict[str, Any]] = {}
        self.pending: list[str] = []
        self.running: str | None = None
        self.interrupts: list[Any] = []
        self.deleted: list[str] = []
        self.prompts: dict[str, dict[str, Any]] = {}
        self.cache: dict[str, dict[str, Any]] = {}  # graph json -> outputs per node
        self.sockets: dict[str, WebSocket] = {}
        self.preview_metadata: set[str] = set()  # clients that asked for previews with metadata
        self.counter = 0
        self._interrupt = threading.Event()
        self._lock: asyncio.Lock | None = None
        self.app = self._build()

    # --- HTTP and websocket API ------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/system_stats")
        async def system_stats():
            return {"system": {"comfyui_version": "0.3.64-fake"}, "devices": []}

        @app.get("/object_info")
        async def object_info():
            return self.object_info

        @app.post("/upload/image")
        async def upload(request: Request):
            async with request.form() as form:  # closes the spooled upload
                image = form["image"]
                subfolder, name = str(form.get("subfolder") or ""), str(image.filename)
                overwrite = str(form.get("overwrite")) == "true"
                data = await image.read()
            if ".." in name or name.startswith("/") or ".." in subfolder:
                return Response(status_code=400)
            if not overwrite:  # ComfyUI renames: "photo (1).png"
                stem, dot, ext = name.rpartition(".")
                n = 1
                while self.files.get(("input", subfolder, name), data) != data:
                    name = f"{stem} ({n}).{ext}" if dot else f"{name} ({n})"
                    n += 1
            self.files[("input", subfolder, name)] = data
            return {"name": name, "subfolder": subfolder, "type": "input"}

        @app.post("/prompt")
        async def prompt(request: Request):
            body = await request.json()
            graph, client_id = body["prompt"], body.get("client_id")
            problem = self._validate(graph)
            if problem:
                return JSONResponse(problem, status_code=400)
            prompt_id = str(uuid.uuid4())
            self.prompts[prompt_id] = graph
            self.pending.append(prompt_id)
            asyncio.get_running_loop().create_task(self._execute(prompt_id, graph, client_id))
            self.counter += 1
            return {"prompt_id": prompt_id, "number": self.counter, "node_errors": {}}

        @app.websocket("/ws")
        async def ws(websocket: WebSocket):
            await websocket.accept()
            client_id = websocket.query_params.get("clientId") or uuid.uuid4().hex
            self.sockets[client_id] = websocket
            await websocket.send_json(
                {
                    "type": "status",
                    "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id},
                }
            )
            try:
                first = True
                while True:
                    message = json.loads(await websocket.receive_text())
                    if first and message.get("type") == "feature_flags":
                        if (message.get("data") or {}).get("supports_preview_metadata"):
                            self.preview_metadata.add(client_id)
                        await websocket.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": True}})  # fmt: skip
                    first = False
            except WebSocketDisconnect:
                self.sockets.pop(client_id, None)

        @app.get("/history/{prompt_id}")
        async def history(prompt_id: str):
            entry = self.history.get(prompt_id)
            if entry is None or time.monotonic() < entry["_visible_at"]:
                return {}
            return {prompt_id: {k: v for k, v in entry.items() if not k.startswith("_")}}

        @app.get("/view")
        async def view(filename: str, subfolder: str = "", type: str = "output"):
            data = self.files.get((type, subfolder, filename))
            if data is None:
                return Response(status_code=404)
            return Response(data, media_type="application/octet-stream")

        @app.get("/queue")
        async def queue():
            running = [[0, self.running, {}, {}, []]] if self.running else []
            return {
                "queue_running": running,
                "queue_pending": [[i, p, {}, {}, []] for i, p in enumerate(self.pending)],
            }

        @app.post("/queue")
        async def queue_edit(request: Request):
            body = await request.json()
            for prompt_id in body.get("delete", []):
                if prompt_id in self.pending:
                    self.pending.remove(prompt_id)
                    self.deleted.append(prompt_id)
            return {}

        @app.post("/interrupt")
        async def interrupt(request: Request):
            body = await request.body()
            target = json.loads(body).get("prompt_id") if body else None
            self.interrupts.append(target)
            if target in (None, self.running):
                self._interrupt.set()
            return {}

        return app

    def _validate(self, graph: dict[str, Any]) -> dict[str, Any] | None:
        for node_id, node in graph.items():
            if node.get("class_type") not in self.object_info:
                return {
                    "error": {"type": "invalid_prompt", "message": f"Cannot execute because node {node.get('class_type')} does not exist.", "details": f"Node ID '#{node_id}'", "extra_info": {}},
                    "node_errors": {},
                }  # fmt: skip
        if not any(self.object_info[n["class_type"]].get("output_node") for n in graph.values()):
            return {
                "error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "", "extra_info": {}},
                "node_errors": {},
            }  # fmt: skip
        errors = {}
        for node_id, node in graph.items():
            problems = self._node_problems(graph, node)
            if problems:
                errors[node_id] = {
                    "errors": problems,
                    "dependent_outputs": [],
                    "class_type": node["class_type"],
                }
        if errors:
            return {
                "error": {
                    "type": "prompt_outputs_failed_validation",
                    "message": "Prompt outputs failed validation",
                    "details": "",
                    "extra_info": {},
                },
                "node_errors": errors,
            }
        return None

    def _node_problems(self, graph: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
        """ComfyUI's own checks: links, ranges, lists, and LoadImage's file (shapes as 0.3.64)."""
        declared = self.object_info[node["class_type"]]["input"]
        specs = {**(declared.get("required") or {}), **(declared.get("optional") or {})}
        problems = []
        for name, value in (node.get("inputs") or {}).items():
            spec = specs.get(name)
            if is_link(value):
                if value[0] not in graph:
                    problems.append({
                        "type": "exception_during_validation", "message": "Exception when validating node",
                        "details": f"'{value[0]}'", "extra_info": {"exception_type": "KeyError", "traceback": []},
                    })  # fmt: skip
                continue
            if not spec:
                continue
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            info = {"input_name": name, "input_config": spec, "received_value": value}
            if node["class_type"] in ("LoadImage", "LoadImageMask") and name == "image":
                if ("input", "", value) not in self.files:
                    problems.append({
                        "type": "custom_validation_failed", "message": "Custom validation failed for node",
                        "details": f"image - Invalid image file: {value}", "extra_info": {"input_name": name},
                    })  # fmt: skip
                continue
            choices = spec[0] if isinstance(spec[0], list) else opts.get("options")
            upload = any(opts.get(f"{k}_upload") for k in ("image", "audio", "video"))
            if spec[0] == "COMBO" or isinstance(spec[0], list):
                if choices is not None and not upload and value not in choices:
                    problems.append({
                        "type": "value_not_in_list", "message": "Value not in list",
                        "details": f"{name}: '{value}' not in {choices}", "extra_info": info,
                    })  # fmt: skip
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if opts.get("min") is not None and value < opts["min"]:
                problems.append({
                    "type": "value_smaller_than_min", "message": f"Value {value} smaller than min of {opts['min']}",
                    "details": name, "extra_info": info,
                })  # fmt: skip
            if opts.get("max") is not None and value > opts["max"]:
                problems.append({
                    "type": "value_bigger_than_max", "message": f"Value {value} bigger than max of {opts['max']}",
                    "details": name, "extra_info": info,
                })  # fmt: skip
        return problems

    # --- execution ---------------------------------------------------------------------------

    async def _send(self, client_id: str | None, message: dict[str, Any] | bytes) -> None:
        socket = self.sockets.get(client_id or "")
        if socket is None:
            return
        try:
            if isinstance(message, bytes):
                await socket.send_bytes(message)
            else:
                await socket.send_json(message)
        except (RuntimeError, WebSocketDisconnect):
            pass

    async def _execute(self, prompt_id: str, graph: dict[str, Any], client_id: str | None) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        status = {
            "type": "status",
            "data": {"status": {"exec_info": {"queue_remaining": len(self.pending)}}},
        }
        await self._send(client_id, status)
        await self._send(client_id, status)
        async with self._lock:  # one prompt at a time, as ComfyUI
            if prompt_id not in self.pending:
                return  # deleted from the queue
            self.pending.remove(prompt_id)
            self.running = prompt_id
            self._interrupt.clear()
            try:
                await self._run(prompt_id, graph, client_id)
            finally:
                self.running = None

    async def _run(self, prompt_id: str, graph: dict[str, Any], client_id: str | None) -> None:
        def ts() -> int:
            return int(time.time() * 1000)

        def send(kind: str, data: dict[str, Any]):
            return self._send(client_id, {"type": kind, "data": {**data, "prompt_id": prompt_id}})

        key = json.dumps(graph, sort_keys=True)
        cached = self.cache.get(key)
        await send("execution_start", {"timestamp": ts()})
        await send("execution_cached", {"nodes": list(graph) if cached else [], "timestamp": ts()})
        outputs: dict[str, Any] = {}
        for node_id, node in graph.items():
            class_type = node["class_type"]
            if cached:
                output = cached.get(node_id)
            else:
                await send("executing", {"node": node_id, "display_node": node_id})
                if class_type == SLOW_NODE:
                    steps = int(node["inputs"].get("steps", 5))
                    for step in range(1, steps + 1):
                        await asyncio.sleep(0.1)
                        if self._interrupt.is_set():
                            await send(
                                "execution_interrupted",
                                {
                                    "node_id": node_id,
                                    "node_type": class_type,
                                    "executed": [],
                                    "timestamp": ts(),
                                },
                            )
                            self._store_history(prompt_id, graph, {}, "error")
                            await self._finish(client_id, send)
                            return
                        await send("progress", {"value": step, "max": steps, "node": node_id})
                        metadata = client_id in self.preview_metadata
                        frame = preview_frame(step, node_id=node_id, prompt_id=prompt_id, metadata=metadata)  # fmt: skip
                        await self._send(client_id, frame)
                error = self._failure(node)
                if error:
                    await send("execution_error", {
                        "node_id": node_id, "node_type": class_type, "executed": [], "exception_message": error,
                        "exception_type": "PIL.UnidentifiedImageError", "traceback": ["..."], "current_inputs": {},
                        "current_outputs": {}, "timestamp": ts(),
                    })  # fmt: skip
                    self._store_history(prompt_id, graph, {}, "error")
                    await self._finish(client_id, send)
                    return
                output = self._outputs(node)
            if output:
                outputs[node_id] = output
                if self.send_executed:
                    await send(
                        "executed", {"node": node_id, "display_node": node_id, "output": output}
                    )
        self.cache[key] = outputs
        await send("execution_success", {"timestamp": ts()})
        self._store_history(prompt_id, graph, outputs, "success")
        await self._finish(client_id, send)

    async def _finish(self, client_id: str | None, send) -> None:
        """What ComfyUI sends after every prompt, whatever its end: status, then executing null."""
        await self._send(
            client_id, {"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}}}
        )
        await send("executing", {"node": None})

    def _failure(self, node: dict[str, Any]) -> str | None:
        if node["class_type"] in ("LoadImage", "LoadImageMask"):
            name = node["inputs"].get("image", "")
            if not self.files.get(("input", "", name), b"").startswith(b"\x89PNG"):
                return f"cannot identify image file 'input/{name}'\n"
        return None

    def _outputs(self, node: dict[str, Any]) -> dict[str, Any] | None:
        class_type, inputs = node["class_type"], node.get("inputs") or {}
        subfolder, _, prefix = str(inputs.get("filename_prefix", "ComfyUI")).rpartition("/")
        self.counter += 1

        def save(ext: str, data: bytes, kind: str = "output") -> dict[str, str]:
            name = f"{prefix}_{self.counter:05}_.{ext}"
            self.files[(kind, subfolder, name)] = data
            return {"filename": name, "subfolder": subfolder, "type": kind}

        if class_type == "SaveImage":
            return {"images": [save("png", png())]}
        if class_type == "PreviewImage":
            return {"images": [save("png", png(), "temp")]}
        if class_type == "SaveAnimatedWEBP":
            return {"images": [save("webp", webp_animation())], "animated": [True]}
        if class_type in ("SaveVideo", "SaveWEBM"):
            return {"images": [save("mp4", MP4)], "animated": [True]}
        if class_type in ("SaveAudio", "PreviewAudio"):
            return {"audio": [save("flac", FLAC)]}
        if class_type == "PreviewAny":
            return {"text": ["hello\nfrom a model-free graph !"]}
        if class_type == "VHS_VideoCombine":
            entry = save("mp4", MP4)
            return {"gifs": [{**entry, "format": "video/h264-mp4", "frame_rate": 8.0}]}
        return None

    def _store_history(
        self, prompt_id: str, graph: dict[str, Any], outputs: dict[str, Any], status: str
    ) -> None:
        self.history[prompt_id] = {
            "prompt": [0, prompt_id, graph, {}, list(outputs)],
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success", "messages": []},
            "meta": {},
            "_visible_at": time.monotonic() + self.history_lag,
        }


class RunningFake:
    def __init__(self, fake: FakeComfyUI) -> None:
        self.fake = fake
        self.server = uvicorn.Server(
            uvicorn.Config(fake.app, host="127.0.0.1", port=0, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "fake ComfyUI did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
