"""Lesson 5's export page (templates/playground_index.html) in headless Chromium.

Three small networks, trained for a few epochs, are exported and opened as a learner
would: a classifier (circle, tanh output), a regressor (multi-gaussian, linear output,
all seven features so every JavaScript feature formula is exercised) and a network
with no hidden layer. The page must rebuild the feature columns of every pixel exactly
as ``feature_columns`` does and predict the same grid as Python, within 1e-5, on wasm
and cpu; leave no tensor behind; and report a broken export in words instead of hanging.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from browserml import playground as pg

pytestmark = [pytest.mark.tfjs, pytest.mark.chromium]

TOL = 1e-5

CONFIGS = {
    "classifier": (pg.PlaygroundConfig(dataset="circle", hidden=(4, 2), activation="tanh", seed=3), 20),
    "regressor": (pg.PlaygroundConfig(dataset="multigauss", features=pg.FEATURES, hidden=(5,), activation="relu",
                                      learning_rate=0.01, seed=1), 8),
    "no_hidden": (pg.PlaygroundConfig(dataset="circle", features=("x1^2", "x2^2"), hidden=(), seed=2), 20),
}


@dataclass
class Exported:
    state: pg.PlaygroundState
    folder: Path


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Exported]:
    root = tmp_path_factory.mktemp("playground")
    made = {}
    for name, (config, epochs) in CONFIGS.items():
        state = pg.PlaygroundState(config)
        state.step(epochs)
        made[name] = Exported(state, state.export(root / name))
    return made


def _test_predictions(state: pg.PlaygroundState) -> np.ndarray:
    """Python's outputs on the test points *as exported* (rounded to 4 decimals)."""
    xy = np.round(state.data.test_xy, 4).astype(np.float32)
    return state.network.predict(pg.feature_columns(xy, state.config.features))


@pytest.mark.parametrize("backend", ["wasm", "cpu"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_page_predicts_the_same_grid_as_python(exported, name, backend, tmp_path):
    from browserml.tfjs_check import run_export_page

    ex = exported[name]
    shot = tmp_path / f"{name}-{backend}.png"
    result = run_export_page(ex.folder, backend=backend, screenshot=shot, params={"runs": 2})
    manifest = json.loads((ex.folder / "browserml.json").read_text())["extra"]["playground"]

    assert result["backend"] == backend
    assert result["features"] == list(ex.state.config.features)
    grid = np.asarray(result["grid"], dtype=np.float64)
    assert grid.shape == (pg.GRID_RESOLUTION ** 2,)
    # Against the grid stored at export and against a fresh Python prediction.
    np.testing.assert_allclose(grid, manifest["python_grid"], rtol=0, atol=TOL)
    np.testing.assert_allclose(grid, ex.state.grid().ravel(), rtol=0, atol=TOL)
    assert result["maxAbsDiff"] <= TOL and result["parityMaxAbsDiff"] <= TOL
    # The grid is a picture worth comparing, not a constant.
    assert np.ptp(grid) > 0.2

    # The exported test points through the page's own feature code.
    pred = _test_predictions(ex.state)
    assert result["testLoss"] == pytest.approx(pg.half_squared_error(pred, ex.state.data.test_y), abs=TOL)
    if ex.state.config.task == "classification":
        # A point within float noise of the boundary may flip sides between runtimes.
        on_boundary = int(np.sum(np.abs(pred) < 1e-4))
        assert abs(result["testAccuracy"] - np.mean(np.sign(pred) == ex.state.data.test_y)) <= on_boundary / len(pred)
    else:
        assert result["testAccuracy"] is None

    # Only the model's weights stay alive: inputs, outputs and parity tensors were disposed.
    layers = len(ex.state.config.hidden) + 1
    assert result["numWeights"] == 2 * layers
    assert result["numTensorsBefore"] == result["numTensorsAfter"] == 2 * layers
    assert result["latencyMs"] > 0 and len(result["latencyRunsMs"]) == 2
    drawn = result["drawn"]
    assert not drawn["discretize"] and drawn["testPoints"] == len(ex.state.data.test_xy)
    # Playground's 30 shades over [-1, 1]: as many as the Python grid spans (±1 at a shade's edge).
    shades = np.minimum(29, np.floor((np.clip(ex.state.grid(), -1, 1) + 1) / 2 * 30)).astype(int)
    assert abs(drawn["shades"] - len(np.unique(shades))) <= 1 and drawn["shades"] >= 3
    assert shot.stat().st_size > 20_000, "the page drew its heatmap and tables"


def test_discretize_draws_two_colours_and_hides_test_points(exported):
    from browserml.tfjs_check import run_export_page

    ex = exported["classifier"]
    result = run_export_page(ex.folder, backend="cpu", params={"discretize": 1, "test": 0, "runs": 1})
    assert result["drawn"] == {"discretize": True, "shades": 2, "testPoints": 0}
    # The published grid stays the raw output: discretizing is drawing only.
    np.testing.assert_allclose(result["grid"], ex.state.grid().ravel(), rtol=0, atol=TOL)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_node_parity(exported, name):
    from browserml.tfjs_check import check_parity

    reports = check_parity(exported[name].folder, [("node", "wasm"), ("node", "cpu")])
    assert [r.backend for r in reports] == ["wasm", "cpu"]
    assert all(r.ok for r in reports), "\n".join(map(str, reports))


@pytest.mark.parametrize("features, message", [
    (["x1", "x3"], r'unknown feature\(s\) \["x3"\]; this page knows x1, x2'),
    (["x1"], r"the model takes 2 inputs but 1 features are listed"),
])
def test_a_tampered_feature_list_is_reported_not_hung(exported, tmp_path, features, message):
    from browserml.tfjs_check import TfjsRuntimeError, run_export_page

    broken = shutil.copytree(exported["classifier"].folder, tmp_path / "playground")
    manifest = json.loads((broken / "browserml.json").read_text())
    manifest["extra"]["playground"]["features"] = features
    (broken / "browserml.json").write_text(json.dumps(manifest))
    with pytest.raises(TfjsRuntimeError, match=message):
        run_export_page(broken, backend="cpu", timeout_s=60)


def test_a_bad_runs_parameter_is_reported(exported):
    from browserml.tfjs_check import TfjsRuntimeError, run_export_page

    with pytest.raises(TfjsRuntimeError, match="runs must be a whole number"):
        run_export_page(exported["classifier"].folder, backend="cpu", params={"runs": "0"}, timeout_s=60)
