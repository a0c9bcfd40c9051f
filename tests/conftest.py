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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives Chromium (the `browser` fixture) is a browser test, and leak-prone."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.leak_prone)


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


@pytest.fixture(autouse=True, scope="session")
def _imports_left_out_of_every_collection():
    """Freeze what the imports made (Gradio, playwright...: most of the heap, alive to the end):
    a full collection then looks only at what the tests made, a hundredth of the time."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _collect_garbage_after_leak_prone_tests(request):
    """After a `leak_prone` test, collect: a socket or loop it leaked is reported at it."""
    yield
    if request.node.get_closest_marker("leak_prone"):
        gc.collect()
