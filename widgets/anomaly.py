"""Lesson 2's app: Anomagram's composer, training, threshold, inspector and drawing pad.

:class:`browserml.anomaly.state.AnomalyState` holds the configuration, the trainer and
every derived number, with no widgets (tests drive it by setting values); ``AnomalyApp``
is the thin view. ``app.widget`` is its one root widget (the six tabs, ``app.tabs``,
above the error line and the captured output), and ``app`` as a cell's last line shows it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from browserml.anomaly import plots
from browserml.anomaly.metrics import Evaluation
from browserml.anomaly.model import ACTIVATIONS, MAX_HIDDEN_LAYERS, OPTIMIZERS, REGULARIZERS, History
from browserml.anomaly.state import AnomalyState, Verdict
from browserml.data import ecg5000 as ecg
from widgets.common import (
    BackgroundJob,
    Throttle,
    explain_labels,
    figure_image,
    flex_row,
    guarded,
    html_table,
    on_change,
    readable_header,
    show_figure,
    slow_slider,
)

#: The Inspect tab's "all classes" choice. Not ``None``: an ipywidgets ``Dropdown`` whose
#: value is ``None`` has no selection and shows blank, whatever the option's label says.
ALL_CLASSES = 0


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


def metrics_html(ev: Evaluation) -> str:
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
        self.activation = W.Dropdown(options=ACTIVATIONS, value=c.activation, description="activation")
        self.optimizer = W.Dropdown(options=OPTIMIZERS, value=c.optimizer, description="optimizer")
        self.lr = s(W.FloatLogSlider, value=c.learning_rate, base=10, min=-4, max=0, description="learning rate")
        self.regularizer = W.Dropdown(options=REGULARIZERS, value=c.regularizer, description="regularizer")
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
        rules = [("best F1 on validation", "best_f1"), ("mean + kσ of training", "mean_k_sigma")]
        self.rule = W.Dropdown(options=rules, value="best_f1", description="rule")
        self.k = s(W.FloatSlider, value=self.state.k, min=0.5, max=6, step=0.5, description="k",
                   disabled=not self.state.uses_k)
        self.threshold = W.FloatSlider(value=0.0, min=0.0, max=0.1, step=1e-4, readout_format=".4f",
                                       description="threshold", continuous_update=True,
                                       style={"description_width": "initial"}, layout=W.Layout(width="420px"))
        self.metrics = W.HTML()
        self.hist_plot, self.roc_plot, self.latent_plot = figure_image(), figure_image(), figure_image()
        # inspector
        wide = W.Layout(width="420px", max_width="100%")
        classes = [("all", ALL_CLASSES), *((f"{k}: {v}", k) for k, v in ecg.CLASS_NAMES.items())]
        self.class_filter = W.Dropdown(options=classes, value=ALL_CLASSES, description="class", layout=wide)
        self.beat = W.Dropdown(options=[], description="beat", layout=wide)
        self.beat_plot, self.beat_text = figure_image(), W.HTML()
        # drawing
        self.judge_button = W.Button(description="Judge my beat")
        self.drawn_plot, self.drawn_text = figure_image(), W.HTML()
        try:
            from widgets.drawpad import DrawPad

            self.pad: W.DOMWidget | None = DrawPad()
            pad_view: W.Widget = self.pad
        except Exception as err:  # noqa: BLE001 - no working anywidget: said in words below, the rest still works
            self.pad = None
            pad_view = W.HTML(f"Drawing needs anywidget ({err}); pick a beat in the inspector instead.")

        self._wire()
        self._render_layers()
        self.tabs = W.Tab(children=[
            W.VBox([W.HTML("<b>Encoder hidden layers</b> (the decoder mirrors them; <i>activation</i> is "
                           "theirs, the bottleneck has none, as in Anomagram)"), self.layers_box,
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
            self.tabs.set_title(i, title)
        self.widget = W.VBox([self.tabs, self.errors, self.output])
        explain_labels(self.widget)
        self._draw_losses()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ---- wiring
    def _wire(self) -> None:
        out, st = self.output, self.state

        def configure(name: str) -> Callable[[Any], None]:
            return lambda value: self._configure(**{name: value})

        self.add_button.on_click(guarded(lambda _b: (st.add_layer(), self._render_layers()), out, self.errors))
        self.remove_button.on_click(guarded(lambda _b: (st.remove_layer(), self._render_layers()), out, self.errors))
        for widget, name in ((self.latent, "latent"), (self.activation, "activation"), (self.optimizer, "optimizer"),
                             (self.lr, "learning_rate"), (self.regularizer, "regularizer"),
                             (self.reg_rate, "regularizer_rate"), (self.batch, "batch_size"),
                             (self.epochs, "epochs"), (self.abnormal_share, "abnormal_share"), (self.split, "split")):
            on_change(widget, configure(name), out, self.errors)
        on_change(self.train_size, lambda v: self._configure(train_size=v or None), out, self.errors)
        self.train_button.on_click(guarded(lambda _b: self.start_training(), out, self.errors))
        self.pause_button.on_click(guarded(lambda _b: st.pause(), out, self.errors))
        on_change(self.rule, lambda v: (st.set_rule(v), self._sync_k(), self._show_results()), out, self.errors)
        on_change(self.k, lambda v: (st.set_rule(st.threshold_rule, v), self._show_results()), out, self.errors)
        on_change(self.threshold, lambda v: (st.set_threshold(v), self._show_metrics()), out, self.errors)
        on_change(self.class_filter, lambda v: (st.set_class_filter(v or None), self._fill_beats()), out, self.errors)
        on_change(self.beat, lambda v: self._show_beat(), out, self.errors)
        self.judge_button.on_click(guarded(lambda _b: self.judge_drawing(), out, self.errors))

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
            on_change(box, functools.partial(self._configure_units, i), self.output, self.errors)
            boxes.append(box)
        self.layers_box.children = boxes
        explain_labels(*boxes)
        self.remove_button.disabled = len(boxes) <= 1
        self.add_button.disabled = len(boxes) >= MAX_HIDDEN_LAYERS

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
        h = t.history if t is not None else History()
        show_figure(self.loss_plot, plots.loss_curves(h.loss, h.val_loss))

    # ---- results
    def _show_results(self) -> None:
        st = self.state
        test_scores = st.scores("test")
        self.threshold.max = float(np.quantile(test_scores, 0.995))
        self.threshold.step = self.threshold.max / 1000
        self.threshold.value = min(st.current_threshold(), self.threshold.max)
        st.set_threshold(self.threshold.value)
        self._show_metrics()
        if st.trainer is None:  # never: scores() above answers only for a trained model
            raise RuntimeError("train the autoencoder first")
        latent = st.trainer.latent(st.data.split.test.x)
        show_figure(self.latent_plot, plots.latent_scatter(latent, st.data.split.test.y))
        self._fill_beats()

    def _show_metrics(self) -> None:
        st = self.state
        ev = st.evaluation()
        self.metrics.value = metrics_html(ev)
        test = st.data.split.test
        show_figure(self.hist_plot, plots.error_histogram(st.scores("test"), test.y, st.current_threshold()))
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
