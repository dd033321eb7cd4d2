"""handtrack.js's TF.js graph model, loaded into TensorFlow and cut down to what it uses.

A TF.js graph model is a TensorFlow ``GraphDef`` written as JSON (``modelTopology``)
with the constants moved into binary shards. Going back is mostly bookkeeping, but
three things stop a plain ``import_graph_def`` on the shipped handtrack models (and
PyPI's ``tfjs-graph-converter`` 1.6.3 fails on them with TF 2.19):

1. **Weights.** Every ``Const`` lost its value to the shards, some quantised
   (``fp16``: float16, ``int8``: uint8 with ``min``/``scale``). ``tensorflowjs``'s
   own reader dequantises exactly as TF.js does (``v * scale + min`` in float64,
   stored as float32), so the int8 model runs in Python with the very weights the
   browser uses.
2. **TF.js-only fused ops.** The converter fuses ``Conv2D + BiasAdd + Relu6`` into
   ``_FusedConv2D`` and the depthwise version into ``FusedDepthwiseConv2dNative``
   (an op TensorFlow does not have; TF's own ``_FusedConv2D`` now needs attributes
   TF.js never wrote). Each is split back into the standard ops its ``fused_ops``
   attribute lists.
3. **The preprocessing loop.** The Object Detection API wraps its preprocessing in a
   ``tf.map_fn`` over the batch: a v1 while loop with TensorList ops. It is
   ``cast -> x * (2/255) - 1 -> bilinear resize to 320x320`` (640 for ssd640fpnlite),
   so it is cut off and the same ops are written out, with the constants, size and
   resize flags read from the loop body itself.

What handtrack.js runs is then a small part of the graph: ``detect()`` asks
``executeAsync`` for two nodes before the Object Detection post-processing
(:data:`RAW_OUTPUTS`) and does its own max-score + NMS on the CPU. Pruning to those
two nodes keeps 426 of the 1,185 nodes and drops all 7 ``NonMaxSuppressionV5``.

:func:`load_graph` returns a :class:`HandGraph`: ``raw(pixels)`` gives those two
outputs for integer RGB pixels, ``describe()`` what the graph holds, and ``function``
is the ``tf.function`` that :mod:`browserml.handtrack.convert` re-exports.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.export import read_model_json, read_weights
from browserml.handtrack.models import DEFAULT_MODEL_TYPE, DEFAULT_SIZE, model_dir

INPUT_NAME = "input_tensor"
# The two nodes handtrack.js's detect() fetches (its modelOutputNodes), by our output name.
RAW_OUTPUTS: dict[str, str] = {
    "boxes": "StatefulPartitionedCall/Postprocessor/ExpandDims_1",  # [1, N, 1, 4] ymin, xmin, ymax, xmax in 0..1
    "scores": "StatefulPartitionedCall/Postprocessor/Slice",  # [1, N, 7] sigmoid scores, background dropped
}
POSTPROCESSOR_SCOPE = "StatefulPartitionedCall/Postprocessor"
NMS_OPS = frozenset({
    "NonMaxSuppression", "NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4",
    "NonMaxSuppressionV5", "CombinedNonMaxSuppression",
})
# TF.js-only fused op -> (standard op, the attributes that op takes).
_FUSED_OPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "_FusedConv2D": ("Conv2D", ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations",
                                "use_cudnn_on_gpu")),
    "FusedDepthwiseConv2dNative": ("DepthwiseConv2dNative", ("T", "strides", "padding", "explicit_paddings",
                                                             "data_format", "dilations")),
    "_FusedMatMul": ("MatMul", ("T", "transpose_a", "transpose_b")),
}
_ACTIVATIONS = ("Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu")
_LOOP_OPS = frozenset({
    "Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond", "TensorListReserve", "TensorListStack",
    "TensorListSetItem", "TensorListGetItem", "TensorListFromTensor",
})
# Ops allowed between the loop body's Sub and its ResizeBilinear (the per-image unstack/expand).
_PASS_THROUGH = frozenset({"ExpandDims", "Unpack", "Squeeze", "Identity", "Reshape"})


class HandGraphError(BadInput):
    """A TF.js graph model cannot be brought into TensorFlow as a hand detector."""


# --------------------------------------------------------------------------- descriptions


@dataclass(frozen=True)
class TensorInfo:
    """A named tensor of the graph: ``None`` in ``shape`` is a size fixed only at run time."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    def __str__(self) -> str:
        shape = "?" if self.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
        return f"{self.name}: {self.dtype} {shape}"


