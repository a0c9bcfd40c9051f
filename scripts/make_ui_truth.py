"""Record what ComfyUI's own frontend makes of UI-format workflows: the truth for `ui_to_api`.

Loads each UI file into a real ComfyUI's page in headless Chromium, as the frontend loads a
file, and stores ``(await app.graphToPrompt()).output`` next to it. Usage:

    python scripts/make_ui_truth.py OUT_DIR UI.json|DIR ... [--url http://127.0.0.1:8188]
    python scripts/make_ui_truth.py OUT_DIR --widgets   # each node class's widgets, as created

For each ``name.json`` it writes ``OUT_DIR/name.json`` (the API prompt, or ``{"error": ...}``).
With ``--widgets`` it writes ``OUT_DIR/widgets.json``: per class, the widgets the frontend gives
a new node (name, whether the node's saved ``widgets_values`` hold it, whether the prompt does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from playwright.async_api import Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
LOAD = """async (wf) => {
  await app.loadGraphData(wf, true, false, null,
    {showMissingNodesDialog: false, showMissingModelsDialog: false});
  return (await app.graphToPrompt()).output;
}"""
WIDGETS = """() => {
  const out = {};
  for (const type of Object.keys(LiteGraph.registered_node_types)) {
    let node;
    try { node = LiteGraph.createNode(type); } catch (e) { continue; }
    if (!node || !node.comfyClass) continue;
    out[type] = (node.widgets || []).map(w => [
      w.name, w.serialize !== false, w.options?.serialize !== false]);
  }
  return out;
}"""


async def open_app(url: str, browser) -> Page:
    page = await browser.new_page()
    await page.goto(url)
    await page.wait_for_function("() => window.app && window.app.graph && window.LiteGraph")
    await page.wait_for_function("() => Object.keys(LiteGraph.registered_node_types).length > 100")
    return page


async def record(url: str, out: Path, files: list[Path], widgets: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await open_app(url, browser)
        if widgets:
            layout = await page.evaluate(WIDGETS)
            (out / "widgets.json").write_text(json.dumps(layout, indent=0, sort_keys=True))
        for path in files:
            workflow = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(workflow, dict) or "nodes" not in workflow:
                continue
            try:
                result = await page.evaluate(LOAD, workflow)
            except Exception as exc:  # noqa: BLE001 - the frontend's own failure is the truth
                result = {"error": str(exc).splitlines()[0]}
            (out / path.name).write_text(json.dumps(result, indent=1, sort_keys=True))
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("files", type=Path, nargs="*")
    parser.add_argument("--url", default="http://127.0.0.1:8188")
    parser.add_argument("--widgets", action="store_true")
    args = parser.parse_intermixed_args()
    files = [f for p in args.files for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    asyncio.run(record(args.url, args.out, files, args.widgets))


if __name__ == "__main__":
    main()
