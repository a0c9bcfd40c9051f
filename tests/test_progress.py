"""What the status says while a run goes (its node, step, place among the nodes, time left) and
when it fails (the whole message, however long)."""

from __future__ import annotations

import html
from types import SimpleNamespace

import pytest
from fake_comfyui import SLOW_NODE, FakeComfyUI
from scripted_server import Reply, sse, stream
from test_comfyui_engine import png_bytes, serve
from test_runner import collect, runner_for, scripted  # noqa: F401 - scripted: a fixture

from viewcomfy_ui.api import ViewComfyClient
from viewcomfy_ui.demo import DEMO_WORKFLOW
from viewcomfy_ui.errors import RunFailedError
from viewcomfy_ui.progress import ProgressTracker, tqdm_line
from viewcomfy_ui.ui import status as st
from viewcomfy_ui.ui.batch import Job
from viewcomfy_ui.ui.outcome import Done, Failed
from viewcomfy_ui.ui.queue_view import _queue_rows, _status
from viewcomfy_ui.ui.runner import RunUpdate
from viewcomfy_ui.ui.values import Params
from viewcomfy_ui.workflow import load_workflow

pytestmark = pytest.mark.leak_prone

# What our ComfyUI engine writes for a 9-node graph whose first 2 nodes are cached.
ENGINE_LINES = [
    "got prompt",
    "9 nodes to run",
    "Reusing cached results of 2 nodes: Load Checkpoint, CheckpointLoaderSimple, CLIPTextEncode",
    "Executing node 5 (EmptyLatentImage)",
    "Executing node 3 (KSampler)",
    " 60%|██████    | 12/20 [00:12<00:08,  1.00it/s]",
]


def tracked(lines: list[str]) -> ProgressTracker:
    tracker = ProgressTracker()
    for line in lines:
        tracker.feed(line)
    return tracker


def test_the_status_names_the_node_its_step_its_place_and_the_time_left():
    status = st.running(tracked(ENGINE_LINES).now, 14)
    assert status.text == "KSampler (node 3) · step 12 of 20 · node 4 of 9 · about 8 s left"
    assert status.state == "running"
    assert status.fraction == pytest.approx((3 + 0.6) / 9)  # cached and finished nodes count done


def test_a_new_node_starts_without_the_last_ones_steps():
    progress = tracked([*ENGINE_LINES, "Executing node 8 (My decoder, VAEDecode)"]).now
    assert progress.words() == "My decoder (node 8) · node 5 of 9"


def test_viewcomfy_console_tells_only_the_steps():
    progress = tracked(["got prompt", " 45%|████▌     | 9/20 [00:03<00:04,  2.61it/s]"]).now
    assert st.running(progress, 3).text == "Running · step 9 of 20 · about 4 s left"
    assert progress.fraction == pytest.approx(0.45)


def test_a_prompt_waiting_its_turn_is_not_running():
    """ComfyUI runs one prompt at a time: a queued one has said only "got prompt"."""
    status = st.running(tracked(["got prompt", "9 nodes to run"]).now, 5)
    assert status.state == "waiting" and "its turn" in status.text
    assert st.running(tracked(["got prompt", "Requested to load SD1ClipModel"]).now, 5).state == (
        "running"
    )
    assert st.running(tracked(["got prompt"]).now, 5).text == "Running… 5 s", (
        "ViewComfy's console may say only that while it runs: not told to wait"
    )


def test_a_hostile_node_title_is_shown_as_text():
    title = '<img src=x onerror="alert(1)">'
    shown = st.running(tracked([f"Executing node 3 ({title}, KSampler)"]).now, 1).html()
    assert "<img" not in shown and html.escape(title) in shown


def test_a_3000_character_comfyui_error_is_readable_whole_in_the_status():
    reason = "Invalid image file: " + "/".join(f"folder{i}" for i in range(400)) + "/mask.png"
    assert len(reason) > 3000
    shown = st.failed(Failed(reason, "12", "LoadImage")).html()
    first_line = shown.split('<span class="vc-text">', 1)[1].split("</span>", 1)[0]
    assert first_line.startswith("Failed: node 12 (LoadImage): Invalid image file:")
    assert len(first_line) < 300, "the status line stays one line"
    assert html.escape(reason) in shown and "<details" in shown, "the whole message opens below"


