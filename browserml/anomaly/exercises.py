"""Lesson 2's exercise checks. Each prints ✓, ✗ with a hint, or "… replace the ...", and
returns whether the answer is right; none raises for a wrong or blank answer, so the
notebook runs top to bottom with its blanks. The solutions are in
``notebooks/solutions/02_layers_api_autoencoder_ecg.md``; ``tests/test_anomaly_exercises.py``
runs every check on them (they must pass) and on plausible wrong answers (they must fail).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from browserml.anomaly.metrics import Evaluation
from browserml.data import ecg5000 as ecg
from browserml.exercises import blank, is_blank, verdict

if TYPE_CHECKING:
    from browserml.anomaly.model import Trainer
    from browserml.inbrowser.cell import CellResult

#: Anomagram's composer default, which the course does not use: with this seed, its
#: 3-unit ReLU layers start with decoder_0 entirely dead (see exercise 3).
ANOMAGRAM_COMPOSER = {"hidden": (7, 3), "seed": 3}


# --------------------------------------------------------------------------- exercise 1


def check_contamination_answer(answer: Any, clean_auc: float, contaminated_auc: float) -> bool:
    """Exercise 1: does letting abnormal beats into training raise or lower ROC-AUC?"""
    if is_blank(answer):
        return blank("answer 'higher' or 'lower'")
    said = str(answer).strip().lower()
    if said not in ("higher", "lower"):
        return verdict(False, "", f"answer 'higher' or 'lower', not {answer!r}")
    truth = "lower" if contaminated_auc < clean_auc else "higher"
    return verdict(said == truth,
                   f"ROC-AUC went from {clean_auc:.4f} to {contaminated_auc:.4f}: the autoencoder learned to "
                   "reconstruct some abnormal beats too, so they stand out less",
                   f"compare the two ROC-AUC values: {clean_auc:.4f} trained on normal beats only, "
                   f"{contaminated_auc:.4f} with abnormal ones mixed in")


# --------------------------------------------------------------------------- exercise 2


def check_recall(answer: Any, evaluation: Evaluation) -> bool:
    """Exercise 2: recall from the confusion matrix ``[[TN, FP], [FN, TP]]``."""
    if is_blank(answer):
        return blank("compute the recall from tn, fp, fn and tp")
    (tn, fp), (fn, tp) = np.asarray(evaluation.confusion).tolist()
    want = tp / (tp + fn)
    try:
        got = float(answer)
    except (TypeError, ValueError):
        return verdict(False, "", f"the recall is one number between 0 and 1, got {answer!r}")
    share = lambda a, b: a / b if b else float("nan")  # noqa: E731
    hints = ((share(tp, tp + fp), "that is the precision, TP / (TP + FP): the share of flagged beats that are "
              "abnormal"),
             (share(tp + tn, tn + fp + fn + tp), "that is the accuracy"),
             (share(tn, tn + fp), "that is the specificity, TN / (TN + FP): the share of normal beats let through"))
    hint = next((h for value, h in hints if value != want and abs(got - value) < 1e-9),
                "recall is the share of truly abnormal beats that were flagged: TP / (TP + FN)")
    return verdict(abs(got - want) < 1e-9, f"recall = TP / (TP + FN) = {tp}/{tp + fn} = {want:.4f}", hint)


# --------------------------------------------------------------------------- exercise 3


def dead_units_reference(outputs: Mapping[str, np.ndarray]) -> dict[str, int]:
    """How many units of each layer output 0 for every beat (a dead ReLU)."""
    return {name: int(np.sum(np.all(np.asarray(out) == 0, axis=0))) for name, out in outputs.items()}


def _composer_outputs() -> dict[str, np.ndarray]:
    """Anomagram's 7→3 with seed 3, freshly built (untrained), on its own training beats."""
    from browserml.anomaly.data import prepare_data
    from browserml.anomaly.model import ANOMAGRAM_DEFAULT, build_autoencoder, hidden_outputs

    config = ANOMAGRAM_DEFAULT.with_changes(**ANOMAGRAM_COMPOSER)
    data = prepare_data(config)
    return hidden_outputs(build_autoencoder(config), data.scaler.transform(data.train.x))


