"""browserml.export: folder layout, browserml.json contract, safe reading, bad input."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from browserml.export import (
    DEFAULT_SHARD_BYTES,
    ExportError,
    export_graph_model,
    export_layers_model,
    list_shards,
    read_manifest,
    read_model_json,
    read_weights,
)


def test_every_export_folder_has_the_promised_files(exports):
    for folder in exports.values():
        names = {p.name for p in folder.iterdir()}
        assert {"model.json", "browserml.json", "README.md"} <= names
        assert list_shards(folder), "at least one weight shard"


def test_manifest_describes_the_layers_model(exports, dense_model, parity_batch):
    m = read_manifest(exports["layers_float32"])
    assert m.model_format == "layers" and m.task == "test-mlp"
    assert [(s.name, s.shape, s.dtype) for s in m.inputs] == [("features", (None, 4), "float32")]
    assert [(s.name, s.shape) for s in m.outputs] == [("scores", (None, 3))]
    assert m.labels == ["a", "b", "c"]
    np.testing.assert_allclose(m.parity_arrays("inputs")["features"], parity_batch)
    np.testing.assert_allclose(m.parity_arrays("outputs")["scores"], dense_model.predict(parity_batch, verbose=0),
                               atol=1e-7)
    assert m.parity["tolerance"] == 1e-5
    assert set(m.versions) == {"browserml", "tensorflow", "tensorflowjs"}


def test_exported_weights_round_trip(exports, dense_model):
    weights = read_weights(exports["layers_float32"])
    for w in dense_model.weights:
        np.testing.assert_array_equal(weights[w.name.split(":")[0]], w.numpy())


@pytest.mark.parametrize("quant, max_bytes_per_weight", [("uint8", 1), ("float16", 2)])
def test_quantized_exports_shrink_and_record_their_error(exports, dense_model, quant, max_bytes_per_weight):
    folder = exports[f"layers_{quant}"]
    n_params = dense_model.count_params()
    shard_bytes = sum(p.stat().st_size for p in list_shards(folder))
    assert shard_bytes == n_params * max_bytes_per_weight
    m = read_manifest(folder)
    assert m.quantization == quant
    err = m.parity["quantization_error"]
    assert 0 < err < (0.05 if quant == "uint8" else 0.005), "quantization changes outputs, a little"
    # The parity reference is the dequantized model, so TF.js must still match to 1e-5.
    assert m.parity["tolerance"] == 1e-5


def test_large_models_are_sharded_at_4_mib(tmp_path):
    import tf_keras

    inp = tf_keras.Input((1000,), name="x")
    model = tf_keras.Model(inp, tf_keras.layers.Dense(2500, name="wide")(inp))  # ~10 MB of float32
    out = export_layers_model(model, tmp_path / "big", task="t", parity_inputs={"x": np.zeros((1, 1000))})
    sizes = [p.stat().st_size for p in list_shards(out)]
    assert len(sizes) == 3 and max(sizes) == DEFAULT_SHARD_BYTES


def test_model_card_has_js_that_loads_the_model(exports):
    card = (exports["graph"] / "README.md").read_text()
    assert "tf.loadGraphModel('./model.json')" in card and "executeAsync" in card
    card = (exports["layers_float32"] / "README.md").read_text()
    assert "tf.loadLayersModel('./model.json')" in card
    assert "| `features` | `[null, 4]` | float32 |" in card


# ---------------------------------------------------------------- safe reading


def _copy(folder: Path, tmp_path: Path) -> Path:
    dest = tmp_path / folder.name
    shutil.copytree(folder, dest)
    return dest


def _set_paths(folder: Path, paths: list[str]) -> None:
    mj = json.loads((folder / "model.json").read_text())
    mj["weightsManifest"][0]["paths"] = paths
    (folder / "model.json").write_text(json.dumps(mj))


@pytest.mark.parametrize("evil", ["../secret.bin", "/etc/passwd", "sub/../../x.bin", "http://example.test/w.bin"])
def test_reader_refuses_paths_that_leave_the_folder(exports, tmp_path, evil):
    folder = _copy(exports["layers_float32"], tmp_path)
    (tmp_path / "secret.bin").write_bytes(b"\0" * 140)
    _set_paths(folder, [evil])
    with pytest.raises(ExportError, match="relative|leaves"):
        read_model_json(folder)


def test_reader_refuses_missing_and_truncated_shards(exports, tmp_path):
    folder = _copy(exports["layers_float32"], tmp_path)
    shard = list_shards(folder)[0]
    shard.write_bytes(shard.read_bytes()[:-4])
    with pytest.raises(ExportError, match="shards hold .* bytes but the weight specs need"):
        read_model_json(folder)
    shard.unlink()
    with pytest.raises(ExportError, match="missing"):
        read_model_json(folder)


def test_reader_names_a_folder_that_is_not_an_export(tmp_path):
    with pytest.raises(ExportError, match="no model.json"):
        read_model_json(tmp_path)
    with pytest.raises(ExportError, match="no browserml.json"):
        read_manifest(tmp_path)
    (tmp_path / "browserml.json").write_text('{"schema": "browserml-export/1", "task": "t", "model_format": "graph", '
                                             '"inputs": [], "outputs": [], "parity": {}, "colour": "red"}')
    with pytest.raises(ExportError, match=r"unknown keys \['colour'\]"):
        read_manifest(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ExportError, match="not valid JSON"):
        read_model_json(tmp_path)


# ---------------------------------------------------------------- bad input to the writers


def test_keras3_models_are_refused_with_the_reason(tmp_path):
    import keras  # Keras 3

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ExportError, match="tf_keras"):
        export_layers_model(model, tmp_path / "k3", task="t", parity_inputs=np.zeros((1, 2)))
    assert not (tmp_path / "k3").exists()


def test_bad_arguments_name_the_problem(dense_model, parity_batch, tmp_path):
    with pytest.raises(ExportError, match="unknown quantization"):
        export_layers_model(dense_model, tmp_path / "q", task="t", parity_inputs=parity_batch, quantization="int4")
    with pytest.raises(ExportError, match="do not match model inputs"):
        export_layers_model(dense_model, tmp_path / "n", task="t", parity_inputs={"wrong": parity_batch})
    nan_batch = parity_batch.copy()
    nan_batch[0, 0] = np.nan
    with pytest.raises(ExportError, match="NaN"):
        export_layers_model(dense_model, tmp_path / "nan", task="t", parity_inputs=nan_batch)
    with pytest.raises(ExportError, match="shard size"):
        export_layers_model(dense_model, tmp_path / "s", task="t", parity_inputs=parity_batch, shard_bytes=10)
    assert list(tmp_path.iterdir()) == [], "failed exports leave nothing behind"


def test_graph_export_needs_named_signature_and_dict_outputs(tmp_path):
    import tensorflow as tf

    named_by_argument = tf.function(lambda x: {"y": x * 2}, input_signature=[tf.TensorSpec([None], tf.float32)])
    with pytest.raises(ExportError, match=r"parity inputs \['z'\] do not match signature inputs \['x'\]"):
        export_graph_model(named_by_argument, tmp_path / "a", task="t", parity_inputs={"z": [1.0]})
    bare = tf.function(lambda x: x * 2, input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    with pytest.raises(ExportError, match="dict of named output"):
        export_graph_model(bare, tmp_path / "b", task="t", parity_inputs={"x": [1.0]})
    good = tf.function(lambda x: {"y": x * 2}, input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    with pytest.raises(ExportError, match="explicit parity_tolerance"):
        export_graph_model(good, tmp_path / "c", task="t", parity_inputs={"x": [1.0]}, quantization="uint8")


def test_a_failed_export_keeps_the_previous_one(exports, tmp_path, dense_model, parity_batch):
    folder = _copy(exports["layers_float32"], tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(ExportError, match="plain file name"):
        export_layers_model(dense_model, folder, task="t", parity_inputs=parity_batch,
                            extra_files={"../escape.html": "x"})
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


# ---------------------------------------------------------------- the contract against the model


def test_graph_contract_is_held_to_the_signature(exports, tmp_path):
    """The polynomial's signature says x: float32 [-1] -> y: float32 [-1]; a browserml.json
    that says otherwise (a dtype, a rank, a name) is refused by read_export."""
    from browserml.export import read_export

    def variant(name, edit):
        folder = _copy(exports["graph"], tmp_path / name)
        manifest = json.loads((folder / "browserml.json").read_text())
        edit(manifest)
        (folder / "browserml.json").write_text(json.dumps(manifest))
        return folder

    read_export(exports["graph"])
    cases = {
        "dtype": (lambda m: m["inputs"][0].update(dtype="int32"),
                  "declares input 'x' as [null] int32, but model.json has [null] float32"),
        "rank": (lambda m: (m["outputs"][0].update(shape=[None, 1]),
                            m["parity"]["outputs"].update(y=[[v] for v in m["parity"]["outputs"]["y"]])),
                 "declares output 'y' as [null, 1] float32, but model.json has [null] float32"),
        "format": (lambda m: m.update(model_format="layers"), "says a layers model, but model.json holds a graph-model"),
    }
    for name, (edit, message) in cases.items():
        with pytest.raises(ExportError, match=re.escape(message)):
            read_export(variant(name, edit))


def test_the_writer_refuses_a_contract_its_model_contradicts(exports, tmp_path, dense_model, parity_batch, monkeypatch):
    """The exporter checks what it writes against the converter's model.json, so a bug in
    how a lesson builds its contract cannot ship (the previous export stays)."""
    import browserml.export as ex

    folder = _copy(exports["layers_float32"], tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = ex.TensorSpec.to_json
    monkeypatch.setattr(ex.TensorSpec, "to_json",
                        lambda self: {**real(self), "shape": [None, 139]} if self.name == "features" else real(self))
    with pytest.raises(ExportError, match=r"input 'features' is declared \[null, 139\]"):
        export_layers_model(dense_model, folder, task="t", parity_inputs=parity_batch)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
