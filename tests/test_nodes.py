"""Each built-in node, run over real HTTP through the local server, against known pixels."""

from __future__ import annotations

import inspect
import io

import numpy as np
import pytest
from local_server import local_server
from PIL import Image

from viewcomfy_ui.api import ViewComfyClient
from viewcomfy_ui.nodespecs import core_specs
from viewcomfy_ui.server.budget import Tensor
from viewcomfy_ui.server.engine import node_inputs
from viewcomfy_ui.server.nodes import NODES

pytestmark = pytest.mark.leak_prone

# A 3x2 image with six distinct colours: row 0 = R, G, B; row 1 = C, M, Y.
PIXELS = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[0, 255, 255], [255, 0, 255], [255, 255, 0]]],
    dtype=np.uint8,
)


def png(array: np.ndarray, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def url():
    with local_server() as u:
        yield u


def graph(*ops: tuple[str, dict], source: str = "load") -> dict:
    """LoadImage (or given source) -> ops in a chain -> SaveImage."""
    nodes = {"1": {"class_type": "LoadImage", "inputs": {"image": "pixels.png"}}}
    previous = "1"
    for index, (class_type, inputs) in enumerate(ops, start=2):
        first = "images" if class_type.startswith("Save") else "image"
        nodes[str(index)] = {"class_type": class_type, "inputs": {first: [previous, 0], **inputs}}
        previous = str(index)
    if not ops or not ops[-1][0].startswith("Save"):
        nodes["99"] = {
            "class_type": "SaveImage",
            "inputs": {"images": [previous, 0], "filename_prefix": "t"},
        }
    return nodes


async def run(url, workflow, image=PIXELS, params=None):
    async with ViewComfyClient(url) as client:
        result = await client.infer(
            {"1-inputs-image": png(image), **(params or {})},
            override_workflow_api=workflow,
        )
    return [Image.open(io.BytesIO(o.content())) for o in result.outputs]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(int)


async def test_load_and_save_round_trip_exactly(url):
    [out] = await run(url, graph())
    assert (pixels(out) == PIXELS).all()


async def test_invert(url):
    [out] = await run(url, graph(("ImageInvert", {})))
    assert (pixels(out) == 255 - PIXELS).all()


async def test_flip_horizontally_and_vertically(url):
    [h] = await run(url, graph(("ImageFlip", {"flip_method": "y-axis: horizontally"})))
    [v] = await run(url, graph(("ImageFlip", {"flip_method": "x-axis: vertically"})))
    assert (pixels(h) == PIXELS[:, ::-1]).all()
    assert (pixels(v) == PIXELS[::-1]).all()


async def test_rotate_90_is_clockwise(url):
    [out] = await run(url, graph(("ImageRotate", {"rotation": "90 degrees"})))
    p = pixels(out)
    assert p.shape == (3, 2, 3)
    assert (p[0, 0] == PIXELS[1, 0]).all() and (p[0, 1] == PIXELS[0, 0]).all()


async def test_crop(url):
    [out] = await run(url, graph(("ImageCrop", {"width": 2, "height": 1, "x": 1, "y": 1})))
    assert (pixels(out) == PIXELS[1:2, 1:3]).all()


async def test_scale_and_scale_by(url):
    [out] = await run(
        url,
        graph(
            (
                "ImageScale",
                {"upscale_method": "nearest-exact", "width": 6, "height": 4, "crop": "disabled"},
            )
        ),
    )
    assert (pixels(out) == PIXELS.repeat(2, axis=0).repeat(2, axis=1)).all()
    [by] = await run(url, graph(("ImageScaleBy", {"upscale_method": "bilinear", "scale_by": 3.0})))
    assert by.size == (9, 6)
    [keep] = await run(
        url,
        graph(
            ("ImageScale", {"upscale_method": "area", "width": 6, "height": 0, "crop": "disabled"})
        ),
    )
    assert keep.size == (6, 4)


async def test_blur_spreads_a_point_symmetrically_and_keeps_flat_areas(url):
    point = np.zeros((9, 9, 3), np.uint8)
    point[4, 4] = 255
    [out] = await run(url, graph(("ImageBlur", {"blur_radius": 2, "sigma": 1.0})), image=point)
    p = pixels(out)[..., 0]
    assert p[4, 4] < 255 and p[4, 3] > 0 and p[4, 3] == p[4, 5] == p[3, 4] == p[5, 4]
    assert p[0, 0] == 0
    flat = np.full((5, 5, 3), 100, np.uint8)
    [same] = await run(url, graph(("ImageBlur", {"blur_radius": 2, "sigma": 1.0})), image=flat)
    assert np.abs(pixels(same) - 100).max() <= 1


async def test_sharpen_increases_edge_contrast(url):
    edge = np.zeros((6, 6, 3), np.uint8)
    edge[:, 3:] = 200
    edge[:, :3] = 50
    [out] = await run(
        url, graph(("ImageSharpen", {"sharpen_radius": 1, "sigma": 1.0, "alpha": 1.0})), image=edge
    )
    p = pixels(out)[..., 0]
    assert p[2, 2] < 50 and p[2, 3] > 200 and p[2, 0] == 50


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("normal", (128, 128, 128)),
        ("multiply", (128, 0, 0)),
        ("screen", (255, 128, 128)),
        ("difference", (127, 0, 0)),
    ],
)
async def test_blend_modes(url, mode, expected):
    workflow = graph()
    workflow["50"] = {
        "class_type": "EmptyImage",
        "inputs": {"width": 3, "height": 2, "batch_size": 1, "color": 0x808080},
    }
    workflow["51"] = {
        "class_type": "ImageBlend",
        "inputs": {
            "image1": ["1", 0],
            "image2": ["50", 0],
            "blend_factor": 1.0,
            "blend_mode": mode,
        },
    }
    workflow["99"]["inputs"]["images"] = ["51", 0]
    [out] = await run(url, workflow)
    assert np.abs(pixels(out)[0, 0] - np.array(expected)).max() <= 1


