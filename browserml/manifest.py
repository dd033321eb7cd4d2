"""What an export folder promises, and the safe way to read one.

``browserml.json`` is the contract a client codes against (task, input and output names,
shapes and dtypes, preprocessing, labels, quantization, and a parity sample);
``model.json`` and its shards are what TF.js loads. :func:`read_model_json` refuses
shard paths that leave the folder and shards whose size does not match;
:func:`read_export` reads both files and holds the contract to the model (its graph
signature, or its layers' input and output layers), so a contract that says
``[null, 139]`` for a model that takes 140 numbers is refused instead of reported "ok".

Reading needs no TensorFlow: the TF.js checks, the pages and the tests use this module;
:mod:`browserml.export` writes folders that it accepts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

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
    from browserml.compat import import_tensorflowjs

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
