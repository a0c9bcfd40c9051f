"""Start the app: load the workflow, pick the endpoint (or start the local engine), launch."""

from __future__ import annotations

import asyncio
import html
import secrets
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image as PILImage

from .. import preflight
from ..apps import read_app
from ..curated import CuratedWorkflow, load_view_comfy, sniff_view_comfy
from ..demo import DEMO_INPUTS
from ..errors import ViewComfyError, WorkflowError
from ..fields import MEDIA_KINDS, Field, infer_fields
from ..history import HistoryStore
from ..object_info import load_object_info
from ..output_pick import OutputPick
from ..paths import find_inside
from ..preflight import Preflight
from ..server import BackgroundServer, ServerConfig, make_engine, start_background_server
from ..server.http import ConnectionLimits
from ..workflow import Workflow, load_workflow, workflow_title
from .config import AppConfig, ConfigError, banner, parse_config
from .editor import build_editor
from .history import HistoryContext
from .page import LAUNCH_STYLE, OUTPUT_ROOT, Shared, build_page
from .runner import Endpoint, FolderSweeper, Runner
from .serving import guarded_launch
from .snippets import serve_command
from .visitor import Visitors

SERVER_INPUTS = Path(tempfile.gettempdir()) / "viewcomfy-ui-server-inputs"  # /view copies


@dataclass
class App:
    page: gr.Blocks
    endpoint: Endpoint
    config: AppConfig
    sweeper: FolderSweeper
    local_server: BackgroundServer | None = None
    history: HistoryContext | None = None
    runners: list[Runner] = field(default_factory=list)

    def launch(self, limits: ConnectionLimits | None = None, **options: Any) -> None:
        """Serve the page with the configured limits and the connection `limits` of `serve`;
        `options` go to Gradio's launch()."""
        settings = {
            "server_name": self.config.host, "server_port": self.config.port or free_port(self.config.host),
            "auth": self.config.auth, "max_file_size": self.config.max_file_size,
            "footer_links": ["api", "gradio"], "app_kwargs": {"lifespan": self._lifespan},
            **LAUNCH_STYLE, **options,
        }  # fmt: skip
        if self.history:  # kept files: reachable only by their random run ids (the #history)
            settings["allowed_paths"] = [str(self.history.store.files.root)]
        guarded_launch(self.page, limits or ConnectionLimits(), **settings)

    @asynccontextmanager
    async def _lifespan(self, _: object) -> AsyncIterator[None]:
        """The web server's lifetime: when it stops, close the runners' connection pools in
        the event loop they were used in (else their sockets outlive it, unclosed)."""
        yield
        for runner in self.runners:
            await runner.aclose()

    def close(self) -> None:
        """Stop serving and close everything the app opened."""
        self.page.close(verbose=False)
        self.sweeper.stop()
        if self.history:
            self.history.store.close()
        if self.local_server:
            self.local_server.stop()


