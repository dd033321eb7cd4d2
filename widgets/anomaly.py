"""Lesson 2's app: Anomagram's composer, training, threshold, inspector and drawing pad.

``AnomalyState`` holds the configuration, the trainer and every derived number, with
no widgets (tests drive it by setting values); ``AnomalyApp`` is the thin view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from browserml import anomaly as an
from browserml import anomaly_plots as plots
from browserml.data import ecg5000 as ecg
from widgets.common import (
    BackgroundJob,
    Throttle,
    explain_labels,
    figure_image,
    flex_row,
    html_table,
    on_change,
    readable_header,
    show_figure,
    slow_slider,
    wrap,
)

#: The Inspect tab's "all classes" choice. Not ``None``: an ipywidgets ``Dropdown`` whose
#: value is ``None`` has no selection and shows blank, whatever the option's label says.
ALL_CLASSES = 0
#: The threshold rules that read ``k`` (the others leave the k slider disabled).
RULES_USING_K = ("mean_k_sigma",)


@dataclass(frozen=True)
class Verdict:
    """What the app says about one beat."""

    beat: np.ndarray  # raw values
    scaled: np.ndarray
    reconstruction: np.ndarray
    score: float
    abnormal: bool
    label: int | None = None

    @property
    def text(self) -> str:
        verdict = "ABNORMAL" if self.abnormal else "normal"
        truth = "" if self.label is None else f" (true class: {ecg.CLASS_NAMES.get(self.label, self.label)})"
        return f"error {self.score:.5f} → {verdict}{truth}"


class AnomalyState:
    """Configuration, training and evaluation of the autoencoder, without widgets."""

    def __init__(self, config: an.AutoencoderConfig = an.ANOMAGRAM_DEFAULT) -> None:
        self.config = config
        self.threshold_rule = "best_f1"
        self.k = 3.0
        self.class_filter: int | None = None
        self._data: an.LessonData | None = None
        self.trainer: an.Trainer | None = None
        self.threshold: float | None = None
        self._scores: dict[str, np.ndarray] = {}

    # ---- composer
    def configure(self, **changes: Any) -> None:
        """Change any :class:`AutoencoderConfig` field; invalid values raise and change nothing.

        Data-affecting fields re-select the training beats; any change discards the model.
        """
        new = self.config.with_changes(**changes)  # validates
        if {"train_size", "abnormal_share", "split", "val_fraction", "seed"} & set(changes):
            an.prepare_data(new)  # surface data errors (e.g. too many beats asked) before committing
            self._data = None
        self.config = new
        self.trainer, self.threshold, self._scores = None, None, {}

    def add_layer(self, units: int = 4) -> None:
        self.configure(hidden=(*self.config.hidden, units))

    def remove_layer(self) -> None:
        if len(self.config.hidden) <= 1:
            raise ValueError("the encoder needs at least one hidden layer")
        self.configure(hidden=self.config.hidden[:-1])

    def set_units(self, index: int, units: int) -> None:
        hidden = list(self.config.hidden)
        hidden[index] = int(units)
        self.configure(hidden=tuple(hidden))

    @property
    def data(self) -> an.LessonData:
        if self._data is None:
            self._data = an.prepare_data(self.config)
        return self._data

    # ---- training
    def train(self, on_epoch=None) -> an.History:
        """Train (or resume after :meth:`pause`) up to ``config.epochs``."""
        if self.trainer is None:
            self.trainer = an.Trainer(self.config, self.data)
        self._scores = {}
        history = self.trainer.train(on_epoch)
        self.refresh()
        return history

    def pause(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()

    def _require_model(self) -> an.Trainer:
        if self.trainer is None or not self.trainer.epochs_done:
            raise RuntimeError("train the autoencoder first")
        return self.trainer

    def refresh(self) -> None:
        """Recompute scores of every part and the automatic threshold."""
        trainer = self._require_model()
        split = self.data.split
        self._scores = {"train": trainer.scores(self.data.train.x), "val": trainer.scores(split.val.x),
                        "test": trainer.scores(split.test.x)}
        self.threshold = self.auto_threshold()

    def scores(self, part: str) -> np.ndarray:
        if not self._scores:
            self.refresh()
        return self._scores[part]

    # ---- threshold and metrics
    def auto_threshold(self) -> float:
        """The rule's threshold, from validation (best F1) or training errors (mean+kσ)."""
        return an.choose_threshold(self.threshold_rule, self.scores("val"), self.data.split.val.y,
                                   self.scores("train"), self.k)

    def set_rule(self, rule: str, k: float | None = None) -> None:
        if rule not in an.THRESHOLD_RULES:
            raise ValueError(f"threshold rule must be one of {an.THRESHOLD_RULES}, got {rule!r}")
        self.threshold_rule = rule
        if k is not None:
            self.k = float(k)
        if self.trainer is not None and self.trainer.epochs_done:
            self.threshold = self.auto_threshold()

    @property
    def uses_k(self) -> bool:
        """Whether the current rule reads ``k`` (mean + kσ does; best F1 does not)."""
        return self.threshold_rule in RULES_USING_K

    def set_threshold(self, value: float) -> None:
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"threshold must be a finite number >= 0, got {value!r}")
        self._require_model()
        self.threshold = float(value)

    def evaluation(self) -> an.Evaluation:
        """Test-set metrics at the current threshold."""
        self._require_model()
        return an.evaluate(self.scores("test"), self.data.split.test.y, self.threshold)

    def report(self) -> an.Report:
        """Autoencoder vs PCA vs IsolationForest, thresholds chosen by the current rule."""
        return an.compare(self._require_model(), self.threshold_rule, self.k)

    # ---- inspector and drawing
    def beat_choices(self) -> list[int]:
        """Test-beat indices, all or of the filtered class."""
        y = self.data.split.test.y
        idx = np.flatnonzero(y == self.class_filter) if self.class_filter is not None else np.arange(len(y))
        return idx.tolist()

    def set_class_filter(self, cls: int | None) -> None:
        if cls is not None and cls not in ecg.CLASS_NAMES:
            raise ValueError(f"class must be one of {sorted(ecg.CLASS_NAMES)} or None, got {cls!r}")
        self.class_filter = cls
        if not self.beat_choices():
            raise ValueError(f"empty selection: the test set has no beats of class {cls}")

    def judge(self, beat: np.ndarray, label: int | None = None) -> Verdict:
        trainer = self._require_model()
        scaled = self.data.scaler.transform(beat)
        recon = trainer.model.predict(scaled, verbose=0)[0]
        score = float(np.mean((recon - scaled[0]) ** 2))
        return Verdict(np.asarray(beat, np.float32), scaled[0], recon, score, score > self.threshold, label)

    def inspect(self, index: int) -> Verdict:
        test = self.data.split.test
        if not 0 <= index < test.n:
            raise IndexError(f"beat index must be in 0..{test.n - 1}, got {index}")
        return self.judge(test.x[index], int(test.y[index]))

    def judge_drawing(self, points: list[float]) -> Verdict:
        return self.judge(an.beat_from_drawing(points))

    def export(self, out_dir: str | Path) -> Path:
        return an.export_anomaly(self._require_model(), self.threshold, out_dir, self.threshold_rule)


