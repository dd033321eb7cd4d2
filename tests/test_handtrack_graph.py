"""Lesson 4, part A: handtrack.js's shipped graph models in TensorFlow, checked against
handtrack.js's own source and against TF.js running the very same files."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from browserml.compat import import_tensorflowjs
from browserml.handtrack import models
from browserml.handtrack.graph import NMS_OPS, POSTPROCESSOR_SCOPE, RAW_OUTPUTS
from browserml.handtrack.models import LABELS, MODEL_SIZES, MODEL_TYPES, HandtrackModelError, model_dir

MiB = 2**20


def _js_object(source: str, name: str) -> dict[str, str]:
    """The string-valued entries of ``const NAME = {...};`` in handtrack.js's source."""
    body = re.search(r"const " + name + r" = \{(.*?)\};", source, re.DOTALL)
    assert body, f"{name} not found in handtrack.js"
    return dict(re.findall(r'(\w+):\s*"([^"]*)"', body.group(1)))


# --------------------------------------------------------------------------- models (no TensorFlow)


def test_labels_sizes_and_output_nodes_are_handtrack_js_own():
    source = (models.package_dir() / "src" / "index.js").read_text(encoding="utf-8")
    assert {int(k): v for k, v in _js_object(source, "labelMap").items()} == LABELS
    assert _js_object(source, "modelSizeMap") == MODEL_SIZES
    assert re.search(r'modelSize:\s*"' + models.DEFAULT_SIZE + '"', source)
    nodes = re.search(r"const modelOutputNodes = \{\s*ssd320fpnlite: \[(.*?)\]", source, re.DOTALL).group(1)
    assert re.findall(r'^\s*"([^"]+)"', nodes, re.MULTILINE) == [RAW_OUTPUTS["scores"], RAW_OUTPUTS["boxes"]]


def test_model_dir_finds_every_shipped_model():
    for model_type in MODEL_TYPES:
        for size, folder in MODEL_SIZES.items():
            path = model_dir(model_type, size)
            assert path.name == folder and (path / "model.json").is_file()
            assert model_dir(model_type, folder) == path
    assert model_dir().name == "int8"  # handtrack.js's default: ssd320fpnlite, small


@pytest.mark.parametrize("args, choices", [
    (("ssd300", "small"), MODEL_TYPES),
    (("ssd320fpnlite", "tiny"), (*MODEL_SIZES, *MODEL_SIZES.values())),
])
def test_model_dir_typo_lists_the_choices(args, choices):
    with pytest.raises(HandtrackModelError) as err:
        model_dir(*args)
    assert repr(args[0]) in str(err.value) or repr(args[1]) in str(err.value)
    assert all(c in str(err.value) for c in choices)


def test_model_dir_without_npm_install_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSERML_NODE_MODULES", str(tmp_path))
    monkeypatch.setenv("BROWSERML_ROOT", str(tmp_path / "course"))  # no Colab-style .npm-packages either
    with pytest.raises(HandtrackModelError, match="make setup"):
        model_dir()
    (tmp_path / "@tensorflow" / "tfjs").mkdir(parents=True)
    (tmp_path / "@tensorflow" / "tfjs" / "package.json").write_text("{}")
    with pytest.raises(HandtrackModelError, match=r"handtrackjs@0\.1\.5 .*npm ci"):
        model_dir()


def test_model_dir_finds_the_package_colab_unpacked_without_npm(tmp_path, monkeypatch):
    """On Colab browserml.colab unpacks handtrackjs into <course>/.npm-packages (no npm)."""
    monkeypatch.setenv("BROWSERML_NODE_MODULES", str(tmp_path / "no-node-modules"))
    monkeypatch.setenv("BROWSERML_ROOT", str(tmp_path))
    folder = tmp_path / ".npm-packages" / "handtrackjs" / "models" / "webmodel" / "ssd320fpnlite" / "base"
    folder.mkdir(parents=True)
    (tmp_path / ".npm-packages" / "handtrackjs" / "package.json").write_text("{}")
    (folder / "model.json").write_text("{}")
    assert model_dir("ssd320fpnlite", "large") == folder


# --------------------------------------------------------------------------- graph surgery