def _count_table(counts: Mapping[str, int], outputs: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{name} {counts[name]} of {np.asarray(out).shape[1]}" for name, out in outputs.items())


def check_dead_units(fn: Callable[[Mapping[str, np.ndarray]], Any] | Any, trainer: Trainer) -> bool:
    """Exercise 3: ``fn(outputs)`` counts each layer's dead ReLU units (0 for every beat):
    on a small hand-made case, on the trained model's training beats, and on Anomagram's
    7→3 with seed 3 before training."""
    from browserml.anomaly.model import hidden_outputs

    if is_blank(fn):
        return blank("write dead_units")
    toy = {"a": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]]),  # units 0 and 2 are dead
           "b": np.array([[0.5, 0.0], [0.0, 0.3], [0.0, 0.0]])}  # each unit is 0 for some beats, alive
    trained = hidden_outputs(trainer.model, trainer.data.scaler.transform(trainer.data.train.x))
    composer = _composer_outputs()
    cases = (("a 3-beat example", toy), ("the trained model", trained), ("Anomagram's 7→3, seed 3", composer))
    for what, outputs in cases:
        try:
            got = fn(outputs)
        except Exception as err:  # noqa: BLE001 - the learner's code: its error becomes the hint
            return verdict(False, "", f"dead_units raised {type(err).__name__}: {err}")
        if is_blank(got):
            return blank("write dead_units")
        want = dead_units_reference(outputs)
        if not isinstance(got, Mapping) or {k: _as_int(v) for k, v in got.items()} != want:
            hint = (f"on {what} the dead units are {want}, you gave {got!r}. A unit is dead when its "
                    "column is 0 for every beat (row); a unit that is 0 for some beats is still alive")
            if what == "a 3-beat example" and isinstance(got, Mapping) and _as_int(got.get("b")) == 2:
                hint += " (you counted units that are 0 for at least one beat)"
            return verdict(False, "", hint)
    dead, total = sum(dead_units_reference(trained).values()), sum(o.shape[1] for o in trained.values())
    at_start = dead_units_reference(composer)
    whole = [name for name, out in composer.items() if at_start[name] == out.shape[1]]
    consequence = (f": {whole[0]} is dead as a whole, so every later layer gets the same input for every "
                   "beat, the model outputs one beat for all of them, and no gradient gets back past it"
                   if whole else "")
    return verdict(True,
                   f"the trained model: {_count_table(dead_units_reference(trained), trained)} dead ({dead} of "
                   f"{total}), and it still separates the classes. Anomagram's 7→3 with seed 3, before any "
                   f"training: {_count_table(at_start, composer)}{consequence}",
                   "")


def _as_int(value: Any) -> int | None:
    try:
        return int(value) if float(value) == int(value) else None
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- exercise 4


def check_js_scores(result: CellResult | None, python_scores: np.ndarray) -> bool:
    """Exercise 4 (TF.js): one reconstruction error per beat, equal to Python's to float32
    precision, and no tensor left behind."""
    if result is None or is_blank(result):
        return blank("run your %%tfjs cell first")
    if not result.done:  # sent to a page that has not answered yet (on Colab: until the cell ends)
        print(f"… no answer from TF.js yet ({result.summary()}): run this check again once it has one")
        return False
    if not result.ok:
        return verdict(False, "", f"the cell did not run to the end: {result.summary()}")
    want = np.asarray(python_scores, np.float64)
    try:
        got = np.asarray(result.value, np.float64)
    except (TypeError, ValueError):
        return verdict(False, "", f"return a tensor of scores, got {type(result.value).__name__}")
    if got.shape != want.shape:
        hint = f"return one score per beat, shape [{want.size}], got shape {list(got.shape)}"
        if got.size == 1:
            hint += ": .mean() averaged over every beat too; average over each beat's 140 steps, .mean(1)"
        elif got.shape == (ecg.N_STEPS,):
            hint += ": .mean(0) averaged over the beats; average over each beat's 140 steps, .mean(1)"
        return verdict(False, "", hint)
    # Reconstructions match Python to 1e-5 (the export's parity), and each score is a float32
    # mean of 140 squared differences of values in [0, 1]: 1e-5 absolute holds both.
    worst = float(np.max(np.abs(got - want)))
    if worst > 1e-5:
        return verdict(False, "", f"your scores differ from Python's by up to {worst:.1e}: score each beat by "
                       "the mean of (reconstruction - beat)² over its 140 steps")
    return verdict(result.leaked == 0,
                   f"{want.size} scores equal to Python's (max |Δ| {worst:.1e}), and tf.memory().numTensors "
                   f"stayed at {result.num_tensors_before}",
                   f"the scores are right, but {result.leaked} tensors were left behind: build them inside "
                   "tf.tidy(() => ...) and return the scores from it (and dispose the model)")


