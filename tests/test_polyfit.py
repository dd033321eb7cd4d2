"""Lesson 1's logic, checked against closed forms (numpy) and a re-run in TF.js."""

import threading

import numpy as np
import pytest

from browserml import polyfit as pf


@pytest.fixture(scope="module")
def quad() -> pf.PolyData:
    return pf.data_for(pf.QUADRATIC, seed=3)


def test_data_is_reproducible_and_follows_the_polynomial(quad):
    again = pf.data_for(pf.QUADRATIC, seed=3)
    np.testing.assert_array_equal(quad.x, again.x)
    assert quad.x.dtype == np.float32 and quad.x.shape == (100,)
    assert quad.x.min() >= -1 and quad.x.max() <= 1
    residual = quad.y - np.polyval(pf.QUADRATIC.true_coeffs, quad.x)
    assert abs(residual.std() - pf.QUADRATIC.noise) < 0.02, "noise has the requested σ"
    assert not np.array_equal(pf.data_for(pf.QUADRATIC, seed=4).x, quad.x)


def test_cubic_setting_is_the_tfjs_example():
    s = pf.CUBIC
    assert (s.true_coeffs, s.n_points, s.noise, s.learning_rate, s.iterations) == \
        ((-0.8, -0.2, 0.9, 0.5), 100, 0.04, 0.5, 75)
    data = pf.data_for(s)
    assert data.y.min() == 0 and data.y.max() == pytest.approx(1), "ys rescaled to [0, 1] like generateData"
    # The rescaled data follow the rescaled polynomial, up to the (rescaled) noise.
    resid = data.y - np.polyval(data.target_coeffs, data.x)
    assert np.abs(resid).max() < 4 * s.noise / data.y_range


@pytest.mark.parametrize("kwargs, message", [
    ({"true_coeffs": [1, np.nan]}, "finite"),
    ({"true_coeffs": [1, 2], "n_points": 1}, "n_points"),
    ({"true_coeffs": [1, 2], "noise": -1}, "noise"),
    ({"true_coeffs": [1, 2], "x_range": (1, 1)}, "x_range"),
    ({"true_coeffs": [0.0] * 9}, "degree"),
    ({"true_coeffs": [0.0, 1.0], "noise": 0.0, "normalize_y": True}, "all ys are equal"),
])
def test_bad_data_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pf.make_data(**kwargs)


def test_model_evaluates_like_numpy_polyval():
    import tensorflow as tf

    x = np.linspace(-2, 2, 9, dtype=np.float32)
    for coeffs in ([3.0], [0.5, -1.0], [1.0, -2.0, 0.5, 0.25]):
        model = pf.Polynomial(len(coeffs) - 1, init=coeffs)
        np.testing.assert_allclose(model(tf.constant(x)).numpy(), np.polyval(coeffs, x), rtol=1e-6, atol=1e-6)
    assert [v.name.split(":")[0] for v in pf.Polynomial(2).variables] == ["a", "b", "c"]


def test_autodiff_gradient_equals_the_closed_form(quad):
    import tensorflow as tf

    coeffs = [0.1, -0.7, 0.4]
    model = pf.Polynomial(2, init=coeffs)
    with tf.GradientTape() as tape:
        loss = pf.mse(model(tf.constant(quad.x)), tf.constant(quad.y))
    grads = np.array([g.numpy() for g in tape.gradient(loss, model.variables)])
    np.testing.assert_allclose(grads, pf.gradient(coeffs, quad), rtol=1e-5, atol=1e-6)


def test_minimize_and_gradient_tape_take_identical_steps(quad):
    a = pf.fit(quad, 2, 0.5, 30, method="minimize", seed=1)
    b = pf.fit(quad, 2, 0.5, 30, method="tape", seed=1)
    np.testing.assert_allclose(a.coeffs, b.coeffs, rtol=0, atol=1e-7)
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-6)
    assert a.losses[-1] < a.losses[0] / 10


def test_sgd_converges_to_least_squares(quad):
    result = pf.fit(quad, 2, 0.5, 1500, method="tape")
    np.testing.assert_allclose(result.coeffs, pf.least_squares(quad, 2), atol=1e-4)
    np.testing.assert_allclose(result.coeffs, pf.QUADRATIC.true_coeffs, atol=0.05)


def test_too_large_a_learning_rate_is_explained(quad):
    with pytest.raises(FloatingPointError, match="learning rate .* too large"):
        pf.fit(quad, 3, 5.0, 200)
    with pytest.raises(ValueError, match="learning_rate"):
        pf.fit(quad, 2, -0.1, 10)
    with pytest.raises(ValueError, match="method"):
        pf.fit(quad, 2, 0.1, 10, method="adam")


def test_stop_event_ends_training_early(quad):
    stop = threading.Event()
    model = pf.Polynomial(2)
    steps = []
    for step in pf.train_steps(model, quad, 0.1, 1000, stop=stop):
        steps.append(step)
        if step.iteration == 5:
            stop.set()
    assert len(steps) == 5