# --------------------------------------------------------------------------- view


def confusion_html(confusion: np.ndarray) -> str:
    """The 2×2 confusion matrix with its row and column names, each row its natural height."""
    (tn, fp), (fn, tp) = np.asarray(confusion).tolist()
    cell = "style='padding:2px 10px;text-align:right'"
    return ("<table><thead><tr><th></th><th style='padding:2px 10px'>predicted normal</th>"
            "<th style='padding:2px 10px'>predicted abnormal</th></tr></thead><tbody>"
            f"<tr><th style='text-align:left'>normal</th><td {cell}>{tn}</td><td {cell}>{fp}</td></tr>"
            f"<tr><th style='text-align:left'>abnormal</th><td {cell}>{fn}</td><td {cell}>{tp}</td></tr>"
            "</tbody></table>")


def metrics_html(ev: an.Evaluation) -> str:
    """Test-set metrics (one per row, in words), the confusion matrix and the share of
    each class flagged, side by side and top-aligned (a flex row would stretch them)."""
    metrics = html_table([{"metric": readable_header(k), "value": v} for k, v in ev.metrics.items()])
    per_class = html_table([{"class": k, "flagged": v} for k, v in ev.per_class.items()], fmt="{:.1%}")
    return flex_row(metrics, confusion_html(ev.confusion), per_class)


