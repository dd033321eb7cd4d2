"""Lesson 1's app: set a true polynomial, sample noisy data, watch SGD fit it live.

``PolyfitState`` holds everything and does the work (tests drive it directly);
``PolyfitApp`` is the view: sliders for the true coefficients, noise, points,
learning rate, iterations and model degree; Train and Stop; a live plot of data, fit
and loss; and a table of learned vs true vs least-squares coefficients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from browserml import polyfit as pf
from widgets.common import BackgroundJob, Throttle, figure_to_png, html_table, on_change, slow_slider, wrap

POWERS = ("x³", "x²", "x¹", "x⁰")
DATA_FIELDS = {"true_coeffs", "noise", "n_points", "seed", "normalize_y"}
TRAIN_FIELDS = {"learning_rate", "iterations", "degree", "method"}


class PolyfitState:
    """Everything the app shows, with no widgets: set values, call :meth:`train`.

    Changing a data field (true coefficients, noise, points, seed) resamples the data;
    changing any field clears the fit, so what is shown always belongs to the
    current settings.
    """

    def __init__(self, setting: pf.Setting = pf.QUADRATIC, seed: int = 0) -> None:
        self.true_coeffs: tuple[float, ...] = setting.true_coeffs
        self.noise = setting.noise
        self.n_points = setting.n_points
        self.normalize_y = setting.normalize_y
        self.learning_rate = setting.learning_rate
        self.iterations = setting.iterations
        self.degree = setting.degree
        self.method = "minimize"
        self.seed = seed
        self.data = self._sample()
        self.model: pf.Polynomial | None = None
        self.losses: list[float] = []
        self._stop = threading.Event()
        self.running = False

    # ---- settings
    def set(self, **changes: Any) -> None:
        """Change settings by name; unknown names and bad values raise ``ValueError``."""
        unknown = set(changes) - DATA_FIELDS - TRAIN_FIELDS
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(DATA_FIELDS | TRAIN_FIELDS)}")
        if self.running:
            raise RuntimeError("stop training before changing settings")
        old = {k: getattr(self, k) for k in changes}
        for key, value in changes.items():
            setattr(self, key, tuple(value) if key == "true_coeffs" else value)
        try:
            pf.coefficient_names(int(self.degree))
            if self.method not in pf.METHODS:
                raise ValueError(f"method must be one of {pf.METHODS}, got {self.method!r}")
            if not np.isfinite(self.learning_rate) or self.learning_rate <= 0:
                raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
            if int(self.iterations) < 1:
                raise ValueError(f"iterations must be at least 1, got {self.iterations!r}")
            if DATA_FIELDS & set(changes):
                self.data = self._sample()
        except Exception:
            for key, value in old.items():
                setattr(self, key, value)
            raise
        self.reset()

    def load_setting(self, setting: pf.Setting) -> None:
        """Switch to a named experiment (e.g. ``pf.CUBIC``, the tfjs-examples cubic)."""
        self.set(true_coeffs=setting.true_coeffs, noise=setting.noise, n_points=setting.n_points,
                 normalize_y=setting.normalize_y, learning_rate=setting.learning_rate,
                 iterations=setting.iterations, degree=setting.degree)

    def _sample(self) -> pf.PolyData:
        return pf.make_data(self.true_coeffs, int(self.n_points), float(self.noise), int(self.seed), self.normalize_y)

    def reset(self) -> None:
        """Forget the fit (keeps the data)."""
        self.model = None
        self.losses = []

    # ---- training
    @property
    def coeffs(self) -> np.ndarray | None:
        """The current learned coefficients, or ``None`` before training."""
        return None if self.model is None else self.model.coeffs

    def train(self, on_step: Callable[[pf.TrainStep], None] | None = None) -> list[float]:
        """Run ``iterations`` SGD steps from a fresh start; returns the losses.

        Blocks until done or until :meth:`stop` is called (from another thread).
        """
        self.running = True
        try:
            self.reset()
            self.model = pf.Polynomial(int(self.degree), seed=int(self.seed))
            for step in pf.train_steps(self.model, self.data, float(self.learning_rate), int(self.iterations),
                                       self.method, stop=self._stop):
                self.losses.append(step.loss)
                if on_step is not None:
                    on_step(step)
        finally:
            self.running = False
            self._stop.clear()
        return self.losses

    def stop(self) -> None:
        """Ask a running :meth:`train` to finish after its current step (no-op when idle)."""
        if self.running:
            self._stop.set()

    # ---- what the view shows
    def coefficient_rows(self) -> list[dict[str, Any]]:
        if self.coeffs is None:
            return []
        return pf.coefficient_table(self.coeffs, self.data)

    def figure(self):
        title = f"after {len(self.losses)} of {self.iterations} iterations" if self.losses else "data"
        return pf.plot_fit(self.data, self.coeffs, self.losses, title=title)

    def export(self, out_dir: str | Path) -> Path:
        """Export the current fit to TF.js (see :func:`browserml.polyfit.export_polynomial`)."""
        if self.coeffs is None:
            raise RuntimeError("train the model before exporting it")
        return pf.export_polynomial(self.coeffs, out_dir, data=self.data)


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
        self.degree = slow_slider(W.IntSlider, value=s.degree, min=1, max=pf.MAX_DEGREE, description="model degree")
        self.method = W.ToggleButtons(options=[("optimizer.minimize", "minimize"), ("GradientTape", "tape")],
                                      value=s.method, description="loop")
        self.train_button = W.Button(description="Train", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.progress = W.IntProgress(value=0, min=0, max=s.iterations, description="0 it")
        self.plot = W.Image(format="png", layout=W.Layout(width="100%"))
        self.table = W.HTML()

        for slider in self.coeff_sliders:
            on_change(slider, lambda _v: self._set(true_coeffs=self._true_coeffs()), self.output, self.errors)
        for widget, name in ((self.noise, "noise"), (self.points, "n_points"), (self.lr, "learning_rate"),
                             (self.iterations, "iterations"), (self.degree, "degree"), (self.method, "method")):
            on_change(widget, lambda v, name=name: self._set(**{name: v}), self.output, self.errors)
        self.train_button.on_click(wrap(lambda _b: self.start_training(), self.output, self.errors))
        self.stop_button.on_click(wrap(lambda _b: self.state.stop(), self.output, self.errors))

        controls = W.VBox([W.HTML("<b>True polynomial</b>"), *self.coeff_sliders, self.noise, self.points,
                           W.HTML("<b>Training</b>"), self.lr, self.iterations, self.degree, self.method,
                           W.HBox([self.train_button, self.stop_button]), self.progress],
                          layout=W.Layout(width="340px"))
        self.widget = W.VBox([W.HBox([controls, W.VBox([self.plot, self.table, self.status],
                                                        layout=W.Layout(flex="1"))]),
                              self.errors, self.output])
        self.redraw()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _true_coeffs(self) -> tuple[float, ...]:
        return tuple(s.value for s in self.coeff_sliders)

    def _set(self, **changes: Any) -> None:
        self.state.set(**changes)
        self.progress.max = int(self.state.iterations)
        self.redraw()

    def redraw(self) -> None:
        """Re-render plot, table and status from the state."""
        s = self.state
        self.plot.value = figure_to_png(s.figure())
        self.table.value = html_table(s.coefficient_rows())
        self.progress.value = len(s.losses)
        self.progress.description = f"{len(s.losses)} it"
        last = f", loss {s.losses[-1]:.5f}" if s.losses else ""
        self.status.value = f"{s.n_points} points, degree-{s.degree} model{last}"

    def start_training(self) -> bool:
        """Start training in the background (the kernel stays free for Stop)."""
        redraw = Throttle(self.redraw, self.redraw_every_s)

        def on_step(step: pf.TrainStep) -> None:
            self.progress.value = step.iteration
            self.progress.description = f"{step.iteration} it"
            redraw()

        def done() -> None:
            self._busy(False)
            self.redraw()

        self._busy(True)
        return self.job.start(lambda: self.state.train(on_step), on_done=done)

    def _busy(self, busy: bool) -> None:
        self.train_button.disabled = busy
        self.stop_button.disabled = not busy
        for w in (*self.coeff_sliders, self.noise, self.points, self.lr, self.iterations, self.degree, self.method):
            w.disabled = busy
