"""Lesson 4: handtrack.js's detector at 320x240 — Python detect() vs TF.js (wasm, Node), and the download.

The anchors the issue names: 21 FPS on a laptop CPU in the original Python repository,
21–26 FPS in the browser. Python rows time the whole ``detect()`` (handtrack.js's
resize, the model, max score, NMS, boxes), median of 40 runs after 10 warm-up calls,
for each shipped precision. TF.js rows run the *model* (raw outputs, no NMS) of our
re-converted variants on the same int32 305x225 frame in Node (wasm), median of 10
runs after a warm-up, beside Python running the same re-converted model. Sizes
are the weight shards of the shipped folders and of our re-conversions.
"""

from __future__ import annotations

import tempfile

import numpy as np

from browserml.handtrack import convert, graph, models
from browserml.handtrack import detect as hd
from browserml.handtrack.images import scenes


def _frame() -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(scenes()["two_open_hands"]).resize((320, 240), Image.BILINEAR))


def run() -> list[dict]:
    frame = _frame()
    rows: list[dict] = []
    for size, folder in models.MODEL_SIZES.items():
        result = hd.load(size=size).benchmark(frame, n=40, warmup=10)
        shipped = sum(p.stat().st_size for p in models.model_dir("ssd320fpnlite", size).glob("*.bin"))
        rows.append({"section": "Python detect() at 320x240, shipped models", "modelSize": size, "folder": folder,
                     "MiB": shipped / 2**20, "ms": result["ms"], "FPS": result["fps"]})
    pixels = graph.sample_pixels()
    with tempfile.TemporaryDirectory() as tmp:
        conversion = convert.reconvert(tmp, "ssd320fpnlite", repeats=10, pixels=pixels)
        for row in conversion:
            py = row.python_ms
            rows.append({"section": "the model alone (raw outputs, 305x225): our re-conversions",
                         "variant": row.variant, "MiB": row.bytes / 2**20, "shards": row.shards,
                         "Python ms": py, "TF.js wasm ms": row.tfjs_ms, "TF.js / Python": row.tfjs_ms / py,
                         "max |Δ| vs shipped base": row.max_diff_vs_shipped})
    return rows
