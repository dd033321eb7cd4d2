"""Lesson 1's app: the state object by setting values, and the view by driving its controls."""

import io
import re
import threading
import time

import ipywidgets as W
import numpy as np
import pytest

from browserml import polyfit as pf
from browserml.polyfit import plots as pf_plots
from browserml.polyfit.state import PolyfitState
from widgets.polyfit import PolyfitApp


@pytest.fixture
def state() -> PolyfitState:
    s = PolyfitState(seed=0)
    s.set(iterations=40)
    return s


def test_data_fields_resample_and_clear_the_fit(state):
    state.train()
    x_before = state.data.x.copy()
    state.set(noise=0.2)
    assert state.coeffs is None and state.losses == []
    assert state.data.noise == 0.2 and not np.array_equal(state.data.y, pf.make_data(
        state.true_coeffs, state.n_points, 0.05, 0).y)
    np.testing.assert_array_equal(state.data.x, x_before), "same seed, same xs"
    state.set(n_points=37)
    assert state.data.x.shape == (37,)
    state.set(true_coeffs=(1.0, 0.0, 0.0, 0.0))
    np.testing.assert_allclose(state.data.target_coeffs, [1, 0, 0, 0])
    state.set(seed=5)
    assert not np.array_equal(state.data.x[:37], x_before[:37])


def test_training_fields_change_the_run(state):
    state.set(degree=1, iterations=15, learning_rate=0.2, method="tape")
    losses = state.train()
    assert len(losses) == 15 and state.coeffs.shape == (2,)
    assert [r["name"] for r in state.coefficient_rows()] == ["a", "b"]


def test_bad_settings_are_refused_and_nothing_changes(state):
    before = (state.degree, state.learning_rate, state.data)
    for bad in ({"degree": 9}, {"learning_rate": 0}, {"method": "adam"}, {"iterations": 0}, {"n_points": 1}):
        with pytest.raises(ValueError):
            state.set(**bad)
    with pytest.raises(ValueError, match="unknown setting"):
        state.set(colour="red")
    assert (state.degree, state.learning_rate, state.data) == before


def test_training_learns_the_true_coefficients(state):
    state.set(iterations=300)
    state.train()
    assert state.losses[-1] < state.losses[0] / 10
    rows = state.coefficient_rows()
    np.testing.assert_allclose([r["learned"] for r in rows], [r["least_squares"] for r in rows], atol=2e-3)


def test_stop_from_another_thread(state):
    state.set(iterations=5000)
    seen = []
    worker = threading.Thread(target=state.train, kwargs={"on_step": seen.append})
    worker.start()
    while len(seen) < 3:
        time.sleep(0.01)
    state.stop()
    worker.join(30)
    assert not worker.is_alive() and 3 <= len(state.losses) < 5000
    state.stop()  # idle: a stray Stop must not cancel the next run
    state.set(iterations=10)
    assert len(state.train()) == 10


def test_cubic_setting_and_export(state, tmp_path):
    state.load_setting(pf.CUBIC)
    assert state.normalize_y and state.degree == 3 and state.iterations == 75
    with pytest.raises(RuntimeError, match="train"):
        state.export(tmp_path / "p")
    state.train()
    out = state.export(tmp_path / "p")
    assert (out / "model.json").is_file() and (out / "index.html").is_file()


def test_figure_shows_data_fit_and_loss(state):
    fig = state.figure()
    ax, ax_loss = fig.axes
    assert len(ax.lines) == 1 and not ax_loss.lines, "before training: the true curve, no loss"
    state.train()
    fig = state.figure()
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines[0].get_xdata()) == 40


# ---------------------------------------------------------------- the view


@pytest.fixture
def app() -> PolyfitApp:
    a = PolyfitApp(PolyfitState(seed=0))
    a.iterations.value = 30
    return a


def test_every_slider_drives_the_state(app):
    app.coeff_sliders[0].value = 1.0  # x³
    assert app.state.true_coeffs == (1.0, 0.6, -0.4, 0.3)
    app.noise.value = 0.1
    app.points.value = 50
    app.lr.value = 0.1
    app.degree.value = 3
    app.method.value = "tape"
    s = app.state
    assert (s.noise, s.n_points, s.degree, s.method, s.iterations) == (0.1, 50, 3, "tape", 30)
    assert s.learning_rate == pytest.approx(0.1)
    assert app.progress.max == 30 and app.output.outputs == ()
    assert all(w.continuous_update is False for w in (*app.coeff_sliders, app.noise, app.points, app.lr))


