"""Lesson 2's exercise checks: each says in words whether the learner's answer is right."""

from __future__ import annotations

from browserml.anomaly.metrics import Evaluation


def check_contamination_answer(answer: str, clean_auc: float, contaminated_auc: float) -> bool:
    """Exercise: does letting abnormal beats into training raise or lower ROC-AUC?"""
    from browserml.exercises import check

    truth = "lower" if contaminated_auc < clean_auc else "higher"
    return check(str(answer).strip().lower() == truth,
                 f"ROC-AUC went from {clean_auc:.4f} to {contaminated_auc:.4f}: the autoencoder learned to "
                 "reconstruct some abnormal beats too, so they stand out less",
                 f"compare the two ROC-AUC values ({clean_auc:.4f} vs {contaminated_auc:.4f}) and answer "
                 "'higher' or 'lower'")


def check_recall(answer: float, evaluation: Evaluation) -> bool:
    """Exercise: recall from the confusion matrix ``[[TN, FP], [FN, TP]]``."""
    from browserml.exercises import check

    (_, _), (fn, tp) = evaluation.confusion
    return check(abs(float(answer) - tp / (tp + fn)) < 1e-9, f"recall = TP / (TP + FN) = {tp}/{tp + fn}",
                 "recall is the share of truly abnormal beats that were flagged: TP / (TP + FN)")