def _node(name, op, inputs=(), **attrs):
    """A NodeDef from plain Python attribute values (what a TF.js model.json holds)."""
    import tensorflow as tf
    from tensorflow.core.framework import attr_value_pb2, node_def_pb2

    node = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
    for key, value in attrs.items():
        attr = node.attr[key]
        if isinstance(value, tf.dtypes.DType):
            attr.type = value.as_datatype_enum
        elif isinstance(value, np.ndarray):
            attr.tensor.CopyFrom(tf.make_tensor_proto(value))
        elif isinstance(value, bytes):
            attr.s = value
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            attr.list.s.extend(value)
        elif isinstance(value, list):
            attr.list.CopyFrom(attr_value_pb2.AttrValue.ListValue(i=value))
        elif isinstance(value, bool):
            attr.b = value
        else:
            attr.i = value
    return node


def _fused_graph(conv_ops, depthwise_ops):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    consts = {"w": (3, 3, 2, 4), "b": (4,), "dw": (3, 3, 4, 1), "db": (4,)}
    values = {k: rng.normal(size=s).astype(np.float32) for k, s in consts.items()}
    common = {"T": tf.float32, "padding": b"SAME", "data_format": b"NHWC", "dilations": [1, 1, 1, 1], "num_args": 1}
    graph_def = tf.compat.v1.GraphDef()
    graph_def.node.extend(
        [_node("x", "Placeholder", dtype=tf.float32)]
        + [_node(k, "Const", dtype=tf.float32, value=v) for k, v in values.items()]
        + [_node("conv/act", "_FusedConv2D", ["x", "w", "b"], strides=[1, 2, 2, 1], fused_ops=conv_ops,
                 use_cudnn_on_gpu=True, **common),
           _node("dw/act", "FusedDepthwiseConv2dNative", ["conv/act", "dw", "db"], strides=[1, 1, 1, 1],
                 fused_ops=depthwise_ops, **common)]
    )
    return graph_def, values


