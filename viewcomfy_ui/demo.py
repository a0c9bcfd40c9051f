"""The bundled demo: a model-free photo-effects workflow and its input image (in examples/)."""

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEMO_WORKFLOW = EXAMPLES / "photo_effects.json"
DEMO_INPUTS = EXAMPLES / "input"
