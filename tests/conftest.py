import asyncio
import gc
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))


@pytest.fixture(autouse=True, scope="session")
def _gradio_builds_without_a_new_event_loop():
    """Gradio's `safe_get_lock`/`safe_get_stop_event` open (and never close) a new event loop
    for every Blocks built outside a running loop: the app builds one, the tests hundreds.
    An asyncio Lock or Event binds to the running loop on first use (Python 3.10+), so none
    is needed."""
    import gradio.queueing
    import gradio.utils

    with pytest.MonkeyPatch.context() as patch:
        for module in (gradio.utils, gradio.queueing):
            patch.setattr(module, "safe_get_lock", asyncio.Lock, raising=False)
        patch.setattr(gradio.utils, "safe_get_stop_event", asyncio.Event)
        yield


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test():
    """Collect after each test, so a leaked socket or loop is reported at the test that leaked it."""
    yield
    gc.collect()
