"""Lesson 3's exercise checks. Each prints ✓, ✗ with a hint, or "replace the ..." for an
untouched blank, and returns whether the answer is right; none raises, so the notebook runs
top to bottom with its blanks. The solutions are in
``notebooks/solutions/03_convnet_image_search.md``; ``tests/test_imagesearch_exercises.py``
runs every check on its solution (must pass) and on plausible wrong answers (must fail).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from browserml.exercises import blank, is_blank, verdict
from browserml.imagesearch import search
from browserml.inbrowser.cell import CellResult

EPS32 = float(np.finfo(np.float32).eps)

#: Rows of 15 result labels (query label 0) that tell the weighted score from its look-alikes:
#: the unweighted share, weights in the wrong order, a hit counted at every rank.
SCORE_CASES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((0,) * 15, 0),
    ((1,) * 15, 0),
    ((0,) + (1,) * 14, 0),
    ((1,) * 14 + (0,), 0),
    ((0, 0, 0, 2, 2, 0, 3, 3, 3, 0, 1, 1, 0, 0, 4), 0),
    ((5, 5, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3), 3),
)

#: Label sets for the chance level: unequal classes (first, so that each shortcut fails with its
#: own hint), ten classes of 20 (FASHION200's shape), two classes, and a class of one image
#: (which can never find a classmate).
CHANCE_CASES: tuple[tuple[int, ...], ...] = (
    tuple(np.repeat(np.arange(4), [5, 10, 50, 35]).tolist()),
    tuple(np.repeat(np.arange(10), 20).tolist()),
    tuple(np.repeat(np.arange(2), [30, 10]).tolist()),
    tuple(np.repeat(np.arange(3), [1, 8, 11]).tolist()),
)


def _called(fn: Callable[..., Any] | Any, what: str, *args: Any) -> tuple[bool, Any]:
    """``(True, fn(*args))``, or ``(False, None)`` after saying why (a blank, or an error)."""
    if is_blank(fn) or not callable(fn):
        return False, blank(what)
    try:
        value = fn(*args)
    except Exception as err:  # noqa: BLE001 - a learner's function may fail any way; say how, in one line
        return False, verdict(False, "", f"your function raised {type(err).__name__}: {err}")
    if is_blank(value):
        return False, blank(what)
    return True, value


def check_search_score(fn: Callable[[np.ndarray, int], float] | Any) -> bool:
    """Exercise 1: ``fn(found_labels, query_label)`` is ConvNet Playground's search result
    score of one row of 15 results (result i weighs (15 - i) / 15)."""
    for labels, query_label in SCORE_CASES:
        found = np.asarray(labels)
        ran, got = _called(fn, "write search_score", found, query_label)
        if not ran:
            return False
        want = search.weighted_score(found, query_label)
        try:
            right = bool(np.isclose(float(got), want, rtol=0, atol=1e-9))  # float64 sums of 15 terms
        except (TypeError, ValueError):
            return verdict(False, "", f"search_score should return a number, it returned {got!r}")
        if not right:
            hint = ""
            if np.isclose(float(got), search.precision_at_k(found, query_label), atol=1e-9):
                hint = " (that is the unweighted share of hits: weigh result i by (15 - i) / 15)"
            return verdict(False, "", f"for the results {list(labels)} of a query of class {query_label} the "
                           f"score is {want:.4f}, you gave {float(got):.4f}{hint}")
    return verdict(True, f"right on all {len(SCORE_CASES)} rows: a hit at rank 1 counts 15 times a hit at rank 15",
                   "")


def check_chance_score(fn: Callable[[np.ndarray], float] | Any) -> bool:
    """Exercise 2: ``fn(labels)`` is the expected search score of a uniformly random ranking,
    averaged over every image as the query, for any class sizes."""
    for labels in CHANCE_CASES:
        arr = np.asarray(labels)
        ran, got = _called(fn, "write chance_score", arr)
        if not ran:
            return False
        want = search.random_score_expectation(arr)
        try:
            right = bool(np.isclose(float(got), want, rtol=1e-9, atol=0))  # closed form, float64
        except (TypeError, ValueError):
            return verdict(False, "", f"chance_score should return a number, it returned {got!r}")
        if not right:
            sizes = np.bincount(arr).tolist()
            hint = ""
            if np.isclose(float(got), float(np.sum((np.bincount(arr) / arr.size) ** 2))):
                hint = (" (that counts the query as its own classmate; it is left out of its results, so it "
                        "has n_c - 1 classmates among N - 1 others)")
            elif np.isclose(float(got), 1 / len(sizes)):
                hint = " (1 / classes would hold for equal classes, if the query could find itself: it cannot)"
            return verdict(False, "", f"for classes of sizes {sizes} chance scores {want:.4f}, "
                           f"you gave {float(got):.4f}{hint}")
    return verdict(True, "right for equal and unequal classes: every rank holds a classmate with probability "
                   "(n_c - 1) / (N - 1), so the weights cancel", "")


def check_identical_metrics(answer: Iterable[str] | Any, features: np.ndarray) -> bool:
    """Exercise 3: which metrics rank exactly like euclidean distance once features are L2-normalised."""
    if is_blank(answer):
        return blank("name the metrics")
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    group = next(g for g in search.identical_ranking_groups(unit) if "euclidean" in g)
    chosen = {answer} if isinstance(answer, str) else set(answer)
    return verdict(chosen == set(group),
                   f"on unit vectors {', '.join(sorted(group))} rank identically: "
                   "|a - b|² = 2 - 2 cos(a, b), and squaring keeps order",
                   f"you named {sorted(chosen)}. Expand |a - b|² for two vectors of length 1.")


def check_tfjs_search(result: CellResult | None, gallery: np.ndarray, query: int, k: int = 15) -> bool:
    """Exercise 4: the cell returned the ``k`` gallery rows nearest to row ``query`` by cosine
    distance, nearest first, the query left out, and left no tensor behind.

    TF.js computes in float32 and Python in float64, so two results whose distances differ
    by less than float32's rounding may swap places: the ranking is accepted when the
    distance at every rank equals Python's within ``D·eps32`` (D features, each cosine a sum
    of D products)."""
    if result is None or is_blank(result):
        return blank("run your %%tfjs cell first")
    if not result.ok:
        return verdict(False, "", f"the cell did not run to the end: {result.summary()}")
    if result.value is None:
        return blank("return the indices of the 15 nearest images from the cell")
    try:
        found = np.asarray(result.value).astype(np.int64).ravel()
    except (TypeError, ValueError):
        return verdict(False, "", f"return the indices, e.g. tf.topk(...).indices; the cell returned {result.value!r}")
    gallery = np.asarray(gallery, dtype=np.float64)
    n, dim = gallery.shape
    if found.size != k or len(set(found.tolist())) != k or found.min() < 0 or found.max() >= n:
        return verdict(False, "", f"return {k} distinct row indices in 0..{n - 1}; got {found.tolist()}")
    if query in found:
        return verdict(False, "", f"the query ({query}) is among its own results: leave it out, as the demo does")
    distance = search.pairwise_distances(gallery[query][None], gallery, "cosine")[0]
    want = search.top_k(gallery, query, k=k, metric="cosine").indices
    tolerance = dim * EPS32
    gap = float(np.max(np.abs(distance[found] - distance[want])))
    if gap > tolerance:
        return verdict(False, "", f"these are not the {k} nearest by cosine distance (rank by rank, distances "
                       f"differ by up to {gap:.3g}); normalise each row to length 1, then one matMul gives every "
                       "cosine similarity, and tf.topk the largest")
    leaked = result.leaked or 0
    return verdict(leaked == 0, f"the same top {k} as Python's se.top_k, and tf.memory() back where it started",
                   f"the ranking is right, but {leaked} tensors were left behind: build them inside tf.tidy")


__all__ = ["CHANCE_CASES", "SCORE_CASES", "check_chance_score", "check_identical_metrics", "check_search_score",
           "check_tfjs_search"]
