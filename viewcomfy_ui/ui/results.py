"""The page's right-hand column: status, live preview, results (gallery, before/after, 3D
viewers, players, text, downloads, other outputs), logs and the API accordion; `Results.show`
puts a run's state onto it.
"""

from __future__ import annotations

import base64
import html
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..media import extension_kind
from ..models import Preview
from ..output_pick import OutputPick
from ..outputs import SavedOutput
from . import snippets
from . import status as st
from .outcome import Done, Outcome
from .queue_view import QueueControls
from .runner import Endpoint, RunUpdate

AUDIO_PLAYERS = 4
MODEL_VIEWERS = 2  # 3D viewers (each further 3D output is in the downloads)
Component = gr.components.Component


@dataclass
class Results:
    """The right-hand column: status, outputs, logs and the API accordion."""

    status: gr.HTML
    gallery: gr.Gallery
    compare_box: gr.Accordion
    compare: gr.ImageSlider
    before: gr.State  # the compared input (not read back from the slider: Gradio leaks a file)
    models: list[gr.Model3D]
    model_paths: gr.State  # the 3D results, drawn once the run's stream ends (see `mount`)
    audio: list[gr.Audio]
    text: gr.Textbox
    files: gr.File
    others: gr.Accordion
    other_gallery: gr.Gallery
    other_files: gr.File
    logs: gr.Textbox
    api_params: gr.Code
    api_python: gr.Code
    api_curl: gr.Code
    mode: gr.Radio
    queue: QueueControls | None = None
    pick: OutputPick = field(default_factory=OutputPick)
    preview: gr.HTML | None = None

    @classmethod
    def build(
        cls,
        ready: st.Status,
        queue: Callable[[], QueueControls] | None = None,
        api: tuple[str, str, str] = ("", "", ""),
        pick: OutputPick | None = None,
    ) -> Results:
        """Status first, then the results; `queue` lays out the run queue after the downloads
        (so on a phone the status, then the results, come right after the form); `api`: the
        API accordion's params, Python and cURL until the first run. The results (`pick`) show
        in the gallery, 3D viewers, players and text; by-products in a closed "Other outputs";
        every file is downloadable."""
        status = gr.HTML(ready.html(), elem_id="status")
        preview = gr.HTML("", elem_id="preview", visible=False, padding=False)
        gallery = gr.Gallery(
            label="Results", elem_id="gallery", columns=2, height=440, object_fit="contain",
            buttons=["download", "fullscreen"], interactive=False,
        )  # fmt: skip
        with gr.Accordion(
            "Before / after", open=False, visible=False, elem_id="compare-box"
        ) as box:
            compare = gr.ImageSlider(
                label="Input | result", type="filepath", format="png", elem_id="compare",
                interactive=False, max_height=440,
            )  # fmt: skip
        models = [
            gr.Model3D(  # "hidden", not False: one shown from False never draws (Gradio 6.31)
                label=f"3D {i + 1}", visible="hidden", interactive=False, elem_id=f"model3d-{i}"
            )
            for i in range(MODEL_VIEWERS)
        ]
        model_paths = gr.State([])
        audio = [
            gr.Audio(label=f"Audio {i + 1}", visible=False, interactive=False, elem_id=f"audio-{i}")
            for i in range(AUDIO_PLAYERS)
        ]
        text = gr.Textbox(
            label="Text output", visible=False, lines=4, elem_id="text-output", interactive=False
        )
        files = gr.File(label="Download", file_count="multiple", elem_id="files", interactive=False)
        with gr.Accordion(
            "Other outputs", open=False, visible=False, elem_id="other-outputs"
        ) as others:
            other_gallery = gr.Gallery(
                label="Previews and intermediates", elem_id="other-gallery", columns=3, height=300,
                object_fit="contain", buttons=["download", "fullscreen"], interactive=False,
            )  # fmt: skip
            other_files = gr.File(
                label="Other files", file_count="multiple", elem_id="other-files", interactive=False
            )
        controls = queue() if queue else None
        logs = gr.Textbox(
            label="Logs", lines=14, max_lines=14, autoscroll=True, elem_id="logs",
            interactive=False, buttons=["copy"],
        )  # fmt: skip
        with gr.Accordion("API", open=False, elem_id="api"):
            api_params = gr.Code(
                api[0], label="Params (the last run's; before one, the form's)", language="json",
                elem_id="api-params",
            )  # fmt: skip
            api_python = gr.Code(api[1], label="Python", language="python", elem_id="api-python")
            api_curl = gr.Code(api[2], label="cURL", language="shell", elem_id="api-curl")
            mode = gr.Radio(
                [("Live logs", "stream"), ("Wait for the result", "plain")], value="stream",
                label="While a run goes", elem_id="mode",
                info="For endpoints or proxies that cannot stream: one plain request (infer) "
                "instead of a stream of log lines (infer_with_logs).",
            )  # fmt: skip
        before = gr.State(None)
        gallery.select(_pick_after, inputs=[before], outputs=[compare], api_visibility="private")
        return cls(
            status=status, gallery=gallery, compare_box=box, compare=compare, before=before,
            models=models, model_paths=model_paths, audio=audio, text=text, files=files,
            others=others, other_gallery=other_gallery, other_files=other_files, logs=logs,
            api_params=api_params, api_python=api_python, api_curl=api_curl, mode=mode,
            queue=controls, pick=pick or OutputPick(), preview=preview,
        )  # fmt: skip

    @property
    def components(self) -> list[Component]:
        return [
            self.status, self.gallery, *self.audio, self.text, self.files, self.logs,
            self.api_params, self.api_python, self.api_curl, self.compare_box, self.compare,
            self.before, self.model_paths, self.others, self.other_gallery, self.other_files,
            *([self.preview] if self.preview else []),
        ]  # fmt: skip

    def preview_of(self, live: RunUpdate | None, outcome: Outcome | None) -> dict[Component, Any]:
        """`#preview`: the newest frame while a run goes; hidden for a new run and once its
        results come; the last frame kept when it failed or was cancelled."""
        if self.preview is None:
            return {}
        if isinstance(outcome, Done) or (outcome is None and live is None):
            return {self.preview: gr.update(value="", visible=False)}
        if outcome is None and live is not None and live.preview is not None:
            return {self.preview: gr.update(value=_preview_html(live.preview), visible=True)}
        return {}

    def show(
        self,
        status: st.Status,
        logs: Sequence[str],
        outputs: Sequence[SavedOutput] | None,
        directory: Path,
    ) -> dict[Component, Any]:
        """The status and logs, and the outputs when given (None: leave them as they are)."""
        shown: dict[Component, Any] = {self.status: status.html(), self.logs: "\n".join(logs)}
        if outputs is None:
            return shown
        flags = self.pick.results([o.filename or o.path.name for o in outputs])
        others = [o for o, result in zip(outputs, flags, strict=True) if not result]
        outputs = [o for o, result in zip(outputs, flags, strict=True) if result]
        shown[self.gallery] = [
            (str(o.path), o.path.name) for o in outputs if o.kind in ("image", "video")
        ]
        shown.update(self._by_products(others))
        shown[self.model_paths] = [str(o.path) for o in outputs if o.kind == "model3d"]
        sounds = [o for o in outputs if o.kind == "audio"][:AUDIO_PLAYERS]
        for i, player in enumerate(self.audio):
            shown[player] = (
                gr.update(value=str(sounds[i].path), label=sounds[i].path.name, visible=True)
                if i < len(sounds)
                else gr.update(value=None, visible=False)
            )
        texts = [o for o in outputs if o.kind == "text"]
        text = "\n\n".join(f"{o.path.name}:\n{_head(o.path)}" for o in texts)
        shown[self.text] = gr.update(value=text, visible=bool(texts))
        everything = [*outputs, *others]
        downloads = [str(o.path) for o in everything]
        if len(everything) > 1:
            downloads.append(str(_zip(everything, directory)))
        shown[self.files] = downloads
        return shown

    def mount(self, run: gr.events.Dependency) -> None:
        """Draw the 3D results once `run`'s stream ends: a Model3D a streaming event updates
        never draws its model (Gradio 6.31), one a plain event updates does."""
        run.then(
            self._drawn, inputs=[self.model_paths], outputs=self.models, queue=False,
            api_visibility="private",
        )  # fmt: skip

    def _drawn(self, paths: list[str]) -> list[Any]:
        return [
            gr.update(value=paths[i], label=Path(paths[i]).name, visible=True)
            if i < len(paths)
            else gr.update(value=None, visible="hidden")
            for i in range(len(self.models))
        ]

    def _by_products(self, others: Sequence[SavedOutput]) -> dict[Component, Any]:
        """'Other outputs': previews and intermediates (shown only when there are some)."""
        visual = [(str(o.path), o.path.name) for o in others if o.kind in ("image", "video")]
        rest = [str(o.path) for o in others if o.kind not in ("image", "video")]
        return {
            self.others: gr.update(visible=bool(others)),
            self.other_gallery: gr.update(value=visual, visible=bool(visual)),
            self.other_files: gr.update(value=rest, visible=bool(rest)),
        }

    def compared(self, before: Any, shown: dict[Component, Any]) -> dict[Component, Any]:
        """'Before / after' for shown results: the form's input image beside the first image
        result (another one picked in the gallery replaces it); hidden without both."""
        if self.gallery not in shown:
            return {}
        after = next((p for p, _ in shown[self.gallery] if extension_kind(p) == "image"), None)
        both = before is not None and after is not None
        return {
            self.compare_box: gr.update(visible=both),
            self.compare: (before, after) if both else None,
            self.before: before if both else None,
        }

    def code(
        self, endpoint: Endpoint, values: dict[str, Any], files: dict[str, Path], stream: bool
    ) -> dict[Component, Any]:
        views = snippets.code_views(endpoint, values, files, stream=stream)
        return dict(zip((self.api_params, self.api_python, self.api_curl), views, strict=True))


