"""The bundled demo: a model-free photo-effects workflow and its input image.

In a checkout they live in the repository's examples/; an installed package carries them as
viewcomfy_ui/examples/ (see pyproject.toml).
"""

from pathlib import Path

_HERE = Path(__file__).resolve().parent
EXAMPLES = _HERE / "examples" if (_HERE / "examples").is_dir() else _HERE.parent / "examples"
DEMO_WORKFLOW = EXAMPLES / "photo_effects.json"
DEMO_INPUTS = EXAMPLES / "input"
