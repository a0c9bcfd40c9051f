"""History, batches and the queue in a real headless Chromium on the demo's local engine."""

from __future__ import annotations

import re
import secrets
import threading
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import pytest
from apps import free_port
from browser import browser  # noqa: F401 - fixture
from playwright.sync_api import expect

from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.server.engine import BuiltinEngine, RunCancelled
from viewcomfy_ui.ui.config import AppConfig
from viewcomfy_ui.ui.main import create_app
from viewcomfy_ui.ui.page import LAUNCH_STYLE

pytestmark = pytest.mark.browser
TIMEOUT = 60_000
SEED = "#field-3-inputs-value input, #field-3-inputs-value textarea"
BLUR = "#field-6-inputs-blur_radius input[type=number]"


@contextmanager
def app_on(data_dir, port: int, workflow: Path = DEMO_WORKFLOW, **settings):
    """The demo app with history in `data_dir`, on a fixed port (a browser's storage is per
    origin, so a restart must come back on the same one)."""
    config = AppConfig(workflow=workflow, api_url=None, data_dir=data_dir, **settings)
    app = create_app(config)
    app.launch(prevent_thread_lock=True, server_port=port, quiet=True, **LAUNCH_STYLE)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.page.close()
        app.close()


def wait_done(page) -> None:
    page.locator('#status .vc-status[data-state="done"]').wait_for(timeout=TIMEOUT)


def total(page, count: int) -> None:
    page.locator(f'#history-page [data-total="{count}"]').wait_for(timeout=TIMEOUT)


def finished_thumbnail(page) -> str:
    """The newest run's thumbnail once it shows an output (a running run has a placeholder)."""
    thumb = page.locator('#history-gallery img:not([src*="running"])').first
    thumb.wait_for(timeout=TIMEOUT)
    return thumb.get_attribute("src")


def set_number(page, selector: str, value: int) -> None:
    box = page.locator(selector).first
    box.fill(str(value))
    box.press("Tab")


def queue_rows(page) -> list[list[str]]:
    """The `#queue` table's rows (#, state, seeds, detail), read from its text."""
    cells = [c.strip() for c in page.locator("#queue").inner_text().split("\n") if c.strip()]
    start = cells.index("detail") + 1
    rows, row = [], []
    for cell in cells[start:]:
        if cell.isdigit() and len(row) >= 3:  # a row: #, state, seeds[, detail]
            rows.append(row)
            row = []
        row.append(cell)
    return [*rows, row] if row else rows


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def port():
    return free_port()


def test_a_batch_of_3_fills_the_gallery_queue_and_history(browser, data_dir, port):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    with app_on(data_dir, port) as url:
        page.goto(url)
        total(page, 0)
        set_number(page, "#batch-count input", 3)
        page.locator("#field-3-inputs-value-mode input").click()
        page.get_by_role("option", name="+1").click()
        page.locator("#run").click()
        wait_done(page)
        assert "3 of 3 done" in page.locator("#status").inner_text()
        total(page, 3)
        assert page.locator("#history-gallery img").count() == 3
        assert page.locator("#gallery img").count() >= 3
        rows = queue_rows(page)
        assert [r[1] for r in rows] == ["done"] * 3
        seeds = sorted(int(r[2]) for r in rows)
        assert seeds[1] == seeds[0] + 1 and seeds[2] == seeds[0] + 2
    context.storage_state(path=str(data_dir / "browser-state.json"))
    context.close()


def test_history_survives_a_restart_and_use_these_settings_restores_the_form(
    browser,  # noqa: F811
    data_dir,
    port,
):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, storage_state=str(data_dir / "browser-state.json")
    )
    page = context.new_page()
    with app_on(data_dir, port) as url:  # the same data folder, a new process state
        page.goto(url)
        total(page, 3)
        set_number(page, BLUR, 5)
        page.locator("#run").click()
        wait_done(page)
        total(page, 4)
        used_seed = page.locator(SEED).first.input_value()
        set_number(page, BLUR, 9)
        page.locator(SEED).first.fill("123")
        page.locator("#history-gallery button.thumbnail-item").first.click()  # the newest run
        page.locator("#history-status .vc-status").wait_for(timeout=TIMEOUT)
        assert f"seed {used_seed}" in page.locator("#history-status").inner_text()
        page.locator("#history-use").click()
        expect(page.locator(SEED).first).to_have_value(used_seed, timeout=TIMEOUT)
        assert page.locator(BLUR).first.input_value() == "5"
        expect(page.locator("#field-3-inputs-value-mode input")).to_have_value("fixed")
        page.locator("#history-delete").click()
        total(page, 3)
    context.close()


def test_a_second_browser_sees_none_of_it(browser, data_dir, port):  # noqa: F811
    page = browser.new_context().new_page()
    with app_on(data_dir, port) as url:
        page.goto(url)
        total(page, 0)
        assert page.locator("#history-gallery img").count() == 0
    page.context.close()