@pytest.mark.tfjs
@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_tfjs_training_loop_reaches_the_same_coefficients(backend):
    """The talk's JS (optimizer.minimize in TF.js) and our Python, same data and start."""
    data = pf.data_for(pf.CUBIC)
    init = [0.1, 0.2, 0.3, 0.4]
    py = pf.fit(data, 3, 0.5, 75, init=init)
    js = pf.fit_in_tfjs(data, init, 0.5, 75, backend=backend)
    assert js["tfjs_version"] == "4.22.0" and js["backend"] == backend
    np.testing.assert_allclose(js["coeffs"], py.coeffs, atol=1e-5)
    np.testing.assert_allclose(js["losses"], py.losses, rtol=1e-4, atol=1e-7)


def test_coefficient_table_pads_targets_and_never_shows_nan(quad):
    rows = pf.coefficient_table([0.0, 0.6, -0.4, 0.3], quad)  # cubic model on quadratic data
    assert [r["name"] for r in rows] == ["a", "b", "c", "d"]
    assert rows[0]["target"] == 0.0 and rows[1]["target"] == pytest.approx(0.6)
    rows = pf.coefficient_table([0.1, 0.2], quad)  # line on quadratic data: the truth's x¹ and x⁰, never NaN
    np.testing.assert_allclose([r["target"] for r in rows], [-0.4, 0.3])
    np.testing.assert_allclose([r["least_squares"] for r in rows], np.polyfit(quad.x, quad.y, 1), rtol=1e-5)


def test_export_records_coefficients_grid_and_page(tmp_path, quad):
    out = pf.export_polynomial([0.6, -0.4, 0.3], tmp_path / "polynomial", data=quad)
    from browserml.export import read_manifest

    m = read_manifest(out)
    assert m.model_format == "graph" and m.extra["coefficients"] == {"a": 0.6, "b": -0.4, "c": 0.3}
    np.testing.assert_allclose(m.parity_arrays("outputs")["y"],
                               np.polyval([0.6, -0.4, 0.3], m.parity_arrays("inputs")["x"]), atol=1e-6)
    assert (out / "index.html").is_file() and len(m.extra["data"]["x"]) == 100
    xs, ys = pf.grid_predictions(out)
    assert xs.shape == (101,) and ys[0] == pytest.approx(0.6 + 0.4 + 0.3)
    with pytest.raises(ValueError, match="finite"):
        pf.export_polynomial([np.inf, 1.0], tmp_path / "bad")


@pytest.mark.tfjs
@pytest.mark.chromium
def test_the_export_page_plots_what_python_predicts(exports, tmp_path):
    """Open exports/polynomial/index.html in Chromium as a learner would."""
    from browserml.tfjs_check import run_export_page

    xs, ys = pf.grid_predictions(exports["graph"])
    for backend in ("wasm", "cpu"):
        shot = tmp_path / f"page-{backend}.png"
        result = run_export_page(exports["graph"], backend=backend, screenshot=shot)
        assert result["backend"] == backend
        np.testing.assert_allclose(result["xs"], xs, atol=1e-6)
        np.testing.assert_allclose(result["ys"], ys, atol=1e-5)
        assert result["parityMaxAbsDiff"] <= 1e-5
        assert shot.stat().st_size > 10_000, "the page drew something"


def test_coefficient_table_ignores_leading_zero_true_coefficients():
    """The app always passes four true coefficients; x³ = 0 must not make a quadratic
    model's targets NaN (found by the JupyterLab check)."""
    data = pf.make_data((0.0, 0.8, -0.4, 0.3), 50, 0.0, 0)
    rows = pf.coefficient_table([0.8, -0.4, 0.3], data)
    np.testing.assert_allclose([r["target"] for r in rows], data.target_coeffs[1:])
    line = pf.coefficient_table([0.1, 0.2], data)
    np.testing.assert_allclose([r["target"] for r in line], data.target_coeffs[2:], err_msg="the truth's, not NaN")


def test_least_squares_is_unique_only_with_more_distinct_points_than_the_degree():
    """The MSE is convex either way; its minimiser is unique only when VᵀV has full rank.
    Without it, least_squares gives the smallest zero-loss fit, quietly (no RankWarning)."""
    import warnings

    five = pf.make_data(pf.QUADRATIC.true_coeffs, n_points=5, noise=0.05, seed=1)
    assert pf.unique_fit(five, 4) and not pf.unique_fit(five, 5)
    repeated = pf.PolyData(np.array([0.0, 0.0, 1.0, 1.0], np.float32), np.array([1, 2, 3, 4], np.float32), (1.0,), 0.0)
    assert pf.unique_fit(repeated, 1) and not pf.unique_fit(repeated, 2), "distinct x values count, not points"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = pf.least_squares(five, 5)
    # float32 data of order 1, float64 algebra: an interpolating fit leaves ~1e-14 of loss
    assert np.mean((np.polyval(exact, five.x) - five.y) ** 2) < 1e-12
    unseen = np.linalg.svd(np.vander(five.x.astype(np.float64), 6))[2][-1]
    assert abs(exact @ unseen) < 1e-9, "the smallest solution has no part along the direction V cannot see"
    np.testing.assert_allclose(pf.least_squares(five, 4), np.polyfit(five.x.astype(float), five.y.astype(float), 4))


def test_the_app_says_when_the_fit_is_not_unique():
    state = pf.PolyfitState()
    assert state.coefficient_note() == ""
    state.set(n_points=5, degree=5)
    note = state.coefficient_note()
    assert "5 distinct points cannot pin down 6 coefficients" in note and "nearest its start" in note
    state.set(degree=4)
    assert state.coefficient_note() == ""
