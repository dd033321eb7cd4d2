"""Lesson 5's model and state (browserml/playground/), checked against closed forms.

The datasets are checked against Playground's own rules (labels from geometry), the
network's forward pass and SGD step against a NumPy re-derivation, and every setting
against what it must rebuild (data, network) or leave alone (weights).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from browserml import playground as pg


# --------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("dataset", pg.DATASETS)
def test_every_dataset_has_the_playground_size_range_and_task(dataset):
    xy, y = pg.make_points(dataset, 400, 0.0, seed=3)
    assert xy.shape == (400, 2) and y.shape == (400,) and xy.dtype == np.float32
    assert np.all(np.isfinite(xy)) and np.all(np.abs(xy) <= pg.DOMAIN + 1e-5)
    if pg.task_of(dataset) == "classification":
        assert set(np.unique(y)) == {-1.0, 1.0}
        assert abs(np.mean(y)) <= 0.15, "balanced classes"
    else:
        assert np.all(np.abs(y) <= 1.2 + 1e-6) and np.std(y) > 0.1, "plane: (x1+x2)/10 reaches 1.2 in the corners"


def test_noise_free_labels_follow_the_geometry():
    xy, y = pg.make_points("circle", 500, 0.0)
    r = np.hypot(xy[:, 0], xy[:, 1])
    assert np.all((r < 2.5) == (y == 1)) and not np.any((r > 2.5) & (r < 3.5)), "the gap between rings"
    xy, y = pg.make_points("xor", 500, 0.0)
    assert np.all(np.sign(xy[:, 0] * xy[:, 1]) == y) and np.all(np.abs(xy) >= 0.3)
    xy, y = pg.make_points("plane", 500, 0.0)
    np.testing.assert_allclose(y, (xy[:, 0] + xy[:, 1]) / 10, atol=1e-6)
    xy, y = pg.make_points("spiral", 500, 0.0)
    assert np.allclose(xy[:250] + xy[250:], 0.0, atol=1e-5), "the two arms are point reflections"


def test_multigauss_label_is_the_strongest_bump():
    centres = np.array([[c[0], c[1]] for c in pg.MULTIGAUSS_CENTRES], dtype=np.float32)
    np.testing.assert_allclose(pg.multigauss_label(centres), [c[2] for c in pg.MULTIGAUSS_CENTRES])
    assert pg.multigauss_label(np.array([[-6.0, 0.0]]))[0] == 0.0, "beyond every radius: 0"
    assert pg.multigauss_label(np.array([[-4.0, 1.5]]))[0] == pytest.approx(0.5), "halfway down a bump"


def test_noise_moves_labels_not_points_for_circle_and_grows_gaussian_spread():
    clean_xy, clean_y = pg.make_points("circle", 1000, 0.0, seed=1)
    noisy_xy, noisy_y = pg.make_points("circle", 1000, 0.5, seed=1)
    np.testing.assert_array_equal(clean_xy, noisy_xy)
    assert 0 < np.mean(clean_y != noisy_y) < 0.5
    low = pg.make_points("gaussian", 2000, 0.0)[0]
    high = pg.make_points("gaussian", 2000, 0.5)[0]
    assert np.std(high[:1000, 0]) / np.std(low[:1000, 0]) == pytest.approx(np.sqrt(4 / 0.5), rel=0.15)


def test_split_follows_the_ratio_and_is_seeded():
    config = pg.PlaygroundConfig(dataset="xor", train_ratio=0.7)
    data = pg.make_data(config)
    assert len(data.train_xy) == 350 and len(data.test_xy) == 150
    again = pg.make_data(config)
    np.testing.assert_array_equal(data.train_xy, again.train_xy)
    other = pg.make_data(config.with_changes(seed=1))
    assert not np.array_equal(data.train_xy, other.train_xy)
    assert len(pg.make_data(config.with_changes(dataset="plane")).train_xy) == 840, "1200 regression points"


# --------------------------------------------------------------------------- features and grid


def test_feature_columns_are_the_seven_formulas():
    xy = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    cols = pg.feature_columns(xy, pg.FEATURES)
    x1, x2 = xy.T
    expected = np.stack([x1, x2, x1 ** 2, x2 ** 2, x1 * x2, np.sin(x1), np.sin(x2)], axis=1)
    np.testing.assert_allclose(cols, expected, rtol=1e-6)
    np.testing.assert_array_equal(pg.feature_columns(xy, ["x2^2", "x1"]), expected[:, [3, 0]])


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 3)), "shape"), (np.array([[np.nan, 0.0]]), "NaN"), (np.zeros(2), "shape"),
])
def test_feature_columns_name_bad_points(bad, message):
    with pytest.raises(ValueError, match=message):
        pg.feature_columns(bad, ["x1"])


def test_grid_is_the_picture_top_row_first():
    pts = pg.grid_points(5)
    assert pts.shape == (25, 2)
    np.testing.assert_allclose(pts[0], [-6, 6])
    np.testing.assert_allclose(pts[4], [6, 6])
    np.testing.assert_allclose(pts[-1], [6, -6])


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("changes, message", [
    ({"dataset": "moons"}, "unknown dataset"), ({"features": ()}, "at least one"),
    ({"features": ("x3",)}, "unknown feature"), ({"hidden": (4,) * 7}, "at most 6"),
    ({"hidden": (9,)}, "1 to 8"), ({"hidden": (0,)}, "1 to 8"), ({"activation": "gelu"}, "activation"),
    ({"regularization": "l3"}, "regularization"), ({"noise": 0.7}, "noise"), ({"noise": float("nan")}, "noise"),
    ({"train_ratio": 1.0}, "train_ratio"), ({"batch_size": 0}, "batch_size"), ({"learning_rate": 0}, "learning_rate"),
    ({"bogus": 1}, "unknown setting"),
])
def test_bad_settings_are_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=message):
        pg.PlaygroundConfig().with_changes(**changes)


# --------------------------------------------------------------------------- the network vs NumPy


def numpy_forward(weights, x, activation, task):
    acts = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "linear": lambda v: v,
            "sigmoid": lambda v: 1 / (1 + np.exp(-v))}
    for kernel, bias in weights[:-1]:
        x = acts[activation](x @ kernel + bias)
    kernel, bias = weights[-1]
    out = x @ kernel + bias
    return (np.tanh(out) if task == "classification" else out).reshape(-1)


@pytest.mark.parametrize("activation", pg.ACTIVATIONS)
def test_forward_pass_matches_numpy_and_playground_init(activation):
    config = pg.PlaygroundConfig(features=pg.FEATURES, hidden=(3, 2), activation=activation)
    net = pg.Network(config)
    weights = net.weights()
    assert [k.shape for k, _ in weights] == [(7, 3), (3, 2), (2, 1)]
    assert all(np.all(np.abs(k) <= 0.5) and np.allclose(b, 0.1) for k, b in weights)
    x = pg.feature_columns(pg.grid_points(7), config.features)
    np.testing.assert_allclose(net.predict(x), numpy_forward(weights, x, activation, "classification"), atol=1e-5)


@pytest.mark.parametrize("regularization, rate", [("none", 0.0), ("l1", 0.05), ("l2", 0.05)])
def test_one_sgd_step_matches_the_closed_form(regularization, rate):
    """0 hidden layers, linear output (regression): out = x·w + b, loss = mean ½(out-y)²,
    so grad_w = xᵀ(out-y)/n (+ rate·sign(w) or rate·w), grad_b = mean(out-y)."""
    config = pg.PlaygroundConfig(dataset="plane", features=("x1", "x2"), hidden=(), learning_rate=0.01,
                                 regularization=regularization, regularization_rate=rate, batch_size=30)
    net = pg.Network(config)
    (w, b), = net.weights()
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, (30, 2)).astype(np.float32)
    y = rng.uniform(-1, 1, 30).astype(np.float32)
    err = x @ w[:, 0] + b[0] - y
    grad_w = x.T @ err / 30 + {"none": 0, "l1": rate * np.sign(w[:, 0]), "l2": rate * w[:, 0]}[regularization]
    net.train_epoch(x, y, np.random.default_rng(1))  # one batch of all 30 points
    (w2, b2), = net.weights()
    np.testing.assert_allclose(w2[:, 0], w[:, 0] - 0.01 * grad_w, atol=1e-6)
    np.testing.assert_allclose(b2, b - 0.01 * err.mean(), atol=1e-6)


def test_train_batch_is_one_step_of_the_epoch_loop():
    """One batch holding every point: train_batch (one compiled step) and train_epoch (the
    compiled loop over batches) run the same float32 step; the shuffle only reorders the
    batch, so the mean may be summed in another order: a few ulps of weights ~0.5."""
    config = pg.PlaygroundConfig(features=pg.FEATURES, hidden=(3,), batch_size=30, regularization="l1",
                                 regularization_rate=0.01)
    rng = np.random.default_rng(0)
    x = pg.feature_columns(rng.uniform(-6, 6, (30, 2)), config.features)
    y = np.sign(rng.uniform(-1, 1, 30)).astype(np.float32)
    one, loop = pg.Network(config), pg.Network(config)
    start = one.model.get_weights()
    one.train_batch(x, y)
    loop.train_epoch(x, y, np.random.default_rng(1))
    assert max(np.abs(a - b).max() for a, b in zip(one.model.get_weights(), start)) > 1e-3
    for a, b in zip(one.model.get_weights(), loop.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_half_squared_error_is_playgrounds_loss():
    assert pg.half_squared_error(np.array([1.0, -1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)


# --------------------------------------------------------------------------- the state


def test_training_lowers_the_loss_and_counts_epochs():
    state = pg.PlaygroundState(pg.PlaygroundConfig(dataset="gaussian"))
    start = state.history[-1]
    stats = state.step(5)
    assert state.epoch == 5 and len(state.history) == 6 and stats.epoch == 5
    assert stats.train_loss < start.train_loss * 0.8 and state.accuracy("test") > 0.9


def test_same_seed_same_run():
    runs = [pg.PlaygroundState(pg.PlaygroundConfig(dataset="xor")) for _ in range(2)]
    for run in runs:
        run.step(3)
    assert runs[0].history == runs[1].history


def test_training_settings_keep_the_weights_and_architecture_rebuilds():
    state = pg.PlaygroundState()
    state.step(3)
    before = state.network.weights()
    state.set(learning_rate=0.1, regularization="l2", regularization_rate=0.01, batch_size=20)
    assert state.epoch == 3 and state.network.weights()[0][0].tolist() == before[0][0].tolist()
    assert float(state.network.l2.numpy()) == pytest.approx(0.01) and float(state.network.l1.numpy()) == 0.0
    train_xy = state.data.train_xy
    state.set(activation="relu")
    assert state.epoch == 0 and len(state.history) == 1 and state.data.train_xy is train_xy, "same data"
    state.set(noise=0.2)
    assert state.epoch == 0 and not np.array_equal(state.data.train_y, pg.make_data(pg.PlaygroundConfig()).train_y)


def test_layers_and_neurons_plus_and_minus_within_limits():
    state = pg.PlaygroundState()
    state.add_layer()
    assert state.config.hidden == (4, 2, 2) and len(state.network.weights()) == 4
    state.add_neuron(0)
    state.remove_neuron(1)
    assert state.config.hidden == (5, 1, 2)
    with pytest.raises(ValueError, match="1 to 8"):
        state.remove_neuron(1)
    with pytest.raises(IndexError, match="does not exist"):
        state.add_neuron(5)
    assert state.config.hidden == (5, 1, 2), "a refused change changes nothing"
    for _ in range(3):
        state.remove_layer()
    with pytest.raises(ValueError, match="no hidden layer"):
        state.remove_layer()
    for _ in range(6):
        state.add_layer()
    with pytest.raises(ValueError, match="at most 6"):
        state.add_layer()


def test_feature_toggles_keep_canonical_order_and_one_feature():
    state = pg.PlaygroundState(pg.PlaygroundConfig(features=("x1",)))
    state.toggle_feature("sin(x2)", True)
    state.toggle_feature("x1^2", True)
    assert state.config.features == ("x1", "x1^2", "sin(x2)")
    assert state.network.weights()[0][0].shape[0] == 3
    state.toggle_feature("x1", False)
    state.toggle_feature("x1^2", False)
    with pytest.raises(ValueError, match="at least one"):
        state.toggle_feature("sin(x2)", False)
    with pytest.raises(ValueError, match="unknown feature"):
        state.toggle_feature("cos(x1)", True)


def test_play_in_a_thread_and_pause():
    state = pg.PlaygroundState()
    seen: list[int] = []
    worker = threading.Thread(target=state.play, kwargs={"on_epoch": lambda s: seen.append(s.epoch)})
    worker.start()
    deadline = time.monotonic() + 30
    while state.epoch < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    state.pause()
    worker.join(10)
    assert not worker.is_alive() and not state.playing
    assert state.epoch >= 3 and seen == list(range(1, state.epoch + 1))
    assert state.play(max_epochs=2) == seen[-1] + 2


def test_grid_discretize_and_test_points():
    state = pg.PlaygroundState()
    state.step(2)
    raw = state.grid(20)
    assert raw.shape == (20, 20) and np.all(np.abs(raw) < 1)
    state.discretize = True
    np.testing.assert_array_equal(state.grid(20), np.sign(raw))
    assert set(state.points()) == {"train_xy", "train_y"}
    state.show_test_data = True
    assert len(state.points()["test_xy"]) == 250


def test_neuron_grids_one_per_diagram_column():
    state = pg.PlaygroundState(pg.PlaygroundConfig(features=("x1", "x2", "x1*x2"), hidden=(3,)))
    grids = state.neuron_grids(10)
    assert [g.shape for g in grids] == [(3, 10, 10), (3, 10, 10), (1, 10, 10)]
    np.testing.assert_allclose(grids[0][0][0], np.linspace(-6, 6, 10), atol=1e-6), "x1 grows to the right"
    # grid() runs a tf.function, neuron_grids a multi-output predict_on_batch: two float32 paths
    # that may sum each neuron's inputs in another order, with or without FMA. Bound: eps32 x the
    # 3 + 3 products on the path x the largest sum they form, the hidden layer's sum|w·x| (x1*x2
    # reaches 36; tanh outputs stay < 1): ~1e-5 (seen: 1.2e-7, within 8x of the old 1e-6).
    (k1, b1), _ = state.network.weights()
    x = pg.feature_columns(pg.grid_points(10), state.config.features)
    largest_sum = float((np.abs(x) @ np.abs(k1) + np.abs(b1)).max())
    np.testing.assert_allclose(grids[-1][0].ravel(), state.grid(10).ravel(), rtol=0,
                               atol=(3 + 3) * np.finfo(np.float32).eps * largest_sum)


def test_regression_has_no_accuracy_and_a_linear_output():
    state = pg.PlaygroundState(pg.PlaygroundConfig(dataset="plane", hidden=()))
    state.step(3)
    assert state.loss("test") < 0.01, "a plane is one linear neuron away"
    with pytest.raises(ValueError, match="classification"):
        state.accuracy()
    with pytest.raises(ValueError, match="split"):
        state.loss("validation")


def test_notebook_plots_draw():
    from browserml.playground import plots as pp

    state = pg.PlaygroundState(pg.PlaygroundConfig(hidden=(3,)))
    state.step(2)
    state.show_test_data = True
    for fig in (pp.plot_datasets(), pp.plot_boundary(state), pp.plot_neurons(state, 12), pp.plot_weights(state)):
        assert fig._repr_png_().startswith(b"\x89PNG")
    assert len(pp.plot_neurons(state, 12).axes) == 3 * 3, "3 rows (inputs, hidden, output) x widest column"