def test_a_share_link_restores_the_form(browser, data_dir, port):  # noqa: F811
    page = browser.new_context().new_page()
    with app_on(data_dir, port) as url:
        page.goto(url)
        total(page, 0)
        set_number(page, BLUR, 7)
        page.locator("#share").click()
        link = page.locator("#share-link textarea, #share-link input").first
        expect(link).to_have_value(re.compile(r"^http.*6-inputs-blur_radius=7"), timeout=TIMEOUT)
        shared = link.input_value()
        other = page.context.browser.new_context().new_page()
        other.goto(shared)
        expect(other.locator(BLUR).first).to_have_value("7", timeout=TIMEOUT)
        other.context.close()
    page.context.close()


def test_a_result_goes_into_the_image_field_in_one_click(browser, data_dir, port):  # noqa: F811
    """Also: the API panel has a snippet before the first run; the history's thumbnail is the
    save node's image, captioned with its seed; sending a result says where it went."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    with app_on(data_dir, port) as url:
        page.goto(url)
        total(page, 0)
        page.locator("#api").get_by_text("API").first.click()
        expect(page.locator("#api-python")).to_contain_text("'3-inputs-value'", timeout=TIMEOUT)
        page.locator("#run").click()
        wait_done(page)
        seed = page.locator(SEED).first.input_value()
        assert re.search(r"/photo_effects_\d+_?\.png", finished_thumbnail(page))
        expect(page.locator("#history-gallery")).to_contain_text(f"seed {seed}", timeout=TIMEOUT)
        expect(page.locator("#send-result")).to_be_disabled()  # nothing picked yet
        page.locator("#gallery button.thumbnail-item").first.click()
        page.locator("#send-result").click(timeout=TIMEOUT)  # on once the pick has arrived
        field = page.locator("#field-1-inputs-image img").first
        expect(field).to_have_attribute("src", re.compile("photo_effects"), timeout=TIMEOUT)
        expect(page.locator("#send-note")).to_contain_text("Sent to", timeout=TIMEOUT)
    page.context.close()


class HeldEngine(BuiltinEngine):
    """The built-in engine, holding every run until `gate` opens (or the run is cancelled), so
    a test knows which runs are still pending."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def run(self, workflow, inputs, log, cancelled):
        while not self.gate.wait(0.01):
            if cancelled.is_set():
                raise RunCancelled("the run was cancelled")
        return super().run(workflow, inputs, log, cancelled)


def test_a_queued_run_can_be_cancelled_alone(browser, data_dir, port, monkeypatch):  # noqa: F811
    engine = HeldEngine()
    monkeypatch.setattr("viewcomfy_ui.ui.main.make_engine", lambda *_: engine)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    with app_on(data_dir, port, concurrency=1) as url:  # one run at a time: the rest wait
        page.goto(url)
        total(page, 0)
        set_number(page, "#batch-count input", 3)
        page.locator("#run").click()
        page.locator("#queue").get_by_text("pending").last.click()  # run 3, surely not started
        page.locator("#queue-cancel").click()
        expect(page.locator("#queue")).to_contain_text("cancelled", timeout=TIMEOUT)
        engine.gate.set()
        page.locator('#status:has-text("2 of 3 done · 1 cancelled")').wait_for(timeout=TIMEOUT)
        assert [r[1] for r in queue_rows(page)] == ["done", "done", "cancelled"]
        total(page, 2)
    page.context.close()


def test_two_tabs_of_one_browser_each_show_their_own_run(browser, tmp_path, monkeypatch):  # noqa: F811
    """One browser (one owner token), two tabs: each tab's Run shows in that tab, with its own
    status, queue and result; the history lists both. (Before, the second tab's run joined the
    first tab's queue: tab A got both results, tab B stayed "Queued" forever.)"""
    engine = HeldEngine()
    monkeypatch.setattr("viewcomfy_ui.ui.main.make_engine", lambda *_: engine)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    going = '#status .vc-status[data-state="waiting"], #status .vc-status[data-state="running"]'
    with app_on(tmp_path / "data", free_port()) as url:
        first = context.new_page()
        first.goto(url)
        total(first, 0)  # the page has loaded: the browser's token is kept
        second = context.new_page()
        second.goto(url)
        total(second, 0)
        first.locator("#run").click()
        first.locator(going).wait_for(timeout=TIMEOUT)
        second.locator("#run").click()
        second.locator(going).wait_for(timeout=TIMEOUT)
        engine.gate.set()
        for page in (first, second):
            wait_done(page)
            expect(page.locator("#gallery img")).to_have_count(2, timeout=TIMEOUT)  # its PNG, WEBP
            assert [r[1] for r in queue_rows(page)] == ["done"]
        first.reload()
        total(first, 2)
    context.close()


CURATED = Path(__file__).parent / "fixtures" / "curated" / "view_comfy.json"


