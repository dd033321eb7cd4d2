"""Lesson 1's SGD loop: Python TensorFlow vs TF.js under Node, same data, same start, same steps.

Each row runs the tfjs-examples cubic (100 points, SGD lr 0.5) for the same number of
iterations from the same starting coefficients. Python times are warm (the first,
tracing-heavy call is excluded) and the median of 3; TF.js times are measured inside
Node around the training loop (``train_ms``), so Node's start-up is excluded too, and
reported beside it as the whole-process time. The final coefficients are compared to
show that every row computed the same thing.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from browserml import polyfit as pf

ITERATIONS = (75, 500)
INIT = [0.1, 0.2, 0.3, 0.4]


def _python(data: pf.PolyData, iterations: int, method: str) -> tuple[float, np.ndarray]:
    pf.fit(data, 3, 0.5, 5, init=INIT, method=method)  # warm-up
    times, coeffs = [], None
    for _ in range(3):
        start = time.perf_counter()
        coeffs = pf.fit(data, 3, 0.5, iterations, init=INIT, method=method).coeffs
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, coeffs


def _tfjs(data: pf.PolyData, iterations: int, backend: str) -> tuple[float, float, np.ndarray]:
    start = time.perf_counter()
    result = pf.fit_in_tfjs(data, INIT, 0.5, iterations, backend=backend)
    return float(result["train_ms"]), (time.perf_counter() - start) * 1000, result["coeffs"]


def run() -> list[dict]:
    data = pf.data_for(pf.CUBIC)
    rows = []
    for iterations in ITERATIONS:
        base_ms, base_coeffs = _python(data, iterations, "minimize")
        measured = [("Python TF, optimizer.minimize (eager)", base_ms, None, base_coeffs)]
        ms, coeffs = _python(data, iterations, "tape")
        measured.append(("Python TF, GradientTape (eager)", ms, None, coeffs))
        for backend in ("cpu", "wasm"):
            ms, wall, coeffs = _tfjs(data, iterations, backend)
            measured.append((f"TF.js 4.22 Node, {backend}", ms, wall, coeffs))
        for name, ms, wall, coeffs in measured:
            rows.append({
                "iterations": iterations,
                "runtime": name,
                "train ms": ms,
                "ms / iteration": ms / iterations,
                "ratio vs Python minimize": ms / base_ms,
                "process ms (incl. start-up)": "" if wall is None else f"{wall:.0f}",
                "max |Δcoeff| vs Python": float(np.max(np.abs(coeffs - base_coeffs))),
            })
    return rows
