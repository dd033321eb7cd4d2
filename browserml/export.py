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

The folder is written atomically. The contract and the safe reader
(:func:`read_model_json`, :func:`read_export`, which holds ``browserml.json`` to
``model.json``) live in :mod:`browserml.manifest` and are re-exported here.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from browserml import __version__
from browserml.atomic import atomic_directory
from browserml.compat import import_tensorflowjs, tensorflow_log_filter
from browserml.manifest import (  # the contract and its reader, re-exported (see __all__)
    DEFAULT_SHARD_BYTES,
    FLOAT32_TOLERANCE,
    QUANTIZATIONS,
    SCHEMA,
    ExportError,
    Manifest,
    ModelFormat,
    Quantization,
    TensorSpec,
    check_contract,
    list_shards,
    read_export,
    read_manifest,
    read_model_json,
    read_weights,
)

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


__all__ = [
    "DEFAULT_SHARD_BYTES",
    "FLOAT32_TOLERANCE",
    "QUANTIZATIONS",
    "SCHEMA",
    "ExportError",
    "Manifest",
    "ModelFormat",
    "Quantization",
    "TensorSpec",
    "check_contract",
    "clone_with_weights",
    "export_graph_model",
    "export_layers_model",
    "list_shards",
    "model_card",
    "read_export",
    "read_manifest",
    "read_model_json",
    "read_weights",
]