@dataclass(frozen=True)
class Preprocessing:
    """What the model does to pixels before the network: ``resize(cast(x) * scale - offset)``.

    Read from the graph itself, so ssd640fpnlite's 640 comes out right. TF's legacy
    bilinear resize (both flags False) is what TF.js's ``resizeBilinear`` does by default.
    """

    scale: float
    offset: float
    size: tuple[int, int]
    align_corners: bool
    half_pixel_centers: bool

    def apply(self, pixels: Any) -> Any:
        """The same ops as the graph, in the same order (so float32 rounding agrees too)."""
        import tensorflow as tf

        x = tf.constant(np.float32(self.scale)) * tf.cast(pixels, tf.float32)
        x = x - tf.constant(np.float32(self.offset))
        return tf.raw_ops.ResizeBilinear(
            images=x, size=tf.constant(self.size, tf.int32),
            align_corners=self.align_corners, half_pixel_centers=self.half_pixel_centers,
        )


@dataclass(frozen=True)
class GraphDescription:
    """What a TF.js graph model holds, and the part of it handtrack.js actually runs."""

    source: str
    converted_by: str
    node_count: int
    op_counts: dict[str, int]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    tfjs_only_ops: dict[str, int]
    loop_nodes: int
    nms_nodes: tuple[tuple[str, str], ...]
    nms_scope: str
    postprocessor_nodes: int
    raw_outputs: dict[str, TensorInfo]
    raw_outputs_feed_nms: bool
    kept_nodes: int
    preprocessing: Preprocessing

    def __str__(self) -> str:
        p = self.preprocessing
        lines = [
            f"{self.source}",
            f"  made by: {self.converted_by}; {self.node_count} nodes, {len(self.op_counts)} op types",
            "  signature inputs:  " + "; ".join(map(str, self.inputs)),
            "  signature outputs: " + "; ".join(map(str, self.outputs)),
            "  TF.js-only fused ops: " + (", ".join(f"{k} x{v}" for k, v in self.tfjs_only_ops.items()) or "none"),
            (f"  preprocessing: {self.loop_nodes} while-loop/TensorList nodes computing "
             f"resize(cast(x) * {p.scale:.6g} - {p.offset:g}) to {p.size[0]}x{p.size[1]} "
             f"(align_corners={p.align_corners}, half_pixel_centers={p.half_pixel_centers})"),
            (f"  post-processing: {len(self.nms_nodes)} NMS ops under {self.nms_scope or '-'}; "
             f"{self.postprocessor_nodes} nodes under {POSTPROCESSOR_SCOPE}"),
        ]
        lines += [f"    {op:22s} {name}" for name, op in self.nms_nodes]
        feed = "feed the NMS stage" if self.raw_outputs_feed_nms else "are the model's outputs"
        lines.append(f"  raw outputs used by handtrack.js ({feed}):")
        lines += [f"    {k} = {t}" for k, t in self.raw_outputs.items()]
        lines.append(f"  TensorFlow runs {self.kept_nodes} of {self.node_count} nodes (pruned to the raw outputs)")
        return "\n".join(lines)


# --------------------------------------------------------------------------- GraphDef surgery


def _node_name(ref: str) -> str:
    """``"^a"``, ``"a:1"`` -> ``"a"``: the node an input reference points at."""
    return ref.lstrip("^").split(":")[0]


def _tensor_info(name: str, spec: Mapping[str, Any]) -> TensorInfo:
    """A model.json signature entry (``{"dtype": "DT_FLOAT", "tensorShape": {...}}``) as TensorInfo."""
    shape_json = spec.get("tensorShape", {})
    shape = None if shape_json.get("unknownRank") else tuple(
        None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in shape_json.get("dim", [])
    )
    return TensorInfo(name, str(spec.get("dtype", "?")).removeprefix("DT_").lower(), shape)


