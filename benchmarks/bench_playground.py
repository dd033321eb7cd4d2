"""Lesson 5's Playground network: Python epoch time, and the 100x100 decision-boundary grid in Python vs TF.js.

Two networks: the CLI's default (spiral; x1, x2, sin x1, sin x2; hidden 6-4 tanh) and
Playground's largest (all 7 features, 6 hidden layers of 8). Training is Python only:
one epoch is 25 SGD batches of 10 in one compiled ``tf.function`` loop (``Network.train_epoch``),
timed warm, median of 20 epochs; ``step()`` adds the train and test losses Playground shows
after every epoch. The grid is 10,000 pixels' feature columns through the same exported
weights: Python ``Network.predict`` (a ``tf.function`` forward pass; Keras's ``predict_on_batch``
and an eager call beside it); TF.js under Node via ``run_in_node`` (its runner calls
``model.predict`` with TF.js's default batches of 32 and reads back nested arrays); and the
export's own page in headless Chromium (one batch; and ``?batch=32`` for the same batching
as Node). All medians of 20 runs after a warm-up, measured side by side in this run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from browserml import playground as pg

EPOCHS = 20
REPEATS = 20
NETWORKS = {
    "default 4f-6-4": pg.PlaygroundConfig(dataset="spiral", features=("x1", "x2", "sin(x1)", "sin(x2)"),
                                          hidden=(6, 4), learning_rate=0.1),
    "largest 7f-8x6": pg.PlaygroundConfig(dataset="spiral", features=pg.FEATURES, hidden=(8,) * 6,
                                          learning_rate=0.03),
}


def _median_ms(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up: tracing, kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _training_row(name: str, state: pg.PlaygroundState) -> dict:
    net, y = state.network, state.data.train_y
    x = pg.feature_columns(state.data.train_xy, state.config.features)
    rng = np.random.default_rng(0)
    epoch_ms = _median_ms(lambda: net.train_epoch(x, y, rng), EPOCHS)
    step_ms = _median_ms(lambda: state.step(1), EPOCHS)
    batches = -(-len(x) // state.config.batch_size)
    return {"section": "training (Python, compiled epoch loop)", "network": name,
            "train points": len(x), "batches / epoch": batches, "ms / epoch": epoch_ms,
            "ms / batch": epoch_ms / batches, "ms / step() (epoch + both losses)": step_ms}


def _grid_rows(name: str, state: pg.PlaygroundState, folder: Path) -> list[dict]:
    from browserml.tfjs_check import run_export_page, run_in_node

    columns = pg.feature_columns(pg.grid_points(pg.GRID_RESOLUTION), state.config.features)
    model = state.network.model
    python = state.network.predict(columns)
    base = _median_ms(lambda: state.network.predict(columns))
    measured = [("Python Network.predict (compiled forward)", "one", base, 0.0)]
    for runtime, fn in (("Python tf_keras predict_on_batch", lambda: model.predict_on_batch(columns)),
                        ("Python tf_keras model(x), eager", lambda: np.asarray(model(columns, training=False)))):
        ms = _median_ms(fn)
        measured.append((runtime, "one", ms, float(np.max(np.abs(np.reshape(fn(), -1) - python)))))
    for backend in ("wasm", "cpu"):
        res = run_in_node(folder, backend, inputs={"features": columns}, repeats=REPEATS)
        diff = float(np.max(np.abs(res.outputs["output"].reshape(-1) - python)))
        measured.append((f"TF.js 4.22 Node, {backend} (run_in_node)", "32", res.latency_ms, diff))
    for backend in ("wasm", "cpu"):
        for batch in (None, 32):
            params = {"runs": REPEATS, **({"batch": batch} if batch else {})}
            page = run_export_page(folder, backend=backend, params=params)
            measured.append((f"TF.js 4.22 Chromium page, {backend}", str(batch or "one"),
                             float(page["latencyMs"]), float(page["maxAbsDiff"])))
    return [{"section": "grid prediction, 100x100 pixels", "network": name, "runtime": runtime,
             "batches": batching, "median ms": ms, "ratio vs Python predict": ms / base,
             "max |Δ| vs Python": diff}
            for runtime, batching, ms, diff in measured]


def run() -> list[dict]:
    training, grids = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in NETWORKS.items():
            state = pg.PlaygroundState(config)
            state.step(5)
            training.append(_training_row(name, state))
            folder = state.export(Path(tmp) / name.split()[0])
            grids += _grid_rows(name, state, folder)
    return training + grids
