"""Lesson 2's autoencoder (the default, the talk's 140-15-7-2-7-15-140): training and inference, Python vs TF.js.

The seed showed these two charts for browsers. Same model (TF.js starts from the exported
weights, Python from a clone of them), same 2,600 scaled beats, 20 epochs at batch 512
with Adam, then inference on 500 beats. Python's training is timed warm (after one
epoch of warm-up on a separate clone) and cold; inference is the median of 5 runs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from browserml import anomaly as an
from browserml.data import ecg5000 as ecg

EPOCHS, BATCH, ROWS, INFER = 20, 512, 2600, 500


def _clone(model):
    import tf_keras

    clone = tf_keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="mse")
    return clone


def run() -> list[dict]:
    trainer = an.Trainer(an.ANOMAGRAM_DEFAULT.with_changes(epochs=5))
    trainer.train()
    beats = ecg.load_ucr("test").x[:ROWS]
    x = trainer.data.scaler.transform(beats)

    cold = _clone(trainer.model)
    start = time.perf_counter()
    cold.fit(x, x, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    cold_ms = (time.perf_counter() - start) * 1000
    warm = _clone(trainer.model)
    warm.fit(x, x, epochs=1, batch_size=BATCH, verbose=0)
    start = time.perf_counter()
    warm.fit(x, x, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    warm_ms = (time.perf_counter() - start) * 1000
    infer = []
    for _ in range(6):
        start = time.perf_counter()
        warm.predict(x[:INFER], verbose=0, batch_size=INFER)
        infer.append((time.perf_counter() - start) * 1000)
    call = []
    for _ in range(6):
        start = time.perf_counter()
        np.asarray(warm(x[:INFER], training=False))
        call.append((time.perf_counter() - start) * 1000)

    rows = [
        {"runtime": "Python tf_keras, first fit (cold)", "train 20 epochs ms": cold_ms, "infer 500 ms": ""},
        {"runtime": "Python tf_keras, warm", "train 20 epochs ms": warm_ms,
         "infer 500 ms": f"{statistics.median(infer[1:]):.2f} (predict) / {statistics.median(call[1:]):.2f} (call)"},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        export = an.export_anomaly(trainer, 0.05, Path(tmp) / "anomaly")
        for backend in ("wasm", "cpu"):
            js = an.fit_in_tfjs(export, beats, EPOCHS, BATCH, 0.01, backend, INFER)
            rows.append({"runtime": f"TF.js 4.22 Node, {backend}", "train 20 epochs ms": float(js["train_ms"]),
                         "infer 500 ms": f"{js['infer_ms']:.2f}"})
    for r in rows:
        r["train ratio vs Python warm"] = r["train 20 epochs ms"] / warm_ms
    return rows