def read_graph_def(folder: str | Path) -> tuple[Any, dict[str, Any]]:
    """A TF.js graph model folder as ``(GraphDef with every Const filled, model.json dict)``.

    Shards are read through :func:`browserml.export.read_model_json` (paths must stay
    inside the folder, sizes must match) and dequantised by ``tensorflowjs``.
    """
    import tensorflow as tf
    from google.protobuf import json_format

    folder = Path(folder)
    model_json = read_model_json(folder)
    if model_json.get("format") not in (None, "graph-model"):
        raise HandGraphError(f"{folder / 'model.json'} is a {model_json.get('format')!r}, not a graph model")
    try:
        graph_def = json_format.ParseDict(model_json["modelTopology"], tf.compat.v1.GraphDef())
    except json_format.ParseError as err:
        raise HandGraphError(f"{folder / 'model.json'}: modelTopology is not a GraphDef ({err})") from err
    weights = read_weights(folder)
    for node in graph_def.node:
        if node.op != "Const" or node.name not in weights:
            continue
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        value = np.asarray(weights.pop(node.name)).astype(dtype.as_numpy_dtype)
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    if weights:
        raise HandGraphError(f"{folder / 'model.json'}: weights {sorted(weights)[:3]} match no Const node")
    return graph_def, model_json


def _attr_list(node: Any, key: str) -> list[str]:
    return [s.decode() for s in node.attr[key].list.s]


def _split_fused(node: Any, taken: set[str]) -> list[Any]:
    """One TF.js fused node as the chain of standard ops it stands for; the chain's last
    node keeps the original name, so every consumer still finds it."""
    from tensorflow.core.framework import node_def_pb2

    base_op, base_attrs = _FUSED_OPS[node.op]
    fused = _attr_list(node, "fused_ops")
    data = [i for i in node.input if not i.startswith("^")]
    control = [i for i in node.input if i.startswith("^")]
    has_bias = bool(fused) and fused[0] == "BiasAdd"
    activations = fused[1:] if has_bias else fused
    if len(activations) > 1 or any(a not in _ACTIVATIONS for a in activations) or len(data) != 2 + has_bias:
        raise HandGraphError(
            f"node {node.name!r} ({node.op}): fused_ops {fused} with {len(data)} inputs is not supported; "
            f"only [BiasAdd] followed by at most one of {_ACTIVATIONS}"
        )
    steps = [base_op] + (["BiasAdd"] if has_bias else []) + activations
    chain = []
    previous = None
    for k, op in enumerate(steps):
        last = k == len(steps) - 1
        name = node.name if last else f"{node.name}/_{op}"
        if not last and name in taken:
            raise HandGraphError(f"cannot split {node.name!r}: a node named {name!r} already exists")
        new = node_def_pb2.NodeDef(name=name, op=op)
        new.attr["T"].CopyFrom(node.attr["T"])
        if op == base_op:
            new.input.extend(data[:2] + control)
            for key in base_attrs:
                if key in node.attr:
                    new.attr[key].CopyFrom(node.attr[key])
        elif op == "BiasAdd":
            new.input.extend([previous, data[2]])
            if "data_format" in node.attr and base_op != "MatMul":
                new.attr["data_format"].CopyFrom(node.attr["data_format"])
        else:
            new.input.append(previous)
            if op == "LeakyRelu":
                new.attr["alpha"].f = node.attr["leakyrelu_alpha"].f
        chain.append(new)
        previous = name
    return chain


def split_fused_ops(graph_def: Any) -> Any:
    """A copy of ``graph_def`` with every TF.js-only fused op split into standard ops,
    and device pins (``/device:CPU:0``) dropped so TensorFlow places nodes itself."""
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    taken = {n.name for n in graph_def.node}
    for node in graph_def.node:
        for new in _split_fused(node, taken) if node.op in _FUSED_OPS else [node]:
            copy = out.node.add()
            copy.CopyFrom(new)
            copy.ClearField("device")
    return out