async def test_empty_image_colour_from_a_primitive(url):
    workflow = {
        "1": {"class_type": "PrimitiveInt", "inputs": {"value": 0xFF8000}},
        "2": {
            "class_type": "EmptyImage",
            "inputs": {"width": 4, "height": 3, "batch_size": 2, "color": ["1", 0]},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "c"}},
    }
    async with ViewComfyClient(url) as client:
        result = await client.infer({"1-inputs-value": 0x0080FF}, override_workflow_api=workflow)
    assert len(result.outputs) == 2, "a batch of N images gives N outputs"
    image = Image.open(io.BytesIO(result.outputs[0].content()))
    assert image.size == (4, 3) and pixels(image)[0, 0].tolist() == [0, 128, 255]


async def test_batches_repeat_and_join(url):
    outs = await run(url, graph(("RepeatImageBatch", {"amount": 3})))
    assert len(outs) == 3
    workflow = graph()
    workflow["50"] = {
        "class_type": "EmptyImage",
        "inputs": {"width": 6, "height": 4, "batch_size": 1, "color": 0},
    }
    workflow["51"] = {
        "class_type": "ImageBatch",
        "inputs": {"image1": ["1", 0], "image2": ["50", 0]},
    }
    workflow["99"]["inputs"]["images"] = ["51", 0]
    joined = await run(url, workflow)
    assert [o.size for o in joined] == [(3, 2), (3, 2)]


