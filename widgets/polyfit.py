"""Lesson 1's app: set a true polynomial, sample noisy data, watch SGD fit it live.

``PolyfitState`` holds everything and does the work (tests drive it directly);
``PolyfitApp`` is the view: sliders for the true coefficients, noise, points,
learning rate, iterations and model degree; Train and Stop; a live plot of data, fit
and loss; and a table of learned vs true vs least-squares coefficients.

While training streams, the view draws from one :class:`Frame` (a snapshot taken
under the state's lock), so the plot's title, the iteration counter and the table
always describe the same iteration, however the redraws are throttled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np

from browserml import polyfit as pf
from widgets.common import (
    INK_SOFT,
    BackgroundJob,
    Throttle,
    explain_labels,
    figure_image,
    html_table,
    on_change,
    show_figure,
    slow_slider,
    wrap,
)

POWERS = ("x³", "x²", "x¹", "x⁰")
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
DATA_FIELDS = {"true_coeffs", "noise", "n_points", "seed", "normalize_y"}
TRAIN_FIELDS = {"learning_rate", "iterations", "degree", "method"}


def power_name(power: int) -> str:
    """``3`` → ``"x³"``: how the sliders and the table name a power of x."""
    return "x" + str(int(power)).translate(_SUPERSCRIPTS)


@dataclass(frozen=True)
class Frame:
    """One consistent moment of training: what the plot, its title, the counter and
    the table show together. ``coeffs`` are those after ``iteration`` steps (``None``
    before training)."""

    iterations: int
    losses: tuple[float, ...] = ()
    coeffs: np.ndarray | None = None

    @property
    def iteration(self) -> int:
        return len(self.losses)

    @property
    def title(self) -> str:
        return f"after {self.iteration} of {self.iterations} iterations" if self.losses else "data"


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
        self._step_coeffs: np.ndarray | None = None  # the coefficients that go with ``losses[-1]``
        self._lock = threading.Lock()  # losses and their coefficients change together
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
        with self._lock:
            self.model = None
            self.losses = []
            self._step_coeffs = None

    # ---- training
    @property
    def coeffs(self) -> np.ndarray | None:
        """The learned coefficients after the latest step, or ``None`` before training."""
        return self.frame().coeffs

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
                with self._lock:
                    self.losses.append(step.loss)
                    self._step_coeffs = step.coeffs
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
    def frame(self) -> Frame:
        """A snapshot of the fit so far, safe to take while :meth:`train` runs in another thread."""
        with self._lock:
            coeffs = None if self._step_coeffs is None else self._step_coeffs.copy()
            return Frame(int(self.iterations), tuple(self.losses), coeffs)

    def coefficient_rows(self, frame: Frame | None = None) -> list[dict[str, Any]]:
        """:func:`browserml.polyfit.coefficient_table` of ``frame`` (default: now); ``[]`` before training."""
        frame = frame or self.frame()
        if frame.coeffs is None:
            return []
        return pf.coefficient_table(frame.coeffs, self.data)

    def unmodelled_terms(self) -> list[tuple[int, float]]:
        """``(power, true coefficient)`` of the true polynomial's terms above the model's degree."""
        truth = np.asarray(self.data.target_coeffs, dtype=np.float64)
        top = len(truth) - 1
        return [(top - i, float(c)) for i, c in enumerate(truth) if top - i > int(self.degree) and c != 0]

    def coefficient_note(self) -> str:
        """Why learned and true coefficients differ when the model cannot represent the truth ("" otherwise)."""
        missing = self.unmodelled_terms()
        if not missing:
            return ""
        terms = ", ".join(f"{power_name(p)} ({c:+.2f})" for p, c in missing)
        return (f"The true polynomial also has {terms}, which a degree-{int(self.degree)} model cannot represent: "
                "the learned coefficients approach the least-squares column, not the true one.")

    def figure(self, frame: Frame | None = None):
        """Data, fit and loss of ``frame`` (default: now), titled with its iteration."""
        frame = frame or self.frame()
        return pf.plot_fit(self.data, frame.coeffs, list(frame.losses), title=frame.title)

    def export(self, out_dir: str | Path) -> Path:
        """Export the current fit to TF.js (see :func:`browserml.polyfit.export_polynomial`)."""
        if self.coeffs is None:
            raise RuntimeError("train the model before exporting it")
        return pf.export_polynomial(self.coeffs, out_dir, data=self.data)


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
        self.degree = slow_slider(W.IntSlider, value=s.degree, min=1, max=pf.MAX_DEGREE, description="model degree")
        self.method = W.ToggleButtons(options=[("optimizer.minimize", "minimize"), ("GradientTape", "tape")],
                                      value=s.method, description="loop")
        self.train_button = W.Button(description="Train", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.progress = W.IntProgress(value=0, min=0, max=s.iterations, description="0 it")
        self.plot = figure_image()
        self.table = W.HTML()
        self.note = W.HTML()

        for slider in self.coeff_sliders:
            on_change(slider, lambda _v: self._set(true_coeffs=self._true_coeffs()), self.output, self.errors)
        for widget, name in ((self.noise, "noise"), (self.points, "n_points"), (self.lr, "learning_rate"),
                             (self.iterations, "iterations"), (self.degree, "degree"), (self.method, "method")):
            on_change(widget, lambda v, name=name: self._set(**{name: v}), self.output, self.errors)
        self.train_button.on_click(wrap(lambda _b: self.start_training(), self.output, self.errors))
        self.stop_button.on_click(wrap(lambda _b: self.state.stop(), self.output, self.errors))

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