def _ancestors(nodes: Mapping[str, Any], outputs: Iterable[str], stop: Iterable[str] = ()) -> set[str]:
    """Every node ``outputs`` depend on (control inputs included), not walking past ``stop``."""
    stop = set(stop)
    seen: set[str] = set()
    todo = [_node_name(o) for o in outputs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in nodes:
            raise HandGraphError(f"the graph has no node {name!r}")
        seen.add(name)
        if name not in stop:
            todo.extend(_node_name(i) for i in nodes[name].input)
    return seen


def _const(nodes: Mapping[str, Any], ref: str) -> np.ndarray | None:
    """The value of the Const that ``ref`` names, or ``None`` if it is not a Const."""
    import tensorflow as tf

    node = nodes.get(_node_name(ref))
    return None if node is None or node.op != "Const" else tf.make_ndarray(node.attr["value"].tensor)


def find_preprocessing(graph_def: Any) -> Preprocessing:
    """Read the preprocessing from the graph: the one ResizeBilinear, its size and flags,
    and the ``Mul``/``Sub`` constants above it (``x * 2/255 - 1`` in handtrack's models)."""
    nodes = {n.name: n for n in graph_def.node}
    resizes = [n for n in graph_def.node if n.op == "ResizeBilinear"]
    if len(resizes) != 1:
        raise HandGraphError(f"expected one ResizeBilinear (the preprocessing), found {len(resizes)}")
    resize = resizes[0]
    size = _const(nodes, resize.input[1])
    if size is None or size.shape != (2,):
        raise HandGraphError(f"{resize.name}: the resize size is not a constant pair")
    node = nodes[_node_name(resize.input[0])]
    while node.op in _PASS_THROUGH:
        node = nodes[_node_name(node.input[0])]
    mul = nodes.get(_node_name(node.input[0])) if node.op == "Sub" else None
    offset = _const(nodes, node.input[1]) if node.op == "Sub" else None
    scale = None
    if mul is not None and mul.op == "Mul":
        scale = next((v for v in (_const(nodes, i) for i in mul.input) if v is not None), None)
    if offset is None or scale is None or offset.size != 1 or scale.size != 1:
        raise HandGraphError(
            f"the ops before {resize.name} are not 'cast(x) * scale - offset' (found {node.op} {node.name!r})"
        )
    return Preprocessing(
        scale=float(scale.reshape(())), offset=float(offset.reshape(())),
        size=(int(size[0]), int(size[1])),
        align_corners=bool(resize.attr["align_corners"].b),
        half_pixel_centers=bool(resize.attr["half_pixel_centers"].b),
    )


def _loop_output(nodes: Mapping[str, Any], outputs: Iterable[str]) -> str | None:
    """The preprocessing loop's result node (a TensorListStack) the outputs depend on, if any."""
    stacks = {n for n in _ancestors(nodes, outputs, stop={k for k, v in nodes.items() if v.op == "TensorListStack"})
              if nodes[n].op == "TensorListStack"}
    if len(stacks) > 1:
        raise HandGraphError(f"the outputs depend on {len(stacks)} TensorList loops; expected one: {sorted(stacks)}")
    return stacks.pop() if stacks else None


def prune(graph_def: Any, outputs: Iterable[str], cut: str | None, cut_shape: Sequence[int]) -> Any:
    """Keep only what ``outputs`` need; ``cut`` (the loop's result) becomes a float placeholder."""
    import tensorflow as tf
    from tensorflow.core.framework import node_def_pb2

    if cut is not None:
        graph_def = _replaced(graph_def, cut, node_def_pb2.NodeDef(
            name=cut, op="Placeholder",
            attr={"dtype": _type_attr(tf.float32),
                  "shape": _shape_attr(cut_shape)},
        ))
    keep = _ancestors({n.name: n for n in graph_def.node}, outputs)
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    out.node.extend(n for n in graph_def.node if n.name in keep)
    return out


def _type_attr(dtype: Any) -> Any:
    from tensorflow.core.framework import attr_value_pb2

    return attr_value_pb2.AttrValue(type=dtype.as_datatype_enum)


def _shape_attr(shape: Sequence[int]) -> Any:
    import tensorflow as tf
    from tensorflow.core.framework import attr_value_pb2

    return attr_value_pb2.AttrValue(shape=tf.TensorShape(list(shape)).as_proto())


def _replaced(graph_def: Any, name: str, new: Any) -> Any:
    import tensorflow as tf

    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        if node.name == name:
            node.CopyFrom(new)
    return out


# --------------------------------------------------------------------------- the model


class HandGraph:
    """A handtrack.js graph model running in TensorFlow, cut to its two raw outputs.

    ``function`` is a ``tf.function`` taking ``input_tensor`` (int32 ``[1, h, w, 3]``,
    RGB 0..255, any h and w) and returning ``{"boxes": [1, N, 1, 4], "scores": [1, N, 7]}``:
    the same tensors, in the same shapes, as the two nodes handtrack.js fetches.
    """

    def __init__(self, folder: str | Path, model_type: str, size: str, outputs: Mapping[str, str] | None = None):
        import tensorflow as tf

        self.folder = Path(folder)
        self.model_type = model_type
        self.size = size
        graph_def, self.model_json = read_graph_def(self.folder)
        self._full = graph_def
        signature = self.model_json.get("signature", {})
        sig_outputs = signature.get("outputs", {})
        if outputs is None:  # a browserml re-export names them; a shipped model has handtrack's nodes
            named = {k: sig_outputs[k]["name"] for k in ("boxes", "scores") if k in sig_outputs}
            outputs = named if len(named) == 2 else RAW_OUTPUTS
        self.output_nodes = {k: v if ":" in v else f"{v}:0" for k, v in outputs.items()}
        self.preprocessing = find_preprocessing(graph_def)
        self.input_size = self.preprocessing.size[0]
        graph_def = split_fused_ops(graph_def)
        nodes = {n.name: n for n in graph_def.node}
        self.loop_output = _loop_output(nodes, self.output_nodes.values())
        self.graph_def = prune(graph_def, self.output_nodes.values(), self.loop_output,
                               [1, *self.preprocessing.size, 3])
        kept = {n.name: n for n in self.graph_def.node}
        placeholders = [n.name for n in self.graph_def.node if n.op == "Placeholder"]
        if self.loop_output is None and len(placeholders) != 1:
            raise HandGraphError(f"{self.folder}: expected one input placeholder, found {placeholders}")
        graph_input = self.loop_output or placeholders[0]
        if any(n.op in _LOOP_OPS for n in kept.values() if n.name != graph_input):
            raise HandGraphError(f"{self.folder}: control flow is left after cutting the preprocessing loop")
        names = sorted(self.output_nodes)
        pruned, prep, loop = self.graph_def, self.preprocessing, self.loop_output is not None

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.int32, name=INPUT_NAME)])
        def serve(input_tensor: Any) -> dict[str, Any]:
            feed = prep.apply(input_tensor) if loop else input_tensor
            tensors = tf.graph_util.import_graph_def(
                pruned, input_map={f"{graph_input}:0": feed},
                return_elements=[self.output_nodes[n] for n in names], name="handtrack",
            )
            return dict(zip(names, tensors))

        self.function = serve
        self.concrete = serve.get_concrete_function()

    def __repr__(self) -> str:
        return (f"HandGraph({self.model_type!r}, size={self.size!r}, input_size={self.input_size}, "
                f"folder={str(self.folder)!r})")

    def run(self, pixels: Any) -> dict[str, np.ndarray]:
        """The raw outputs in the graph's own shapes: ``boxes`` [1, N, 1, 4], ``scores`` [1, N, 7]."""
        x = as_pixels(pixels)
        return {k: v.numpy() for k, v in self.concrete(x).items()}

    def raw(self, pixels: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(boxes (N, 4), scores (N, 7))`` float32 for integer RGB ``pixels`` [1, h, w, 3] or (h, w, 3).

        Boxes are normalised ``(ymin, xmin, ymax, xmax)``; scores are per-class sigmoids
        for :data:`browserml.handtrack.models.LABELS` (column ``j`` is class ``j + 1``).
        """
        out = self.run(pixels)
        return out["boxes"].reshape(-1, 4), out["scores"].reshape(-1, out["scores"].shape[-1])

    @functools.cached_property
    def _description(self) -> GraphDescription:
        full = {n.name: n for n in self._full.node}
        signature = self.model_json.get("signature", {})
        nms = tuple((n.name, n.op) for n in self._full.node if n.op in NMS_OPS)
        raw = {_node_name(v) for v in self.output_nodes.values()}
        feed_nms = bool(nms) and all(raw & _ancestors(full, [name]) for name, _ in nms)
        out_specs = self.concrete.structured_outputs
        generated = self.model_json.get("generatedBy")
        return GraphDescription(
            source=str(self.folder),
            converted_by=f"{self.model_json.get('convertedBy', '?')} from TensorFlow {generated or '?'}",
            node_count=len(self._full.node),
            op_counts=dict(Counter(n.op for n in self._full.node).most_common()),
            inputs=tuple(_tensor_info(k, v) for k, v in signature.get("inputs", {}).items()),
            outputs=tuple(sorted((_tensor_info(k, v) for k, v in signature.get("outputs", {}).items()),
                                 key=lambda t: t.name)),
            tfjs_only_ops=dict(Counter(n.op for n in self._full.node if n.op in _FUSED_OPS)),
            loop_nodes=sum(1 for n in self._full.node if n.op in _LOOP_OPS),
            nms_nodes=nms,
            nms_scope=os.path.commonpath([name for name, _ in nms]) if nms else "",
            postprocessor_nodes=sum(1 for n in self._full.node if n.name.startswith(POSTPROCESSOR_SCOPE + "/")),
            raw_outputs={
                k: TensorInfo(_node_name(self.output_nodes[k]), out_specs[k].dtype.name,
                              tuple(out_specs[k].shape.as_list()))
                for k in sorted(self.output_nodes)
            },
            raw_outputs_feed_nms=feed_nms,
            kept_nodes=len(self.graph_def.node),
            preprocessing=self.preprocessing,
        )

    def describe(self) -> GraphDescription:
        """The graph's inputs/outputs, size, TF.js-only ops, NMS nodes and the pruned part
        (print it for a readable summary)."""
        return self._description


def as_pixels(pixels: Any) -> np.ndarray:
    """Integer RGB pixels as the int32 ``[1, h, w, 3]`` batch the graph takes.

    Floats are refused rather than silently truncated: handtrack.js truncates with
    ``toInt()`` after its resize, and how a caller rounds is part of the result.
    """
    arr = np.asarray(pixels)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[0] != 1 or arr.shape[-1] != 3 or min(arr.shape[1:3]) < 1:
        raise HandGraphError(f"pixels must be (h, w, 3) or (1, h, w, 3) RGB, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise HandGraphError(
            f"pixels must be integers 0..255 (uint8 or int32), got {arr.dtype}; truncate like "
            "handtrack.js's toInt() with np.trunc(x).astype(np.int32)"
        )
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise HandGraphError(f"pixel values must lie in 0..255, got {arr.min()}..{arr.max()}")
    return arr.astype(np.int32)


@functools.lru_cache(maxsize=8)
def load_graph(model_type: str = DEFAULT_MODEL_TYPE, size: str = DEFAULT_SIZE) -> HandGraph:
    """One of handtrack.js's shipped models in TensorFlow (cached: loading takes seconds).

    ``size`` is handtrack.js's ``modelSize``: ``"small"`` (int8, its default),
    ``"medium"`` (float16) or ``"large"`` (float32).
    """
    return HandGraph(model_dir(model_type, size), model_type, size)


def load_graph_dir(folder: str | Path, model_type: str = DEFAULT_MODEL_TYPE, size: str = "") -> HandGraph:
    """Any TF.js graph model folder of this detector (e.g. a browserml re-conversion)."""
    return HandGraph(folder, model_type, size or Path(folder).name)


def sample_pixels(height: int = 225, width: int = 305) -> np.ndarray:
    """A fixed int32 ``[1, height, width, 3]`` test frame, built the way handtrack.js builds
    its input: a 320x240 frame (scikit-image's bundled astronaut photo), TF's bilinear
    resize to the detector resolution (305x225 is what ``getValidResolution`` makes of
    320x240), then truncation to integers (``toInt()``).

    Any content will do for comparing runtimes; what matters is that every runtime is
    fed these very integers.
    """
    import tensorflow as tf
    from PIL import Image
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((320, 240), Image.Resampling.BILINEAR)
    frame = np.asarray(photo, dtype=np.float32)
    resized = tf.raw_ops.ResizeBilinear(images=frame[None], size=[height, width], align_corners=False,
                                        half_pixel_centers=False)
    return np.trunc(resized.numpy()).astype(np.int32)


def run_tfjs_raw(
    folder: str | Path,
    pixels: Any,
    outputs: Sequence[str],
    backend: str = "wasm",
    repeats: int = 1,
    timeout_s: float = 300,
) -> Any:
    """Run a graph model in TF.js under Node (``js/handtrack_raw.cjs``) on int32 ``pixels``
    and return a :class:`browserml.tfjs_check.RuntimeResult` whose outputs are keyed by
    the names asked for: node names for a shipped model (see :data:`RAW_OUTPUTS`),
    ``"boxes"``/``"scores"`` for a browserml re-conversion."""
    from browserml.tfjs_check import NODE_BACKENDS, RuntimeResult, run_node_script

    if backend not in NODE_BACKENDS:
        raise ValueError(f"Node backend must be one of {NODE_BACKENDS}, got {backend!r}")
    x = as_pixels(pixels)
    args = ["--dir", Path(folder).resolve(), "--outputs", ",".join(outputs), "--backend", backend,
            "--repeats", int(repeats)]
    data = run_node_script("handtrack_raw.cjs", args, timeout_s,
                           payload={"shape": list(x.shape), "data": x.ravel().tolist()}, payload_flag="--input")
    return RuntimeResult.from_json("node", data)
