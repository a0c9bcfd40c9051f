"""Runs outlive their page, in a real headless Chromium: a reloaded page finds its run going
(status, logs so far, then the results) and its form as the user left it; a page gone longer
than the orphan timeout cancels its runs, recorded so with the reason."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from apps import free_port
from browser import browser  # noqa: F401 - fixture
from fake_comfyui import FakeComfyUI, RunningFake
from playwright.sync_api import expect

from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.server.engine import BuiltinEngine, RunCancelled
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app
from viewcomfy_ui.ui.page import LAUNCH_STYLE

pytestmark = pytest.mark.browser
TIMEOUT = 60_000
BLUR = "#field-6-inputs-blur_radius input[type=number]"
GOING = '#status .vc-status[data-state="waiting"], #status .vc-status[data-state="running"]'
HELD_LINE = "held by the test"
LOGGED = re.compile(HELD_LINE)
EXECUTING = re.compile("Executing node")
COMFYUI_URL = os.environ.get("COMFYUI_URL", "").rstrip("/")


class HeldEngine(BuiltinEngine):
    """The built-in engine: each run logs a line, then waits for `gate` (or its cancel)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.cancelled = threading.Event()

    def run(self, workflow, inputs, log, cancelled):
        log(HELD_LINE)
        while not self.gate.wait(0.01):
            if cancelled.is_set():
                self.cancelled.set()
                raise RunCancelled("the run was cancelled")
        return super().run(workflow, inputs, log, cancelled)


@contextmanager
def app_on(data_dir: Path, workflow: Path = DEMO_WORKFLOW, **settings):
    config = AppConfig(workflow=workflow, api_url=None, data_dir=data_dir, **settings)
    app = create_app(config)
    app.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True, **LAUNCH_STYLE)
    try:
        yield app.page.local_url
    finally:
        app.page.close()
        app.close()


@pytest.fixture
def engine(monkeypatch) -> HeldEngine:
    held = HeldEngine()
    monkeypatch.setattr("viewcomfy_ui.ui.main.make_engine", lambda *_: held)
    return held


def total(page, count: int) -> None:
    page.locator(f'#history-page [data-total="{count}"]').wait_for(timeout=TIMEOUT)


def set_number(page, selector: str, value: int) -> None:
    box = page.locator(selector).first
    box.fill(str(value))
    box.press("Tab")


