"""Lesson 2's export: the autoencoder as a TF.js layers model any client can score raw beats with.

``browserml.json`` carries the min-max preprocessing, ``"score": "mse"`` and the
threshold; :func:`export_scaler` reads that preprocessing back, as every client must.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from browserml.anomaly.data import AnomalyInputError, MinMaxScaler, _check_beats
from browserml.anomaly.model import Trainer
from browserml.data import ecg5000 as ecg
from browserml.errors import BadInput, finite_float
from browserml.pages import page_files


def page_beats(beats: ecg.Beats, per_class: int = 8, seed: int = 0) -> dict[str, Any]:
    """A few raw beats of each class for the export's page (``beats.json``)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in sorted(np.unique(beats.y)):
        idx = np.flatnonzero(beats.y == c)
        chosen += sorted(rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist())
    return {"class_names": {str(k): v for k, v in ecg.CLASS_NAMES.items()},
            "beats": [{"id": int(i), "label": int(beats.y[i]), "values": beats.x[i].astype(float).round(6).tolist()}
                      for i in chosen]}


def export_anomaly(trainer: Trainer, threshold: float, out_dir: str | Path, rule: str = "best_f1") -> Path:
    """Export the autoencoder as a TF.js layers model any client can score raw beats with.

    ``browserml.json`` carries the min-max preprocessing (fitted on training beats),
    ``"score": "mse"`` and the threshold; the folder also holds ``index.html`` (score a
    beat, and fine-tune the model in the browser with ``model.fit``) and ``beats.json``.
    """
    from browserml.export import export_layers_model

    if not trainer.epochs_done:
        raise RuntimeError("train the autoencoder before exporting it")
    if not np.isfinite(threshold):
        raise AnomalyInputError(f"threshold must be finite, got {threshold}")
    test = trainer.data.split.test
    sample = page_beats(test)
    parity_rows = trainer.data.scaler.transform(np.array([b["values"] for b in sample["beats"][::8]]))
    return export_layers_model(
        trainer.model, out_dir, task="ecg-anomaly",
        parity_inputs={"beat": parity_rows},
        title="Anomagram ECG autoencoder",
        description=("A dense autoencoder trained on normal ECG5000 beats. Scale a raw 140-step beat with "
                     "`preprocessing`, reconstruct it, and call it abnormal when the mean squared error "
                     "is above `threshold`."),
        preprocessing=trainer.data.scaler.to_json(),
        labels=[ecg.CLASS_NAMES[c] for c in sorted(ecg.CLASS_NAMES)],
        score="mse", threshold=threshold,
        extra={"config": {**asdict(trainer.config), "hidden": list(trainer.config.hidden)},
               "architecture": trainer.config.architecture, "threshold_rule": rule,
               "epochs_trained": trainer.epochs_done},
        extra_files={**page_files("anomaly"),
                     "beats.json": json.dumps(sample)},
    )


def export_scaler(export_dir: str | Path) -> MinMaxScaler:
    """The min-max scaling an export declares in ``browserml.json``: what every client
    must apply to a raw beat before the model sees it."""
    from browserml.export import read_manifest

    pre = read_manifest(export_dir).preprocessing or {}
    if pre.get("kind") != "minmax":
        raise AnomalyInputError(f"{export_dir} declares no min-max preprocessing (got {pre.get('kind')!r}); "
                                "is it a lesson-2 autoencoder export?")
    try:  # exports from before max_abs was declared keep today's limit
        low, high = (_check_beats(pre[side]) for side in ("min", "max"))
        max_abs = finite_float("preprocessing.max_abs", pre.get("max_abs", ecg.MAX_ABS_VALUE), 0.0, low_open=True)
    except (KeyError, BadInput) as err:
        raise AnomalyInputError(f"{export_dir}: browserml.json's min-max preprocessing is unusable ({err})") from None
    return MinMaxScaler(low[0], high[0], max_abs)
