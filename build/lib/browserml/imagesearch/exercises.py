"""Automatic checks for lesson 3's exercises (see :mod:`browserml.exercises`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from browserml.exercises import check
from browserml.imagesearch import search


def check_weighted_score(answer: float, retrieved_labels: Iterable[int], query_label: int) -> bool:
    """The learner's hand computation of ConvNet Playground's score for one result row."""
    expected = search.weighted_score(np.asarray(list(retrieved_labels)), query_label)
    return check(bool(np.isclose(answer, expected, atol=1e-9)),
                 f"the weighted score is {expected:.4f}: early hits count more than late ones",
                 f"got {answer!r}. Weight result i (0-based) by (15 - i) / 15, add the weights of the "
                 "same-class results, and divide by the sum of all 15 weights.")


def check_random_baseline(answer: float, labels: Iterable[int]) -> bool:
    """The chance level of the score, worked out from the class sizes."""
    expected = search.random_score_expectation(np.asarray(list(labels)))
    return check(bool(np.isclose(answer, expected, atol=1e-9)),
                 f"chance alone scores {expected:.4f}: a random result is a classmate with probability "
                 "(n_c - 1) / (N - 1), whatever its weight",
                 f"got {answer!r}. For one query of a class with n_c images among N, how many of the "
                 "other N - 1 images are classmates?")


def check_best_layer(answer: str, scores: Mapping[str, float]) -> bool:
    """The layer with the highest mean score in the learner's own table."""
    best = max(scores, key=lambda name: scores[name])
    return check(answer == best,
                 f"{best} scores best ({scores[best]:.3f}): deep layers group images by what they show",
                 f"got {answer!r}; look again at the table: which layer has the largest mean score?")


def check_identical_metrics(answer: Iterable[str], features: np.ndarray) -> bool:
    """Which metrics rank exactly like euclidean distance once features are L2-normalised."""
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    group = next(g for g in search.identical_ranking_groups(unit) if "euclidean" in g)
    return check(set(answer) == set(group),
                 f"on unit vectors {', '.join(sorted(group))} rank identically: "
                 "|a - b|² = 2 - 2 cos(a, b), and squaring keeps order",
                 f"got {sorted(set(answer))}. Expand |a - b|² for vectors of length 1.")