def test_split_fused_ops_computes_what_the_fused_ops_mean():
    """TF.js's fused conv nodes, split, equal the standard ops written out in TF."""
    import tensorflow as tf

    from browserml.handtrack.graph import split_fused_ops

    graph_def, v = _fused_graph([b"BiasAdd", b"Relu6"], [b"BiasAdd", b"Relu"])
    split = split_fused_ops(graph_def)
    assert {n.op for n in split.node} == {"Placeholder", "Const", "Conv2D", "BiasAdd", "Relu6",
                                          "DepthwiseConv2dNative", "Relu"}
    x = np.random.default_rng(1).normal(size=(1, 7, 7, 2)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(split, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        got = session.run("dw/act:0", {"x:0": x})
    hidden = tf.nn.relu6(tf.nn.conv2d(x, v["w"], [1, 2, 2, 1], "SAME") + v["b"])
    want = tf.nn.relu(tf.nn.depthwise_conv2d(hidden, v["dw"], [1, 1, 1, 1], "SAME") + v["db"]).numpy()
    # A Session graph (grappler may fuse again) vs eager ops: float32 sums in other orders, with or
    # without FMA. Each output adds 3·3·2 + 3·3 products and two biases, each off by <= eps32 of
    # the magnitude (|want| <= ~10): (18 + 9 + 2)·eps32·max|want| ~ 3e-5. (Both are 1.5e-6 from
    # float64 here, so the old 1e-5 left 3x.) A wrong split (bias, Relu6 vs Relu) is O(1) off.
    np.testing.assert_allclose(got, want, rtol=0, atol=(18 + 9 + 2) * np.finfo(np.float32).eps * np.abs(want).max())


def test_split_fused_ops_refuses_what_it_cannot_split():
    from browserml.handtrack.graph import HandGraphError, split_fused_ops

    graph_def, _ = _fused_graph([b"BiasAdd", b"Prelu"], [b"BiasAdd"])
    with pytest.raises(HandGraphError, match="Prelu"):
        split_fused_ops(graph_def)


def test_the_640_model_resizes_to_640():
    from browserml.handtrack.graph import find_preprocessing, read_graph_def

    graph_def, _ = read_graph_def(model_dir("ssd640fpnlite", "small"))
    prep = find_preprocessing(graph_def)
    assert prep.size == (640, 640)
    assert prep.scale == pytest.approx(2 / 255, rel=1e-6) and prep.offset == pytest.approx(1.0)


# --------------------------------------------------------------------------- the loaded model


@pytest.fixture(scope="module")
def small():
    from browserml.handtrack.graph import load_graph

    return load_graph("ssd320fpnlite", "small")


@pytest.fixture(scope="module")
def pixels():
    from browserml.handtrack.graph import sample_pixels

    return sample_pixels()


def test_describe_shows_the_nms_stage_and_the_two_raw_nodes(small):
    description = small.describe()
    topology = json.loads((small.folder / "model.json").read_text())["modelTopology"]["node"]
    assert description.node_count == len(topology) == 1185
    assert [op for _, op in description.nms_nodes] == ["NonMaxSuppressionV5"] * 7
    assert description.nms_scope.startswith(POSTPROCESSOR_SCOPE + "/")
    assert description.raw_outputs_feed_nms  # the raw nodes are the last step before NMS
    assert description.tfjs_only_ops == {"_FusedConv2D": 72, "FusedDepthwiseConv2dNative": 17}
    assert [(t.name, t.dtype, t.shape) for t in description.inputs] == [("input_tensor:0", "uint8", (1, None, None, 3))]
    raw = description.raw_outputs
    assert (raw["boxes"].name, raw["boxes"].shape) == (RAW_OUTPUTS["boxes"], (1, 12804, 1, 4))
    assert (raw["scores"].name, raw["scores"].shape) == (RAW_OUTPUTS["scores"], (1, 12804, 7))
    kept_ops = {n.op for n in small.graph_def.node}
    assert not kept_ops & (NMS_OPS | {"Enter", "Merge", "TensorListGetItem", "_FusedConv2D"})
    assert description.kept_nodes == len(small.graph_def.node) < 1185
    prep = description.preprocessing
    assert small.input_size == 320 and prep.size == (320, 320)
    assert (prep.align_corners, prep.half_pixel_centers) == (False, False)
    assert "NonMaxSuppressionV5" in str(description) and RAW_OUTPUTS["boxes"] in str(description)


def test_raw_accepts_uint8_or_int32_with_or_without_batch(small, pixels):
    boxes, scores = small.raw(pixels)
    assert boxes.shape == (12804, 4) and scores.shape == (12804, 7)
    assert boxes.dtype == scores.dtype == np.float32
    assert 0 <= scores.min() and scores.max() <= 1  # sigmoids
    boxes8, scores8 = small.raw(pixels[0].astype(np.uint8))
    np.testing.assert_array_equal(boxes8, boxes)
    np.testing.assert_array_equal(scores8, scores)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 4, 3), np.float32), "integers"),
    (np.zeros((4, 4)), "shape"),
    (np.full((4, 4, 3), 256), "0..255"),
])
def test_raw_refuses_what_handtrack_js_would_not_feed(small, bad, match):
    from browserml.handtrack.graph import HandGraphError

    with pytest.raises(HandGraphError, match=match):
        small.raw(bad)


@pytest.mark.tfjs
@pytest.mark.slow
@pytest.mark.parametrize("size", ["small", "large"])
def test_python_raw_outputs_equal_tfjs_node_wasm(size, pixels):
    """The same int32 frame through the same shipped files: TensorFlow vs TF.js 4.22 (wasm)."""
    from browserml.handtrack.graph import load_graph, run_tfjs_raw

    hand = load_graph("ssd320fpnlite", size)
    boxes, scores = hand.raw(pixels)
    result = run_tfjs_raw(hand.folder, pixels, [RAW_OUTPUTS["boxes"], RAW_OUTPUTS["scores"]])
    assert result.backend == "wasm" and result.num_tensors_after == result.num_tensors_before
    assert np.max(np.abs(result.outputs[RAW_OUTPUTS["boxes"]].reshape(-1, 4) - boxes)) <= 1e-5
    assert np.max(np.abs(result.outputs[RAW_OUTPUTS["scores"]].reshape(-1, 7) - scores)) <= 1e-5


# --------------------------------------------------------------------------- re-conversion