def test_a_reloaded_page_finds_its_run_and_its_form(browser, engine, tmp_path):  # noqa: F811
    """Before, a reload cancelled the run, recorded it cancelled, said "Ready." and dropped
    the form's edits."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    with app_on(tmp_path / "data") as url:
        page.goto(url)
        total(page, 0)
        set_number(page, BLUR, 7)
        page.locator("#run").click()
        page.locator(GOING).wait_for(timeout=TIMEOUT)
        expect(page.locator("#logs textarea")).to_have_value(LOGGED, timeout=TIMEOUT)
        page.reload()
        page.locator(GOING).wait_for(timeout=TIMEOUT)  # reattached: still going
        expect(page.locator("#logs textarea")).to_have_value(LOGGED, timeout=TIMEOUT)
        expect(page.locator(BLUR).first).to_have_value("7", timeout=TIMEOUT)
        expect(page.locator("#cancel")).to_be_enabled(timeout=TIMEOUT)
        assert not engine.cancelled.is_set()
        engine.gate.set()
        page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)
        expect(page.locator("#gallery img")).to_have_count(2, timeout=TIMEOUT)  # its PNG, WEBP
        total(page, 1)
        assert "done" in page.locator("#queue").inner_text()
    page.context.close()


def test_a_run_that_ended_with_no_page_shows_on_the_next(browser, engine, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    with app_on(tmp_path / "data") as url:
        page.goto(url)
        total(page, 0)
        page.locator("#run").click()
        expect(page.locator("#logs textarea")).to_have_value(LOGGED, timeout=TIMEOUT)
        page.goto("about:blank")  # the page is gone; the run goes on and ends meanwhile
        engine.gate.set()
        page.goto(url)
        page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)
        expect(page.locator("#gallery img")).to_have_count(2, timeout=TIMEOUT)
        total(page, 1)
    context.close()


def test_cancel_stays_the_button_s_job(browser, engine, tmp_path):  # noqa: F811
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    with app_on(tmp_path / "data") as url:
        page.goto(url)
        total(page, 0)
        page.locator("#run").click()
        expect(page.locator("#logs textarea")).to_have_value(LOGGED, timeout=TIMEOUT)
        page.reload()
        page.locator(GOING).wait_for(timeout=TIMEOUT)
        page.locator("#cancel").click()
        page.locator('#status .vc-status[data-state="cancelled"]').wait_for(timeout=TIMEOUT)
        assert engine.cancelled.wait(30)
        expect(page.locator("#queue")).to_contain_text("cancelled", timeout=TIMEOUT)
    page.context.close()


def test_a_page_gone_past_the_orphan_timeout_cancels_its_run(browser, engine, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    with app_on(tmp_path / "data", orphan_timeout=0.5) as url:
        page.goto(url)
        total(page, 0)
        page.locator("#run").click()
        expect(page.locator("#logs textarea")).to_have_value(LOGGED, timeout=TIMEOUT)
        page.close()
        assert engine.cancelled.wait(30), "the orphaned run was never cancelled"
        page = context.new_page()
        page.goto(url)
        total(page, 1)
        page.locator('#history-gallery img[src*="cancelled"]').wait_for(timeout=TIMEOUT)
        page.locator("#history-gallery button.thumbnail-item").first.click()
        expect(page.locator("#history-status")).to_contain_text(
            "no page watched this run", timeout=TIMEOUT
        )
    context.close()


class HeldComfyUI(FakeComfyUI):
    """The fake ComfyUI, holding each run after its first node starts until `gate` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    async def _send(self, client_id, message) -> None:
        await super()._send(client_id, message)
        if isinstance(message, dict) and message.get("type") == "executing":
            await asyncio.to_thread(self.gate.wait, 60)


@contextmanager
def comfyui():
    """A real ComfyUI where COMFYUI_URL names one (its runs are not held), else the fake."""
    if COMFYUI_URL:
        yield COMFYUI_URL, None
        return
    fake = HeldComfyUI()
    with RunningFake(fake) as url:
        yield url, fake
        fake.gate.set()


def test_a_reloaded_page_finds_its_comfyui_run(browser, tmp_path):  # noqa: F811
    """On a ComfyUI (the fake, or a real one with COMFYUI_URL): a reload mid-run keeps the run,
    and the reloaded page shows its status, logs so far and results, and the edited form."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    with comfyui() as (comfy_url, fake), app_on(tmp_path / "data", comfyui_url=comfy_url) as url:
        page.goto(url)
        total(page, 0)
        set_number(page, BLUR, 6)
        page.locator("#run").click()
        if fake is not None:  # held at its first node: surely still going
            expect(page.locator("#logs textarea")).to_have_value(EXECUTING, timeout=TIMEOUT)
        else:
            page.locator(GOING).wait_for(timeout=TIMEOUT)
        page.reload()
        if fake is not None:
            page.locator(GOING).wait_for(timeout=TIMEOUT)
            expect(page.locator("#logs textarea")).to_have_value(EXECUTING, timeout=TIMEOUT)
            fake.gate.set()
        page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)
        expect(page.locator("#logs textarea")).to_have_value(EXECUTING, timeout=TIMEOUT)
        expect(page.locator("#gallery img").first).to_be_visible(timeout=TIMEOUT)
        expect(page.locator(BLUR).first).to_have_value("6", timeout=TIMEOUT)
        total(page, 1)
    page.context.close()
