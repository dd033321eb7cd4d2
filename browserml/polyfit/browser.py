"""Lesson 1 in TF.js: the export run in the learner's page, and the talk's training loop in Node.

:func:`browser_request` is what ``run_in_browser`` needs to run an export in the
notebook's own page; :func:`fit_in_tfjs` runs the talk's JS training loop
(``js/polyfit_train.cjs``) in TF.js under Node, the check that the Python lesson
teaches what TF.js does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from browserml.errors import BadInput
from browserml.inbrowser import BrowserRequest
from browserml.polyfit.model import PolyData


def browser_request(export_dir: str | Path, n: int | None = None) -> BrowserRequest:
    """What ``run_in_browser`` needs to run this export in the learner's page: ``x`` on
    the grid its page plots (``n`` points across the same range; default the page's
    own count), and ``numpy.polyval`` of the exported coefficients as Python's answer,
    in float64 on the very float32 ``x`` the page gets."""
    from browserml.export import read_manifest

    extra = read_manifest(export_dir).extra
    if "coefficients" not in extra or "grid" not in extra:
        raise BadInput(f"{export_dir} is not a lesson-1 polynomial export "
                         "(browserml.json has no coefficients or grid)")
    grid = extra["grid"]
    num = int(grid["num"] if n is None else n)
    if num < 1:
        raise BadInput(f"n must be at least 1, got {num}")
    coeffs = [float(c) for c in extra["coefficients"].values()]
    xs = np.linspace(grid["start"], grid["stop"], num, dtype=np.float32)
    return {"inputs": {"x": xs},
            "reference": lambda d: {"y": np.polyval(coeffs, np.asarray(d["x"], dtype=np.float64))}}


def fit_in_tfjs(
    data: PolyData,
    init: Sequence[float],
    learning_rate: float,
    iterations: int,
    backend: str = "cpu",
) -> dict:
    """Run the talk's JS training loop (``js/polyfit_train.cjs``) in TF.js under Node.

    From the same data and starting coefficients it must reach the same coefficients
    as :func:`fit`: that is the check that the Python lesson teaches what TF.js does.
    Returns ``{"coeffs", "losses", "train_ms", "backend", "tfjs_version"}``.
    """
    from browserml.tfjs_check import run_node_script

    config = {"x": data.x.astype(float).tolist(), "y": data.y.astype(float).tolist(),
              "init": [float(v) for v in init], "learning_rate": float(learning_rate), "iterations": int(iterations)}
    result = run_node_script("polyfit_train.cjs", ["--backend", backend], payload=config)
    result["coeffs"] = np.asarray(result["coeffs"])
    return result
