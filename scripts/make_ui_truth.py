"""Record what ComfyUI's own frontend makes of UI-format workflows: the truth for `ui_to_api`.

Loads each UI file into a real ComfyUI's page in headless Chromium, as the frontend loads a
file, and stores ``(await app.graphToPrompt()).output`` in OUT_DIR. Usage:

    python scripts/make_ui_truth.py OUT_DIR UI.json|DIR ... [--url http://127.0.0.1:8188]
    python scripts/make_ui_truth.py OUT_DIR --widgets   # each node class's widgets, as created
    python scripts/make_ui_truth.py OUT_DIR --cases UI_DIR   # build the hand-made graphs first

For each ``name.json`` it writes ``OUT_DIR/name.json`` (the API prompt, or ``{"error": ...}``).
With ``--cases`` it first builds small graphs covering every conversion rule in the page (as
a user would: nodes, links, groups, notes, bypass, mute, primitives, reroutes, subgraphs) and
saves each as ComfyUI's Save does (``graphToPrompt().workflow``) into ``UI_DIR``, then records
their truth like any other file. With ``--widgets`` it writes ``OUT_DIR/widgets.json``: per
class, the widgets the frontend gives a new node (name, whether the node's saved
``widgets_values`` hold it, whether the prompt does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from playwright.async_api import Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
LOAD = """async (text) => {
  await app.loadGraphData(JSON.parse(text), true, false, null,
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
            text = path.read_text(encoding="utf-8")
            workflow = json.loads(text)
            if not isinstance(workflow, dict) or "nodes" not in workflow:
                continue
            try:
                result = await page.evaluate(LOAD, text)
            except Exception as exc:  # noqa: BLE001 - the frontend's own failure is the truth
                result = {"error": str(exc).splitlines()[0]}
            (out / path.name).write_text(json.dumps(result, indent=1, sort_keys=True))
        await browser.close()


BIG = 2**53 + 1  # a seed JavaScript cannot hold: written into the file as text
CASES = r"""async () => {
  const saved = {};
  const g = app.graph;
  const add = (type, pos, values = {}, size = null) => {
    const n = LiteGraph.createNode(type); n.pos = pos; g.add(n);
    if (size) n.size = size;
    for (const [k, v] of Object.entries(values)) {
      if (k === 'title') n.title = v; else n.widgets.find(w => w.name === k).value = v;
    }
    return n;
  };
  const link = (a, out, b, input) => a.connect(
    typeof out === 'number' ? out : a.findOutputSlot(out), b,
    typeof input === 'number' ? input : b.findInputSlot(input));
  const group = (title, pos, size) => {
    const grp = new LiteGraph.LGraphGroup(title); grp.pos = pos; grp.size = size; g.add(grp);
  };
  const save = async (name, edit) => {
    const wf = JSON.parse(JSON.stringify((await app.graphToPrompt()).workflow));
    if (edit) edit(wf);
    saved[name] = wf;
    g.clear();
  };
  const sd = () => {
    const ck = add('CheckpointLoaderSimple', [0, 0], {ckpt_name: 'model.safetensors'});
    const pos = add('CLIPTextEncode', [400, 0],
      {text: 'a red fox // the subject\nin snow /* style */ \\{literal\\} http://x.org/a'});
    const neg = add('CLIPTextEncode', [400, 260], {text: 'blurry', title: 'Negative'});
    const lat = add('EmptyLatentImage', [400, 520]);
    const ks = add('KSampler', [800, 0], {seed: 42, steps: 12});
    const dec = add('VAEDecode', [1150, 0]);
    link(ck, 'CLIP', pos, 'clip'); link(ck, 'CLIP', neg, 'clip');
    link(pos, 0, ks, 'positive'); link(neg, 0, ks, 'negative'); link(lat, 0, ks, 'latent_image');
    link(ks, 0, dec, 'samples'); link(ck, 'VAE', dec, 'vae');
    return {ck, pos, neg, lat, ks, dec};
  };
  g.clear();

  // 1. seed controls, a primitive, reroutes, a dynamic prompt, a filename pattern,
  //    groups and notes
  {
    const {ck, ks, lat, dec} = sd();
    link(ck, 'MODEL', ks, 'model');
    ks.widgets.find(w => w.name === 'control_after_generate').value = 'increment';
    ks.widgets.find(w => w.name === 'sampler_name').value = 'sample_euler';
    const prim = add('PrimitiveNode', [0, 520]);
    link(prim, 0, lat, 'width');
    prim.widgets[0].value = 768;
    if (prim.widgets[1]) prim.widgets[1].value = 'fixed';
    const r1 = add('Reroute', [1350, 0]); const r2 = add('Reroute', [1450, 0]);
    link(dec, 0, r1, 0); link(r1, 0, r2, 0);
    const out = add('SaveImage', [1550, 0], {filename_prefix: '%KSampler.seed%/fox'});
    link(r2, 0, out, 'images');
    add('Note', [800, 350], {}, [300, 100]).widgets[0].value = 'Keep steps low on a CPU.';
    add('MarkdownNote', [0, -170], {}, [300, 100]).widgets[0].value =
      'Put the checkpoint in **models/checkpoints**.';
    group('Prompt', [380, -40], [360, 540]);
    group('Sampling', [780, -40], [400, 540]);
    await save('controls_reroutes_notes.json');
  }

  // 2. bypassed and muted nodes
  {
    const {ck, pos, neg, ks, dec} = sd();
    const lora = add('LoraLoader', [200, 200], {lora_name: 'style.safetensors'});
    link(ck, 'MODEL', lora, 'model'); link(ck, 'CLIP', lora, 'clip');
    link(lora, 0, ks, 'model'); link(lora, 1, pos, 'clip'); link(lora, 1, neg, 'clip');
    lora.mode = 4;
    const inv = add('ImageInvert', [1400, 0]); link(dec, 0, inv, 0); inv.mode = 2;
    const shown = add('PreviewImage', [1700, 0]); link(inv, 0, shown, 'images');
    const scale = add('ImageScale', [1400, 300]); link(dec, 0, scale, 'image'); scale.mode = 4;
    const out = add('SaveImage', [1700, 300]); link(scale, 0, out, 'images');
    const enc = add('VAEEncode', [1400, 600]); link(dec, 0, enc, 'pixels'); enc.mode = 4;
    const ks2 = add('KSampler', [1700, 600], {seed: 7});
    link(ck, 'MODEL', ks2, 'model'); link(pos, 0, ks2, 'positive');
    link(neg, 0, ks2, 'negative'); link(enc, 0, ks2, 'latent_image');
    const dec2 = add('VAEDecode', [2000, 600]); link(ks2, 0, dec2, 'samples');
    link(ck, 'VAE', dec2, 'vae');
    const grow = add('ImageInvert', [2300, 600]); link(dec2, 0, grow, 0); grow.mode = 4;
    const out2 = add('SaveImage', [2600, 600]); link(grow, 0, out2, 'images');
    await save('bypass_mute.json');
  }

  // 3. subgraphs: two instances of one definition, one linked, one with its own value
  {
    const img = add('EmptyImage', [0, 0], {width: 64, height: 64});
    const radius = add('PrimitiveInt', [0, 300], {value: 2});
    const blur = add('ImageBlur', [400, 0], {sigma: 0.5});
    const inv = add('ImageInvert', [700, 0]);
    link(img, 0, blur, 'image'); link(radius, 0, blur, 'blur_radius'); link(blur, 0, inv, 0);
    const out = add('SaveImage', [1000, 0], {filename_prefix: 'sub'});
    link(inv, 0, out, 'images');
    const {subgraph} = g.convertToSubgraph(new Set([blur, inv]));
    const second = LiteGraph.createNode(subgraph.id); second.pos = [400, 400]; g.add(second);
    link(img, 0, second, 0);
    const w = second.widgets.find(w => w.name === 'blur_radius');
    if (w) w.value = 5;
    const out2 = add('SaveImage', [1000, 400], {filename_prefix: 'second'});
    link(second, 0, out2, 'images');
    const third = LiteGraph.createNode(subgraph.id); third.pos = [400, 800]; g.add(third);
    link(img, 0, third, 0); third.mode = 4;
    const out3 = add('SaveImage', [1000, 800], {filename_prefix: 'bypassed'});
    link(third, 0, out3, 'images');
    await save('subgraphs.json');
  }

  // 4. frontend-only widgets, renamed classes, missing trailing values
  {
    add('LoadImage', [0, 0], {image: 'example.png'});
    const img = add('LoadImage', [0, 300], {image: 'photo.png'});
    const inv = add('ImageInvert', [300, 300]); link(img, 0, inv, 0);
    add('SaveImage', [600, 300]);
    link(inv, 0, g.nodes[g.nodes.length - 1], 'images');
    const audio = add('LoadAudio', [0, 600]);
    const sa = add('SaveAudio', [300, 600]); link(audio, 0, sa, 'audio');
    const text = add('PrimitiveStringMultiline', [0, 900], {value: 'hello {a|a}'});
    const any = add('PreviewAny', [300, 900]); link(text, 0, any, 0);
    const cn = add('ControlNetLoader', [0, 1200], {control_net_name: 'canny.safetensors'});
    const {ck, pos, neg, ks} = sd();
    link(ck, 'MODEL', ks, 'model');
    const ks2 = add('KSamplerAdvanced', [800, 600], {noise_seed: 3});
    link(ck, 'MODEL', ks2, 'model'); link(pos, 0, ks2, 'positive'); link(neg, 0, ks2, 'negative');
    link(ks, 0, ks2, 'latent_image');
    await save('frontend_widgets.json', (wf) => {
      for (const n of wf.nodes) {
        if (n.type === 'ControlNetLoader') n.type = 'T2IAdapterLoader';
        if (n.type === 'KSampler') n.widgets_values.splice(5);
        if (n.type === 'KSamplerAdvanced') n.widgets_values[1] = 'BIG';
      }
    });
  }
  // 5. model-free photo effects in groups, with a note: runs on the app's built-in engine
  {
    const img = add('LoadImage', [0, 0], {image: 'viewcomfy_demo.png'});
    add('Note', [0, 380], {}, [300, 80]).widgets[0].value = 'Pick a photo (PNG or JPEG).';
    const blur = add('ImageBlur', [450, 0], {blur_radius: 4, sigma: 1.5});
    const inv = add('ImageInvert', [450, 250]); inv.mode = 4;
    const sharp = add('ImageSharpen', [450, 400], {sharpen_radius: 2});
    link(img, 0, blur, 'image'); link(blur, 0, inv, 0); link(inv, 0, sharp, 'image');
    const out = add('SaveImage', [900, 0], {filename_prefix: 'grouped'});
    link(sharp, 0, out, 'images');
    group('Your photo', [-20, -40], [360, 520]);
    group('Look', [430, -40], [360, 620]);
    await save('photo_groups.json');
  }
  return saved;
}"""


# 6. a legacy group node: made with the frontend's own command (it asks for a name)
GROUP_NODE = r"""() => {
  const g = app.graph; g.clear();
  const add = (type, pos, values = {}) => {
    const n = LiteGraph.createNode(type); n.pos = pos; g.add(n);
    for (const [k, v] of Object.entries(values)) n.widgets.find(w => w.name === k).value = v;
    return n;
  };
  const img = add('EmptyImage', [0, 0], {width: 64, height: 48});
  const radius = add('PrimitiveInt', [0, 300], {value: 5});
  const blur = add('ImageBlur', [300, 0], {blur_radius: 3});
  const inv = add('ImageInvert', [600, 0]);
  const sharp = add('ImageSharpen', [600, 300], {sharpen_radius: 2, alpha: 0.5});
  const noise = add('RandomNoise', [300, 500], {noise_seed: 77});
  noise.widgets.find(w => w.name === 'control_after_generate').value = 'fixed';
  img.connect(0, blur, 0); radius.connect(0, blur, blur.findInputSlot('blur_radius'));
  blur.connect(0, inv, 0); blur.connect(0, sharp, 0);
  const out = add('SaveImage', [900, 0], {filename_prefix: 'inverted'}); inv.connect(0, out, 0);
  const out2 = add('SaveImage', [900, 300], {filename_prefix: 'sharp'}); sharp.connect(0, out2, 0);
  const sampler = add('SamplerCustomAdvanced', [900, 600]); noise.connect(0, sampler, 0);
  app.canvas.selectItems([blur, inv, sharp, noise]);
  app.extensionManager.command.execute('Comfy.GroupNode.ConvertSelectedNodesToGroupNode');
}"""
GROUP_NODE_SAVE = r"""async () => {
  const node = app.graph.nodes.find(n => String(n.type).startsWith('workflow'));
  node.widgets.find(w => w.name === 'sigma').value = 2.5;
  return JSON.parse(JSON.stringify((await app.graphToPrompt()).workflow));
}"""


async def build_cases(url: str, ui_dir: Path) -> list[Path]:
    """The hand-made graphs, saved by the frontend itself."""
    ui_dir.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await open_app(url, browser)
        saved = await page.evaluate(CASES)
        await page.evaluate(GROUP_NODE)
        name = page.locator(".p-dialog input").first
        await name.fill("Effects")
        await name.press("Enter")
        await page.wait_for_function(
            "() => app.graph.nodes.some(n => String(n.type).startsWith('workflow'))"
        )
        saved["group_node.json"] = await page.evaluate(GROUP_NODE_SAVE)
        await browser.close()
    paths = []
    for name, workflow in saved.items():
        path = ui_dir / name
        text = json.dumps(workflow, indent=1).replace('"BIG"', str(BIG))
        path.write_text(text + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("files", type=Path, nargs="*")
    parser.add_argument("--url", default="http://127.0.0.1:8188")
    parser.add_argument("--widgets", action="store_true")
    parser.add_argument("--cases", type=Path, metavar="UI_DIR")
    args = parser.parse_intermixed_args()
    files = [f for p in args.files for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    if args.cases:
        files += asyncio.run(build_cases(args.url, args.cases))
    asyncio.run(record(args.url, args.out, files, args.widgets))


if __name__ == "__main__":
    main()
