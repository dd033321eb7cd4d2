"""Lesson 2's app: every control at state level, and the view driven like a learner would."""

import io
import re

import numpy as np
import pytest

from browserml import anomaly as an
from browserml.anomaly import plots
from browserml.anomaly.state import AnomalyState
from browserml.data import ecg5000 as ecg
from browserml.figures import render_png
from widgets.anomaly import AnomalyApp, metrics_html

QUICK = an.ANOMAGRAM_DEFAULT.with_changes(epochs=8)


@pytest.fixture(scope="module")
def trained_state() -> AnomalyState:
    state = AnomalyState(QUICK)
    state.train()
    return state


def test_composer_adds_removes_and_resizes_layers():
    s = AnomalyState(QUICK)
    s.add_layer(5)
    assert s.config.hidden == (15, 7, 5) and s.config.architecture == [140, 15, 7, 5, 2, 5, 7, 15, 140]
    s.set_units(0, 12)
    s.remove_layer()
    assert s.config.hidden == (12, 7)
    s.configure(hidden=(4,))
    with pytest.raises(ValueError, match="at least one hidden layer"):
        s.remove_layer()
    with pytest.raises(ValueError, match="1 to 10"):
        s.configure(hidden=tuple([2] * 11))
    assert s.config.hidden == (4,), "a refused change leaves the configuration as it was"


@pytest.mark.parametrize("field, value", [
    ("latent", 3), ("activation", "elu"), ("latent_activation", "tanh"), ("output_activation", "linear"),
    ("optimizer", "rmsprop"), ("learning_rate", 0.003), ("regularizer", "l1"), ("regularizer_rate", 1e-3),
    ("batch_size", 32), ("epochs", 3), ("train_size", 100), ("abnormal_share", 0.1), ("split", "anomagram"),
])
def test_every_config_control_reaches_the_model(field, value):
    s = AnomalyState(QUICK)
    s.configure(**{field: value})
    assert getattr(s.config, field) == value
    assert s.trainer is None, "a changed configuration discards the old model"
    if field == "train_size":
        assert s.data.train.n == 100
    if field == "abnormal_share":
        assert 0 < np.mean(s.data.train.y != 1) <= 0.11
    if field == "split":
        assert s.data.split.test.n == 500


def test_data_problems_are_named_before_anything_changes():
    s = AnomalyState(QUICK)
    with pytest.raises(ValueError):
        s.configure(train_size=100_000)
    assert s.config.train_size is None


def test_train_threshold_metrics_and_rules(trained_state):
    s = trained_state
    assert s.trainer.epochs_done == 8 and s.threshold is not None
    best_f1 = s.threshold
    s.set_rule("mean_k_sigma", k=2.0)
    assert s.threshold == pytest.approx(s.scores("train").mean() + 2 * s.scores("train").std())
    s.set_threshold(0.0)
    ev = s.evaluation()
    assert ev.metrics["recall"] == 1.0 and ev.metrics["tnr"] == 0.0, "threshold 0 flags everything"
    s.set_rule("best_f1")
    assert s.threshold == best_f1
    with pytest.raises(ValueError, match="threshold"):
        s.set_threshold(float("nan"))
    with pytest.raises(ValueError, match="rule"):
        s.set_rule("median")


def test_report_puts_baselines_beside_the_autoencoder(trained_state):
    names = list(trained_state.report().rows)
    assert names[0] == "Autoencoder" and any(n.startswith("PCA") for n in names) and "IsolationForest" in names


def test_inspector_filters_by_class_and_judges_a_beat(trained_state):
    s = trained_state
    s.set_class_filter(3)
    choices = s.beat_choices()
    assert len(choices) == 86 and all(s.data.split.test.y[i] == 3 for i in choices)
    v = s.inspect(choices[0])
    assert v.label == 3 and v.reconstruction.shape == (140,) and v.abnormal == (v.score > s.threshold)
    assert "Premature ventricular contraction" in v.text
    s.set_class_filter(None)
    assert len(s.beat_choices()) == 4500
    with pytest.raises(ValueError, match="class must be one of"):
        s.set_class_filter(9)
    with pytest.raises(IndexError):
        s.inspect(10_000)


def test_drawn_beats_get_a_verdict_and_flat_ones_a_message(trained_state):
    v = trained_state.judge_drawing(list(0.5 + 0.4 * np.sin(np.linspace(0, 9, 300))))
    assert np.isfinite(v.score) and v.beat.shape == (140,)
    with pytest.raises(ValueError, match="flat"):
        trained_state.judge_drawing([0.4] * 100)


def test_untrained_state_says_train_first(tmp_path):
    s = AnomalyState(QUICK)
    for call in (s.evaluation, lambda: s.inspect(0), lambda: s.export(tmp_path / "x")):
        with pytest.raises(RuntimeError, match="train the autoencoder first"):
            call()


def test_pause_then_resume_from_the_state():
    s = AnomalyState(QUICK.with_changes(epochs=5))
    s.train(on_epoch=lambda e, loss, val: s.pause() if e == 1 else None)
    assert s.trainer.epochs_done == 1
    s.train()
    assert s.trainer.epochs_done == 5


