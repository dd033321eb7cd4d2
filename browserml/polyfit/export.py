"""Lesson 1's export: the fitted polynomial as a TF.js graph model with a page that plots it.

``browserml.json`` records the coefficients and the grid the page plots on, so a test
(and :func:`grid_predictions`) can compare the page's predictions with ``numpy.polyval``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.pages import page_files
from browserml.polyfit.model import Coefficients, PolyData, _check_degree, _tf, coefficient_names


def serving_module(coeffs: Coefficients) -> Any:
    """A ``tf.Module`` whose ``serve`` signature is ``{x: [n]} -> {y: [n]}``."""
    tf = _tf()
    coeffs = [float(c) for c in coeffs]
    _check_degree(len(coeffs) - 1)
    module_base: Any = tf.Module  # a variable, so the checker takes the (untyped) base class as Any

    class PolynomialModule(module_base):
        def __init__(self) -> None:
            super().__init__(name="polynomial")
            self.coeffs = tf.Variable(coeffs, dtype=tf.float32, name="coeffs")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: Any) -> dict[str, Any]:
            y = tf.zeros_like(x) + self.coeffs[0]
            for k in range(1, len(coeffs)):
                y = y * x + self.coeffs[k]
            return {"y": y}

    return PolynomialModule()


def export_polynomial(
    coeffs: Coefficients,
    out_dir: str | Path,
    data: PolyData | None = None,
    x_range: tuple[float, float] = (-1.0, 1.0),
    grid_points: int = 101,
) -> Path:
    """Export the fitted polynomial as a TF.js graph model with its ``index.html`` page.

    ``browserml.json`` records the coefficients and the grid the page plots on, so a
    test can compare the page's predictions with ``numpy.polyval`` on that grid.
    """
    from browserml.export import export_graph_model

    coeffs = [float(c) for c in coeffs]
    if not all(np.isfinite(coeffs)):
        raise BadInput(f"coefficients must be finite, got {coeffs}")
    module = serving_module(coeffs)
    names = coefficient_names(len(coeffs) - 1)
    terms = " + ".join(f"{n}·x^{len(coeffs) - 1 - i}" for i, n in enumerate(names))
    extra: dict[str, Any] = {
        "coefficients": dict(zip(names, coeffs)),
        "coefficient_order": "highest power first",
        "grid": {"start": float(x_range[0]), "stop": float(x_range[1]), "num": int(grid_points)},
    }
    if data is not None:
        extra["data"] = {"x": data.x.astype(float).round(6).tolist(), "y": data.y.astype(float).round(6).tolist()}
    return export_graph_model(
        module.serve,
        out_dir,
        module=module,
        task="polynomial-regression",
        parity_inputs={"x": np.linspace(x_range[0], x_range[1], 11, dtype=np.float32)},
        title="Polynomial fitted with TensorFlow's Ops API",
        description=f"f(x) = {terms}, fitted by SGD in browserml lesson 1 and exported as a TF.js graph model.",
        extra=extra,
        extra_files=page_files("polynomial"),
    )


def grid_predictions(export_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The grid an export's page plots on, and ``numpy.polyval`` of its coefficients there."""
    from browserml.export import read_manifest

    extra = read_manifest(export_dir).extra
    grid = extra["grid"]
    xs = np.linspace(grid["start"], grid["stop"], grid["num"], dtype=np.float32)
    coeffs = list(extra["coefficients"].values())
    return xs, np.polyval(coeffs, xs.astype(np.float64))
