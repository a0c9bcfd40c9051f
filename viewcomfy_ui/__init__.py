"""viewcomfy-ui: ComfyUI workflows as web forms, run on ViewComfy or a local engine.

Layers, each importing only those before it:
  errors, paths, media, field_kinds, redact, checks
                               - the exception hierarchy, safe names and confined paths, media
                                 types by extension, the kinds of form field, secrets out of
                                 text, operator input checks (import nothing but errors)
  workflow, nodespecs, recover, - the workflow model and form-field inference (pure):
  fields, arrange, curated,        ui_format converts ComfyUI's UI-format save as its frontend
  apps/, demo,                     does (with ui_widgets, ui_layout, ui_group_nodes); recover
  ui_format, ui_widgets,           finds a flattened node's class; arrange orders the form;
  ui_layout, ui_group_nodes,       curated and apps/ read forms authors made (ViewComfy,
  output_pick, preflight           App Mode, ComfyDeploy, SwarmUI, MCWW); output_pick tells
                                   results from by-products; preflight lists what a server
                                   lacks for a workflow
  models, api, client/, outputs, object_info
                               - the ViewComfy client (HTTP + SSE + socket.io), saving its
                                 outputs (decoded or streamed from links), node declarations
  progress                     - console progress lines and the run's node-by-node progress
  server/                      - a local ViewComfy-compatible server and its engines
  history/                     - kept runs: a SQLite store and the files beside it
  ui/                          - the Gradio app (kinds -> values -> runner -> page -> main)
"""

from .api import SyncViewComfyClient, ViewComfyClient, infer, infer_with_logs
from .errors import ViewComfyError
from .fields import Field, infer_fields
from .models import FileOutput, PromptResult
from .outputs import save_outputs
from .workflow import Workflow, apply_params, flatten, load_workflow

__all__ = [
    "Field",
    "FileOutput",
    "PromptResult",
    "SyncViewComfyClient",
    "ViewComfyClient",
    "ViewComfyError",
    "Workflow",
    "apply_params",
    "flatten",
    "infer",
    "infer_fields",
    "infer_with_logs",
    "load_workflow",
    "save_outputs",
]