# ---------------------------------------------------------------- the view


def test_the_view_drives_the_state_end_to_end():
    app = AnomalyApp(AnomalyState(QUICK))
    app.add_button.click()
    assert len(app.layers_box.children) == 3 and app.state.config.hidden == (15, 7, 4)
    app.layers_box.children[2].value = 6
    assert app.state.config.hidden == (15, 7, 6)
    app.remove_button.click()
    for widget, value, field in ((app.latent, 3, "latent"), (app.activation, "elu", "activation"),
                                 (app.optimizer, "adamax", "optimizer"), (app.regularizer, "l2", "regularizer"),
                                 (app.batch, 32, "batch_size"), (app.abnormal_share, 0.05, "abnormal_share"),
                                 (app.epochs, 6, "epochs")):
        widget.value = value
        assert getattr(app.state.config, field) == value
    app.lr.value = 0.01
    app.reg_rate.value = 1e-3
    assert app.state.config.regularizer_rate == pytest.approx(1e-3)
    app.train_size.value = 150
    assert app.state.config.train_size == 150
    app.train_button.click()
    app.job.join(120)
    assert app.errors.value == "" and app.output.outputs == ()
    assert app.progress.value == 6 and "<table>" in app.metrics.value and app.latent_plot.value
    app.threshold.value = app.threshold.max / 2
    assert app.state.threshold == pytest.approx(app.threshold.value)
    app.rule.value = "mean_k_sigma"
    assert app.state.threshold_rule == "mean_k_sigma"
    app.class_filter.value = 4
    app.beat.value = app.beat.options[0][1]
    assert "Supraventricular" in app.beat_text.value and app.beat_plot.value
    app.pad.points = list(np.cos(np.linspace(0, 7, 120)))
    assert "error" in app.judge_drawing().text
    app.pad.points = [0.5] * 30
    app.judge_button.click()
    assert "flat" in app.errors.value, "a flat drawing's message is shown under the app"
    app.pad.points = list(np.cos(np.linspace(0, 7, 120)))
    app.judge_button.click()
    assert app.errors.value == "", "the message clears once the input is fine"


# ---------------------------------------------------------------- issue 14: smaller view problems


def test_k_is_disabled_unless_the_rule_reads_it():
    s = AnomalyState(QUICK)
    assert s.threshold_rule == "best_f1" and not s.uses_k
    s.set_rule("mean_k_sigma")
    assert s.uses_k
    app = AnomalyApp(AnomalyState(QUICK))
    assert app.rule.value == "best_f1" and app.k.disabled, "best F1 does not use k"
    app.rule.value = "mean_k_sigma"  # untrained: the results say "train first", k still follows the rule
    assert not app.k.disabled
    app.rule.value = "best_f1"
    assert app.k.disabled


def test_the_class_filter_shows_all_and_all_means_no_filter():
    app = AnomalyApp(AnomalyState(QUICK))
    assert (app.class_filter.index, app.class_filter.label) == (0, "all"), "not a blank dropdown"
    app.class_filter.value = 3
    assert app.state.class_filter == 3
    app.class_filter.index = 0
    assert app.state.class_filter is None and app.errors.value == ""


def test_metrics_read_as_words_and_tables_keep_their_natural_height():
    labels = np.array([1, 1, 1, 2, 3, 4, 5, 1])
    ev = an.evaluate(np.array([0.1, 0.2, 0.9, 0.8, 0.7, 0.3, 0.95, 0.05]), labels, 0.5)
    html = metrics_html(ev)
    headers = re.findall(r"<t[hd](?:\s[^>]*)?>([^<]*)</t[hd]>", html)
    assert {"ROC AUC", "PR AUC", "F1", "false positive rate", "predicted normal"} <= set(headers)
    assert not [h for h in headers if "_" in h], "no Python keys where a learner reads"
    for flex in re.findall(r"style='([^']*display:flex[^']*)'", html):
        assert "align-items:flex-start" in flex, "a flex row stretches the confusion matrix's rows"


def test_the_latent_legend_names_every_class_in_full_inside_the_picture():
    rng = np.random.default_rng(0)
    fig = plots.latent_scatter(rng.normal(size=(200, 3)), np.repeat([1, 2, 3, 4, 5], 40))
    shown = render_png(fig)
    legend = fig.legends[0]
    names = [t.get_text().replace("\n", " ") for t in legend.get_texts()]
    assert names == [ecg.CLASS_NAMES[c] for c in (1, 2, 3, 4, 5)]
    box = legend.get_window_extent()
    width, height = (shown.width_px * shown.density, shown.height_px * shown.density)
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, "nothing clipped"
    assert plots.class_label(4, numbered=True).replace("\n", " ") == "4: Supraventricular premature or ectopic beat"


def test_app_charts_are_drawn_at_twice_their_shown_width():
    app = AnomalyApp(AnomalyState(QUICK))
    from PIL import Image

    css = int(app.loss_plot.layout.width.removesuffix("px"))
    assert Image.open(io.BytesIO(app.loss_plot.value)).size[0] == 2 * css
    assert app.loss_plot.layout.max_width == "100%"
