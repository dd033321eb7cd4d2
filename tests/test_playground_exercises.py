"""Lesson 5's teaching material: the notebook's training step (its cells, run here) gives
the package's weights, and every exercise check passes its solution (notebooks/solutions/)
and fails plausible wrong answers. The TF.js exercise runs its cell under Node, through the
same evalCell the page runs."""

from __future__ import annotations

import numpy as np
import pytest
from tools import cells as tools_cells

from browserml import playground as pg
from browserml.exercises import solutions
from browserml.inbrowser.cell import CellRequest, node_available, run_cell_in_node, to_json_value

NOTEBOOK = "05_tensorflow_playground.ipynb"
needs_node = pytest.mark.skipif(not node_available(), reason="Node and node_modules are needed (make setup)")


def code_cells() -> tuple[str, ...]:
    return tools_cells.code_cells(NOTEBOOK)


def cell_with(text: str) -> str:
    return tools_cells.code_cell(NOTEBOOK, text)


def solution_namespace(exercise: str) -> dict:
    namespace: dict = {"np": np, "pg": pg}
    exec(solutions(NOTEBOOK)[exercise], namespace)  # the teacher's own file
    return namespace


def _points() -> np.ndarray:
    return pg.make_data(pg.PlaygroundConfig(dataset="xor", noise=0.25, train_ratio=0.5)).test_xy[:100]


# --------------------------------------------------------------------------- §4's step


@pytest.mark.parametrize("regularization, rate", [("l2", 0.01), ("l1", 0.05), ("none", 0.0)])
def test_the_notebooks_training_step_gives_the_packages_weights(regularization, rate):
    """§4's step cell, as written, on the notebook's batch (and with L1 and no penalty too):
    the same weights as Network.train_batch from the same start. Same float32 ops, eager
    here and compiled there: a sum may be ordered differently, so a few ulps of ~0.5."""
    import tensorflow as tf

    namespace: dict = {"np": np, "tf": tf, "pg": pg}
    exec(cell_with("net = pg.Network(config)"), namespace)  # the lesson's own cells
    config = namespace["config"].with_changes(regularization=regularization, regularization_rate=rate)
    namespace.update(config=config, net=pg.Network(config))
    before = namespace["net"].model.get_weights()
    exec(cell_with("tape.gradient(loss, net.model.trainable_variables)"), namespace)
    twin = pg.Network(config)
    assert all(np.array_equal(a, b) for a, b in zip(before, twin.model.get_weights())), "the same start"
    twin.train_batch(namespace["x"], namespace["y"])
    mine, theirs = namespace["net"].model.get_weights(), twin.model.get_weights()
    assert max(np.abs(a - b).max() for a, b in zip(mine, before)) > 1e-3, "the cell's step moved the weights"
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_the_notebooks_comparison_cell_runs_on_its_own_step():
    import tensorflow as tf

    namespace: dict = {"np": np, "tf": tf, "pg": pg}
    for text in ("net = pg.Network(config)", "tape.gradient(loss, net.model.trainable_variables)",
                 "twin.train_batch(x, y)"):
        exec(cell_with(text), namespace)  # the lesson's own cells; the last one asserts
    assert namespace["gap"] <= 1e-6


# --------------------------------------------------------------------------- the exercises


def test_the_solutions_file_has_every_exercise():
    assert set(solutions(NOTEBOOK)) == {"Exercise 1", "Exercise 2", "Exercise 3", "Exercise 4"}


def test_the_notebooks_exercise_cells_are_blank_and_their_checks_say_so(capsys):
    assert "my_feature = ..." in cell_with("check_xor_feature")
    assert "return ..." in cell_with("check_neuron_step")
    assert "my_network = ..." in cell_with("check_smallest_spiral")
    assert not pg.check_xor_feature(...)
    assert not pg.check_neuron_step(...)
    assert not pg.check_neuron_step(lambda w, b, x, y, learning_rate, l2_rate: ...)
    assert not pg.check_smallest_spiral(...)
    assert not pg.check_tfjs_features(None, _points())
    assert capsys.readouterr().out.count("replace the ... with your answer") == 5


def test_exercise_1_passes_the_product_feature_and_fails_the_others(capsys):
    assert pg.check_xor_feature(solution_namespace("Exercise 1")["my_feature"])
    assert not pg.check_xor_feature("x1")
    assert "single neuron gets" in capsys.readouterr().out
    assert not pg.check_xor_feature("x1+x2")
    assert "not one of" in capsys.readouterr().out


