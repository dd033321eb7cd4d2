"""Lesson 1's app state: everything the polyfit app shows, with no widgets.

``PolyfitState`` holds the settings, the sampled data and the fit, and does the work
(tests drive it directly); ``widgets.polyfit.PolyfitApp`` is only its view.

While training streams, the view draws from one :class:`Frame` (a snapshot taken
under the state's lock), so the plot's title, the iteration counter and the table
always describe the same iteration, however the redraws are throttled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from browserml.polyfit import model as pf
from browserml.polyfit import plots
from browserml.polyfit.export import export_polynomial

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
        """Run ``iterations`` gradient-descent steps from a fresh start; returns the losses.

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
        """:func:`browserml.polyfit.model.coefficient_table` of ``frame`` (default: now); ``[]`` before training."""
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
        """Why learned and true coefficients differ: the model cannot represent the truth, or
        the data have too few distinct points to pin the fit down ("" otherwise)."""
        notes = []
        missing = self.unmodelled_terms()
        if missing:
            terms = ", ".join(f"{power_name(p)} ({c:+.2f})" for p, c in missing)
            notes.append(f"The true polynomial also has {terms}, which a degree-{int(self.degree)} model cannot "
                         "represent: the learned coefficients approach the least-squares column, not the true one.")
        if not pf.unique_fit(self.data, int(self.degree)):
            distinct = len(np.unique(self.data.x))
            notes.append(f"{distinct} distinct points cannot pin down {int(self.degree) + 1} coefficients: "
                         "infinitely many polynomials pass through every point with zero loss. The least-squares "
                         "column shows the smallest of them; gradient descent heads for the one nearest its start.")
        return " ".join(notes)

    def figure(self, frame: Frame | None = None) -> Figure:
        """Data, fit and loss of ``frame`` (default: now), titled with its iteration."""
        frame = frame or self.frame()
        return plots.plot_fit(self.data, frame.coeffs, list(frame.losses), title=frame.title)

    def export(self, out_dir: str | Path) -> Path:
        """Export the current fit to TF.js (see :func:`browserml.polyfit.export.export_polynomial`)."""
        if self.coeffs is None:
            raise RuntimeError("train the model before exporting it")
        return export_polynomial(self.coeffs, out_dir, data=self.data)
