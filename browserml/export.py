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
:func:`read_export` reads both files and holds the contract to the model: the input and
output names, shapes and dtypes ``browserml.json`` declares must be the ones
``model.json`` declares (its graph signature, or its layers' input and output layers),
and the parity sample must fit them, so a contract that says ``[null, 139]`` for a
model that takes 140 numbers is refused instead of reported "ok".
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
    def from_json(cls, data: Any, where: str = "browserml.json: a tensor") -> TensorSpec:
        """Parse ``{"name", "shape", "dtype"}``, refusing anything a client could not code against."""
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str) or not data["name"]:
            raise ExportError(f"{where} needs a non-empty string 'name', got {data!r:.200}")
        shape = data.get("shape")
        if not isinstance(shape, list) or not all(_is_dim(d) for d in shape):
            raise ExportError(f"{where} {data['name']!r}: shape must be a list of sizes or null, got {shape!r:.200}")
        dtype = data.get("dtype", "float32")
        if not isinstance(dtype, str):
            raise ExportError(f"{where} {data['name']!r}: dtype must be a string, got {dtype!r}")
        return cls(data["name"], tuple(shape), dtype)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Whether an array of ``shape`` fits: same rank, and every fixed size equal."""
        return len(shape) == len(self.shape) and all(d is None or d == n for d, n in zip(self.shape, shape))


def _is_dim(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


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
    def from_json(cls, data: Any) -> Manifest:
        """Parse and validate ``browserml.json``: every way it can be broken is an
        :class:`ExportError` naming the key, never a ``KeyError`` from deep inside a check."""
        if not isinstance(data, Mapping):
            raise ExportError(f"browserml.json: must hold a JSON object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise ExportError(f"browserml.json: schema {data.get('schema')!r} is not {SCHEMA!r}")
        missing = {"task", "model_format", "inputs", "outputs", "parity"} - set(data)
        if missing:
            raise ExportError(f"browserml.json: missing keys {sorted(missing)}")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ExportError(f"browserml.json: unknown keys {sorted(unknown)} (schema {SCHEMA})")
        if data["model_format"] not in ("layers", "graph"):
            raise ExportError(f"browserml.json: model_format must be 'layers' or 'graph', got {data['model_format']!r}")
        fields = dict(data)
        for key in ("inputs", "outputs"):
            specs = data[key]
            if not isinstance(specs, list) or not specs:
                raise ExportError(f"browserml.json: {key} must be a non-empty list of tensors, got {specs!r:.200}")
            fields[key] = [TensorSpec.from_json(s, f"browserml.json: {key[:-1]}") for s in specs]
            names = [spec.name for spec in fields[key]]
            if len(set(names)) != len(names):
                raise ExportError(f"browserml.json: {key} repeat a name: {names}")
        manifest = cls(**fields)
        _check_parity(manifest)
        return manifest

    def parity_arrays(self, key: Literal["inputs", "outputs"]) -> dict[str, np.ndarray]:
        """The parity sample's inputs or outputs as float arrays keyed by tensor name."""
        return {name: np.asarray(value, dtype=np.float64) for name, value in self.parity[key].items()}