def create_app(config: AppConfig) -> App:
    """Everything but launching: raises ViewComfyError/ConfigError with a one-line reason."""
    object_info = load_object_info(config.object_info) if config.object_info else None
    forms = _forms(config.workflow, object_info, config.comfyui_url)
    workflow = forms[0].workflow
    input_dir = _input_dir(config.workflow)
    server = comfyui = None
    if config.api_url:
        endpoint = Endpoint(
            url=config.api_url, client_id=config.client_id, client_secret=config.client_secret,
            description=banner(config),
            protocol=config.protocol, gateway_url=config.gateway_url,
        )  # fmt: skip
    else:
        if workflow.api is None:
            raise ConfigError(
                f"{config.workflow.name} holds flattened parameters; a local engine needs the "
                "API-format workflow_api.json (or give --api-url)"
            )
        if config.comfyui_url:
            engine = comfyui = make_engine("comfyui", config.comfyui_url)
            object_info = object_info or engine.object_info()  # exact widgets from the live server
        else:
            engine = make_engine("builtin", None)
        server = start_background_server(
            ServerConfig(
                engine=engine,
                workflow=workflow.api,
                input_dir=input_dir,
                orphan_timeout=config.orphan_timeout,
            )
        )
        endpoint = Endpoint(
            url=server.url, local=True, description=banner(config), protocol=config.protocol,
            gateway_url=server.url if config.protocol == "realtime" else None,
            serve_command=serve_command(config.workflow, config.comfyui_url),
        )  # fmt: skip
    history = None if config.edit is not None else _history(config)  # the editor runs nothing
    runners = []
    if config.edit is not None:
        fields = infer_fields(workflow, object_info)
        chosen = forms[0].fields(object_info) if forms[0].curated else None
        title = config.title or forms[0].title
        page = build_editor(workflow, fields, config.edit, title=title, chosen=chosen)
    else:
        pages = []
        keeps = history is not None and config.data_dir is not None
        visitors = Visitors(_browser_secret(config.data_dir)) if keeps else None
        shared = Shared(
            limiter=asyncio.Semaphore(config.concurrency), visitors=visitors,
            orphan_timeout=config.orphan_timeout,
        )  # fmt: skip
        for i, form in enumerate(forms):
            fields = form.fields(object_info)
            runners.append(
                Runner(replace(endpoint, workflow_api=form.workflow.api) if i else endpoint)
            )
            title = config.title if config.title and len(forms) == 1 else form.title
            default_files = _default_files(fields, input_dir)
            checked = _preflight(form.workflow, object_info, input_dir)
            if comfyui is not None:
                default_files |= _server_images(fields, default_files, checked, comfyui)
            pages.append(
                build_page(
                    fields, runners[-1], title=title, shared=shared, default_files=default_files,
                    history=history and history.for_form(i, form.title, form.workflow.api),
                    outputs=OutputPick.of(form.workflow.api, form.curated.outputs if form.curated else ()),
                    description=form.curated.description if form.curated else "",
                    preflight=checked, required_uploads=_required_uploads(
                        fields, default_files, checked if comfyui else None, local=endpoint.local
                    ),
                )
            )  # fmt: skip
        page = pages[0] if len(pages) == 1 else _choose(forms, pages, config.title)
    page.queue(default_concurrency_limit=config.concurrency)
    sweeper = FolderSweeper(OUTPUT_ROOT, max_age=config.keep_outputs).start()
    return App(
        page=page, endpoint=endpoint, config=config, sweeper=sweeper, local_server=server,
        history=history, runners=runners,
    )  # fmt: skip


@dataclass(frozen=True)
class _Form:
    """One form to show: a plain workflow (inferred fields) or a curated one."""

    title: str
    workflow: Workflow
    curated: CuratedWorkflow | None = None

    def fields(self, object_info: Any) -> list[Field]:
        if self.curated is not None:
            return self.curated.fields(object_info)
        return infer_fields(self.workflow, object_info)


def _forms(path: Path, object_info: Any = None, comfyui_url: str | None = None) -> list[_Form]:
    """The forms of a workflow file: one, or one per workflow of a ``view_comfy.json``; an app
    made for another tool (App Mode, ComfyDeploy, SwarmUI, MCWW) is shown as its author made it. A
    UI-format file's nodes are declared by `object_info`, else the bundled declarations, else
    (for custom nodes they lack) the ComfyUI at `comfyui_url`."""
    if sniff_view_comfy(path):
        return [_Form(c.title, c.workflow, c) for c in load_view_comfy(path)]
    try:
        workflow = load_workflow(path, object_info=object_info)
    except WorkflowError:
        if object_info is not None or not comfyui_url:
            raise
        workflow = load_workflow(path, object_info=load_object_info(comfyui_url))
    if app := read_app(workflow, ui=workflow.ui, object_info=object_info):
        return [_Form(app.title, app.workflow, app)]
    return [_Form(workflow_title(workflow), workflow)]


