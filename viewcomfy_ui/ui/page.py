"""The web page: a form generated from the workflow, Run/Cancel, live logs, results, API snippets."""

from __future__ import annotations

import html
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

import gradio as gr

from ..fields import Field
from ..outputs import SavedOutput
from . import snippets
from . import status as st
from .runner import Endpoint, Runner, RunUpdate
from .values import build_params, validate
from .widgets import FieldWidget, field_widget, reset_value

AUDIO_PLAYERS = 4
OUTPUT_ROOT = Path(tempfile.gettempdir()) / "viewcomfy-ui-runs"
CSS = Path(__file__).with_name("style.css").read_text(encoding="utf-8")
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="violet", neutral_hue="slate")
LAUNCH_STYLE = {"theme": THEME, "css": CSS}  # Gradio 6 takes these in launch()


def build_page(
    fields: Sequence[Field],
    endpoint: Endpoint,
    *,
    title: str,
    default_files: dict[str, Path] | None = None,
) -> gr.Blocks:
    """The whole app. `default_files` maps media fields to the workflow's own files, if known."""
    default_files = default_files or {}
    runner = Runner(endpoint)
    ready = _ready_status(endpoint)

    with gr.Blocks(title=title, delete_cache=(3600, 7200), fill_width=True) as page:
        gr.HTML(f'<h1 class="vc-title">{html.escape(title)}</h1>')
        gr.HTML(f'<div class="vc-banner">{html.escape(endpoint.description)}</div>')
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=340):
                with gr.Row(elem_id="actions"):
                    run = gr.Button(
                        "Run",
                        variant="primary",
                        elem_id="run",
                        interactive=not endpoint.missing_keys,
                    )
                    cancel = gr.Button(
                        "Cancel", variant="stop", elem_id="cancel", interactive=False
                    )
                    reset = gr.Button("Reset", variant="secondary", elem_id="reset", min_width=80)
                widgets = _form(fields, default_files)
                stream = gr.Radio(
                    [("Stream logs (infer_with_logs)", "stream"), ("Plain request (infer)", "plain")],
                    value="stream", label="Request", elem_id="mode",
                )  # fmt: skip
            with gr.Column(scale=7, min_width=340):
                status = gr.HTML(ready.html(), elem_id="status")
                gallery = gr.Gallery(
                    label="Results", elem_id="gallery", columns=2, height=440, object_fit="contain",
                    buttons=["download", "fullscreen"], interactive=False,
                )  # fmt: skip
                audio = [
                    gr.Audio(
                        label=f"Audio {i + 1}",
                        visible=False,
                        interactive=False,
                        elem_id=f"audio-{i}",
                    )
                    for i in range(AUDIO_PLAYERS)
                ]
                text = gr.Textbox(
                    label="Text output",
                    visible=False,
                    lines=4,
                    elem_id="text-output",
                    interactive=False,
                )
                files = gr.File(
                    label="Download", file_count="multiple", elem_id="files", interactive=False
                )
                logs = gr.Textbox(
                    label="Logs", lines=14, max_lines=14, autoscroll=True, elem_id="logs",
                    interactive=False, buttons=["copy"],
                )  # fmt: skip
                with gr.Accordion("API", open=False, elem_id="api"):
                    api_params = gr.Code(
                        label="Params of the last run", language="json", elem_id="api-params"
                    )
                    api_python = gr.Code(label="Python", language="python", elem_id="api-python")
                    api_curl = gr.Code(label="cURL", language="shell", elem_id="api-curl")
        run_dir = gr.State(None, delete_callback=_remove_dir)

        seeds = [w for w in widgets if w.randomize]
        inputs = [w.component for w in widgets] + [w.randomize for w in seeds] + [stream, run_dir]
        outputs = [
            status,
            logs,
            gallery,
            *audio,
            text,
            files,
            api_params,
            api_python,
            api_curl,
            run,
            cancel,
            run_dir,
        ]
        outputs += [w.component for w in seeds]

        def split(values: Sequence[Any]) -> tuple[list[Any], dict[str, bool], bool, str | None]:
            form = list(values[: len(widgets)])
            flags = values[len(widgets) : len(widgets) + len(seeds)]
            randomize = {w.field.key: bool(v) for w, v in zip(seeds, flags, strict=True)}
            return form, randomize, values[-2] != "plain", values[-1]

        def check(*values: Any) -> list[dict[str, Any]]:
            form, _, _, _ = split(values)
            verdicts = [validate(w.field, v) for w, v in zip(widgets, form, strict=True)]
            rest = [gr.validate(True, "")] * (len(values) - len(widgets))
            return [gr.validate(error is None, error or "") for error in verdicts] + rest

        async def start(*values: Any):
            form, randomize, streaming, previous_dir = split(values)
            _remove_dir(previous_dir)
            directory = Path(tempfile.mkdtemp(prefix="run-", dir=_output_root()))
            params = build_params(
                [w.field for w in widgets], form, randomize,
                default_files={w.field.key: w.default_file for w in widgets if w.default_file},
            )  # fmt: skip
            code = _code_views(endpoint.url, params.values, params.files)
            async for update in runner.run(params, stream=streaming, run_dir=directory / "outputs"):
                seed_values = [
                    str(params.seeds[w.field.key])
                    if update.outputs is not None and w.field.key in params.seeds
                    else gr.skip()
                    for w in seeds
                ]
                yield (
                    *_views(update, directory),
                    *code,
                    *_buttons(update.finished),
                    str(directory),
                    *seed_values,
                )

        run_event = run.click(
            start, inputs=inputs, outputs=outputs, validator=check, concurrency_id="run",
            show_progress="hidden", api_name="run",
        )  # fmt: skip
        cancel.click(
            lambda: (
                st.Status("cancelled", "Cancelled. Ready to run again.").html(),
                *_buttons(True),
            ),
            outputs=[status, run, cancel],
            cancels=[run_event],
            queue=False,
            api_visibility="private",
        )
        reset.click(
            lambda: [reset_value(w) for w in widgets] + [True] * len(seeds),
            outputs=[w.component for w in widgets] + [w.randomize for w in seeds],
            api_visibility="private",
        )
    return page