def test_grappler_without_arithmetic_keeps_the_upsampling_pack(tmp_path):
    """The converter's arithmetic pass turns a Pack of copies (FPN upsampling) into Tile;
    grappler_without() is what stops it."""
    import contextlib

    import tensorflow as tf
    import_tensorflowjs()
    from tensorflowjs.converters import convert_tf_saved_model

    from browserml.handtrack.convert import grappler_without

    @tf.function(input_signature=[tf.TensorSpec([1, 4, 4, 2], tf.float32, name="x")])
    def upsample(x):
        rows = tf.reshape(tf.stack([x, x], axis=3), [1, 4, 8, 2])
        return {"y": tf.reshape(tf.stack([rows, rows], axis=2), [1, 8, 8, 2]) * 2.0}

    tf.saved_model.save(tf.Module(), str(tmp_path / "saved"),
                        signatures={"serving_default": upsample.get_concrete_function()})
    ops = {}
    for name, context in [("default", contextlib.nullcontext), ("without", grappler_without)]:
        with context():
            convert_tf_saved_model(str(tmp_path / "saved"), str(tmp_path / name))
        nodes = json.loads((tmp_path / name / "model.json").read_text())["modelTopology"]["node"]
        ops[name] = [n["op"] for n in nodes]
    assert ops["default"].count("Tile") == 1 and ops["default"].count("Pack") == 1
    assert ops["without"].count("Tile") == 0 and ops["without"].count("Pack") == 2


@pytest.fixture(scope="module")
def reconverted(tmp_path_factory):
    from browserml.handtrack.convert import reconvert

    return {row.variant: row for row in reconvert(tmp_path_factory.mktemp("handtrack") / "raw", repeats=1)}


@pytest.mark.tfjs
@pytest.mark.slow
def test_reconverted_models_equal_the_shipped_ones_in_tfjs(reconverted):
    """float32 re-converted == shipped base, float16 == shipped fp16, in TF.js (Node, wasm)."""
    assert reconverted["base"].max_diff_vs_shipped <= 1e-5
    assert reconverted["float16"].max_diff_vs_counterpart <= 1e-5
    # uint8 is today's quantizer (zero-point nudging), so close to but not the shipped int8
    assert reconverted["uint8"].max_diff_vs_counterpart < 1e-2
    assert reconverted["float16"].max_diff_vs_shipped < reconverted["uint8"].max_diff_vs_shipped
    assert all(row.python_ms > 0 and row.tfjs_ms > 0 for row in reconverted.values())


@pytest.mark.tfjs
@pytest.mark.slow
def test_reconverted_sizes_shards_and_graph(reconverted):
    from browserml.export import list_shards, read_manifest

    expected = {"base": (11.24, 3), "float16": (5.62, 2), "uint8": (2.81, 1)}
    for variant, (mib, shards) in expected.items():
        row = reconverted[variant]
        assert (round(row.bytes / MiB, 2), row.shards) == (mib, shards)
        assert all(p.stat().st_size <= 4 * MiB for p in list_shards(row.folder))
        model_json = json.loads((row.folder / "model.json").read_text())
        assert not {n["op"] for n in model_json["modelTopology"]["node"]} & (NMS_OPS | {"Tile", "Enter"})
        assert sorted(model_json["signature"]["outputs"]) == ["boxes", "scores"]
        manifest = read_manifest(row.folder)
        assert manifest.quantization == (None if variant == "base" else variant)
        assert manifest.labels == [LABELS[k] for k in sorted(LABELS)]
    # float weights halve and quarter; the few int32 constants (shapes) stay as they are
    assert reconverted["base"].bytes / reconverted["float16"].bytes == pytest.approx(2, rel=1e-4)
    assert reconverted["base"].bytes / reconverted["uint8"].bytes == pytest.approx(4, rel=1e-3)
    shipped = sum(p.stat().st_size for p in model_dir(size="large").glob("*.bin"))
    assert reconverted["base"].bytes < shipped  # the NMS stage's constants are gone


@pytest.mark.tfjs
@pytest.mark.chromium
@pytest.mark.slow
@pytest.mark.parametrize("variant", ["float16", "uint8"])
def test_quantized_reconversions_pass_parity_in_node_and_chromium(reconverted, variant):
    from browserml.export import read_manifest
    from browserml.tfjs_check import check_parity

    folder = reconverted[variant].folder
    reports = check_parity(folder, [("node", "wasm"), ("chromium", "wasm")])
    assert [r.runtime for r in reports] == ["node", "chromium"] and all(r.ok for r in reports), reports
    parity = read_manifest(folder).parity
    assert parity["tolerance"] == 1e-5 and parity["quantization_error"] > 1e-5
