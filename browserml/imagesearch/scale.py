"""Image search at scale: a FAISS index over all 70,000 Fashion-MNIST images.

ConvNet Playground compares every image with every other, which is fine for 200 and
hopeless for millions. Real image search keeps an *approximate* nearest-neighbour
index instead, trading a little recall for orders of magnitude in speed. This module
builds such indexes with ``faiss`` and measures the trade honestly, against an exact
NumPy brute force:

- :func:`build_index` (``flat`` = exact, ``hnsw`` = graph, ``ivf`` = clustered lists)
  and :func:`search`, for euclidean or cosine distance (cosine as inner product on
  L2-normalised float32 rows, the standard trick);
- :func:`brute_force_knn`, exact and chunked, and :func:`recall_at_k`;
- :func:`compare_to_brute_force`: build seconds, query milliseconds, recall@k and
  memory for each kind, as table rows.

The 70,000 images to index come from :func:`browserml.data.images.fashion_mnist`
(``split="all"``), read offline from Debian's ``dataset-fashion-mnist``.

Threads are set explicitly on every build and search (``threads``, default 1):
FAISS otherwise uses every core, and HNSW built on several threads is not
reproducible. IVF's k-means takes ``seed``; HNSW's level generator has a fixed seed
inside FAISS, so a one-thread build is deterministic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from browserml.imagesearch.search import (
    CHUNK_BYTES,
    SearchInputError,
    _check_k,
    _check_matrix,
    _smallest_k,
    pairwise_distances,
)
from browserml.memory import release

KINDS = ("flat", "hnsw", "ivf")
INDEX_METRICS = ("euclidean", "cosine")
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "flat": {},
    # M links per node, efConstruction/efSearch candidate lists: recall ~0.99 on pixels
    "hnsw": {"M": 32, "ef_construction": 128, "ef_search": 64},
    # nlist None -> about 4 sqrt(N) lists (capped so k-means has 39 points per list)
    "ivf": {"nlist": None, "nprobe": 8, "seed": 1234},
}


@dataclass(frozen=True, eq=False)
class Index:
    """A built FAISS index and what :func:`search` needs to read its answers."""

    faiss_index: Any
    kind: str
    metric: str
    n: int
    dim: int
    params: dict[str, Any]
    threads: int
    _keep: tuple[Any, ...] = field(default=(), repr=False)  # e.g. IVF's quantizer, which must outlive it

    @property
    def memory_bytes(self) -> int:
        """The index's size as FAISS serialises it: vectors plus graph or lists."""
        import faiss

        return int(faiss.serialize_index(self.faiss_index).nbytes)


def _faiss() -> ModuleType:
    import faiss

    return faiss


def _set_threads(threads: int) -> None:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SearchInputError(f"threads must be a positive int, got {threads!r}")
    _faiss().omp_set_num_threads(threads)


