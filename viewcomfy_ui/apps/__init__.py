"""Apps made for other tools, read as curated forms (the model of ``curated.py``). Pure.

One module per format, each a small reader returning a `CuratedWorkflow` (or None when the
workflow carries none of its markers): ComfyUI App Mode (`app_mode`, from the UI-format file),
ComfyDeploy's external input nodes (`comfydeploy`), SwarmUI's input nodes (`swarmui`) and MCWW's
title markers (`mcww`), the last three from the API prompt. ViewComfy's own ``view_comfy.json``
is ``curated.load_view_comfy``; its ``VC_BASIC``/``VC_ADV`` titles are read by inference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..curated import CuratedWorkflow
from ..workflow import Workflow
from .app_mode import read_app_mode
from .comfydeploy import read_comfydeploy
from .mcww import read_mcww
from .swarmui import read_swarmui

__all__ = ["read_app", "read_app_mode", "read_comfydeploy", "read_mcww", "read_swarmui"]


def read_app(
    workflow: Workflow,
    ui: Mapping[str, Any] | None = None,
    object_info: Mapping[str, Any] | None = None,
) -> CuratedWorkflow | None:
    """The app an author made of this workflow, if any: App Mode picks first (given the UI
    file the API prompt was made from), then ComfyDeploy, SwarmUI and MCWW markers."""
    if workflow.api is None:
        return None  # flattened parameters carry no class types: no markers to read
    if ui is not None and (app := read_app_mode(ui, workflow.api, name=workflow.name)):
        return app
    return read_comfydeploy(workflow) or read_swarmui(workflow) or read_mcww(workflow, object_info)