def test_each_workflow_of_a_file_keeps_its_own_history(browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    with app_on(tmp_path / "data", free_port(), workflow=CURATED) as url:
        page.goto(url)
        first, second = page.locator("#workflow-0"), page.locator("#workflow-1")
        total(first, 0)
        first.locator("#run").click()
        wait_done(first)
        total(first, 1)
        page.locator("#workflows").get_by_role("tab", name="Sharpen only").click()
        total(second, 0)
        for _ in range(2):
            second.locator("#run").click()
            wait_done(second)
        total(second, 2)
        assert second.locator("#history-gallery img").count() == 2
        page.reload()  # both histories come back, each in its own tab
        total(page.locator("#workflow-0"), 1)
        page.locator("#workflows").get_by_role("tab", name="Sharpen only").click()
        total(page.locator("#workflow-1"), 2)
    context.close()


def login(browser, url: str, user: str, password: str):  # noqa: F811
    """A new browser (context) logged in as `user` on Gradio's login page."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.locator("#run").wait_for(timeout=TIMEOUT)
    return page


def test_with_auth_each_user_sees_only_their_own_runs_and_files(browser, tmp_path):  # noqa: F811
    logins = (("ann", "pw-ann"), ("bob", "pw-bob"))
    with app_on(tmp_path / "data", free_port(), auth=logins) as url:
        ann = login(browser, url, "ann", "pw-ann")
        total(ann, 0)
        ann.locator("#run").click()
        wait_done(ann)
        total(ann, 1)
        src = finished_thumbnail(ann)
        bob = login(browser, url, "bob", "pw-bob")
        total(bob, 0)
        assert bob.locator("#history-gallery img").count() == 0
        bob.locator("#run").click()
        wait_done(bob)
        total(bob, 1)
        again = login(browser, url, "ann", "pw-ann")  # the same user in another browser
        total(again, 1)
        assert finished_thumbnail(again) == src
        assert ann.locator("#history-gallery img").count() == 1, "bob's run is not ann's"

        data = tmp_path / "data"
        [folder] = [d for d in (data / "files").iterdir() if (d / "output").is_dir()][:1]
        name = next((folder / "output").glob("*.png")).name
        served = urllib.parse.unquote(src)
        guesses = [
            re.sub(r"/[0-9a-f]{32,}/", f"/{secrets.token_hex(32)}/", served),  # another cached file
            f"/gradio_api/file={data}/files/{secrets.token_hex(16)}/output/{name}",  # another run
            f"/gradio_api/file={data}/files/",  # the folder of every run
            f"/gradio_api/file={data}/files/{folder.name}/",  # a run's folder
            f"/gradio_api/file={data}/history.sqlite3",  # the database
            f"/gradio_api/file={data}/files/../history.sqlite3",
            f"/gradio_api/file={data}/browser-secret",
        ]
        for guess in guesses:
            answer = bob.request.get(urllib.parse.urljoin(url, guess))
            assert answer.status >= 400, f"{guess} answered {answer.status}"
        kept = f"/gradio_api/file={data}/files/{folder.name}/output/{name}"
        assert bob.request.get(urllib.parse.urljoin(url, kept)).ok, "the test's guesses can fail"
        stranger = browser.new_context()  # not logged in: not even the real links
        for link in (src, kept):
            assert stranger.request.get(urllib.parse.urljoin(url, link)).status >= 400
        stranger.close()
        for page in (ann, bob, again):
            page.context.close()


IN_VIEW = """(selector) => {
  const box = document.querySelector(selector).getBoundingClientRect();
  return box.top < window.innerHeight && box.bottom > 0;
}"""


def test_on_a_phone_run_shows_the_status_then_the_results_above_the_queue(
    browser,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    engine = HeldEngine()
    monkeypatch.setattr("viewcomfy_ui.ui.main.make_engine", lambda *_: engine)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    with app_on(tmp_path / "data", free_port()) as url:
        page.goto(url)
        total(page, 0)
        assert not page.locator("#status").is_visible(), "no status box over the form at first"
        page.locator("#run").click()
        going = '#status .vc-status[data-state="waiting"], #status .vc-status[data-state="running"]'
        page.locator(going).wait_for(timeout=TIMEOUT)  # held before its first log line: waiting
        page.wait_for_function(f"({IN_VIEW})('#status')", timeout=TIMEOUT)
        status, actions = (page.locator(s).bounding_box() for s in ("#status", "#actions"))
        assert status and actions and status["y"] + status["height"] <= actions["y"] + 1, (
            f"the status sits just above the Run bar: {status} over {actions}"
        )
        engine.gate.set()
        wait_done(page)
        page.wait_for_function(f"({IN_VIEW})('#gallery img')", timeout=TIMEOUT)
        order = page.evaluate(
            "['#gallery', '#queue'].map(s => document.querySelector(s)"
            ".getBoundingClientRect().top + window.scrollY)"
        )
        assert order == sorted(order), "the results, then the queue"
        row = page.locator("#queue tbody tr").first.bounding_box()
        assert row and row["height"] < 60, f"a queue row is one line high, not {row}"
    context.close()
