"""Lesson 1's data, model and training: the talk's Ops API program in Python TensorFlow.

Three (or more) ``tf.Variable`` scalars, ``f(x) = a·x² + b·x + c`` written with ops, a
mean-squared-error loss and gradient descent in a loop (full batch: every step sees all
the points; TF.js calls the optimizer ``tf.train.sgd``), with two interchangeable training loops
(``optimizer.minimize`` and an explicit ``GradientTape``), the closed-form
least-squares answer to check both against, and the coefficient table that compares
them. TensorFlow loads on first use, not on import.

Coefficients are always ordered highest power first (``a, b, c`` for ``a·x²+b·x+c``),
the same order as ``numpy.polyfit``.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from browserml.errors import BadInput, finite_float

TrainMethod = str  # "minimize" | "tape"
Coefficients = Sequence[float] | np.ndarray  # highest power first: a list, or an array such as np.polyfit's
METHODS: tuple[str, ...] = ("minimize", "tape")
MAX_DEGREE = 6


class DivergedError(BadInput, FloatingPointError):
    """Gradient descent's loss became NaN or infinite: the learning rate is too large for the data.

    A :class:`~browserml.errors.BadInput` (the learner fixes it by lowering the rate, and
    the CLI says so in one line), and still a ``FloatingPointError`` for code that
    catches divergence by that name."""


@dataclass(frozen=True)
class Setting:
    """A named experiment: the true polynomial, the data it makes, and how to train."""

    name: str
    true_coeffs: tuple[float, ...]
    n_points: int
    noise: float
    learning_rate: float
    iterations: int
    normalize_y: bool = False
    x_range: tuple[float, float] = (-1.0, 1.0)

    @property
    def degree(self) -> int:
        return len(self.true_coeffs) - 1


#: The talk's Ops API example: a quadratic a·x² + b·x + c, fitted by gradient descent.
QUADRATIC = Setting("quadratic", (0.6, -0.4, 0.3), n_points=100, noise=0.05, learning_rate=0.5, iterations=200)
#: tfjs-examples/polynomial-regression-core: a cubic, 100 points, σ=0.04, tf.train.sgd lr 0.5, 75
#: iterations, and y rescaled to [0, 1] before training, exactly as that example does.
CUBIC = Setting("cubic", (-0.8, -0.2, 0.9, 0.5), n_points=100, noise=0.04, learning_rate=0.5, iterations=75,
                normalize_y=True)
SETTINGS = {s.name: s for s in (QUADRATIC, CUBIC)}


def coefficient_names(degree: int) -> list[str]:
    """``['a', 'b', 'c']`` for degree 2: the names the talk gives its variables."""
    _check_degree(degree)
    return list(string.ascii_lowercase[: degree + 1])


def _check_degree(degree: int) -> None:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not 0 <= degree <= MAX_DEGREE:
        raise BadInput(f"degree must be a whole number from 0 to {MAX_DEGREE}, got {degree!r}")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class PolyData:
    """Noisy samples of a polynomial, plus what is needed to interpret them.

    When ``y`` was rescaled to [0, 1] (the tfjs-examples recipe), ``y_min`` and
    ``y_range`` undo it, and :attr:`target_coeffs` are the coefficients of the
    polynomial that the rescaled data actually follow.
    """

    x: np.ndarray
    y: np.ndarray
    true_coeffs: tuple[float, ...]
    noise: float
    y_min: float = 0.0
    y_range: float = 1.0

    @property
    def target_coeffs(self) -> np.ndarray:
        """The coefficients a perfect fit of *this* data would find (before noise)."""
        c = np.asarray(self.true_coeffs, dtype=np.float64)
        c[-1] -= self.y_min
        return c / self.y_range


def make_data(
    true_coeffs: Sequence[float],
    n_points: int = 100,
    noise: float = 0.04,
    seed: int = 0,
    normalize_y: bool = False,
    x_range: tuple[float, float] = (-1.0, 1.0),
) -> PolyData:
    """Sample ``n_points`` x uniformly in ``x_range`` and y = polynomial + N(0, noise²).

    With ``normalize_y`` the ys are rescaled to [0, 1] by their min and max, as
    tfjs-examples' ``generateData`` does.
    """
    coeffs = tuple(float(c) for c in true_coeffs)
    if not coeffs or not all(np.isfinite(coeffs)):
        raise BadInput(f"true_coeffs must be finite numbers, got {true_coeffs!r}")
    _check_degree(len(coeffs) - 1)
    if not isinstance(n_points, (int, np.integer)) or n_points < 2:
        raise BadInput(f"n_points must be an int of at least 2, got {n_points!r}")
    if not np.isfinite(noise) or noise < 0:
        raise BadInput(f"noise must be a finite number >= 0, got {noise!r}")
    lo, hi = map(float, x_range)
    if not lo < hi:
        raise BadInput(f"x_range must be (low, high) with low < high, got {x_range!r}")
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, n_points)
    y = np.polyval(coeffs, x) + rng.normal(0.0, noise, n_points)
    y_min, y_range = 0.0, 1.0
    if normalize_y:
        y_min, y_range = float(y.min()), float(y.max() - y.min())
        if y_range == 0:
            raise BadInput("cannot rescale y to [0, 1]: all ys are equal")
        y = (y - y_min) / y_range
    return PolyData(x.astype(np.float32), y.astype(np.float32), coeffs, float(noise), y_min, y_range)


def data_for(setting: Setting, seed: int = 0) -> PolyData:
    """The data a :class:`Setting` describes."""
    return make_data(setting.true_coeffs, setting.n_points, setting.noise, seed, setting.normalize_y, setting.x_range)


def unique_fit(data: PolyData, degree: int) -> bool:
    """Whether the MSE has exactly one minimiser: the normal equations have full rank,
    which needs more distinct x values than the degree (``degree + 1`` coefficients).

    The loss is a convex quadratic in the coefficients either way, so every minimum is a
    global one; with ``degree + 1`` or fewer distinct points there are infinitely many,
    all of zero loss (polynomials through every point)."""
    _check_degree(degree)
    return len(np.unique(data.x)) > degree


def least_squares(data: PolyData, degree: int) -> np.ndarray:
    """The exact minimiser of the MSE (``numpy.polyfit``): where gradient descent is heading.

    When it is not unique (:func:`unique_fit` is false: 5 points and degree 5), the
    minimiser of smallest norm (``numpy.linalg.lstsq``), without polyfit's RankWarning:
    gradient descent then heads for the minimiser nearest its start instead."""
    _check_degree(degree)
    x, y = data.x.astype(np.float64), data.y.astype(np.float64)
    if unique_fit(data, degree):
        return np.polyfit(x, y, degree)
    return np.linalg.lstsq(np.vander(x, degree + 1), y, rcond=None)[0]


# --------------------------------------------------------------------------- model


def _tf() -> Any:
    """The ``tensorflow`` module (``Any``: TensorFlow ships no type information)."""
    import browserml  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

    # isort: split
    import tensorflow as tf

    return tf


class Polynomial:
    """``f(x) = a·xⁿ + … + z``, one ``tf.Variable`` scalar per coefficient, as in the talk.

    The talk's TF.js writes ``const a = tf.tensor(0.1).variable()``; here it is
    ``tf.Variable(value, dtype=tf.float32, name="a")`` (float32, as TF.js: a NumPy
    float64 scalar would make a float64 variable that cannot multiply float32 data), and
    :meth:`__call__` is the same chain of ``mul``/``add`` ops (Horner's rule, so any
    degree works). Without ``init`` the start is uniform in [0, 1), like ``Math.random()``.
    """

    def __init__(self, degree: int, init: Coefficients | None = None, seed: int = 0) -> None:
        tf = _tf()
        names = coefficient_names(degree)
        if init is None:
            init = np.random.default_rng(seed).uniform(0.0, 1.0, degree + 1)  # like Math.random()
        if len(init) != degree + 1:
            raise BadInput(f"degree {degree} needs {degree + 1} initial coefficients, got {len(init)}")
        self.degree = degree
        self.variables = [tf.Variable(float(v), dtype=tf.float32, name=n) for n, v in zip(names, init)]

    def __call__(self, x: Any) -> Any:
        """Evaluate at a float32 tensor ``x`` with TF ops (differentiable)."""
        tf = _tf()
        y = tf.zeros_like(x) + self.variables[0]
        for coeff in self.variables[1:]:
            y = y * x + coeff
        return y

    @property
    def coeffs(self) -> np.ndarray:
        return np.array([float(v.numpy()) for v in self.variables])


def mse(prediction: Any, target: Any) -> Any:
    """Mean squared error, written with ops like the talk's ``pred.sub(label).square().mean()``."""
    tf = _tf()
    return tf.reduce_mean(tf.square(prediction - target))