async def test_a_3000_character_comfyui_error_reaches_the_client_whole():
    reason = "Invalid image file: " + "x" * 3000

    class Failing(FakeComfyUI):
        def _failure(self, node):
            return reason if node["class_type"] == "LoadImage" else None

    with serve(Failing()) as url:
        async with ViewComfyClient(url) as client:
            with pytest.raises(RunFailedError) as err:
                await client.infer_with_logs({"1-inputs-image": png_bytes()}, lambda _: None)
    assert err.value.reason.endswith(reason) and err.value.node_id == "1"


async def test_the_comfyui_engine_tells_the_nodes_to_run_and_each_node():
    workflow = load_workflow(DEMO_WORKFLOW).api | {
        "50": {"class_type": SLOW_NODE, "inputs": {"steps": 3}}
    }
    tracker, seen = ProgressTracker(), []

    def on_log(text: str) -> None:
        for line in text.splitlines():
            tracker.feed(line)
            seen.append(tracker.now)

    with serve(FakeComfyUI(), workflow) as url:
        async with ViewComfyClient(url) as client:
            await client.infer_with_logs({"1-inputs-image": png_bytes()}, on_log)
    assert {p.node_total for p in seen if p.node_id} == {12}
    slow = [p for p in seen if p.node_id == "50" and p.step]
    assert slow and slow[-1].words().startswith(
        "FakeSlowNode (node 50) · step 3 of 3 · node 12 of 12"
    )
    numbers = [p.node_number for p in seen if p.node_id]
    assert numbers == sorted(numbers) and numbers[0] == 1


def test_tqdm_lines_of_the_engine_are_read_back():
    progress = tracked([tqdm_line(3, 4, 1.5)]).now
    assert progress.step is not None and (progress.step.step, progress.step.total) == (3, 4)


def test_a_batch_shows_which_run_really_runs_and_a_percentage(tmp_path):
    """ComfyUI runs one prompt at a time: of two runs holding a slot, the one still waiting its
    turn is pending; the status keeps a percentage and the table says what each one does."""

    def job(number: int, lines: list[str] | None, *, done: bool = False) -> Job:
        made = Job(number, Params(values={}, seeds={"3-inputs-seed": 40 + number}), tmp_path)
        if lines is not None:
            made.started = 1.0
            made.live = RunUpdate(lines, 2.0, progress=tracked(lines).now)
        if done:
            made.outcome, made.finished = Done(()), 3.0
        return made

    jobs = [
        job(0, [], done=True),
        job(1, ENGINE_LINES),
        job(2, ["got prompt", "9 nodes to run"]),
        job(3, None),
    ]
    status = _status(SimpleNamespace(jobs=jobs, busy=True))
    assert status.text == "1 of 4 done · 1 running · 2 pending · 25%"
    rows = _queue_rows(jobs)
    assert [r[1] for r in rows] == ["done", "running", "pending", "pending"]
    assert rows[1][3] == "KSampler (node 3) · step 12 of 20 · node 4 of 9 · about 8 s left"


def test_a_single_run_reads_running_then_done_not_a_count(tmp_path):
    single = Job(0, Params(values={}), tmp_path, started=1.0)
    single.live = RunUpdate(["got prompt", "x"], 4.0, progress=tracked(["got prompt", "x"]).now)
    assert _status(SimpleNamespace(jobs=[single], busy=True)).text == "Running… 4 s"
    single.outcome, single.finished = Done((), seconds=2.5), 2.0
    assert _status(SimpleNamespace(jobs=[single], busy=False)).text.startswith("Done in 2.5 s")


async def test_a_3000_character_error_reaches_the_status_and_the_logs_whole(scripted, tmp_path):  # noqa: F811
    """ComfyUI's "Invalid image file: ..." names a long path: none of it is cut."""
    reason = "Invalid image file: " + "/".join(f"folder{i}" for i in range(400)) + "/mask.png"
    events = [
        sse("log_message", f"!!! Exception during processing !!! {reason}"),
        sse("error", reason),
    ]
    scripted.replies.append(Reply(201, {"Content-Type": "text/event-stream"}, stream(events)))
    updates = await collect(runner_for(scripted), tmp_path)
    assert len(reason) > 3000 and updates[-1].logs[-1].endswith(reason)
    assert st.of(updates[-1], {}).text == f"Failed: {reason}"