def _no_tanh_derivative(w, b, x, y, learning_rate, l2_rate):
    o = np.tanh(x @ w + b)
    delta = (o - y) / len(y)
    return w - learning_rate * (x.T @ delta + l2_rate * w), b - learning_rate * delta.sum()


def _regularized_bias(w, b, x, y, learning_rate, l2_rate):
    o = np.tanh(x @ w + b)
    delta = (o - y) * (1 - o**2) / len(y)
    return w - learning_rate * (x.T @ delta + l2_rate * w), b - learning_rate * (delta.sum() + l2_rate * b)


def _summed_not_averaged(w, b, x, y, learning_rate, l2_rate):
    o = np.tanh(x @ w + b)
    delta = (o - y) * (1 - o**2)
    return w - learning_rate * (x.T @ delta + l2_rate * w), b - learning_rate * delta.sum()


def _no_penalty(w, b, x, y, learning_rate, l2_rate):
    o = np.tanh(x @ w + b)
    delta = (o - y) * (1 - o**2) / len(y)
    return w - learning_rate * (x.T @ delta), b - learning_rate * delta.sum()


def test_exercise_3_passes_back_propagation_and_fails_each_usual_slip(capsys):
    assert pg.check_neuron_step(solution_namespace("Exercise 3")["my_step"])
    capsys.readouterr()
    assert not pg.check_neuron_step(_no_tanh_derivative)
    assert "(1 − o²)" in capsys.readouterr().out
    assert not pg.check_neuron_step(_regularized_bias)
    assert "the bias is not regularized" in capsys.readouterr().out
    assert not pg.check_neuron_step(_summed_not_averaged)
    assert not pg.check_neuron_step(_no_penalty)
    assert "new weights are" in capsys.readouterr().out
    assert not pg.check_neuron_step(lambda w, b, x, y, learning_rate, l2_rate: w)  # one thing, not two
    assert not pg.check_neuron_step(lambda w, b, x, y, learning_rate, l2_rate: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_exercise_4_refuses_an_oversized_network_without_training(capsys):
    assert not pg.check_smallest_spiral(pg.PlaygroundConfig(dataset="spiral", hidden=(8, 8)))
    assert "budget" in capsys.readouterr().out
    assert not pg.check_smallest_spiral({"hidden": (6, 2)})
    assert "pg.PlaygroundConfig" in capsys.readouterr().out


@pytest.mark.slow
def test_exercise_4_fails_a_weak_network_and_passes_the_solution(capsys):
    assert not pg.check_smallest_spiral(pg.PlaygroundConfig(features=("x1", "x2"), hidden=(2,)), epochs=100)
    assert "accuracy" in capsys.readouterr().out
    assert pg.check_smallest_spiral(solution_namespace("Exercise 4")["my_network"])
    assert "8 hidden neurons separate the spiral" in capsys.readouterr().out


@needs_node
@pytest.mark.tfjs
def test_exercise_2_passes_the_seven_features_and_fails_the_start_a_leak_or_a_swap(capsys):
    points = _points()
    np.testing.assert_array_equal(points, pg.make_data(pg.PlaygroundConfig(dataset="xor", noise=0.25,
                                                                          train_ratio=0.5)).test_xy[:100])
    assert "points = data.test_xy[:100]" in cell_with("points = data.test_xy")
    scope = {"points": to_json_value(points)}
    line = "--in points --out my_features"
    start = cell_with(f"%%tfjs {line}")

    def run(code: str):
        result = run_cell_in_node(CellRequest.parse(line, code), scope)
        assert result.ok, result.text()
        return result

    solved = solutions(NOTEBOOK)["Exercise 2"]
    assert pg.check_tfjs_features(run(solved), points)
    assert not pg.check_tfjs_features(run(start.split("\n", 1)[1]), points)
    assert "you return 2 columns, Playground has 7" in capsys.readouterr().out
    leaky = solved.replace("return tf.tidy(() => {", "{").replace("\n});", "\n}")
    assert "tf.tidy" not in leaky
    result = run(leaky)
    assert result.leaked > 0 and not pg.check_tfjs_features(result, points)
    assert "tensors were left behind" in capsys.readouterr().out
    assert not pg.check_tfjs_features(run(solved.replace("x1.sin(), x2.sin()", "x2.sin(), x1.sin()")), points)
    assert "column 6 should be sin(x₁)" in capsys.readouterr().out