def _check_parity(manifest: Manifest) -> None:
    """The parity sample must be finite numbers shaped as the tensors it claims to feed and
    to have come out of, with a tolerance a runtime can be held to."""
    parity = manifest.parity
    if not isinstance(parity, Mapping):
        raise ExportError(f"browserml.json: parity must be an object, got {type(parity).__name__}")
    tolerance = parity.get("tolerance")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < math.inf:
        raise ExportError(f"browserml.json: parity.tolerance must be a finite number >= 0, got {tolerance!r}")
    for key, specs in (("inputs", manifest.inputs), ("outputs", manifest.outputs)):
        values = parity.get(key)
        if not isinstance(values, Mapping):
            raise ExportError(f"browserml.json: parity.{key} must map tensor names to values, got {values!r:.100}")
        if sorted(values) != sorted(s.name for s in specs):
            raise ExportError(f"browserml.json: parity.{key} has {sorted(values)}, but the model's {key} are "
                              f"{sorted(s.name for s in specs)}")
        for spec in specs:
            try:
                array = np.asarray(values[spec.name], dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise ExportError(f"browserml.json: parity.{key}.{spec.name} is not an array of numbers "
                                  f"({err})") from err
            if not np.all(np.isfinite(array)):
                raise ExportError(f"browserml.json: parity.{key}.{spec.name} holds NaN or infinity")
            if not spec.accepts(array.shape):
                raise ExportError(f"browserml.json: parity.{key}.{spec.name} has shape {list(array.shape)}, "
                                  f"but {key[:-1]} {spec.name!r} is declared {json.dumps(list(spec.shape))}")


# --------------------------------------------------------------------------- reading


def read_manifest(export_dir: str | Path) -> Manifest:
    """Read and validate ``browserml.json`` of an export folder."""
    data = read_json(Path(export_dir) / "browserml.json", ExportError,
                     f"{export_dir}: no browserml.json; is this a browserml export folder?")
    try:
        return Manifest.from_json(data)
    except ExportError as err:  # name the folder: the CLI shows only this line
        raise ExportError(f"{export_dir}: {err}") from None


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
    quantization = spec.get("quantization") or {}
    dtype = quantization.get("dtype", spec.get("dtype", "float32")) if isinstance(quantization, dict) else None
    if dtype not in _DTYPE_BYTES:
        return None
    shape = spec.get("shape", [])
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ExportError(f"model.json: weight {spec.get('name')!r} has a malformed shape {shape!r:.100}")
    return int(math.prod(shape)) * _DTYPE_BYTES[dtype]


def read_model_json(export_dir: str | Path) -> dict[str, Any]:
    """Read ``model.json`` safely: every shard must stay inside the folder, exist, and
    add up to exactly the bytes its weight specs declare.

    This is the reader to use on any export you did not write yourself: a crafted
    ``"paths": ["../../secret"]`` would otherwise make a loader read outside the folder.
    """
    export_dir = Path(export_dir)
    path = export_dir / "model.json"
    model_json = read_json(path, ExportError, f"{export_dir}: no model.json")
    if not isinstance(model_json, dict) or "modelTopology" not in model_json or "weightsManifest" not in model_json:
        raise ExportError(f"{path}: needs 'modelTopology' and 'weightsManifest'")
    groups = model_json["weightsManifest"]
    if not isinstance(groups, list) or not all(
            isinstance(g, dict) and isinstance(g.get("paths", []), list) and isinstance(g.get("weights", []), list)
            and all(isinstance(w, dict) for w in g.get("weights", [])) for g in groups):
        raise ExportError(f"{path}: weightsManifest must be a list of {{'paths': [...], 'weights': [...]}} groups")
    for group in groups:
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


_TF_DTYPES = {"DT_FLOAT": "float32", "DT_INT32": "int32", "DT_BOOL": "bool", "DT_HALF": "float16",
              "DT_UINT8": "uint8", "DT_INT64": "int64", "DT_DOUBLE": "float64", "DT_STRING": "string",
              "DT_COMPLEX64": "complex64", "DT_INT8": "int8", "DT_UINT16": "uint16", "DT_INT16": "int16"}


def _signature_specs(entries: Any, where: str) -> dict[str, TensorSpec] | None:
    """A graph model's ``signature.inputs``/``outputs`` as specs (``-1`` = any size), or
    None where the converter wrote none (then there is nothing to hold the contract to)."""
    if entries is None:
        return None
    if not isinstance(entries, Mapping):
        raise ExportError(f"{where} must be an object of named tensors")
    specs = {}
    for name, entry in entries.items():
        try:
            shape_info = entry.get("tensorShape", {})
            shape = None if shape_info.get("unknownRank") else tuple(
                None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in shape_info.get("dim", []))
            dtype = _TF_DTYPES.get(entry.get("dtype"), str(entry.get("dtype")))
        except (AttributeError, TypeError, ValueError) as err:
            raise ExportError(f"{where}.{name}: malformed tensor entry ({err})") from err
        specs[name] = TensorSpec(name, shape, dtype)  # type: ignore[arg-type]
    return specs


def _layers_specs(topology: Any, where: str) -> tuple[dict[str, TensorSpec], dict[str, int | None]] | None:
    """A layers model's inputs (from its InputLayers) and, per output layer, the last
    size it fixes (a Dense layer's ``units``; None for a layer whose size is not written
    down). None for a topology of a kind not laid out this way (nothing to check)."""
    try:
        config = topology["model_config"]["config"]
        layers = {layer["config"]["name"]: layer for layer in config["layers"]}
        input_names = [entry[0] for entry in config["input_layers"]]
        output_names = [entry[0] for entry in config["output_layers"]]
    except (KeyError, TypeError, IndexError):
        return None
    inputs = {}
    for name in input_names:
        layer = layers.get(name)
        if layer is None or layer.get("class_name") != "InputLayer":
            raise ExportError(f"{where}: input layer {name!r} is not an InputLayer of the model")
        cfg = layer["config"]
        shape = cfg.get("batch_input_shape", cfg.get("batch_shape"))
        if not isinstance(shape, list) or not all(_is_dim(d) for d in shape):
            raise ExportError(f"{where}: input layer {name!r} has a malformed shape {shape!r}")
        inputs[name] = TensorSpec(name, tuple(shape), str(cfg.get("dtype", "float32")))
    outputs = {}
    for name in output_names:
        layer = layers.get(name)
        if layer is None:
            raise ExportError(f"{where}: output layer {name!r} is not a layer of the model")
        units = layer["config"].get("units") if layer.get("class_name") == "Dense" else None
        outputs[name] = units if isinstance(units, int) else None
    return inputs, outputs


def _mismatch(what: str, declared: TensorSpec, actual: TensorSpec) -> ExportError:
    return ExportError(
        f"browserml.json declares {what} {declared.name!r} as {json.dumps(list(declared.shape))} {declared.dtype}, "
        f"but model.json has {json.dumps(list(actual.shape) if actual.shape is not None else None)} {actual.dtype}"
    )


def check_contract(manifest: Manifest, model_json: Mapping[str, Any]) -> None:
    """Refuse a ``browserml.json`` that does not describe its ``model.json``: format, input
    and output names, shapes and dtypes, as the graph signature or the layers topology
    declares them. A client codes against the contract; the model is what runs."""
    fmt = {"layers-model": "layers", "graph-model": "graph"}.get(str(model_json.get("format")))
    if fmt is not None and fmt != manifest.model_format:
        raise ExportError(f"browserml.json says a {manifest.model_format} model, but model.json holds a "
                          f"{model_json.get('format')}")
    if manifest.model_format == "graph":
        signature = model_json.get("signature") or {}
        for what, declared in (("input", manifest.inputs), ("output", manifest.outputs)):
            actual = _signature_specs(signature.get(f"{what}s"), f"model.json: signature.{what}s")
            if actual is None:
                continue
            if sorted(actual) != sorted(s.name for s in declared):
                raise ExportError(f"browserml.json declares {what}s {sorted(s.name for s in declared)}, but "
                                  f"model.json's signature has {sorted(actual)}")
            for spec in declared:
                real = actual[spec.name]
                if (real.shape is not None and real.shape != spec.shape) or real.dtype != spec.dtype:
                    raise _mismatch(what, spec, real)
        return
    found = _layers_specs(model_json.get("modelTopology"), "model.json")
    if found is None:
        return
    inputs, outputs = found
    if sorted(inputs) != sorted(s.name for s in manifest.inputs):
        raise ExportError(f"browserml.json declares inputs {sorted(s.name for s in manifest.inputs)}, but "
                          f"model.json's input layers are {sorted(inputs)}")
    for spec in manifest.inputs:
        if inputs[spec.name].shape != spec.shape or inputs[spec.name].dtype != spec.dtype:
            raise _mismatch("input", spec, inputs[spec.name])
    if sorted(outputs) != sorted(s.name for s in manifest.outputs):
        raise ExportError(f"browserml.json declares outputs {sorted(s.name for s in manifest.outputs)}, but "
                          f"model.json's output layers are {sorted(outputs)}")
    for spec in manifest.outputs:
        units = outputs[spec.name]
        if units is not None and (not spec.shape or spec.shape[-1] != units):
            raise ExportError(f"browserml.json declares output {spec.name!r} as {json.dumps(list(spec.shape))}, "
                              f"but its layer in model.json has {units} units")


def read_export(export_dir: str | Path) -> tuple[dict[str, Any], Manifest]:
    """``model.json`` (read safely) and ``browserml.json``, after checking that the second
    describes the first (:func:`check_contract`): what to call before running an export
    you did not just write."""
    model_json = read_model_json(export_dir)
    manifest = read_manifest(export_dir)
    try:
        check_contract(manifest, model_json)
    except ExportError as err:
        raise ExportError(f"{export_dir}: {err}") from None
    return model_json, manifest


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
        model_json = read_model_json(staging)  # the converter's output must pass our own safe reader
        check_contract(Manifest.from_json(manifest.to_json()), model_json)  # and match the contract we write
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