def _preview_html(frame: Preview) -> str:
    """The frame as an inline image (its type is one of `models.PREVIEW_TYPES`, its bytes
    base64-encoded here: nothing the server sent reaches the page as markup)."""
    data = base64.b64encode(frame.data).decode("ascii")
    return (
        f'<img alt="Live preview" src="data:{html.escape(frame.content_type)};base64,{data}" '
        'style="display:block;margin:auto;max-width:100%;max-height:440px">'
    )


def _pick_after(before: Any, event: gr.SelectData) -> Any:
    """The gallery's picked image as the 'after' of the comparison (a video leaves it)."""
    picked = event.value.get("image") if isinstance(event.value, dict) else None
    path = picked.get("path") if isinstance(picked, dict) else None
    return (before, path) if before is not None and path else gr.skip()


def _head(path: Path, limit: int = 100_000) -> str:
    """The start of a text output (the whole file stays downloadable)."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", "replace")
    return text + "\n… (truncated; download the file for the rest)" if len(data) > limit else text


def _zip(outputs: Sequence[SavedOutput], directory: Path) -> Path:
    """All outputs in one archive, beside (not among) the output files."""
    archive = directory / "all_outputs.zip"
    taken: set[str] = set()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for output in outputs:
            name = output.path.name  # a batch's runs may give the same names: prefix the run's
            name = f"{output.path.parent.name}_{name}" if name in taken else name
            taken.add(name)
            zf.write(output.path, arcname=name)
    return archive