@dataclass(frozen=True)
class TrainStep:
    """One gradient-descent iteration: the loss before the update and the coefficients after it."""

    iteration: int
    loss: float
    coeffs: np.ndarray


def train_steps(
    model: Polynomial,
    data: PolyData,
    learning_rate: float,
    iterations: int,
    method: TrainMethod = "minimize",
    stop: threading.Event | None = None,
) -> Iterator[TrainStep]:
    """Run gradient descent (full batch, ``tf_keras`` SGD: TF.js's ``tf.train.sgd``),
    yielding after every iteration so a caller can plot, log or stop.

    ``method="minimize"`` is the talk's ``optimizer.minimize(() => loss(f(xs), ys))``;
    ``method="tape"`` spells out what ``minimize`` does: record the forward pass on a
    ``GradientTape``, take the gradient, apply it. From the same start both give the
    same numbers.
    """
    tf = _tf()
    import tf_keras

    if method not in METHODS:
        raise BadInput(f"method must be one of {METHODS}, got {method!r}")
    finite_float("learning_rate", learning_rate, 0.0, low_open=True)
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise BadInput(f"iterations must be a whole number, 0 or more, got {iterations!r}")
    xs, ys = tf.constant(data.x), tf.constant(data.y)
    optimizer = tf_keras.optimizers.SGD(learning_rate)
    box: list[float] = []  # the loss that minimize's closure computed, last one last

    def loss_fn() -> Any:
        value = mse(model(xs), ys)
        box.append(float(value))
        return value

    for i in range(1, iterations + 1):
        if stop is not None and stop.is_set():
            return
        if method == "minimize":
            optimizer.minimize(loss_fn, var_list=model.variables)
            loss = box[-1]
        else:
            with tf.GradientTape() as tape:
                value = mse(model(xs), ys)
            grads = tape.gradient(value, model.variables)
            optimizer.apply_gradients(zip(grads, model.variables))
            loss = float(value)
        if not np.isfinite(loss):  # the loss *before* this update: stop at the first bad one
            raise DivergedError(
                f"loss became {loss} at iteration {i}: the learning rate {learning_rate} is too large "
                "for this data (gradient descent diverges); try a smaller one"
            )
        yield TrainStep(i, loss, model.coeffs)