def _choose(forms: Sequence[_Form], pages: Sequence[gr.Blocks], title: str | None) -> gr.Blocks:
    """Several workflows: one tab each, so the user picks one on the page, under the app's
    title (`--title`, else a curated file's `appTitle`)."""
    app_title = title or (forms[0].curated.app_title if forms[0].curated else "")
    with gr.Blocks(title=app_title or forms[0].title, fill_width=True) as page:
        if app_title:
            gr.HTML(f'<h1 class="vc-title vc-app-title">{html.escape(app_title)}</h1>')
        gr.HTML(f'<div class="vc-banner">{len(forms)} workflows in this file: pick one.</div>')
        with gr.Tabs(elem_id="workflows"):
            for i, (form, own) in enumerate(zip(forms, pages, strict=True)):
                with gr.Tab(form.title, id=i, elem_id=f"workflow-{i}"):
                    own.render()
    return page


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(argv)
        app = create_app(config)
    except (ViewComfyError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        app.launch()
    except OSError as exc:  # e.g. the port is taken
        print(
            f"error: cannot serve on {config.host}:{config.port} ({exc}); pass another --port",
            file=sys.stderr,
        )
        return 2
    finally:
        app.close()
    return 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (`--port 0`)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _history(config: AppConfig) -> HistoryContext | None:
    """The run history in `config.data_dir` (None: no history). A store that cannot open says
    so in one line and the app runs without it."""
    if config.data_dir is None:
        return None
    store = HistoryStore(config.data_dir, max_bytes=config.history_max_bytes)
    return HistoryContext(
        store=store, workflow_name=config.workflow.name
    )  # fmt: skip


def _browser_secret(data_dir: Path) -> str:
    """The key of the owner tokens kept in browsers: kept in the data folder, so a restart
    keeps each browser's history (a new one, for this run only, if it cannot be kept)."""
    path = data_dir / "browser-secret"
    try:
        return path.read_text(encoding="ascii").strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)
    except OSError:
        return secrets.token_urlsafe(32)


def _new_secret(path: Path) -> str:
    secret = secrets.token_urlsafe(32)
    try:
        path.touch(mode=0o600)
        path.write_text(secret, encoding="ascii")
    except OSError:
        pass
    return secret


def _input_dir(workflow_path: Path) -> Path:
    own = workflow_path.resolve().parent / "input"
    return own if own.is_dir() else DEMO_INPUTS


def _default_files(fields: Sequence, input_dir: Path) -> dict[str, Path]:
    """Media fields whose workflow value names a file we have: shown as the field's default."""
    found = {}
    for f in fields:
        candidate = find_inside(input_dir, f.value) if f.kind in MEDIA_KINDS else None
        if candidate is not None:
            found[f.key] = candidate
    return found


def _preflight(workflow: Workflow, object_info: Any, input_dir: Path) -> Preflight | None:
    """What the server declared by `object_info` lacks for `workflow` (None: no server)."""
    if object_info is None or workflow.api is None:
        return None
    names = {
        v for node in workflow.api.values() for v in (node.get("inputs") or {}).values()
        if isinstance(v, str) and find_inside(input_dir, v) is not None
    }  # fmt: skip
    return preflight.check(workflow.api, object_info, held=names)


def _server_images(
    fields: Sequence[Field], known: dict[str, Path], checked: Preflight | None, comfyui: Any
) -> dict[str, Path]:
    """Image fields whose workflow file is on the ComfyUI (and not here): a copy of it, so the
    form shows what the run will use."""
    absent = {(m.node_id, m.input) for m in checked.files} if checked else set()
    found = {}
    for f in fields:
        if f.kind not in ("image", "image-mask") or f.key in known or not f.value:
            continue
        if (f.node_id, f.input_name) in absent:
            continue
        path = comfyui.input_file(str(f.value), SERVER_INPUTS)
        if path is not None and _is_image(path):
            found[f.key] = path
    return found


def _is_image(path: Path) -> bool:
    try:
        with PILImage.open(path) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        return False
    return True


def _required_uploads(
    fields: Sequence[Field], known: dict[str, Path], checked: Preflight | None, *, local: bool
) -> frozenset[str]:
    """Media fields that must hold a file to run: on the app's own engine, those whose
    workflow file is neither here nor (with a ComfyUI, `checked` against it) on the server.
    A remote endpoint's files are not known: none."""
    if not local:
        return frozenset()
    absent = {(m.node_id, m.input) for m in checked.files if m.upload} if checked else None
    return frozenset(
        f.key for f in fields
        if f.kind in MEDIA_KINDS and f.key not in known
        and (absent is None or (f.node_id, f.input_name) in absent)
    )  # fmt: skip
