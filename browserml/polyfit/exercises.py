"""Lesson 1's exercise checks: each says in words whether the learner's answer is right."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from browserml.polyfit.model import DivergedError, PolyData, _tf, fit, least_squares


def check_fast_learning_rate(learning_rate: float, data: PolyData, iterations: int = 30) -> bool:
    """Exercise: a learning rate that gets a quadratic within 1% of the least-squares loss
    in ``iterations`` SGD steps (from the default start), without diverging."""
    from browserml.exercises import check

    best = float(np.mean((np.polyval(least_squares(data, 2), data.x) - data.y) ** 2))
    try:
        losses = fit(data, 2, float(learning_rate), iterations, method="tape").losses
    except DivergedError:
        losses = [0.0, float("inf")]
    final = losses[-1]
    if final > losses[0]:
        return check(False, "", f"with learning rate {learning_rate} the loss grows (diverges); try a smaller one")
    return check(final <= 1.01 * best, f"loss {final:.6f} is within 1% of the best possible {best:.6f}",
                 f"after {iterations} steps the loss is {final:.6f}, the best is {best:.6f}; try a larger rate")


def check_loss_floor(answer: float, data: PolyData, degree: int) -> bool:
    """Exercise: the smallest MSE any degree-``degree`` polynomial can reach on ``data``."""
    from browserml.exercises import check

    best = float(np.mean((np.polyval(least_squares(data, degree), data.x) - data.y) ** 2))
    return check(abs(float(answer) - best) <= 1e-4 * max(1.0, best) + 1e-6,
                 f"the floor for degree {degree} is {best:.6f}",
                 f"{answer} is not the least-squares loss; which numpy function gives the exact fit?")


def check_ops_function(fn: Callable, coeffs: Sequence[float] = (-0.8, -0.2, 0.9, 0.5)) -> bool:
    """Exercise: ``fn(x, a, b, c, d)`` computes a·x³+b·x²+c·x+d with TF ops."""
    from browserml.exercises import check

    tf = _tf()
    x = np.linspace(-1.5, 1.5, 13).astype(np.float32)
    got = np.asarray(fn(tf.constant(x), *[tf.constant(c) for c in coeffs]))
    return check(got.shape == x.shape and np.allclose(got, np.polyval(coeffs, x), atol=1e-5),
                 "your ops compute the cubic", "compare your function with numpy.polyval on a few points")
