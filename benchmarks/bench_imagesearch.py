"""Lesson 3's layer-wise image search: feature extraction per model, query latency (NumPy vs FAISS), UMAP, TF.js vs Python.

Four tables, one per question a learner asks of the lesson on this machine:

1. **Extraction.** Images per second through each backbone, cut at its last layer
   (``head_relu`` for EfficientNet-Lite, the deepest of the seed's layer picks for the
   nine Keras applications) with average pooling, via ``extract_features`` at batch
   32 on the CPU, timed after one warm-up batch of the same size (oneDNN builds its
   kernels per input shape). Input are FASHION200's 28x28 images, so the time
   includes the resize to the model's resolution. Lite models carry their real
   weights; the applications are built with ``weights=None`` (offline; the same FLOPs
   as with ImageNet weights). The slowest models time fewer images (column "images").
   "build s" is model construction plus weight loading.
2. **Query latency.** Brute force vs FAISS (one thread each, BLAS held to one thread
   too) at 200 images (FASHION200's real Lite0 ``head_relu`` features, cosine) and at
   70,000 (all of Fashion-MNIST as PCA-64 features, sklearn PCA fitted on those same
   70,000 images' pixels, euclidean; 1,000 random images as queries, which are in the
   index themselves). Recall@15 is against exact brute force. ``top_k`` answers one
   click at a time (the widget's path; 100 of the queries at 70,000); the other rows
   answer all queries in one batch, so their ms/query hides per-call overhead.
3. **UMAP.** A fresh Python process imports umap and fits the 200x1280 FASHION200
   features (cold: numba compiles), then fits again with another ``n_neighbors``
   (warm). Run once with numba's on-disk cache as installed (what a learner sees on
   the second day) and once with an empty ``NUMBA_CACHE_DIR`` (the very first run).
4. **TF.js vs Python.** The Lite0 ``head_relu`` feature extractor exported as a TF.js
   layers model and run in Node (``cpu`` and ``wasm``) on the same preprocessed
   FASHION200 images as Python's ``model(x)`` (eager, the lesson's path; ratios are
   against it) and a ``tf.function`` of it; every row is the median of 5 runs after a
   warm-up (TF.js ``cpu`` at batch 8: 2 runs, ~17 s each) and includes reading the
   features back. "process s" is Node's whole run (start-up, model load, JSON input,
   warm-up and timed runs).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)
from browserml.data.images import fashion_mnist, load_image_set
from browserml.imagesearch import applications, scale
from browserml.imagesearch.backbones import backbone_names, load_backbone
from browserml.imagesearch.features import cached_features, extract_features, feature_model
from browserml.imagesearch.search import top_k

BATCH, IMAGES, K = 32, 64, 15
# Seconds per image on two cores make 64 images too long for these (B5: ~1.4 s each).
FEWER_IMAGES = {"EfficientNetB5": 16, "VGG19": 32, "VGG16": 32, "DenseNet121": 32, "Xception": 32}
LITE = "efficientnet-lite0"
QUERIES_70K, TOPK_70K, PCA_DIM = 1000, 100, 64
# TF.js's pure-JS cpu backend takes ~17 s for a batch of 8: fewer timed runs there
TFJS_BATCHES, TFJS_REPEATS, TFJS_CPU_BATCH8_REPEATS = (1, 8), 5, 2


def _seconds(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``fn(*args, **kwargs)``."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def _fashion200() -> tuple[np.ndarray, np.ndarray]:
    """FASHION200's images and its real Lite0 head_relu features (from the user's cache
    when there, computed and cached otherwise)."""
    images = load_image_set("FASHION200")
    return images.images, cached_features(images, LITE, "head_relu", "avg")


# --------------------------------------------------------------------------- 1. extraction


def _deepest_layer(name: str, model: Any) -> str:
    if name in applications.APPLICATIONS:
        return model.layers[max(applications.APPLICATIONS[name].seed_layers)].name
    return "head_relu"


def _build(name: str, weights: str | None) -> tuple[Any, str, Any]:
    """The backbone, its last layer's name and the avg-pooled feature model there."""
    backbone = load_backbone(name, weights=weights)
    layer = _deepest_layer(name, backbone.model)
    return backbone, layer, feature_model(backbone, layer, "avg")