# --------------------------------------------------------------------------- exercise 5


def _f1(scores: np.ndarray, abnormal: np.ndarray, threshold: float, flag_equal: bool = False) -> float:
    flagged = scores >= threshold if flag_equal else scores > threshold
    tp = int(np.sum(flagged & abnormal))
    return 2 * tp / (int(np.sum(flagged)) + int(np.sum(abnormal)))


#: A case where the most accurate cut-off is not the best-F1 one: 6 abnormal beats among 20.
_F1_CASE = (np.array([0.10, 0.12, 0.15, 0.18, 0.20, 0.22, 0.25, 0.28, 0.30, 0.33, 0.35, 0.38, 0.40,
                      0.42, 0.45, 0.50, 0.55, 0.60, 0.70, 0.80]),
            np.array([0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0], bool))


def check_best_f1_threshold(fn: Callable[[np.ndarray, np.ndarray], Any] | Any, val_scores: np.ndarray,
                            val_labels: np.ndarray) -> bool:
    """Exercise 5: ``fn(scores, abnormal)`` returns a cut-off ``t`` whose "score > t is
    abnormal" has the best F1 possible, on the lesson's validation beats and on a small
    case where the most accurate cut-off is not the best-F1 one."""
    from browserml.anomaly.metrics import threshold_best_f1

    if is_blank(fn):
        return blank("write best_f1_threshold")
    cases = (("the validation beats", np.asarray(val_scores, np.float64), np.asarray(val_labels) != ecg.NORMAL),
             ("a 20-beat example", *_F1_CASE))
    for what, scores, abnormal in cases:
        try:
            got = fn(scores.copy(), abnormal.copy())
        except Exception as err:  # noqa: BLE001 - the learner's code: its error becomes the hint
            return verdict(False, "", f"best_f1_threshold raised {type(err).__name__}: {err}")
        if is_blank(got):
            return blank("write best_f1_threshold")
        try:
            threshold = float(got)
        except (TypeError, ValueError):
            return verdict(False, "", f"return one number, the cut-off, got {got!r}")
        if np.isnan(threshold):
            return verdict(False, "", "the cut-off is NaN: every comparison with it is False")
        best = _f1(scores, abnormal, threshold_best_f1(scores, abnormal))
        mine = _f1(scores, abnormal, threshold)
        if mine < best - 1e-12:
            hint = f"on {what}, score > {threshold:.5g} gives F1 {mine:.4f}, the best cut-off gives {best:.4f}"
            if _f1(scores, abnormal, threshold, flag_equal=True) >= best - 1e-12:
                hint += (". The beat whose score equals your cut-off is not flagged (the rule is score > t): "
                         "return a value just below it")
            else:
                hint += ": try every score as a cut-off and keep the one with the highest F1 = 2TP / (2TP + FP + FN)"
            return verdict(False, "", hint)
    return verdict(True, "your cut-off reaches the best F1 on the validation beats and on the example, where "
                   "the most accurate cut-off is not the best-F1 one", "")


__all__ = ["ANOMAGRAM_COMPOSER", "check_best_f1_threshold", "check_contamination_answer", "check_dead_units",
           "check_js_scores", "check_recall", "dead_units_reference"]