def test_train_button_trains_in_the_background_and_updates_the_view(app):
    plot_before = app.plot.value
    app.train_button.click()
    assert app.train_button.disabled and not app.stop_button.disabled and app.noise.disabled
    app.job.join(60)
    assert len(app.state.losses) == 30 and app.progress.value == 30
    assert app.plot.value != plot_before and "<table>" in app.table.value
    assert not app.train_button.disabled and app.stop_button.disabled
    assert app.errors.value == ""


def test_stop_button_stops(app):
    app.iterations.value = 1000
    app.train_button.click()
    while len(app.state.losses) < 2:
        time.sleep(0.01)
    app.stop_button.click()
    app.job.join(30)
    assert len(app.state.losses) < 1000 and not app.state.running


def test_a_failing_run_is_shown_not_swallowed(app):
    app.lr.value = 10 ** app.lr.max  # ~2: diverges
    app.degree.value = 6
    app.iterations.value = 200
    app.train_button.click()
    app.job.join(60)
    assert "learning rate" in app.errors.value and "too large" in app.errors.value
    assert not app.train_button.disabled, "the app recovers after a failure"


# ---------------------------------------------------------------- issue 14: what the learner reads


def test_a_cubic_truth_under_a_quadratic_model_shows_true_values_and_a_note_never_nan(state):
    state.set(true_coeffs=(-0.8, 0.6, -0.4, 0.3), degree=2, iterations=5)
    state.train()
    rows = state.coefficient_rows()
    np.testing.assert_allclose([r["target"] for r in rows], [0.6, -0.4, 0.3], err_msg="the truth's x², x¹, x⁰")
    assert state.unmodelled_terms() == [(3, -0.8)]
    assert "x³ (-0.80)" in state.coefficient_note() and "degree-2" in state.coefficient_note()
    app = PolyfitApp(state)
    assert "nan" not in app.table.value.lower() and "x³ (-0.80)" in app.note.value
    state.set(degree=3)
    assert state.coefficient_note() == "", "a model that can represent the truth needs no note"


def test_the_coefficient_table_has_readable_headers(state):
    state.train()
    app = PolyfitApp(state)
    headers = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", app.table.value)
    assert headers == ["coefficient", "learned", "true", "least squares (best possible)"]
    assert all("_" not in h for h in headers)
    assert "a (x²)" in app.table.value, "each coefficient names its power"


def test_title_and_counter_agree_during_streamed_updates(monkeypatch):
    """Mid-training the plot said "after 1 of 200" while the counter said 79: the
    counter moved every step, the (throttled) plot did not."""
    titles: list[str] = []
    plot_fit = pf.plot_fit

    def recording(*args, title="", **kwargs):
        titles.append(title)
        return plot_fit(*args, title=title, **kwargs)

    monkeypatch.setattr(pf_plots, "plot_fit", recording)  # where PolyfitState.figure looks it up
    app = PolyfitApp(PolyfitState(seed=0), redraw_every_s=0.05)
    app.iterations.value = 60
    disagreements, shown = [], []

    def check(change):
        title = titles[-1] if titles else ""
        shown.append(change["new"])
        said = int(re.match(r"after (\d+) of", title).group(1)) if title.startswith("after") else 0
        if said != change["new"]:
            disagreements.append((title, change["new"]))

    app.progress.observe(check, names="value")
    app.train_button.click()
    app.job.join(60)
    assert app.errors.value == "" and shown[-1] == 60
    assert disagreements == [], disagreements[:3]


def test_layout_fits_its_container_no_fixed_width_wider_than_a_column(state):
    """A 340px column beside a stretched 100%-wide picture made a permanent horizontal
    scrollbar: every px width must be one a narrow column can give, or may shrink."""
    app = PolyfitApp(state)
    boxes = [w for w in walk(app.widget) if isinstance(w, W.Box)]
    assert any("wrap" in (b.layout.flex_flow or "") for b in boxes), "the two columns wrap on a narrow page"
    for w in walk(app.widget):
        width = w.layout.width or ""
        if width.endswith("px") and float(width[:-2]) > 340:
            assert w.layout.max_width == "100%", f"{type(w).__name__} is {width} wide and cannot shrink"
    assert app.plot.layout.max_width == "100%" and app.plot.layout.height == "auto"


def test_the_plot_is_shown_at_its_drawn_size_twice_as_dense(state):
    app = PolyfitApp(state)
    from PIL import Image

    css_width = int(app.plot.layout.width.removesuffix("px"))
    assert Image.open(io.BytesIO(app.plot.value)).size[0] == 2 * css_width


def walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)
