"""The package as pip installs it: the wheel carries what the code opens, the installed code
finds its bundled demo and data outside a checkout, and its dependencies are requirements.txt's.
And the README's client example runs as written."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from local_server import local_server

pytestmark = pytest.mark.leak_prone
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip install .` would install, built offline with the dev tools' hatchling."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    [built] = out.glob("viewcomfy_ui-*.whl")
    return built


def test_wheel_holds_every_module_data_file_and_the_demo(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    source = ROOT / "viewcomfy_ui"
    shipped = {
        p.relative_to(ROOT).as_posix()
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert "viewcomfy_ui/data/core_nodes.json" in shipped and "viewcomfy_ui/ui/style.css" in shipped
    assert shipped <= names, f"missing from the wheel: {sorted(shipped - names)}"
    demo = {
        "viewcomfy_ui/" + p.relative_to(ROOT).as_posix()
        for p in (ROOT / "examples").rglob("*")
        if p.is_file()
    }
    assert "viewcomfy_ui/examples/photo_effects.json" in demo
    assert demo <= names, f"demo files missing: {sorted(demo - names)}"
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


def test_wheel_declares_the_app_command_and_the_dependencies(wheel):
    with zipfile.ZipFile(wheel) as whl:
        info = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = whl.read(info).decode()
        entry_points = whl.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "viewcomfy-ui = viewcomfy_ui.__main__:app" in entry_points
    required = [
        line.split(": ", 1)[1]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    assert {_name(r) for r in required} == {_name(r) for r in _requirements_txt()}


def test_pyproject_dependencies_are_requirements_txt():
    """requirements.txt is the app's install file; the package must ask for the same ranges."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["dependencies"] == _requirements_txt()


def test_installed_code_uses_its_own_demo_and_data_outside_a_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "GRADIO_ANALYTICS_ENABLED": "False"}
    probe = (  # the demo, the bundled node declarations, the page's style sheet
        "from viewcomfy_ui.demo import DEMO_WORKFLOW, DEMO_INPUTS\n"
        "from viewcomfy_ui.fields import infer_fields\nfrom viewcomfy_ui.workflow import load_workflow\n"
        "from viewcomfy_ui.ui.page import CSS\n"
        "print(DEMO_WORKFLOW)\nprint(sorted(p.name for p in DEMO_INPUTS.iterdir()))\n"
        "print({f.key: f.choices for f in infer_fields(load_workflow(DEMO_WORKFLOW))}['2-inputs-upscale_method'])\n"
        "print('.vc-status' in CSS)\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    workflow, inputs, upscale_choices, styled = shown.stdout.splitlines()
    assert Path(workflow) == site / "viewcomfy_ui/examples/photo_effects.json"
    assert inputs == "['viewcomfy_demo.png']"
    assert "bicubic" in upscale_choices, "ImageScale's choices come from data/core_nodes.json"
    assert styled == "True"
    params = subprocess.run(
        [sys.executable, "-m", "viewcomfy_ui", "params", workflow],
        cwd=work, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert params.returncode == 0, params.stderr
    assert (
        '"1-inputs-image": "viewcomfy_demo.png"'
        in (work / "workflow_api_parameters.json").read_text()
    )


def test_app_command_reads_dotenv_in_the_current_folder(tmp_path):
    """`viewcomfy-ui` has no app.py beside it: its .env is the one where it is started."""
    (tmp_path / ".env").write_text("VIEWCOMFY_WORKFLOW=/from/dotenv.json\n")
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from viewcomfy_ui.__main__ import app; sys.exit(app())"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert run.returncode == 2
    assert "/from/dotenv.json" in run.stderr and "Traceback" not in run.stderr


def test_readme_client_example_runs_against_the_local_server(tmp_path):
    """The README's example, as written, with the environment its "try it" lines set."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python client", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "VIEWCOMFY_API_URL=http://127.0.0.1:8000/ VIEWCOMFY_GATEWAY_URL" in section
    with local_server() as url:
        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "VIEWCOMFY_API_URL": url,
            "VIEWCOMFY_GATEWAY_URL": url.rstrip("/"), "VIEWCOMFY_CLIENT_ID": "any",
            "VIEWCOMFY_CLIENT_SECRET": "any",
        }  # fmt: skip
        run = subprocess.run(
            [sys.executable, "-W", "error::ResourceWarning", "-c", example],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Prompt executed" in run.stdout
    saved = sorted(p.name for p in (tmp_path / "outputs").iterdir())
    assert saved == ["photo_effects_00001_.png", "photo_effects_anim_00001_.webp"]


def _requirements_txt() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _name(requirement: str) -> str:
    """`python-socketio[asyncio_client]>=5.11,<6` -> `python-socketio`."""
    for i, char in enumerate(requirement):
        if char in "[<>=!~; ":
            return requirement[:i].lower()
    return requirement.lower()
