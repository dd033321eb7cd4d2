"""Every kind of export, run in real TF.js: Node (cpu, wasm) and headless Chromium."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from browserml.export import read_manifest
from browserml.paths import node_modules_dir
from browserml.serve import serve
from browserml.tfjs_check import (
    TfjsRuntimeError,
    assert_parity,
    check_parity,
    max_abs_diff,
    run_in_chromium,
    run_in_node,
    run_node_script,
)

pytestmark = pytest.mark.tfjs
KINDS = ["layers_float32", "layers_uint8", "layers_float16", "graph"]


@pytest.mark.parametrize("kind", KINDS)
def test_node_matches_python_to_1e5(exports, kind):
    reports = assert_parity(exports[kind], [("node", "cpu"), ("node", "wasm")])
    assert [r.backend for r in reports] == ["cpu", "wasm"]
    assert all(r.max_abs_diff <= 1e-5 for r in reports)


@pytest.mark.chromium
@pytest.mark.parametrize("kind", ["layers_float32", "layers_uint8", "graph"])
def test_chromium_matches_python_to_1e5(exports, kind):
    reports = assert_parity(exports[kind], [("chromium", "cpu"), ("chromium", "wasm")])
    assert {r.runtime for r in reports} == {"chromium"}


def test_node_runs_new_inputs_like_python(exports, dense_model):
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    result = run_in_node(exports["layers_float32"], "wasm", inputs={"features": x})
    assert result.outputs["scores"].shape == (3, 3)
    assert max_abs_diff({"scores": dense_model.predict(x, verbose=0)}, result.outputs) < 1e-5


def test_repeated_inference_does_not_leak_tensors(exports):
    result = run_in_node(exports["graph"], "cpu", repeats=100)
    assert result.num_tensors_after == result.num_tensors_before
    assert result.latency_ms > 0


def test_a_broken_model_fails_parity_loudly(exports, tmp_path):
    """The check must be able to fail: corrupt one weight and parity must break."""
    folder = tmp_path / "broken"
    shutil.copytree(exports["graph"], folder)
    shard = next(folder.glob("*.bin"))
    data = bytearray(shard.read_bytes())
    data[0:4] = np.float32(123.0).tobytes()
    shard.write_bytes(bytes(data))
    reports = check_parity(folder, [("node", "cpu")])
    assert not reports[0].ok and reports[0].max_abs_diff > 1
    with pytest.raises(AssertionError, match="parity failed"):
        assert_parity(folder, [("node", "cpu")])


def test_the_js_loader_refuses_shard_paths_that_escape(exports, tmp_path):
    """Node's own IOHandler checks paths too, even if Python's reader is bypassed."""
    folder = tmp_path / "evil"
    shutil.copytree(exports["graph"], folder)
    mj = json.loads((folder / "model.json").read_text())
    mj["weightsManifest"][0]["paths"] = ["../../../etc/hostname"]
    (folder / "model.json").write_text(json.dumps(mj))
    with pytest.raises(TfjsRuntimeError, match="leaves the export folder"):
        run_node_script("run_export.cjs", ["--dir", folder])


def test_unknown_backends_and_missing_runtimes_are_named(exports, monkeypatch):
    with pytest.raises(ValueError, match="Node backend"):
        run_in_node(exports["graph"], "webgpu")
    monkeypatch.setenv("BROWSERML_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(TfjsRuntimeError, match="never downloads a browser"):
        run_in_chromium(exports["graph"])
    monkeypatch.setenv("BROWSERML_NODE_MODULES", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="make setup"):
        run_in_node(exports["graph"])


BARE_NODE_SCRIPT = """
const tf = require('@tensorflow/tfjs');
(async () => {
  const base = process.argv[process.argv.length - 1];
  const model = await tf.%s(base + '/model.json');
  const manifest = await (await fetch(base + '/browserml.json')).json();
  const name = manifest.inputs[0].name;
  const x = tf.tensor(manifest.parity.inputs[name]);
  const y = %s;
  console.log(JSON.stringify({version: tf.version.tfjs, y: await y.array()}));
})();
"""


@pytest.mark.parametrize("kind", ["layers_float32", "graph"])
def test_plain_tfjs_in_node_loads_the_export_over_http(exports, kind):
    """Outside our harness: a bare script with only @tensorflow/tfjs and its stock HTTP loader."""
    loader, call = (("loadLayersModel", "model.predict(x)") if kind.startswith("layers")
                    else ("loadGraphModel", "model.execute({[name]: x}, manifest.outputs[0].name)"))
    manifest = read_manifest(exports[kind])
    with serve({"/": exports[kind]}) as base:
        proc = subprocess.run(["node", "-e", BARE_NODE_SCRIPT % (loader, call), base], capture_output=True,
                              text=True, env={"NODE_PATH": str(node_modules_dir()), "PATH": "/usr/bin:/bin"},
                              timeout=120, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["version"] == "4.22.0"
    expected = next(iter(manifest.parity_arrays("outputs").values()))
    np.testing.assert_allclose(np.asarray(out["y"]), expected, atol=1e-5)


def test_available_runtimes_drop_chromium_only_where_it_is_missing(monkeypatch, capsys):
    from browserml.tfjs_check import available_runtimes, has_chromium

    wanted = [("node", "wasm"), ("chromium", "cpu")]
    assert has_chromium() and available_runtimes(wanted) == wanted
    monkeypatch.setenv("BROWSERML_CHROMIUM", "/nonexistent/chromium")
    assert not has_chromium()
    assert available_runtimes(wanted) == [("node", "wasm")]
    assert "Chromium is not installed here" in capsys.readouterr().out


def test_assert_parity_refuses_an_empty_table():
    """No runtime at all must not pass as "parity holds" (it passed vacuously before)."""
    from browserml.paths import exports_dir

    with pytest.raises(AssertionError, match="no runtime ran"):
        assert_parity(exports_dir() / "polynomial", [])
