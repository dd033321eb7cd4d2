"""Lesson 5's export: the trained network as a TF.js layers model, with its decision-boundary page."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from browserml.pages import page_files
from browserml.playground.model import DOMAIN, GRID_RESOLUTION, feature_columns, grid_points

if TYPE_CHECKING:
    from browserml.playground.state import PlaygroundState



def export_playground(state: PlaygroundState, out_dir: str | Path, resolution: int = GRID_RESOLUTION) -> Path:
    """The trained network as a TF.js layers model, with its decision-boundary page.

    ``browserml.json`` carries the feature list (the page computes the same columns),
    the grid's resolution and domain, Python's grid prediction to compare against, and
    the test points to draw; the parity sample is a slice of the grid itself.
    """
    from browserml.export import export_layers_model

    config = state.config
    points = grid_points(resolution)
    columns = feature_columns(points, config.features)
    values = state.network.predict(columns).reshape(resolution, resolution)
    sample = columns[:: max(1, len(columns) // 64)]
    extra = {
        "playground": {
            "config": {**asdict(config), "features": list(config.features), "hidden": list(config.hidden)},
            "features": list(config.features),
            "domain": DOMAIN,
            "resolution": int(resolution),
            "grid_order": "row-major; rows from x2=+domain (top) to -domain, columns from x1=-domain to +domain",
            "python_grid": np.round(values.astype(np.float64), 7).ravel().tolist(),
            "epoch": int(state.epoch),
            "test_loss": state.loss("test"),
            "train_loss": state.loss("train"),
            "test_points": np.round(state.data.test_xy, 4).tolist(),
            "test_targets": state.data.test_y.tolist(),
        }
    }
    return export_layers_model(
        state.network.model, out_dir, task=f"playground-{config.task}",
        parity_inputs=sample, title=f"TensorFlow Playground: {config.dataset}",
        description=(f"{len(config.features)} features -> hidden {list(config.hidden)} ({config.activation}) -> 1, "
                     f"trained {state.epoch} epochs; test loss {state.loss('test'):.4f}"),
        preprocessing={"kind": "playground_features", "features": list(config.features)},
        extra=extra,
        extra_files=page_files("playground"),
    )