def _as_float32(x: np.ndarray, metric: str) -> np.ndarray:
    """C-contiguous float32 rows, L2-normalised for cosine (zero rows stay zero).

    Zero rows then have inner product 0 with everything, i.e. cosine distance 1, the
    same convention as :func:`browserml.imagesearch.search.pairwise_distances`.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if metric == "cosine":
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norm == 0, 1.0, norm).astype(np.float32)
    return x


def _check_metric(metric: str) -> None:
    if metric not in INDEX_METRICS:
        raise SearchInputError(f"unknown index metric {metric!r}; choose one of {', '.join(INDEX_METRICS)}")


def build_index(
    features: np.ndarray, kind: str = "hnsw", metric: str = "euclidean", *, threads: int = 1, **params: Any
) -> Index:
    """A FAISS index over the rows of ``features`` (N, D).

    ``params`` override :data:`DEFAULT_PARAMS` for the kind: ``M``,
    ``ef_construction``, ``ef_search`` for HNSW; ``nlist``, ``nprobe``, ``seed`` for
    IVF. Unknown parameters are an error rather than silently ignored.
    """
    if kind not in KINDS:
        raise SearchInputError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    _check_metric(metric)
    unknown = set(params) - set(DEFAULT_PARAMS[kind])
    if unknown:
        raise SearchInputError(
            f"unknown {kind} parameter(s) {sorted(unknown)}; "
            f"{kind} takes {sorted(DEFAULT_PARAMS[kind]) or 'none'}"
        )
    x = _as_float32(_check_matrix(features, "features"), metric)
    n, dim = x.shape
    _set_threads(threads)
    faiss = _faiss()
    faiss_metric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    p = {**DEFAULT_PARAMS[kind], **params}
    keep: tuple[Any, ...] = ()
    if kind == "flat":
        index = faiss.IndexFlat(dim, faiss_metric)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, int(p["M"]), faiss_metric)
        index.hnsw.efConstruction = int(p["ef_construction"])
        index.hnsw.efSearch = int(p["ef_search"])
    else:
        nlist = p["nlist"] or max(1, min(round(4 * math.sqrt(n)), n // 39))
        if not 1 <= nlist <= n:
            raise SearchInputError(f"ivf needs 1 <= nlist <= N ({n}), got {nlist}")
        p["nlist"] = int(nlist)
        quantizer = faiss.IndexFlat(dim, faiss_metric)
        index = faiss.IndexIVFFlat(quantizer, dim, int(nlist), faiss_metric)
        index.cp.seed = int(p["seed"])
        index.train(x)
        index.nprobe = min(int(p["nprobe"]), int(nlist))
        p["nprobe"] = index.nprobe
        keep = (quantizer,)
    index.add(x)
    return Index(index, kind, metric, n, dim, p, threads, keep)


def search(index: Index, queries: np.ndarray, k: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest indexed rows to each query: ``(indices (Q, k) int64, distances (Q, k))``.

    Distances are in the same units as :func:`brute_force_knn` (euclidean, or
    ``1 - cos``), not FAISS's squared L2 or raw inner products. An approximate index
    that finds fewer than ``k`` candidates (IVF probing near-empty lists) pads with
    index -1 and distance inf.
    """
    q = _as_float32(_check_matrix(queries, "queries"), index.metric)
    if q.shape[1] != index.dim:
        raise SearchInputError(f"queries have {q.shape[1]} features per row but the index has {index.dim}")
    k = _check_k(k, index.n, "indexed rows")
    _set_threads(index.threads)
    raw, ids = index.faiss_index.search(q, k)
    raw = raw.astype(np.float64)
    dist = np.sqrt(np.maximum(raw, 0.0)) if index.metric == "euclidean" else 1.0 - raw
    dist[ids < 0] = np.inf
    return ids.astype(np.int64), dist