def _extraction_row(name: str, images: np.ndarray) -> dict:
    weights = None if name in applications.APPLICATIONS else "imagenet"
    count = FEWER_IMAGES.get(name, IMAGES)
    batch = min(BATCH, count)
    build_s, (backbone, layer, model) = _seconds(_build, name, weights)
    extract_features(backbone, layer, "avg", images[:batch], batch, model=model)  # warm-up batch
    took, features = _seconds(extract_features, backbone, layer, "avg", images[:count], batch, model=model)
    return {
        "section": "1. Feature extraction on CPU (batch 32, avg pooling, last layer)",
        "model": name, "weights": weights or "none (random)",
        "input px": backbone.input_size[0], "layer": layer, "feature dim": features.shape[1],
        "images": count, "build s": build_s, "images/s": count / took, "ms/image": took * 1000 / count,
    }


def _extraction_rows(images: np.ndarray) -> list[dict]:
    import tf_keras

    rows = []
    for name in backbone_names():
        rows.append(_extraction_row(name, images))
        load_backbone.cache_clear()  # one model in memory at a time
        tf_keras.backend.clear_session()
    return rows


# --------------------------------------------------------------------------- 2. queries


def _query_rows(features200: np.ndarray) -> list[dict]:
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    section = "2. Query latency, k = 15 (one thread)"
    rows = []

    def row(images: int, feats: str, method: str, build_s: float | str, query_ms: float, recall: float | str,
            memory_bytes: int | str, params: dict | str = "") -> dict:
        return {"section": section, "images": images, "features": feats, "method": method, "build s": build_s,
                "ms/query": query_ms, f"recall@{K}": recall,
                "memory MB": memory_bytes / 1e6 if isinstance(memory_bytes, int) else memory_bytes,
                "params": ", ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) else params}

    def one_at_a_time(features: np.ndarray, queries: np.ndarray, metric: str) -> float:
        with threadpool_limits(limits=1, user_api="blas"):
            top_k(features, int(queries[0]), K, metric)  # warm-up
            took, _ = _seconds(lambda: [top_k(features, int(q), K, metric) for q in queries])
        return took * 1000 / len(queries)

    n = len(features200)
    scale.build_index(features200[:20], "flat")  # FAISS's import and thread-pool start-up, outside any row
    feats200 = f"Lite0 head_relu ({features200.shape[1]}), cosine"
    rows.append(row(n, feats200, "search.top_k, one query at a time (exact)", "",
                    one_at_a_time(features200, np.arange(n), "cosine"), "exact", "", "query left out"))
    for r in scale.compare_to_brute_force(features200, features200, K, ("flat", "hnsw", "ivf"), "cosine"):
        rows.append(row(n, feats200, _method(r["kind"]), r["build_s"], r["query_ms"], r["recall"],
                        r["memory_bytes"], r["params"]))

    pixels, _ = fashion_mnist("all")
    x = pixels.reshape(len(pixels), -1).astype(np.float32) / 255
    pca_s, x64 = _seconds(lambda: PCA(PCA_DIM, svd_solver="randomized", random_state=0).fit_transform(x))
    x64 = np.ascontiguousarray(x64, dtype=np.float32)
    picks = np.random.default_rng(0).choice(len(x64), QUERIES_70K, replace=False)
    queries = x64[picks]
    feats70k = f"PCA-{PCA_DIM} of pixels, euclidean"
    rows.append(row(len(x64), feats70k, f"(sklearn PCA-{PCA_DIM} fit + transform, all threads)", pca_s, "", "",
                    "", ""))
    rows.append(row(len(x64), feats70k, f"search.top_k, one query at a time (exact; {TOPK_70K} queries)", "",
                    one_at_a_time(x64, picks[:TOPK_70K], "euclidean"), "exact", "", "query left out"))
    for r in scale.compare_to_brute_force(x64, queries, K, ("flat", "hnsw", "ivf"), "euclidean"):
        rows.append(row(len(x64), feats70k, _method(r["kind"]), r["build_s"], r["query_ms"], r["recall"],
                        r["memory_bytes"], r["params"]))
    return rows


def _method(kind: str) -> str:
    return "scale.brute_force_knn, batched (exact)" if kind.startswith("brute") else f"FAISS {kind}"


# --------------------------------------------------------------------------- 3. UMAP

UMAP_SCRIPT = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    import browserml
    import numpy as np
    import umap  # noqa: F401
    import_s = time.perf_counter() - start
    from browserml.imagesearch.embedding import UmapParams, neighbourhood_agreement, umap_embedding
    x = np.load(sys.argv[1], allow_pickle=False)
    labels = np.load(sys.argv[2], allow_pickle=False)
    times, agree = [], []
    for n_neighbors in (15, 30):
        t = time.perf_counter()
        points = umap_embedding(x, UmapParams(n_neighbors=n_neighbors))
        times.append(time.perf_counter() - t)
        agree.append(neighbourhood_agreement(points, labels))
    print(json.dumps({"import_s": import_s, "fit_s": times, "agreement": agree}))
""")


def _umap_rows(features200: np.ndarray, labels: np.ndarray) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        x_path, y_path, script = Path(tmp) / "x.npy", Path(tmp) / "y.npy", Path(tmp) / "umap_bench.py"
        np.save(x_path, features200.astype(np.float32))
        np.save(y_path, labels)
        script.write_text(UMAP_SCRIPT)
        for cache in ("as installed", "empty"):
            env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
            if cache == "empty":
                env["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba")
            wall, proc = _seconds(subprocess.run, [sys.executable, str(script), str(x_path), str(y_path)],
                                  capture_output=True, text=True, env=env, check=True, timeout=300)
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            base = {"section": f"3. UMAP of {len(features200)}x{features200.shape[1]} FASHION200 features (cosine)",
                    "numba cache": cache}
            rows += [
                {**base, "step": "import umap (fresh process)", "s": out["import_s"], "class agreement@10": ""},
                {**base, "step": "first fit, n_neighbors=15 (cold)", "s": out["fit_s"][0],
                 "class agreement@10": out["agreement"][0]},
                {**base, "step": "second fit, n_neighbors=30 (warm)", "s": out["fit_s"][1],
                 "class agreement@10": out["agreement"][1]},
                {**base, "step": "whole process (incl. interpreter)", "s": wall, "class agreement@10": ""},
            ]
    return rows


# --------------------------------------------------------------------------- 4. TF.js


def _median_ms(fn: Callable[[np.ndarray], Any], x: np.ndarray, repeats: int = TFJS_REPEATS) -> float:
    """Median milliseconds of ``repeats`` calls of ``fn(x)``, read back to NumPy, after a warm-up call."""
    np.asarray(fn(x))  # warm-up
    times = [_seconds(lambda: np.asarray(fn(x)))[0] for _ in range(repeats)]
    return statistics.median(times) * 1000


def _batch_rows(model: Any, graph: Any, export: Path, xb: np.ndarray, section: str) -> list[dict]:
    """Python eager, Python graph, TF.js cpu and wasm on one batch, ratios vs eager."""
    from browserml.tfjs_check import run_in_node

    batch = len(xb)
    expected = np.asarray(model(xb, training=False))
    py_ms = _median_ms(lambda t: model(t, training=False), xb)

    def row(runtime: str, ms: float, out: np.ndarray, runs: int, wall: str = "") -> dict:
        return {"section": section, "batch": batch, "runtime": runtime, "ms/batch": ms, "ms/image": ms / batch,
                "ratio vs Python": ms / py_ms, "max |Δfeature| vs Python": float(np.max(np.abs(out - expected))),
                "timed runs": runs, "process s": wall}

    rows = [row("Python tf_keras, model(x) (eager)", py_ms, expected, TFJS_REPEATS),
            row("Python tf_keras, tf.function(model) (graph)", _median_ms(graph, xb), np.asarray(graph(xb)),
                TFJS_REPEATS)]
    for backend in ("cpu", "wasm"):
        runs = TFJS_CPU_BATCH8_REPEATS if backend == "cpu" and batch > 1 else TFJS_REPEATS
        wall, result = _seconds(run_in_node, export, backend, inputs={"image": xb}, repeats=runs, timeout_s=600)
        rows.append(row(f"TF.js Node, {backend}", result.latency_ms, result.outputs["features"], runs, f"{wall:.1f}"))
    return rows


def _tfjs_rows(images: np.ndarray) -> list[dict]:
    import tensorflow as tf

    from browserml.export import export_layers_model

    backbone = load_backbone(LITE)
    model = feature_model(backbone, "head_relu", "avg")
    graph = tf.function(lambda t: model(t, training=False), autograph=False)
    x = backbone.preprocess(images[:max(TFJS_BATCHES)])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        export_s, export = _seconds(export_layers_model, model, Path(tmp) / "lite0-features",
                                    task="image-features", parity_inputs=x[:1], parity_tolerance=1e-4)
        section = f"4. Lite0 head_relu features, TF.js 4.22 Node vs Python (export took {export_s:.1f} s)"
        for batch in TFJS_BATCHES:
            rows += _batch_rows(model, graph, export, x[:batch], section)
    return rows


def run() -> list[dict]:
    images, features200 = _fashion200()
    labels = load_image_set("FASHION200").labels
    return [*_extraction_rows(images), *_query_rows(features200), *_umap_rows(features200, labels),
            *_tfjs_rows(images)]
