"""Lesson 3's search and scoring: nearest images under four metrics, and how good they are.

ConvNet Playground lets a learner click an image and see the 15 most similar images
under a chosen distance metric, with a "search result score" that says how many of
them share the query's class, weighted so the first hits count most. This module is
that arithmetic, on plain NumPy feature matrices ``(N, D)`` and labels ``(N,)``:

- :func:`pairwise_distances` under :data:`METRICS` (cosine, euclidean, squared
  euclidean, minkowski), chunked so a 200 x 200 minkowski over 100k-wide features
  never holds ``Q x N x D`` numbers at once;
- :func:`top_k`, the demo's click: the ``k`` nearest images, ties broken by index so
  two runs (and the browser) agree;
- the demo's weighted score (:func:`weighted_score`), its value for a random ranking
  (:func:`random_score_expectation`), and the retrieval measures a learner will meet
  elsewhere (:func:`precision_at_k`, :func:`average_precision`,
  :func:`mean_average_precision`);
- :func:`evaluate`, every image as a query at once, which is what fills the
  model x layer heatmap (:func:`score_grid`);
- :func:`identical_ranking_groups`, the metrics that *cannot* disagree: squaring is
  monotone, so euclidean and squared always rank alike, and on L2-normalised features
  ``|a - b|^2 = 2 - 2 cos(a, b)`` makes cosine rank alike too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from browserml.errors import BadInput

METRICS: tuple[str, ...] = ("cosine", "euclidean", "squared", "minkowski")
DEFAULT_K = 15  # ConvNet Playground shows (and scores) the 15 nearest images
CHUNK_BYTES = 16 * 2**20  # float64 working set of one matrix-product block (small: Binder kernels are)
# minkowski's explicit differences run ~4x faster when a block fits in cache
MINKOWSKI_CHUNK_BYTES = 2**20
SCORE_FIELDS = ("mean_score", "precision_at_k", "mean_average_precision", "random_expectation")


class SearchInputError(BadInput):
    """Features, queries, labels or options that image search cannot use."""


class ZeroNormWarning(UserWarning):
    """Cosine distance met all-zero vectors, which have no direction (see :func:`pairwise_distances`)."""


# --------------------------------------------------------------------------- checks


def _check_metric(metric: str, p: float) -> float:
    if metric not in METRICS:
        raise SearchInputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    p = float(p)
    if metric == "minkowski" and not (p >= 1):  # also rejects NaN
        raise SearchInputError(
            f"minkowski needs p >= 1 (p < 1 is not a metric: the triangle inequality fails), got p={p}"
        )
    return p


def _check_matrix(x: np.ndarray, name: str) -> np.ndarray:
    """A non-empty, finite, real 2-D array (dtype kept: blocks are converted as used)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise SearchInputError(f"{name} must be a 2-D array (rows x features), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise SearchInputError(f"{name} is empty (shape {x.shape}); need at least one row and one column")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise SearchInputError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise SearchInputError(
                f"{name} has NaN or infinite values in {rows.size} of {x.shape[0]} rows "
                f"(first: {rows[:5].tolist()}); distances to them are undefined"
            )
    return x


def _check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise SearchInputError(
            f"labels must hold one label per feature row: shape ({n},), got {labels.shape}"
        )
    if labels.dtype == object:
        raise SearchInputError("labels must be a NumPy array of ints or strings, not Python objects")
    return labels