def brute_force_knn(
    features: np.ndarray, queries: np.ndarray, k: int = 15, metric: str = "euclidean"
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows for each query, in NumPy float64: ``(indices, distances)``.

    Queries are processed in chunks so the distance block stays near
    :data:`~browserml.imagesearch.search.CHUNK_BYTES`; ties go to the lower index.
    Cosine uses the zero-vector convention of ``search.pairwise_distances``.
    """
    _check_metric(metric)
    features = _check_matrix(features, "features")
    queries = _check_matrix(queries, "queries")
    k = _check_k(k, features.shape[0], "feature rows")
    rows = max(1, CHUNK_BYTES // (8 * features.shape[0]))
    indices = np.empty((queries.shape[0], k), dtype=np.int64)
    distances = np.empty((queries.shape[0], k), dtype=np.float64)
    for start in range(0, queries.shape[0], rows):
        block = slice(start, start + rows)
        dist = pairwise_distances(queries[block], features, metric)
        best = _smallest_k(dist, k)
        indices[block] = best
        distances[block] = np.take_along_axis(dist, best, axis=1)
    return indices, distances


def recall_at_k(approx_indices: np.ndarray, exact_indices: np.ndarray) -> float:
    """The share of the exact k nearest neighbours that the approximate search found.

    Order within the top k does not matter; -1 (FAISS's "not found") never counts.
    """
    approx = np.asarray(approx_indices)
    exact = np.asarray(exact_indices)
    if approx.ndim != 2 or approx.shape != exact.shape:
        raise SearchInputError(
            f"need two (Q, k) index arrays of the same shape, got {approx.shape} and {exact.shape}"
        )
    found = (approx[:, :, None] == exact[:, None, :]) & (approx[:, :, None] >= 0)
    return float(found.any(axis=1).sum() / exact.size)


def compare_to_brute_force(
    features: np.ndarray,
    queries: np.ndarray,
    k: int = 15,
    kinds: Sequence[str] = ("hnsw", "ivf"),
    metric: str = "euclidean",
    params: Mapping[str, Mapping[str, Any]] | None = None,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """Build each kind of index and measure it against exact NumPy search.

    Returns one row per method, brute force first: ``kind``, ``build_s``,
    ``query_ms`` (per query, all queries searched in one batch), ``recall`` (recall@k
    against brute force), ``memory_bytes`` (float32 features for brute force, the
    serialised index otherwise) and ``params``. NumPy's BLAS is held to ``threads``
    too while brute force runs, so every method gets the same cores. Timings are
    single runs: expect a few percent of noise, more on a shared machine.
    """
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency: always installed with it

    features = _check_matrix(features, "features")
    queries = _check_matrix(queries, "queries")
    unknown = set(params or {}) - set(kinds)
    if unknown:
        raise SearchInputError(f"params given for {sorted(unknown)}, which are not among kinds {list(kinds)}")
    n_queries = queries.shape[0]
    with threadpool_limits(limits=threads, user_api="blas"):
        start = time.perf_counter()
        exact, _ = brute_force_knn(features, queries, k, metric)
        brute_ms = (time.perf_counter() - start) * 1000 / n_queries
    rows: list[dict[str, Any]] = [{
        "kind": "brute force (numpy)", "build_s": 0.0, "query_ms": brute_ms, "recall": 1.0,
        "memory_bytes": int(features.shape[0] * features.shape[1] * 4), "params": {},
    }]
    for kind in kinds:
        start = time.perf_counter()
        index = build_index(features, kind, metric, threads=threads, **dict((params or {}).get(kind, {})))
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        found, _ = search(index, queries, k)
        query_ms = (time.perf_counter() - start) * 1000 / n_queries
        rows.append({
            "kind": kind, "build_s": build_s, "query_ms": query_ms, "recall": recall_at_k(found, exact),
            "memory_bytes": index.memory_bytes, "params": dict(index.params),
        })
    return rows


def pixel_embedding(images: np.ndarray, dims: int = 64, seed: int = 0, fit_on: int = 5_000,
                    chunk: int = 5_000) -> tuple[np.ndarray, float]:
    """Cheap features for 70,000 images: pixels in [0, 1], PCA to ``dims`` dimensions.

    A CNN pass over all of Fashion-MNIST would take most of an hour on two cores; the
    point here is the index, not the features. PCA is fitted on ``fit_on`` images drawn
    with ``seed`` and applied ``chunk`` images at a time, so the kernel never holds the
    whole set as float32 (70,000 x 784 x 4 bytes is 220 MB, and PCA would copy it twice):
    that keeps lesson 3 inside Binder's memory. Returns the float32 features and the
    share of the sample's pixel variance PCA kept.
    """
    from sklearn.decomposition import PCA

    flat = np.asarray(images).reshape(len(images), -1)
    pick = np.random.default_rng(seed).choice(len(flat), min(fit_on, len(flat)), replace=False)
    pca = PCA(n_components=dims, random_state=seed).fit(flat[np.sort(pick)].astype(np.float32) / 255.0)
    out = np.empty((len(flat), dims), dtype=np.float32)
    for start in range(0, len(flat), chunk):
        out[start:start + chunk] = pca.transform(flat[start:start + chunk].astype(np.float32) / 255.0)
    kept = float(pca.explained_variance_ratio_.sum())
    del pca
    release()
    return out, kept
