"""The one way out of Python into TF.js.

Every lesson exports through this module, so every export folder looks the same and
keeps the same promises:

- ``model.json`` and its weight shards (4 MiB each by default), written by the
  official ``tensorflowjs`` converter: layers models from ``tf_keras`` (Keras 3
  layers exports are rejected by TF.js 4.22), graph models through a SavedModel;
- ``browserml.json``, the contract a client codes against: task, input and output
  names/shapes/dtypes, preprocessing, labels, quantization, and a *parity sample*
  (a small fixed input with the outputs Python computed for it), which is how any
  TF.js runtime proves it runs the model we trained;
- ``README.md``, a model card with the JS that loads the model;
- optional extra files (a lesson's ``index.html``).

The folder is written atomically, and :func:`read_model_json` is the safe reader:
it refuses shard paths that leave the folder and shards whose size does not match.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from browserml import __version__
from browserml.atomic import atomic_directory
from browserml.compat import import_tensorflowjs, tensorflow_log_filter
from browserml.errors import BadInput
from browserml.jsonfile import read_json

SCHEMA = "browserml-export/1"
DEFAULT_SHARD_BYTES = 4 * 1024 * 1024
FLOAT32_TOLERANCE = 1e-5
ModelFormat = Literal["layers", "graph"]
Quantization = Literal["float16", "uint8", "uint16"]
QUANTIZATIONS: tuple[str, ...] = ("float16", "uint8", "uint16")
_DTYPE_BYTES = {"float32": 4, "int32": 4, "bool": 1, "float16": 2, "uint8": 1, "uint16": 2, "complex64": 8}


class ExportError(BadInput):
    """An export folder is malformed, unsafe or does not match its contract."""


@dataclass(frozen=True)
class TensorSpec:
    """A named model input or output, as TF.js will see it (``None`` = any size)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TensorSpec:
        return cls(str(data["name"]), tuple(data["shape"]), str(data.get("dtype", "float32")))