@pytest.mark.parametrize(
    ("node", "fmt"), [("SaveAnimatedWEBP", "WEBP"), ("SaveAnimatedPNG", "PNG")]
)
async def test_animated_outputs_hold_every_frame(url, node, fmt):
    workflow = graph(("ImageInvert", {}))  # frames: original, inverted, original, inverted
    workflow["50"] = {
        "class_type": "ImageBatch",
        "inputs": {"image1": ["1", 0], "image2": ["2", 0]},
    }
    workflow["51"] = {"class_type": "RepeatImageBatch", "inputs": {"image": ["50", 0], "amount": 2}}
    workflow["99"] = {
        "class_type": node,
        "inputs": {"images": ["51", 0], "filename_prefix": "anim", "fps": 5.0},
    }
    [anim] = await run(url, workflow)
    assert anim.format == fmt and anim.n_frames == 4


async def test_mask_from_alpha_channel(url):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 3] = [[255, 0], [0, 255]]
    workflow = {
        "1": {"class_type": "LoadImageMask", "inputs": {"image": "pixels.png", "channel": "alpha"}},
        "2": {"class_type": "MaskToImage", "inputs": {"mask": ["1", 0]}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    async with ViewComfyClient(url) as client:
        result = await client.infer(
            {"1-inputs-image": png(rgba, "RGBA")}, override_workflow_api=workflow
        )
    p = pixels(Image.open(io.BytesIO(result.outputs[0].content())))[..., 0]
    assert p.tolist() == [[0, 255], [255, 0]], "ComfyUI masks are 1 - alpha"


def test_demo_is_a_valid_workflow_for_a_real_comfyui():
    """Every node of the demo exists in core ComfyUI, with every required input, in range."""
    from local_server import DEMO

    from viewcomfy_ui.nodespecs import core_specs
    from viewcomfy_ui.workflow import is_link, load_workflow

    for node_id, node in load_workflow(DEMO).api.items():
        spec = core_specs().get(node["class_type"])
        assert spec is not None, f"node {node_id}: {node['class_type']} is not a core node"
        inputs = node["inputs"]
        assert spec.required <= set(inputs), f"node {node_id} misses {spec.required - set(inputs)}"
        for name, value in inputs.items():
            declared = spec.inputs.get(name)
            if declared is None or is_link(value):
                continue
            if declared.choices and not declared.upload:
                assert value in declared.choices, f"node {node_id}.{name}={value!r}"
            low, high = declared.options.get("min"), declared.options.get("max")
            if low is not None:
                assert low <= value <= high, f"node {node_id}.{name}={value!r}"


def test_every_builtin_node_is_one_record_whose_flags_match_comfyui():
    for class_type, node in NODES.items():
        spec = core_specs().get(class_type)
        assert spec is not None, f"{class_type} is not a core ComfyUI node"
        assert callable(node.plan), f"{class_type} has no shape plan"
        assert node.is_output == bool(spec.output_node), class_type
        assert node.takes_ctx == ("ctx" in inspect.signature(node.run).parameters), class_type


SOURCE_ARRAYS = (np.zeros((2, 6, 8, 3), np.float32), np.zeros((2, 6, 8), np.float32))
SOURCE_SHAPES = (Tensor(2, 6, 8), Tensor(2, 6, 8, 1))


@pytest.mark.parametrize(
    "class_type",
    [c for c, n in NODES.items() if not n.takes_ctx and not c.startswith("Primitive")],
)
def test_each_nodes_shape_plan_matches_the_images_it_makes(class_type):
    """The image budget is only as right as each node's plan: same shapes as the real run."""
    spec = core_specs().get(class_type)
    slot = {"IMAGE": 0, "MASK": 1}
    links = {n: ["src", slot[d.type]] for n, d in spec.inputs.items() if d.type in slot}
    node = {"class_type": class_type, "inputs": links}
    made = NODES[class_type].run(**node_inputs(node, {"src": SOURCE_ARRAYS}, class_type))
    planned = NODES[class_type].plan(
        **node_inputs(node, {"src": SOURCE_SHAPES}, class_type), find_file=lambda name: None
    )
    assert len(made) == len(planned)
    for array, shape in zip(made, planned, strict=True):
        expected = (shape.batch, shape.height, shape.width, 3)
        assert array.shape == (expected if shape.channels == 3 else expected[:3])