@dataclass
class FitResult:
    """The outcome of :func:`fit`: final coefficients and the loss at every iteration."""

    coeffs: np.ndarray
    losses: list[float] = field(default_factory=list)
    initial_coeffs: np.ndarray | None = None


def fit(
    data: PolyData,
    degree: int,
    learning_rate: float,
    iterations: int,
    method: TrainMethod = "minimize",
    init: Coefficients | None = None,
    seed: int = 0,
    on_step: Callable[[TrainStep], None] | None = None,
) -> FitResult:
    """Fit a degree-``degree`` polynomial to ``data`` by gradient descent and return the result.

    The reusable form of the two loops the notebook writes out (``optimizer.minimize``,
    and the ``GradientTape`` inside it): from the same start they give the same numbers."""
    model = Polynomial(degree, init, seed)
    result = FitResult(model.coeffs, [], model.coeffs)
    for step in train_steps(model, data, learning_rate, iterations, method):
        result.losses.append(step.loss)
        result.coeffs = step.coeffs
        if on_step is not None:
            on_step(step)
    return result


def gradient(coeffs: Coefficients, data: PolyData) -> np.ndarray:
    """The MSE gradient in closed form, ``(2/N)·Σ (f(x)−y)·xᵏ``: a check on autodiff."""
    x, y = data.x.astype(np.float64), data.y.astype(np.float64)
    residual = np.polyval(coeffs, x) - y
    powers = np.vander(x, len(coeffs))
    return 2.0 * residual @ powers / len(x)


# --------------------------------------------------------------------------- evaluation


def coefficient_table(learned: Coefficients, data: PolyData) -> list[dict[str, float | str]]:
    """Rows of name, learned, target and least-squares value for each coefficient.

    The target is the true polynomial's coefficient of the same power: zero for powers
    the truth lacks, and always a number. When the truth has powers the model lacks
    (a cubic fitted by a quadratic), those coefficients are still the truth's, but gradient descent
    converges to the least-squares column instead; the caller says so in words.
    """
    degree = len(learned) - 1
    truth = np.asarray(data.target_coeffs, dtype=np.float64)
    padded = np.concatenate([np.zeros(max(0, degree + 1 - len(truth))), truth])
    target = padded[len(padded) - (degree + 1):]
    exact = least_squares(data, degree)
    return [
        {"name": n, "learned": float(lv), "target": float(t), "least_squares": float(e)}
        for n, lv, t, e in zip(coefficient_names(degree), learned, target, exact)
    ]
