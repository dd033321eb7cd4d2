"""Lesson 5 in the learner's page: the decision-boundary grid computed by the export in TF.js."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from browserml.inbrowser import BrowserRequest, BrowserRunLike
from browserml.playground.model import GRID_RESOLUTION, PlaygroundError, feature_columns, grid_points

if TYPE_CHECKING:
    from browserml.playground.state import PlaygroundState

def browser_request(state: PlaygroundState, export_dir: str | Path,
                    resolution: int = GRID_RESOLUTION) -> BrowserRequest:
    """The decision-boundary grid in the learner's page: the feature columns of every
    grid point (the export's input contract, in its feature order) and the state's own
    network on them as the reference, so the page's grid is compared with
    :meth:`PlaygroundState.grid`. Refuses an export of another network or epoch."""
    from browserml.export import read_manifest

    manifest = read_manifest(export_dir)
    info = manifest.extra.get("playground") or {}
    features = list((manifest.preprocessing or {}).get("features") or [])
    if features != list(state.config.features):
        raise PlaygroundError(f"{export_dir} takes features {features}, "
                              f"the state's network {list(state.config.features)}; export this state again")
    if info.get("epoch") != state.epoch:
        raise PlaygroundError(f"{export_dir} holds the network at epoch {info.get('epoch')}, the state is at epoch "
                         f"{state.epoch}; export this state again")
    (inp,), (out,) = manifest.inputs, manifest.outputs
    columns = feature_columns(grid_points(resolution), state.config.features)
    return {"inputs": {inp.name: columns},
            "reference": lambda d: {out.name: state.network.predict(d[inp.name]).reshape(-1, 1)}}


def browser_grid(run: BrowserRunLike, backend: str | None = None) -> np.ndarray:
    """The page's grid as the picture :meth:`PlaygroundState.grid` draws: shape
    (resolution, resolution), top row x2 = +6 (not discretized)."""
    from browserml.inbrowser import backend_outputs

    _, outputs = backend_outputs(run, backend)
    (values,) = outputs.values()
    side = round(np.sqrt(values.size))  # a Python int (NumPy's round of a scalar is one)
    if side * side != values.size:
        raise PlaygroundError(f"the page sent {values.size} values, not a square grid")
    return np.asarray(values, dtype=np.float64).reshape(side, side)
