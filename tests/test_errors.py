"""The error hierarchy is whole: a caller catches everything the package raises on purpose with
one `except ViewComfyError`, and a failure carries data, not only text."""

import importlib
import inspect
import pkgutil

import viewcomfy_ui
from viewcomfy_ui.errors import IncompleteStreamError, RunFailedError, ViewComfyError


def _package_modules():
    for info in pkgutil.walk_packages(viewcomfy_ui.__path__, prefix="viewcomfy_ui."):
        yield importlib.import_module(info.name)


def test_every_exception_class_of_the_package_derives_from_viewcomfy_error():
    found = {
        f"{cls.__module__}.{cls.__qualname__}": cls
        for module in _package_modules()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__.startswith("viewcomfy_ui.")
    }
    assert len(found) > 15  # the walk really reached the modules
    stray = sorted(name for name, cls in found.items() if not issubclass(cls, ViewComfyError))
    assert stray == []


def test_a_node_failure_carries_its_node_and_reads_as_one_line():
    error = RunFailedError("Invalid image file: x.png", node_id="12", node_type="LoadImage")
    assert (error.reason, error.node_id, error.node_type) == (
        "Invalid image file: x.png",
        "12",
        "LoadImage",
    )
    assert str(error) == "the run failed: node 12 (LoadImage): Invalid image file: x.png"
    assert str(RunFailedError("out of memory")) == "the run failed: out of memory"
    assert str(RunFailedError("")) == "the run failed: the server gave no reason"


def test_a_dropped_stream_is_a_failure_without_a_failed_prefix():
    error = IncompleteStreamError("the event stream ended without a result")
    assert isinstance(error, RunFailedError)
    assert str(error) == "the event stream ended without a result"
