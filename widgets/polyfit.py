"""Lesson 1's app: set a true polynomial, sample noisy data, watch gradient descent fit it live.

:class:`browserml.polyfit.state.PolyfitState` holds everything and does the work
(tests drive it directly); ``PolyfitApp`` is the view: sliders for the true
coefficients, noise, points, learning rate, iterations and model degree; Train and
Stop; a live plot of data, fit and loss; and a table of learned vs true vs
least-squares coefficients. ``app.widget`` is its one root widget, and ``app`` as a
cell's last line shows it.

While training streams, the view draws from one :class:`~browserml.polyfit.state.Frame`
(a snapshot taken under the state's lock), so the plot's title, the iteration counter
and the table always describe the same iteration, however the redraws are throttled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W

from browserml.polyfit.model import MAX_DEGREE
from browserml.polyfit.state import Frame, PolyfitState, power_name
from widgets.common import (
    INK_SOFT,
    BackgroundJob,
    Throttle,
    explain_labels,
    figure_image,
    guarded,
    html_table,
    on_change,
    show_figure,
    slow_slider,
)

POWERS = ("x³", "x²", "x¹", "x⁰")


#: The coefficient table's columns as a learner reads them.
TABLE_HEADERS = {"name": "coefficient", "learned": "learned", "target": "true",
                 "least_squares": "least squares (best possible)"}


class PolyfitApp:
    """The view: controls on the left, live plot and coefficients on the right."""

    def __init__(self, state: PolyfitState | None = None, redraw_every_s: float = 0.15) -> None:
        self.state = state or PolyfitState()
        self.redraw_every_s = redraw_every_s
        self.output = W.Output()
        self.status = W.HTML()
        self.errors = W.HTML()
        self.job = BackgroundJob(self.errors)
        s = self.state
        padded = (0.0,) * (4 - len(s.true_coeffs)) + tuple(s.true_coeffs)
        self.coeff_sliders = [
            slow_slider(W.FloatSlider, value=v, min=-2, max=2, step=0.05, description=f"true {p}")
            for p, v in zip(POWERS, padded)
        ]
        self.noise = slow_slider(W.FloatSlider, value=s.noise, min=0, max=0.5, step=0.01, description="noise σ")
        self.points = slow_slider(W.IntSlider, value=s.n_points, min=5, max=500, step=5, description="points")
        self.lr = slow_slider(W.FloatLogSlider, value=s.learning_rate, base=10, min=-3, max=0.3, step=0.1,
                              description="learning rate")
        self.iterations = slow_slider(W.IntSlider, value=s.iterations, min=10, max=1000, step=10,
                                      description="iterations")
        self.degree = slow_slider(W.IntSlider, value=s.degree, min=1, max=MAX_DEGREE, description="model degree")
        self.method = W.ToggleButtons(options=[("optimizer.minimize", "minimize"), ("GradientTape", "tape")],
                                      value=s.method, description="loop")
        self.train_button = W.Button(description="Train", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.progress = W.IntProgress(value=0, min=0, max=s.iterations, description="0 it")
        self.plot = figure_image()
        self.table = W.HTML()
        self.note = W.HTML()

        def setting(name: str) -> Callable[[Any], None]:
            return lambda value: self._set(**{name: value})

        for slider in self.coeff_sliders:
            on_change(slider, lambda _v: self._set(true_coeffs=self._true_coeffs()), self.output, self.errors)
        for widget, name in ((self.noise, "noise"), (self.points, "n_points"), (self.lr, "learning_rate"),
                             (self.iterations, "iterations"), (self.degree, "degree"), (self.method, "method")):
            on_change(widget, setting(name), self.output, self.errors)
        self.train_button.on_click(guarded(lambda _b: self.start_training(), self.output, self.errors))
        self.stop_button.on_click(guarded(lambda _b: self.state.stop(), self.output, self.errors))

        # Two columns that wrap under each other on a narrow page; neither has a width
        # the container cannot give, so the page never needs a horizontal scrollbar.
        controls = W.VBox([W.HTML("<b>True polynomial</b>"), *self.coeff_sliders, self.noise, self.points,
                           W.HTML("<b>Training</b>"), self.lr, self.iterations, self.degree, self.method,
                           W.HBox([self.train_button, self.stop_button]), self.progress],
                          layout=W.Layout(flex="0 1 340px", max_width="100%", min_width="0"))
        results = W.VBox([self.plot, self.table, self.note, self.status],
                         layout=W.Layout(flex="1 1 420px", max_width="100%", min_width="0"))
        self.widget = W.VBox([W.HBox([controls, results], layout=W.Layout(flex_flow="row wrap", max_width="100%")),
                              self.errors, self.output], layout=W.Layout(max_width="100%"))
        explain_labels(self.widget)
        self.redraw()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _true_coeffs(self) -> tuple[float, ...]:
        return tuple(s.value for s in self.coeff_sliders)

    def _set(self, **changes: Any) -> None:
        self.state.set(**changes)
        self.redraw()

    def redraw(self, frame: Frame | None = None) -> Frame:
        """Re-render plot, table, counter and status from one :class:`Frame` (default: now),
        so they always agree on the iteration; returns the frame shown."""
        s = self.state
        frame = frame or s.frame()
        show_figure(self.plot, s.figure(frame))
        self.table.value = html_table(self._table_rows(frame), headers=TABLE_HEADERS)
        note = s.coefficient_note()
        self.note.value = f"<span style='color:{INK_SOFT}'>{note}</span>" if note else ""
        self.progress.max = frame.iterations
        self.progress.value = frame.iteration
        self.progress.description = f"{frame.iteration} it"
        last = f", loss {frame.losses[-1]:.5f}" if frame.losses else ""
        self.status.value = f"{s.n_points} points, degree-{s.degree} model{last}"
        return frame

    def _table_rows(self, frame: Frame) -> list[dict[str, Any]]:
        rows = self.state.coefficient_rows(frame)
        top = len(rows) - 1
        return [{**r, "name": f"{r['name']} ({power_name(top - i)})"} for i, r in enumerate(rows)]

    def start_training(self) -> bool:
        """Start training in the background (the kernel stays free for Stop). Each
        redraw, throttled, shows one snapshot: plot title and counter move together."""
        redraw = Throttle(self.redraw, self.redraw_every_s)

        def done() -> None:
            self._busy(False)
            self.redraw()

        self._busy(True)
        return self.job.start(lambda: self.state.train(lambda _step: redraw()), on_done=done)

    def _busy(self, busy: bool) -> None:
        self.train_button.disabled = busy
        self.stop_button.disabled = not busy
        for w in (*self.coeff_sliders, self.noise, self.points, self.lr, self.iterations, self.degree, self.method):
            w.disabled = busy