@dataclass
class Manifest:
    """The contents of ``browserml.json``: everything a client needs besides weights."""

    task: str
    model_format: ModelFormat
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    parity: dict[str, Any]
    title: str = ""
    description: str = ""
    preprocessing: dict[str, Any] | None = None
    labels: list[str] | None = None
    quantization: str | None = None
    score: str | None = None
    threshold: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    schema: str = SCHEMA

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = [s.to_json() for s in self.inputs]
        data["outputs"] = [s.to_json() for s in self.outputs]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        if data.get("schema") != SCHEMA:
            raise ExportError(f"browserml.json: schema {data.get('schema')!r} is not {SCHEMA!r}")
        missing = {"task", "model_format", "inputs", "outputs", "parity"} - set(data)
        if missing:
            raise ExportError(f"browserml.json: missing keys {sorted(missing)}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ExportError(f"browserml.json: unknown keys {sorted(unknown)} (schema {SCHEMA})")
        fields = dict(data)
        fields["inputs"] = [TensorSpec.from_json(s) for s in data["inputs"]]
        fields["outputs"] = [TensorSpec.from_json(s) for s in data["outputs"]]
        return cls(**fields)

    def parity_arrays(self, key: Literal["inputs", "outputs"]) -> dict[str, np.ndarray]:
        """The parity sample's inputs or outputs as float arrays keyed by tensor name."""
        return {name: np.asarray(value, dtype=np.float64) for name, value in self.parity[key].items()}


# --------------------------------------------------------------------------- reading


def read_manifest(export_dir: str | Path) -> Manifest:
    """Read and validate ``browserml.json`` of an export folder."""
    data = read_json(Path(export_dir) / "browserml.json", ExportError,
                     f"{export_dir}: no browserml.json; is this a browserml export folder?")
    return Manifest.from_json(data)


def _shard_path(export_dir: Path, rel: str) -> Path:
    """Resolve a weight-shard path, refusing any that is absolute, a URL or escapes."""
    if not isinstance(rel, str) or not rel:
        raise ExportError(f"model.json: weight path {rel!r} is not a file name")
    if rel.startswith(("/", "\\")) or ":" in rel:
        raise ExportError(f"model.json: weight path {rel!r} is not relative to the export folder")
    root = export_dir.resolve()
    full = (root / rel).resolve()
    if root not in full.parents:
        raise ExportError(f"model.json: weight path {rel!r} leaves the export folder {root}")
    return full


def _expected_bytes(spec: Mapping[str, Any]) -> int | None:
    """Bytes a weight takes in its shard, or ``None`` for variable-size (string) weights."""
    dtype = spec.get("quantization", {}).get("dtype", spec.get("dtype", "float32"))
    if dtype not in _DTYPE_BYTES:
        return None
    return int(math.prod(spec.get("shape", []))) * _DTYPE_BYTES[dtype]


def read_model_json(export_dir: str | Path) -> dict[str, Any]:
    """Read ``model.json`` safely: every shard must stay inside the folder, exist, and
    add up to exactly the bytes its weight specs declare.

    This is the reader to use on any export you did not write yourself: a crafted
    ``"paths": ["../../secret"]`` would otherwise make a loader read outside the folder.
    """
    export_dir = Path(export_dir)
    path = export_dir / "model.json"
    model_json = read_json(path, ExportError, f"{export_dir}: no model.json")
    if "modelTopology" not in model_json or "weightsManifest" not in model_json:
        raise ExportError(f"{path}: needs 'modelTopology' and 'weightsManifest'")
    for group in model_json["weightsManifest"]:
        files = [_shard_path(export_dir, rel) for rel in group.get("paths", [])]
        for file in files:
            if not file.is_file():
                raise ExportError(f"{path}: weight shard {file.name!r} is missing")
        sizes = [_expected_bytes(w) for w in group.get("weights", [])]
        if None not in sizes:
            actual = sum(f.stat().st_size for f in files)
            if actual != sum(sizes):  # type: ignore[arg-type]
                raise ExportError(
                    f"{path}: shards hold {actual} bytes but the weight specs need {sum(sizes)}"  # type: ignore[arg-type]
                )
    return model_json


def read_weights(export_dir: str | Path) -> dict[str, np.ndarray]:
    """Weights of an export as float arrays keyed by name, dequantized, read safely."""
    import_tensorflowjs()
    from tensorflowjs.read_weights import read_weights as tfjs_read_weights

    export_dir = Path(export_dir)
    manifest = read_model_json(export_dir)["weightsManifest"]
    groups = tfjs_read_weights(manifest, str(export_dir.resolve()), flatten=True)
    return {entry["name"]: np.asarray(entry["data"]) for entry in groups}


def list_shards(export_dir: str | Path) -> list[Path]:
    """The weight-shard files of an export, in manifest order."""
    export_dir = Path(export_dir)
    model_json = read_model_json(export_dir)
    return [_shard_path(export_dir, p) for g in model_json["weightsManifest"] for p in g["paths"]]


# --------------------------------------------------------------------------- writing


def _versions() -> dict[str, str]:
    import tensorflow as tf

    tensorflowjs = import_tensorflowjs()
    return {"browserml": __version__, "tensorflow": tf.__version__, "tensorflowjs": tensorflowjs.__version__}


def _save_keras_model(model: Any, out_dir: Path, qmap: dict[str, str] | None, shard_bytes: int) -> None:
    """``tensorflowjs.converters.save_keras_model``, minus what a learner would see of it.

    That function goes through ``model.save("/tmp/....h5")``: tf_keras then warns that
    HDF5 "is considered legacy" (and, for a compiled model, that "compiled metrics have
    yet to be built") in every export cell, and the .h5 is left in /tmp. The HDF5 writer
    it ends up in is called here directly, without the optimizer (TF.js needs topology and
    weights only), in a temporary folder that is removed; the JSON and shards are then
    written by the same tensorflowjs functions, so the files are the same."""
    from tf_keras.src.saving.legacy import hdf5_format

    import_tensorflowjs()
    from tensorflowjs.converters import keras_h5_conversion

    with tempfile.TemporaryDirectory(prefix="browserml-h5-") as tmp:
        h5_path = str(Path(tmp) / "model.h5")
        hdf5_format.save_model_to_hdf5(model, h5_path, include_optimizer=False)
        topology, weight_groups = keras_h5_conversion.h5_merged_saved_model_to_tfjs_format(h5_path)
        keras_h5_conversion.write_artifacts(topology, weight_groups, str(out_dir), quantization_dtype_map=qmap,
                                            weight_shard_size_bytes=shard_bytes)


def _quantization_map(quantization: str | None) -> dict[str, str] | None:
    if quantization is None:
        return None
    if quantization not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization {quantization!r}; choose one of {QUANTIZATIONS} or None")
    return {quantization: "*"}


def _check_shard_size(shard_bytes: int) -> None:
    if not isinstance(shard_bytes, int) or shard_bytes < 1024:
        raise ExportError(f"shard size must be an int of at least 1024 bytes, got {shard_bytes!r}")


def _as_float_lists(arrays: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in arrays.items():
        arr = np.asarray(value)
        if not np.all(np.isfinite(arr)):
            raise ExportError(f"parity value {name!r} contains NaN or infinity")
        out[name] = arr.astype(np.float64).tolist()
    return out


def _write_folder(
    target: Path,
    write_model: Callable[[Path], None],
    manifest: Manifest,
    extra_files: Mapping[str, str | bytes] | None,
) -> Path:
    """Write model files, browserml.json, the model card and extras, atomically."""
    with atomic_directory(target) as staging:
        write_model(staging)
        read_model_json(staging)  # the converter's output must pass our own safe reader
        (staging / "browserml.json").write_text(
            json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        (staging / "README.md").write_text(model_card(manifest), encoding="utf-8")
        for name, content in (extra_files or {}).items():
            dest = staging / name
            if dest.resolve().parent != staging.resolve():
                raise ExportError(f"extra file name {name!r} must be a plain file name")
            if isinstance(content, bytes):
                dest.write_bytes(content)
            else:
                dest.write_text(content, encoding="utf-8")
    return target


def export_layers_model(
    model: Any,
    out_dir: str | Path,
    *,
    task: str,
    parity_inputs: Mapping[str, Any] | np.ndarray,
    title: str = "",
    description: str = "",
    preprocessing: dict[str, Any] | None = None,
    labels: Sequence[str] | None = None,
    quantization: str | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    score: str | None = None,
    threshold: float | None = None,
    extra: dict[str, Any] | None = None,
    extra_files: Mapping[str, str | bytes] | None = None,
    parity_tolerance: float = FLOAT32_TOLERANCE,
) -> Path:
    """Export a ``tf_keras`` model as a TF.js layers model (``tf.loadLayersModel``).

    The parity outputs are what Python computes with the weights *as exported*: for a
    quantized export the dequantized weights are loaded back into a clone, so TF.js
    must still match to 1e-5; the quantization error itself is recorded separately
    under ``parity.quantization_error``.

    ``parity_tolerance`` is the max abs difference a TF.js run may show: 1e-5 suits
    small networks; a deep CNN's float32 features legitimately drift further (summation
    order differs between kernels), so its exporter can say so.

    ``score`` and ``threshold`` describe a scoring task (e.g. ``"mse"`` reconstruction
    error above ``threshold`` = anomaly), so a client can reproduce the decision.
    """
    import tf_keras

    if not isinstance(model, tf_keras.Model):
        raise ExportError(
            f"export_layers_model needs a tf_keras model, got {type(model).__module__}.{type(model).__name__}. "
            "Keras 3 layers exports are rejected by TF.js 4.22; build the model with `import tf_keras`."
        )
    _check_shard_size(shard_bytes)
    qmap = _quantization_map(quantization)
    if isinstance(parity_inputs, np.ndarray):
        parity_inputs = {model.inputs[0].name.split(":")[0]: parity_inputs}
    input_names = [t.name.split(":")[0] for t in model.inputs]
    if sorted(parity_inputs) != sorted(input_names):
        raise ExportError(f"parity inputs {sorted(parity_inputs)} do not match model inputs {input_names}")
    feed = [np.asarray(parity_inputs[n], dtype=np.float32) for n in input_names]
    float_out = model.predict(feed if len(feed) > 1 else feed[0], verbose=0)
    float_out = float_out if isinstance(float_out, list) else [float_out]
    output_names = list(model.output_names)

    inputs = [TensorSpec(n, tuple(t.shape), t.dtype.name) for n, t in zip(input_names, model.inputs)]
    outputs = [TensorSpec(n, tuple(t.shape), t.dtype.name) for n, t in zip(output_names, model.outputs)]

    def write_model(staging: Path) -> None:
        _save_keras_model(model, staging, qmap, shard_bytes)

    parity: dict[str, Any] = {
        "inputs": _as_float_lists(dict(zip(input_names, feed))),
        "outputs": _as_float_lists(dict(zip(output_names, float_out))),
        "tolerance": float(parity_tolerance),
    }
    manifest = Manifest(
        task=task, model_format="layers", inputs=inputs, outputs=outputs, parity=parity,
        title=title, description=description, preprocessing=preprocessing,
        labels=list(labels) if labels is not None else None, quantization=quantization,
        score=score, threshold=None if threshold is None else float(threshold),
        extra=dict(extra or {}), versions=_versions(),
    )
    if qmap is None:
        return _write_folder(Path(out_dir), write_model, manifest, extra_files)

    # Quantized: compute the reference from the weights TF.js will actually see.
    with tempfile.TemporaryDirectory() as probe:
        write_model(Path(probe))
        dequantized = read_weights(probe)
    clone = clone_with_weights(model, dequantized)
    quant_out = clone.predict(feed if len(feed) > 1 else feed[0], verbose=0)
    quant_out = quant_out if isinstance(quant_out, list) else [quant_out]
    parity["outputs"] = _as_float_lists(dict(zip(output_names, quant_out)))
    parity["quantization_error"] = float(
        max(np.max(np.abs(np.asarray(a) - np.asarray(b))) for a, b in zip(float_out, quant_out))
    )
    return _write_folder(Path(out_dir), write_model, manifest, extra_files)


def clone_with_weights(model: Any, weights: Mapping[str, np.ndarray]) -> Any:
    """A copy of a ``tf_keras`` model carrying ``weights`` (by weight name), e.g. the
    dequantized weights of a float16/uint8 export read back with :func:`read_weights`:
    what TF.js computes with, so Python can measure what quantization costs."""
    import tf_keras

    clone = tf_keras.models.clone_model(model)
    missing = [w.name for w in model.weights if w.name.split(":")[0] not in weights]
    if missing:
        raise ExportError(f"weights for {len(missing)} model variables are missing, e.g. {missing[:3]}")
    clone.set_weights([weights[w.name.split(":")[0]] for w in model.weights])
    return clone


def export_graph_model(
    function: Any,
    out_dir: str | Path,
    *,
    task: str,
    parity_inputs: Mapping[str, Any],
    title: str = "",
    description: str = "",
    preprocessing: dict[str, Any] | None = None,
    labels: Sequence[str] | None = None,
    quantization: str | None = None,
    parity_tolerance: float | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    extra: dict[str, Any] | None = None,
    extra_files: Mapping[str, str | bytes] | None = None,
    module: Any | None = None,
) -> Path:
    """Export a ``tf.function`` as a TF.js graph model (``tf.loadGraphModel``).

    ``function`` must have an ``input_signature`` with named ``tf.TensorSpec`` s and
    return a dict of named tensors: those names become the model's signature, and the
    names TF.js clients use in ``model.executeAsync({x: ...}, ['y'])``. Pass the
    ``tf.Module`` that owns its variables as ``module`` so the SavedModel keeps them.

    Float32 exports must match Python to 1e-5 in TF.js. For a quantized graph the
    caller states the tolerance it has justified (``parity_tolerance``), since the
    quantized graph cannot be re-run in Python without TF.js.
    """
    import tensorflow as tf
    import_tensorflowjs()
    from tensorflowjs.converters import convert_tf_saved_model

    _check_shard_size(shard_bytes)
    qmap = _quantization_map(quantization)
    if qmap is not None and parity_tolerance is None:
        raise ExportError("a quantized graph export needs an explicit parity_tolerance")
    concrete = function.get_concrete_function() if hasattr(function, "get_concrete_function") else function
    specs = concrete.structured_input_signature[0]
    if not specs or any(s.name is None for s in specs):
        raise ExportError("the exported function needs an input_signature of named tf.TensorSpec")
    input_names = [s.name for s in specs]
    if sorted(parity_inputs) != sorted(input_names):
        raise ExportError(f"parity inputs {sorted(parity_inputs)} do not match signature inputs {input_names}")
    feed = {n: tf.constant(np.asarray(parity_inputs[n]), dtype=s.dtype) for n, s in zip(input_names, specs)}
    result = concrete(*[feed[n] for n in input_names])
    if not isinstance(result, Mapping):
        raise ExportError("the exported function must return a dict of named output tensors")
    output_names = sorted(result)
    out_specs = concrete.structured_outputs
    inputs = [TensorSpec(s.name, tuple(s.shape.as_list()), s.dtype.name) for s in specs]
    outputs = [TensorSpec(n, tuple(out_specs[n].shape.as_list()), out_specs[n].dtype.name) for n in output_names]

    def write_model(staging: Path) -> None:
        with tempfile.TemporaryDirectory() as saved:
            owner = module if module is not None else tf.Module()
            tf.saved_model.save(owner, saved, signatures={"serving_default": concrete})
            with tensorflow_log_filter():  # grappler's C++ "Starting new session" lines, otherwise unfiltered
                convert_tf_saved_model(
                    saved, str(staging), signature_def="serving_default", saved_model_tags="serve",
                    quantization_dtype_map=qmap, weight_shard_size_bytes=shard_bytes,
                )

    manifest = Manifest(
        task=task, model_format="graph", inputs=inputs, outputs=outputs,
        parity={
            "inputs": _as_float_lists({n: feed[n].numpy() for n in input_names}),
            "outputs": _as_float_lists({n: result[n].numpy() for n in output_names}),
            "tolerance": FLOAT32_TOLERANCE if parity_tolerance is None else float(parity_tolerance),
        },
        title=title, description=description, preprocessing=preprocessing,
        labels=list(labels) if labels is not None else None, quantization=quantization,
        extra=dict(extra or {}), versions=_versions(),
    )
    return _write_folder(Path(out_dir), write_model, manifest, extra_files)


# --------------------------------------------------------------------------- model card

_JS_LOAD = {
    "layers": "const model = await tf.loadLayersModel('{url}');\nconst y = model.predict({feed});",
    "graph": "const model = await tf.loadGraphModel('{url}');\nconst y = await model.executeAsync({feed}, {outs});",
}


def _js_feed(manifest: Manifest) -> str:
    """JS that builds an example input of the right shape (``null`` dimensions as 1)."""
    examples = {
        s.name: f"tf.zeros({json.dumps([1 if d is None else d for d in s.shape])}, '{s.dtype}')"
        for s in manifest.inputs
    }
    if manifest.model_format == "layers":
        return next(iter(examples.values())) if len(examples) == 1 else "[" + ", ".join(examples.values()) + "]"
    return "{" + ", ".join(f"{k}: {v}" for k, v in examples.items()) + "}"


def model_card(manifest: Manifest, url: str = "./model.json") -> str:
    """A short README for an export: what it does, its tensors, and the JS that runs it."""

    def rows(specs: list[TensorSpec]) -> str:
        return "\n".join(f"| `{s.name}` | `{json.dumps(list(s.shape))}` | {s.dtype} |" for s in specs)

    js = _JS_LOAD[manifest.model_format].format(
        url=url, feed=_js_feed(manifest), outs=json.dumps([o.name for o in manifest.outputs])
    )
    lines = [
        f"# {manifest.title or manifest.task}",
        "",
        manifest.description or f"A TF.js {manifest.model_format} model exported by browserml.",
        "",
        f"- Task: `{manifest.task}`",
        f"- Format: TF.js {manifest.model_format} model (`model.json` + weight shards)",
        f"- Quantization: {manifest.quantization or 'none (float32)'}",
        f"- Preprocessing: {json.dumps(manifest.preprocessing)[:200] if manifest.preprocessing else 'none'}",
        "- Made with: " + ", ".join(f"{k} {v}" for k, v in manifest.versions.items()),
        "",
        "| input | shape | dtype |\n|---|---|---|\n" + rows(manifest.inputs),
        "",
        "| output | shape | dtype |\n|---|---|---|\n" + rows(manifest.outputs),
        "",
        "## Load it in TF.js",
        "",
        "```js",
        "import * as tf from '@tensorflow/tfjs';",
        js,
        "```",
        "",
        "Serve this folder over HTTP (e.g. `python -m http.server -b 127.0.0.1`): browsers and",
        "pure `@tensorflow/tfjs` cannot read `file://` URLs. Give the loader a URL with a path",
        "(`./model.json` or an absolute URL): from a bare `'model.json'` TF.js 4.22 requests the",
        "shards from the site root, and silently decodes a 404 page as weights.",
        "",
        "## Parity",
        "",
        "`browserml.json` holds a parity sample: fixed inputs and the outputs Python computed.",
        f"A correct TF.js runtime reproduces them within {manifest.parity['tolerance']:g} (max abs difference).",
        "",
    ]
    return "\n".join(lines)