class AnomalyApp:
    """Composer | training | threshold & metrics | pictures | inspector | draw your own."""

    def __init__(self, state: AnomalyState | None = None) -> None:
        self.state = state or AnomalyState()
        self.output = W.Output()
        self.errors = W.HTML()
        self.job = BackgroundJob(self.errors)
        c = self.state.config
        s = lambda kind, **kw: slow_slider(kind, **kw)  # noqa: E731

        # composer
        self.layers_box = W.VBox()
        self.add_button = W.Button(description="+ layer", layout=W.Layout(width="90px"))
        self.remove_button = W.Button(description="− layer", layout=W.Layout(width="90px"))
        self.latent = s(W.IntSlider, value=c.latent, min=1, max=16, description="latent size")
        self.activation = W.Dropdown(options=an.ACTIVATIONS, value=c.activation, description="activation")
        self.optimizer = W.Dropdown(options=an.OPTIMIZERS, value=c.optimizer, description="optimizer")
        self.lr = s(W.FloatLogSlider, value=c.learning_rate, base=10, min=-4, max=0, description="learning rate")
        self.regularizer = W.Dropdown(options=an.REGULARIZERS, value=c.regularizer, description="regularizer")
        self.reg_rate = s(W.FloatLogSlider, value=c.regularizer_rate, base=10, min=-6, max=-1,
                          description="regularizer rate")
        self.batch = s(W.IntSlider, value=c.batch_size, min=8, max=512, step=8, description="batch size")
        self.epochs = s(W.IntSlider, value=c.epochs, min=1, max=500, description="epochs")
        self.train_size = s(W.IntSlider, value=0, min=0, max=4000, step=10, description="training beats (0 = all)")
        self.abnormal_share = s(W.FloatSlider, value=c.abnormal_share, min=0, max=0.5, step=0.01,
                                description="abnormal share in training")
        self.split = W.Dropdown(options=[("UCR TRAIN/TEST", "ucr"), ("Anomagram 4500/500", "anomagram")],
                                value=c.split, description="split")
        # training
        self.train_button = W.Button(description="Train", button_style="success", icon="play")
        self.pause_button = W.Button(description="Pause", button_style="warning", icon="pause", disabled=True)
        self.progress = W.IntProgress(min=0, max=c.epochs, description="epoch 0")
        self.loss_plot = figure_image()
        # threshold
        self.rule = W.Dropdown(options=[("best F1 on validation", "best_f1"), ("mean + kσ of training", "mean_k_sigma")],
                               value="best_f1", description="rule")
        self.k = s(W.FloatSlider, value=self.state.k, min=0.5, max=6, step=0.5, description="k",
                   disabled=not self.state.uses_k)
        self.threshold = W.FloatSlider(value=0.0, min=0.0, max=0.1, step=1e-4, readout_format=".4f",
                                       description="threshold", continuous_update=True,
                                       style={"description_width": "initial"}, layout=W.Layout(width="420px"))
        self.metrics = W.HTML()
        self.hist_plot, self.roc_plot, self.latent_plot = figure_image(), figure_image(), figure_image()
        # inspector
        wide = W.Layout(width="420px", max_width="100%")
        self.class_filter = W.Dropdown(options=[("all", ALL_CLASSES)] + [(f"{k}: {v}", k) for k, v in ecg.CLASS_NAMES.items()],
                                       value=ALL_CLASSES, description="class", layout=wide)
        self.beat = W.Dropdown(options=[], description="beat", layout=wide)
        self.beat_plot, self.beat_text = figure_image(), W.HTML()
        # drawing
        self.judge_button = W.Button(description="Judge my beat")
        self.drawn_plot, self.drawn_text = figure_image(), W.HTML()
        try:
            from widgets.drawpad import DrawPad

            self.pad: W.DOMWidget | None = DrawPad()
            pad_view: W.Widget = self.pad
        except Exception as err:  # no anywidget: say so, the rest still works
            self.pad = None
            pad_view = W.HTML(f"Drawing needs anywidget ({err}); pick a beat in the inspector instead.")

        self._wire()
        self._render_layers()
        self.widget = W.Tab(children=[
            W.VBox([W.HTML("<b>Encoder hidden layers</b> (the decoder mirrors them)"), self.layers_box,
                    W.HBox([self.add_button, self.remove_button]), self.latent, self.activation, self.optimizer,
                    self.lr, self.regularizer, self.reg_rate, self.batch, self.epochs, self.train_size,
                    self.abnormal_share, self.split]),
            W.VBox([W.HBox([self.train_button, self.pause_button, self.progress]), self.loss_plot]),
            W.VBox([W.HBox([self.rule, self.k]), self.threshold, self.metrics,
                    W.HBox([self.hist_plot, self.roc_plot], layout=W.Layout(flex_flow="row wrap"))]),
            W.VBox([self.latent_plot]),
            W.VBox([W.HBox([self.class_filter, self.beat], layout=W.Layout(flex_flow="row wrap")),
                    self.beat_text, self.beat_plot]),
            W.VBox([W.HTML("Draw one heartbeat from left to right, then judge it."), pad_view,
                    self.judge_button, self.drawn_text, self.drawn_plot]),
        ])
        for i, title in enumerate(["1 Composer", "2 Train", "3 Threshold", "4 Latent", "5 Inspect", "6 Draw"]):
            self.widget.set_title(i, title)
        self.app = W.VBox([self.widget, self.errors, self.output])
        explain_labels(self.app)
        self._draw_losses()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.app)

    # ---- wiring
    def _wire(self) -> None:
        out, st = self.output, self.state
        self.add_button.on_click(wrap(lambda _b: (st.add_layer(), self._render_layers()), out, self.errors))
        self.remove_button.on_click(wrap(lambda _b: (st.remove_layer(), self._render_layers()), out, self.errors))
        for widget, name in ((self.latent, "latent"), (self.activation, "activation"), (self.optimizer, "optimizer"),
                             (self.lr, "learning_rate"), (self.regularizer, "regularizer"),
                             (self.reg_rate, "regularizer_rate"), (self.batch, "batch_size"),
                             (self.epochs, "epochs"), (self.abnormal_share, "abnormal_share"), (self.split, "split")):
            on_change(widget, lambda v, name=name: self._configure(**{name: v}), out, self.errors)
        on_change(self.train_size, lambda v: self._configure(train_size=v or None), out, self.errors)
        self.train_button.on_click(wrap(lambda _b: self.start_training(), out, self.errors))
        self.pause_button.on_click(wrap(lambda _b: st.pause(), out, self.errors))
        on_change(self.rule, lambda v: (st.set_rule(v), self._sync_k(), self._show_results()), out, self.errors)
        on_change(self.k, lambda v: (st.set_rule(st.threshold_rule, v), self._show_results()), out, self.errors)
        on_change(self.threshold, lambda v: (st.set_threshold(v), self._show_metrics()), out, self.errors)
        on_change(self.class_filter, lambda v: (st.set_class_filter(v or None), self._fill_beats()), out, self.errors)
        on_change(self.beat, lambda v: self._show_beat(), out, self.errors)
        self.judge_button.on_click(wrap(lambda _b: self.judge_drawing(), out, self.errors))

    def _sync_k(self) -> None:
        """``k`` is live only under a rule that reads it."""
        self.k.disabled = not self.state.uses_k

    def _configure(self, **changes: Any) -> None:
        self.state.configure(**changes)
        self.progress.max, self.progress.value = self.state.config.epochs, 0
        self._draw_losses()

    def _render_layers(self) -> None:
        boxes = []
        for i, units in enumerate(self.state.config.hidden):
            box = W.BoundedIntText(value=units, min=1, max=256, description=f"layer {i + 1} units",
                                   style={"description_width": "initial"}, layout=W.Layout(width="200px"))
            on_change(box, lambda v, i=i: self._configure_units(i, v), self.output, self.errors)
            boxes.append(box)
        self.layers_box.children = boxes
        explain_labels(*boxes)
        self.remove_button.disabled = len(boxes) <= 1
        self.add_button.disabled = len(boxes) >= an.MAX_HIDDEN_LAYERS

    def _configure_units(self, index: int, units: int) -> None:
        self.state.set_units(index, units)
        self._draw_losses()

    # ---- training
    def start_training(self) -> bool:
        redraw = Throttle(self._draw_losses, 0.5)

        def on_epoch(epoch: int, loss: float, val: float | None) -> None:
            self.progress.value, self.progress.description = epoch, f"epoch {epoch}"
            redraw()

        def done() -> None:
            self._busy(False)
            self._draw_losses()
            if self.state.trainer is not None and self.state.trainer.epochs_done:
                self._show_results()

        self._busy(True)
        return self.job.start(lambda: self.state.train(on_epoch), on_done=done)

    def _busy(self, busy: bool) -> None:
        self.train_button.disabled, self.pause_button.disabled = busy, not busy
        self.train_button.description = "Train" if not busy else "Training…"

    def _draw_losses(self) -> None:
        t = self.state.trainer
        h = t.history if t is not None else an.History()
        show_figure(self.loss_plot, plots.loss_curves(h.loss, h.val_loss))

    # ---- results
    def _show_results(self) -> None:
        st = self.state
        test_scores = st.scores("test")
        self.threshold.max = float(np.quantile(test_scores, 0.995))
        self.threshold.step = self.threshold.max / 1000
        self.threshold.value = min(st.threshold, self.threshold.max)
        st.set_threshold(self.threshold.value)
        self._show_metrics()
        latent = st.trainer.latent(st.data.split.test.x)
        show_figure(self.latent_plot, plots.latent_scatter(latent, st.data.split.test.y))
        self._fill_beats()

    def _show_metrics(self) -> None:
        st = self.state
        ev = st.evaluation()
        self.metrics.value = metrics_html(ev)
        test = st.data.split.test
        show_figure(self.hist_plot, plots.error_histogram(st.scores("test"), test.y, st.threshold))
        show_figure(self.roc_plot, plots.roc_curve({"autoencoder": st.scores("test")}, test.y,
                                                   (ev.metrics["fpr"], ev.metrics["tpr"])))

    def _fill_beats(self) -> None:
        if self.state.trainer is None:
            return
        y = self.state.data.split.test.y
        self.beat.options = [(f"#{i} ({ecg.CLASS_NAMES[int(y[i])]})", i) for i in self.state.beat_choices()[:300]]

    def _show_beat(self) -> None:
        if self.beat.value is None:
            return
        v = self.state.inspect(self.beat.value)
        self.beat_text.value = v.text
        show_figure(self.beat_plot, plots.beat_plot(v.scaled, v.reconstruction, f"test beat #{self.beat.value}"))

    def judge_drawing(self) -> Verdict:
        points = list(self.pad.points) if self.pad is not None else []
        v = self.state.judge_drawing(points)
        self.drawn_text.value = v.text
        show_figure(self.drawn_plot, plots.beat_plot(v.scaled, v.reconstruction, "your beat"))
        return v
