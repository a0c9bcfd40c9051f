"""The page's kept work: what the app tells the history of a form, and the recording of runs.

With history on (`--data-dir`), each run of the visitor's queue (ui/queue_view.py) is recorded in
the store as it starts and ends (`Recorder`); the `#history` section (ui/history_browser.py)
shows them. Every store query takes the visitor's owner key (ui/visitor.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..history import HistoryStore
from .batch import Job
from .runner import Endpoint


@dataclass(frozen=True)
class HistoryContext:
    """The store and what every record says about the app's form.

    `scope` keeps one form's runs apart from another's when a file has several workflows
    (empty: the file's first, or only, form). `workflow_api`: the form's graph, when known (its
    save nodes tell a run's main output)."""

    store: HistoryStore
    workflow_name: str
    scope: str = ""
    workflow_api: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    def for_form(
        self, index: int, title: str, workflow_api: Mapping[str, Any] | None
    ) -> HistoryContext:
        """The context of the `index`-th form of a file: the first keeps the file's history;
        each other one gets its own, named after its title and scoped by its workflow."""
        if index == 0:
            return dataclasses.replace(self, workflow_api=workflow_api)
        content = json.dumps(workflow_api, sort_keys=True, default=str).encode()
        scope = hashlib.sha256(title.encode() + b"\0" + content).hexdigest()[:16]
        name = f"{self.workflow_name} · {title}"
        return dataclasses.replace(self, workflow_name=name, scope=scope, workflow_api=workflow_api)


class Recorder:
    """Records one visitor's runs in the store: the `RunQueue`'s `on_start` / `on_end` hooks.

    A run is kept with its state and, when it failed, the bare reason with its node
    ("node 3 (ImageBlur): reason"); the page adds "Failed" when it shows it."""

    def __init__(self, context: HistoryContext, endpoint: Endpoint, owner: str) -> None:
        self.context = context
        self.endpoint = endpoint
        self.owner = owner
        self._records: dict[int, str | None] = {}  # job number -> the store's run id

    def started(self, job: Job) -> None:
        ctx, endpoint = self.context, self.endpoint
        self._records[job.number] = ctx.store.start(
            self.owner, workflow_name=ctx.workflow_name,
            params=job.params.values, uploads=job.params.files, seeds=job.params.seeds,
            protocol=endpoint.protocol, endpoint=endpoint.public_url or "local engine",
        )  # fmt: skip

    def ended(self, job: Job) -> None:
        self.context.store.finish(
            self.owner, self._records.pop(job.number, None), status=job.state,
            prompt_id=job.prompt_id, error=job.error, logs=job.logs,
            outputs=[(o.path, o.kind) for o in job.outputs],
        )  # fmt: skip
