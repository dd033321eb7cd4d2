"""Lesson 2's evaluation: thresholds chosen on validation data, metrics, and two baselines.

A threshold comes from validation beats (best F1) or training errors (mean + kσ), never
the test set; :func:`evaluate` reports every metric with per-class detection rates,
and :func:`compare` puts the autoencoder beside PCA reconstruction and IsolationForest
on the same split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from browserml.anomaly.data import AnomalyInputError, LessonData, _checked_scores
from browserml.anomaly.model import THRESHOLD_RULES, Trainer
from browserml.data import ecg5000 as ecg
from browserml.errors import BadInput, finite_float


def threshold_best_f1(scores: np.ndarray, abnormal: np.ndarray) -> float:
    """The score cut-off that maximises F1 on labelled (validation) beats."""
    from sklearn.metrics import precision_recall_curve

    abnormal = np.asarray(abnormal, bool)
    scores = _checked_scores(scores, "the validation beat's")
    if abnormal.all() or not abnormal.any():
        raise AnomalyInputError("best-F1 threshold needs both normal and abnormal validation beats")
    precision, recall, cuts = precision_recall_curve(abnormal, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))
    # Predictions are "score > threshold": put the cut just below the best cut-off score.
    return float(np.nextafter(cuts[best], -np.inf))


def check_threshold_rule(rule: str, k: float = 3.0) -> float:
    """``k`` as a float once ``rule`` and ``k`` are known good; call it before training, so a
    ``--k nan`` is refused at once instead of giving a NaN threshold (every beat "normal",
    F1 = 0) after the whole run. ``k`` counts standard deviations above the mean: ≥ 0."""
    if not isinstance(rule, str) or rule not in THRESHOLD_RULES:
        raise AnomalyInputError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    try:
        return finite_float("k", k, 0.0)
    except BadInput as err:
        raise AnomalyInputError(f"{err} (k of the mean+kσ rule counts standard deviations above the mean "
                                "training error, e.g. 3)") from None


def threshold_mean_k_sigma(train_scores: np.ndarray, k: float = 3.0) -> float:
    """Unsupervised rule: mean + k standard deviations of the training errors."""
    k = check_threshold_rule("mean_k_sigma", k)
    train_scores = _checked_scores(train_scores, "the training beat's")
    if train_scores.size < 2:
        raise AnomalyInputError("mean+kσ threshold needs at least 2 training scores")
    threshold = float(train_scores.mean() + k * train_scores.std())
    if not np.isfinite(threshold):
        raise AnomalyInputError(f"mean + {k:g}σ of the training errors is {threshold}; use a smaller k")
    return threshold


@dataclass(frozen=True)
class Evaluation:
    """Every number the lesson reports for one detector at one threshold."""

    threshold: float
    metrics: dict[str, float]
    confusion: np.ndarray  # [[TN, FP], [FN, TP]]
    per_class: dict[str, float]  # detection rate (share flagged) per class name

    def row(self, name: str) -> dict[str, Any]:
        return {"detector": name, **{k: round(v, 4) for k, v in self.metrics.items()}}


def evaluate(scores: np.ndarray, labels: np.ndarray, threshold: float) -> Evaluation:
    """Metrics of "score > threshold means abnormal" against ECG5000 labels (1 = normal)."""
    from sklearn import metrics as skm

    threshold = finite_float("threshold", threshold)
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.shape != labels.shape or scores.size == 0:
        raise AnomalyInputError(f"scores {scores.shape} and labels {labels.shape} must be equal, non-empty")
    scores = _checked_scores(scores, "the")
    truth = labels != ecg.NORMAL
    flagged = scores > threshold
    tn, fp, fn, tp = skm.confusion_matrix(truth, flagged, labels=[False, True]).ravel()
    safe = lambda a, b: float(a / b) if b else 0.0  # noqa: E731
    both = truth.any() and not truth.all()
    out = {
        "accuracy": safe(tp + tn, tp + tn + fp + fn),
        "precision": safe(tp, tp + fp),
        "recall": safe(tp, tp + fn),
        "f1": safe(2 * tp, 2 * tp + fp + fn),
        "roc_auc": float(skm.roc_auc_score(truth, scores)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(truth, scores)) if both else float("nan"),
        "tpr": safe(tp, tp + fn), "tnr": safe(tn, tn + fp), "fpr": safe(fp, fp + tn), "fnr": safe(fn, fn + tp),
    }
    per_class = {ecg.CLASS_NAMES.get(int(c), str(c)): float(flagged[labels == c].mean()) for c in np.unique(labels)}
    return Evaluation(float(threshold), out, np.array([[tn, fp], [fn, tp]]), per_class)


def choose_threshold(rule: str, val_scores: np.ndarray, val_labels: np.ndarray, train_scores: np.ndarray,
                     k: float = 3.0) -> float:
    """A threshold by ``rule``, from validation or training data, never the test set."""
    k = check_threshold_rule(rule, k)
    if rule == "best_f1":
        return threshold_best_f1(val_scores, np.asarray(val_labels) != ecg.NORMAL)
    if rule == "mean_k_sigma":
        return threshold_mean_k_sigma(train_scores, k)
    raise AnomalyInputError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")


# --------------------------------------------------------------------------- baselines


def baseline_scores(data: LessonData, n_components: int,
                    seed: int = 0) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Scorers fitted on the same training beats: PCA reconstruction error and IsolationForest."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest

    x = data.scaler.transform(data.train.x)
    pca = PCA(n_components=min(n_components, x.shape[0], x.shape[1]), random_state=seed).fit(x)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(x)

    def pca_score(raw: np.ndarray) -> np.ndarray:
        z = data.scaler.transform(raw)
        return np.mean((pca.inverse_transform(pca.transform(z)) - z) ** 2, axis=1)

    return {f"PCA ({pca.n_components_} components)": pca_score,
            "IsolationForest": lambda raw: -forest.score_samples(data.scaler.transform(raw))}


@dataclass(frozen=True)
class Report:
    """The autoencoder and the baselines, each with a validation-chosen threshold, on test."""

    rule: str
    rows: dict[str, Evaluation]

    def table(self) -> list[dict[str, Any]]:
        return [e.row(name) for name, e in self.rows.items()]


def compare(trainer: Trainer, rule: str = "best_f1", k: float = 3.0) -> Report:
    """Evaluate the trained autoencoder and the baselines on the test beats."""
    k = check_threshold_rule(rule, k)
    split = trainer.data.split
    scorers = {"Autoencoder": trainer.scores, **baseline_scores(trainer.data, trainer.config.latent,
                                                                trainer.config.seed)}
    rows = {}
    for name, score in scorers.items():
        threshold = choose_threshold(rule, score(split.val.x), split.val.y, score(trainer.data.train.x), k)
        rows[name] = evaluate(score(split.test.x), split.test.y, threshold)
    return Report(rule, rows)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC of scores against ECG5000 labels (abnormal = not class 1); NaN with one class only."""
    from sklearn.metrics import roc_auc_score

    truth = np.asarray(labels) != ecg.NORMAL
    return float(roc_auc_score(truth, scores)) if truth.any() and not truth.all() else float("nan")