def _check_k(k: int, available: int, what: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SearchInputError(f"k must be a positive int, got {k!r}")
    if k > available:
        raise SearchInputError(f"k={k} is more than the {available} {what}")
    return int(k)


# --------------------------------------------------------------------------- distances


def _blocks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def pairwise_distances(
    queries: np.ndarray,
    features: np.ndarray,
    metric: str = "cosine",
    p: float = 3.0,
    *,
    chunk_bytes: int | None = None,
) -> np.ndarray:
    """Distances ``(Q, N)`` float64 from every query row to every feature row.

    The values equal ``scipy.spatial.distance.cdist`` with ``cosine``, ``euclidean``,
    ``sqeuclidean`` (our ``squared``) and ``minkowski`` (with ``p``; ``p=inf`` is the
    Chebyshev limit). Work is done in float64 blocks of about ``chunk_bytes`` so wide
    features (an early conv layer flattened is ~100k numbers) fit in memory; the
    default is :data:`CHUNK_BYTES`, or :data:`MINKOWSKI_CHUNK_BYTES` for minkowski.

    Two numerical choices, both for ranking that does not fall apart:

    - euclidean/squared use ``|q|^2 + |f|^2 - 2 q.f`` (one matrix product instead of a
      ``Q x N x D`` difference) after subtracting the features' mean, which changes no
      distance but removes the cancellation that post-ReLU features (all positive, far
      from the origin) would otherwise suffer;
    - cosine distance involving an all-zero vector is defined as **1** (similarity 0, as
      if orthogonal), against every vector including another zero vector. Such a vector
      (e.g. a ReLU layer silent for one image) has no direction, so 0/0 is undefined and
      SciPy returns NaN, which would poison sorting and scores; 1 is the neutral middle
      of cosine's [0, 2] range, ranking a blank image neither first nor last. A
      :class:`ZeroNormWarning` says how many rows were affected.
    """
    p = _check_metric(metric, p)
    features = _check_matrix(features, "features")
    queries = _check_matrix(queries, "queries")
    if queries.shape[1] != features.shape[1]:
        raise SearchInputError(
            f"queries have {queries.shape[1]} features per row but features have {features.shape[1]}"
        )
    if chunk_bytes is None:
        chunk_bytes = MINKOWSKI_CHUNK_BYTES if metric == "minkowski" else CHUNK_BYTES
    if chunk_bytes < 8:
        raise SearchInputError(f"chunk_bytes must be at least 8, got {chunk_bytes}")
    out = np.empty((queries.shape[0], features.shape[0]), dtype=np.float64)
    if metric == "minkowski":
        _minkowski_into(out, queries, features, p, chunk_bytes)
    else:
        _inner_product_into(out, queries, features, metric, chunk_bytes)
    return out


def _inner_product_into(out: np.ndarray, queries: np.ndarray, features: np.ndarray, metric: str,
                        chunk_bytes: int) -> None:
    """Cosine / euclidean / squared through matrix products, block by block."""
    dim = features.shape[1]
    rows = max(1, chunk_bytes // (8 * dim))
    cosine = metric == "cosine"
    centre = None if cosine else features.mean(axis=0, dtype=np.float64)
    zero = {"queries": 0, "features": 0}

    def prepare(block: np.ndarray, name: str | None) -> tuple[np.ndarray, np.ndarray]:
        x = block.astype(np.float64)  # always a copy: the caller's array is never changed
        if centre is not None:
            x -= centre
        sq = np.einsum("ij,ij->i", x, x)
        if cosine:
            norm = np.sqrt(sq)
            is_zero = norm == 0
            if name is not None:
                zero[name] += int(is_zero.sum())
            x /= np.where(is_zero, 1.0, norm)[:, None]  # a zero row stays zero: similarity 0
        return x, sq

    query_blocks = list(_blocks(queries.shape[0], rows))
    cached = prepare(queries, "queries") if len(query_blocks) == 1 else None
    for fi, fs in enumerate(_blocks(features.shape[0], rows)):
        f, fsq = prepare(features[fs], "features")
        for qs in query_blocks:
            q, qsq = cached if cached is not None else prepare(queries[qs], "queries" if fi == 0 else None)
            dot = q @ f.T
            if cosine:
                np.clip(1.0 - dot, 0.0, 2.0, out=out[qs, fs])
            else:
                d2 = np.maximum(qsq[:, None] + fsq[None, :] - 2.0 * dot, 0.0)
                out[qs, fs] = np.sqrt(d2) if metric == "euclidean" else d2
    if zero["queries"] or zero["features"]:
        warnings.warn(
            f"{zero['queries']} query row(s) and {zero['features']} feature row(s) are all zero; "
            "their cosine distance to everything is set to 1 (no direction: treated as orthogonal)",
            ZeroNormWarning,
            stacklevel=3,
        )


def _minkowski_into(out: np.ndarray, queries: np.ndarray, features: np.ndarray, p: float,
                    chunk_bytes: int) -> None:
    """``(sum |q - f|^p)^(1/p)`` through explicit differences, in ``qb x fb x D`` blocks."""
    dim = features.shape[1]
    elems = max(1, chunk_bytes // 8)
    f_rows = min(features.shape[0], max(1, elems // dim))
    q_rows = min(queries.shape[0], max(1, elems // (f_rows * dim)))
    for fs in _blocks(features.shape[0], f_rows):
        f = features[fs].astype(np.float64)
        for qs in _blocks(queries.shape[0], q_rows):
            diff = queries[qs].astype(np.float64)[:, None, :] - f[None, :, :]
            np.abs(diff, out=diff)
            if math.isinf(p):
                out[qs, fs] = diff.max(axis=2)
                continue
            if p == 1.0:
                total = diff.sum(axis=2)
            elif p == 2.0:
                total = np.einsum("ijk,ijk->ij", diff, diff)
            elif p.is_integer() and p <= 16:  # repeated products: ~7x faster than np.power
                acc = diff * diff
                for _ in range(int(p) - 3):
                    acc *= diff
                total = np.einsum("ijk,ijk->ij", acc, diff)
            else:
                np.power(diff, p, out=diff)
                total = diff.sum(axis=2)
            out[qs, fs] = total if p == 1.0 else total ** (1.0 / p)


# --------------------------------------------------------------------------- top k


def _smallest_k(dist: np.ndarray, k: int) -> np.ndarray:
    """Column indices ``(Q, k)`` of each row's k smallest values, ordered by (value, index).

    The order is the one a stable sort gives, so equal distances (duplicate images,
    two identical zero vectors) always come out lowest index first. Large rows use a
    partition first and fall back to a full stable sort only for rows whose k-th value
    is tied with values outside the partition.
    """
    n = dist.shape[1]
    if n <= 4096 or k * 4 >= n:
        return np.argsort(dist, axis=1, kind="stable")[:, :k]
    part = np.argpartition(dist, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(dist, part, axis=1)
    order = np.lexsort((part, vals), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    kth = vals.max(axis=1)
    tied = (dist <= kth[:, None]).sum(axis=1) > k
    if tied.any():
        best[tied] = np.argsort(dist[tied], axis=1, kind="stable")[:, :k]
    return best


def _without_self(dist: np.ndarray) -> np.ndarray:
    """A square ``(N, N)`` distance matrix with its diagonal removed: ``(N, N - 1)``.

    Removing (rather than setting to +inf) keeps the query out even when other
    distances overflow to inf; :func:`_restore_columns` maps columns back.
    """
    n = dist.shape[0]
    return dist[~np.eye(n, dtype=bool)].reshape(n, n - 1)


def _restore_columns(cols: np.ndarray) -> np.ndarray:
    """Column indices into a :func:`_without_self` matrix -> indices into the original."""
    rows = np.arange(cols.shape[0])[:, None]
    return cols + (cols >= rows)


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The ``k`` nearest rows to one query: ``indices`` (k,) int64, ``distances`` (k,) float64.

    Ordered nearest first, ties by index. ``query`` is the row index when the query
    was a row of the features (and so was left out of its own results), else None.
    """

    indices: np.ndarray
    distances: np.ndarray
    metric: str
    query: int | None = None

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __repr__(self) -> str:
        return f"SearchResult(metric={self.metric!r}, query={self.query}, indices={self.indices.tolist()})"


def top_k(
    features: np.ndarray,
    query: int | np.integer | np.ndarray | Sequence[float],
    k: int = DEFAULT_K,
    metric: str = "cosine",
    p: float = 3.0,
    exclude: Iterable[int] | None = None,
) -> SearchResult:
    """The demo's click: the ``k`` rows of ``features`` nearest to ``query``.

    ``query`` is a row index (that row is left out of the results, as ConvNet
    Playground does: an image is trivially most similar to itself) or a feature vector
    of length D (nothing left out). ``exclude`` leaves out further rows, e.g. known
    duplicates. Ties are broken by index, so results are deterministic. (Duplicate
    rows always tie exactly; distances equal only on paper, from different vectors,
    may differ in the last bit and rank by that.)
    """
    features = _check_matrix(features, "features")
    n = features.shape[0]
    left_out: set[int] = set()
    query_index: int | None = None
    if isinstance(query, (bool, np.bool_)):
        raise SearchInputError("query must be a row index or a feature vector, not a bool")
    if isinstance(query, (int, np.integer)):
        if not 0 <= query < n:
            raise SearchInputError(f"query index {query} is out of range for {n} feature rows")
        query_index = int(query)
        vector = features[query_index:query_index + 1]
        left_out.add(query_index)
    else:
        vector = np.asarray(query)
        if vector.ndim != 1 or vector.shape[0] != features.shape[1]:
            raise SearchInputError(
                f"a query vector must be 1-D with {features.shape[1]} values (one per feature), "
                f"got shape {vector.shape}"
            )
        vector = vector[None, :]
    for i in exclude or ():
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)) or not 0 <= i < n:
            raise SearchInputError(f"exclude holds {i!r}, which is not a row index in 0..{n - 1}")
        left_out.add(int(i))
    candidates = np.setdiff1d(np.arange(n), np.fromiter(left_out, dtype=np.int64, count=len(left_out)))
    k = _check_k(k, candidates.size, "rows left to search (after leaving out the query and `exclude`)")
    dist = pairwise_distances(vector, features, metric, p)[:, candidates]  # no copy of `features`
    cols = _smallest_k(dist, k)[0]
    return SearchResult(candidates[cols].astype(np.int64), dist[0, cols], metric, query_index)


# --------------------------------------------------------------------------- scores


def score_weights(k: int = DEFAULT_K) -> np.ndarray:
    """ConvNet Playground's position weights: result i (0-based) weighs ``(k - i) / k``."""
    _check_k(k, np.iinfo(np.int64).max, "allowed")
    return (k - np.arange(k)) / k


def _first_k(retrieved_labels: np.ndarray | Sequence, k: int) -> np.ndarray:
    labels = np.asarray(retrieved_labels)
    if labels.ndim != 1:
        raise SearchInputError(f"retrieved labels must be 1-D (one per result), got shape {labels.shape}")
    _check_k(k, labels.shape[0], "retrieved labels given")
    return labels[:k]


def weighted_score(retrieved_labels: np.ndarray | Sequence, query_label: object, k: int = DEFAULT_K) -> float:
    """The demo's search result score: weighted share of the top ``k`` in the query's class.

    ``score = sum_i w_i [label_i == query_label] / sum_i w_i`` with
    ``w_i = (k - i) / k``: a hit at rank 1 counts 15 times a hit at rank 15, so a
    ranking that puts its right answers first scores higher than one that finds as
    many but later. 1.0 means all ``k`` share the query's class.
    """
    hits = _first_k(retrieved_labels, k) == query_label
    w = score_weights(k)
    return float(w @ hits / w.sum())


def precision_at_k(retrieved_labels: np.ndarray | Sequence, query_label: object, k: int = DEFAULT_K) -> float:
    """The unweighted share of the top ``k`` in the query's class."""
    return float(np.mean(_first_k(retrieved_labels, k) == query_label))


def random_score_expectation(labels: np.ndarray | Sequence) -> float:
    """The expected :func:`weighted_score` of a uniformly random ranking (closed form).

    In a random ordering of the other ``N - 1`` items, *every* position holds an item of
    the query's class with probability ``(n_c - 1) / (N - 1)``, so the weights cancel
    and, averaged over queries, ``E = sum_c (n_c / N) (n_c - 1) / (N - 1)``. For ten
    classes of 20 images that is 19/199 ~ 9.5%: the bar a layer must clear to have
    learnt anything. It is also the expected :func:`precision_at_k`, for any k.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] < 2:
        raise SearchInputError(f"need a 1-D array of at least 2 labels, got shape {labels.shape}")
    _, counts = np.unique(labels, return_counts=True)
    n = labels.shape[0]
    return float(np.sum(counts * (counts - 1.0)) / (n * (n - 1.0)))


def _average_precision_rows(hits: np.ndarray) -> np.ndarray:
    """AP of each row of a ``(Q, M)`` bool matrix of hits in ranked order; NaN if no hits."""
    hits = hits.astype(np.float64)
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    relevant = hits.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(relevant > 0, (precision * hits).sum(axis=1) / relevant, np.nan)


def average_precision(ranked_labels: np.ndarray | Sequence, query_label: object) -> float:
    """Average precision over a full ranking (every other item, nearest first).

    The mean, over the positions of the query's classmates, of the precision up to
    that position; 1.0 when all classmates come before everything else. It rewards
    finding *all* of the class, not only the first 15. NaN when the ranking holds no
    item of the query's class (AP is undefined then; :func:`mean_average_precision`
    skips such queries). Equals ``sklearn.metrics.average_precision_score`` on the
    ranking.
    """
    labels = np.asarray(ranked_labels)
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise SearchInputError(f"ranked labels must be a non-empty 1-D array, got shape {labels.shape}")
    return float(_average_precision_rows((labels == query_label)[None, :])[0])


def mean_average_precision(ranked_labels: np.ndarray, query_labels: np.ndarray) -> float:
    """Mean of :func:`average_precision` over queries: ``ranked_labels`` is ``(Q, M)``.

    Queries with no classmate in their ranking are skipped (their AP is undefined);
    NaN if no query has one.
    """
    ranked = np.asarray(ranked_labels)
    query_labels = np.asarray(query_labels)
    if ranked.ndim != 2 or query_labels.shape != (ranked.shape[0],):
        raise SearchInputError(
            "need ranked labels (Q, M) and one query label per row; "
            f"got {ranked.shape} and {query_labels.shape}"
        )
    ap = _average_precision_rows(ranked == query_labels[:, None])
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else math.nan


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Every image used as a query once: the demo's score and friends for one feature set.

    ``classes`` are the sorted distinct labels; ``per_class_score`` and the rows and
    columns of ``confusion`` follow them. ``confusion[a, b]`` is, for queries of class
    ``a``, the weighted share of their top-k results in class ``b`` (rows sum to 1; the
    diagonal is ``per_class_score``). ``neighbours`` ``(N, k)`` holds each query's
    top-k row indices, nearest first.
    """

    metric: str
    k: int
    p: float | None
    classes: np.ndarray
    mean_score: float
    per_query_score: np.ndarray
    precision_at_k: float
    mean_average_precision: float
    per_class_score: np.ndarray
    confusion: np.ndarray
    random_expectation: float
    neighbours: np.ndarray

    def __repr__(self) -> str:
        return (
            f"Evaluation(metric={self.metric!r}, k={self.k}, mean_score={self.mean_score:.3f}, "
            f"precision_at_k={self.precision_at_k:.3f}, mAP={self.mean_average_precision:.3f}, "
            f"random={self.random_expectation:.3f}, n={self.per_query_score.shape[0]})"
        )


def evaluate(
    features: np.ndarray, labels: np.ndarray, metric: str = "cosine", k: int = DEFAULT_K, p: float = 3.0
) -> Evaluation:
    """Use every row as a query (leaving itself out) and score the rankings.

    Vectorised over all N queries: one ``N x N`` distance matrix and one stable sort
    per row. That is O(N^2) memory, right for the demo's hundreds of images; for tens of
    thousands see :mod:`browserml.imagesearch.scale`.
    """
    features = _check_matrix(features, "features")
    n = features.shape[0]
    labels = _check_labels(labels, n)
    k = _check_k(k, n - 1, "other images each query can be compared with")
    dist = _without_self(pairwise_distances(features, features, metric, p))
    order = _restore_columns(np.argsort(dist, axis=1, kind="stable"))  # (N, N - 1): ties by index
    hits = labels[order] == labels[:, None]
    w = score_weights(k)
    per_query = hits[:, :k] @ w / w.sum()

    classes, cls = np.unique(labels, return_inverse=True)
    counts = np.bincount(cls, minlength=classes.size).astype(np.float64)
    members = np.eye(classes.size)[cls]  # (N, C) one-hot of each query's class
    retrieved = np.zeros((n, classes.size))
    np.add.at(retrieved, (np.arange(n)[:, None], cls[order[:, :k]]), w / w.sum())
    confusion = members.T @ retrieved / counts[:, None]

    ap = _average_precision_rows(hits)
    return Evaluation(
        metric=metric,
        k=k,
        p=float(p) if metric == "minkowski" else None,
        classes=classes,
        mean_score=float(per_query.mean()),
        per_query_score=per_query,
        precision_at_k=float(hits[:, :k].mean()),
        mean_average_precision=float(np.nanmean(ap)) if np.isfinite(ap).any() else math.nan,
        per_class_score=members.T @ per_query / counts,
        confusion=confusion,
        random_expectation=random_score_expectation(labels),
        neighbours=order[:, :k].astype(np.int64),
    )


def _neighbours(features: np.ndarray, metric: str, k: int, p: float) -> np.ndarray:
    """Each row's top-k other rows ``(N, k)``, by (distance, index)."""
    dist = _without_self(pairwise_distances(features, features, metric, p))
    return _restore_columns(_smallest_k(dist, k))


def rankings_agree(
    features: np.ndarray, metrics: Sequence[str] = METRICS, k: int = DEFAULT_K, p: float = 3.0
) -> dict[tuple[str, str], float]:
    """For each pair of metrics, the share of queries whose top-k lists are identical.

    Every row is a query (leaving itself out); "identical" means the same rows in the
    same order. 1.0 means the two metrics can be swapped without any learner noticing.
    Keys are ``(a, b)`` with ``a`` before ``b`` in ``metrics``.
    """
    features = _check_matrix(features, "features")
    if len(set(metrics)) != len(metrics):
        raise SearchInputError(f"metrics must be distinct, got {list(metrics)}")
    for metric in metrics:
        _check_metric(metric, p)
    k = _check_k(k, features.shape[0] - 1, "other rows each query can be compared with")
    tops = {m: _neighbours(features, m, k, p) for m in metrics}
    return {
        (a, b): float(np.mean(np.all(tops[a] == tops[b], axis=1)))
        for i, a in enumerate(metrics)
        for b in metrics[i + 1:]
    }


def identical_ranking_groups(
    features: np.ndarray, metrics: Sequence[str] = METRICS, k: int = DEFAULT_K, p: float = 3.0
) -> list[tuple[str, ...]]:
    """Metrics grouped by identical top-k lists for every query, in ``metrics`` order.

    Always ``("euclidean", "squared")`` together (squaring is monotone on distances
    >= 0); on L2-normalised rows cosine joins them (``|a - b|^2 = 2 - 2 cos``).
    Identity of rankings is transitive, so comparing with each group's first is enough.
    """
    agree = rankings_agree(features, metrics, k, p)
    groups: list[list[str]] = []
    for metric in metrics:
        for group in groups:
            if agree[(group[0], metric)] == 1.0:
                group.append(metric)
                break
        else:
            groups.append([metric])
    return [tuple(g) for g in groups]


def score_grid(
    evaluations: Mapping[tuple[str, str], Evaluation], field: str = "mean_score"
) -> tuple[list[str], list[str], np.ndarray]:
    """``(row_labels, col_labels, matrix)`` from ``{(model, layer): Evaluation}``, for a heatmap.

    Rows and columns keep the order models and layers first appear in; a missing
    ``(model, layer)`` pair is NaN (left blank by the plot). ``field`` picks the
    number: any of :data:`SCORE_FIELDS`.
    """
    if field not in SCORE_FIELDS:
        raise SearchInputError(f"unknown field {field!r}; choose one of {', '.join(SCORE_FIELDS)}")
    if not evaluations:
        raise SearchInputError("no evaluations to put in a grid")
    rows = list(dict.fromkeys(model for model, _ in evaluations))
    cols = list(dict.fromkeys(layer for _, layer in evaluations))
    matrix = np.full((len(rows), len(cols)), np.nan)
    for (model, layer), ev in evaluations.items():
        matrix[rows.index(model), cols.index(layer)] = getattr(ev, field)
    return rows, cols, matrix