def _form(fields: Sequence[Field], default_files: dict[str, Path]) -> list[FieldWidget]:
    """One group per node (basic fields), then an 'Advanced' accordion with the rest."""
    taken: set[str] = set()
    widgets: list[FieldWidget] = []
    basic = [f for f in fields if not f.advanced]
    advanced = [f for f in fields if f.advanced]
    for section, chosen in (("basic", basic), ("advanced", advanced)):
        if not chosen:
            continue
        container = (
            gr.Accordion("Advanced", open=False, elem_id="advanced")
            if section == "advanced"
            else gr.Column()
        )
        with container:
            for _, group in groupby(chosen, key=lambda f: f.node_id):
                group = list(group)
                with gr.Group(elem_classes=["vc-node"]):
                    gr.HTML(f'<div class="vc-node-title">{html.escape(group[0].node_title)}</div>')
                    widgets += [field_widget(f, default_files.get(f.key), taken) for f in group]
    order = {f.key: i for i, f in enumerate(fields)}
    return sorted(widgets, key=lambda w: order[w.field.key])


def _views(update: RunUpdate, directory: Path) -> tuple[Any, ...]:
    logs = "\n".join(update.logs)
    if update.outputs is None:
        skip = gr.skip()
        return (update.status.html(), logs, skip, *[skip] * AUDIO_PLAYERS, skip, skip)
    outputs = update.outputs
    visual = [(str(o.path), o.path.name) for o in outputs if o.kind in ("image", "video")]
    sounds = [o for o in outputs if o.kind == "audio"][:AUDIO_PLAYERS]
    audio = [
        gr.update(value=str(sounds[i].path), label=sounds[i].path.name, visible=True)
        if i < len(sounds)
        else gr.update(value=None, visible=False)
        for i in range(AUDIO_PLAYERS)
    ]
    texts = [o for o in outputs if o.kind == "text"]
    text = "\n\n".join(f"{o.path.name}:\n{_head(o.path)}" for o in texts)
    downloads = [str(o.path) for o in outputs]
    if len(outputs) > 1:
        downloads.append(str(_zip(outputs, directory)))
    return (
        update.status.html(), logs, visual, *audio,
        gr.update(value=text, visible=bool(texts)), downloads,
    )  # fmt: skip


def _code_views(url: str, values: dict[str, Any], files: dict[str, Path]) -> tuple[str, str, str]:
    return (
        snippets.params_json(values, files),
        snippets.python_snippet(url, values, files),
        snippets.curl_snippet(url, values, files),
    )


def _buttons(finished: bool) -> tuple[Any, Any]:
    return gr.update(interactive=finished), gr.update(interactive=not finished)


def _head(path: Path, limit: int = 100_000) -> str:
    """The start of a text output (the whole file stays downloadable)."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", "replace")
    return text + "\n… (truncated; download the file for the rest)" if len(data) > limit else text


def _zip(outputs: Sequence[SavedOutput], directory: Path) -> Path:
    """All outputs in one archive, beside (not among) the output files."""
    archive = directory / "all_outputs.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for output in outputs:
            zf.write(output.path, arcname=output.path.name)
    return archive


def _ready_status(endpoint: Endpoint) -> st.Status:
    if endpoint.missing_keys:
        return st.Status(
            "warning",
            "Set VIEWCOMFY_CLIENT_ID and VIEWCOMFY_CLIENT_SECRET (environment, Space secrets or a "
            ".env file next to app.py) and restart the app to run this workflow.",
        )
    return st.Status("ready", "Ready.")


def _output_root() -> Path:
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    return OUTPUT_ROOT


def _remove_dir(directory: str | None) -> None:
    if directory and Path(directory).parent == OUTPUT_ROOT:
        shutil.rmtree(directory, ignore_errors=True)
