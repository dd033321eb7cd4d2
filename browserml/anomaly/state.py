"""Lesson 2's app state: configuration, training, threshold and verdicts, with no widgets.

``AnomalyState`` holds the configuration, the trainer and every derived number (tests
drive it by setting values); ``widgets.anomaly.AnomalyApp`` is only its view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.anomaly import metrics, model
from browserml.anomaly.data import LessonData, beat_from_drawing, prepare_data
from browserml.anomaly.export import export_anomaly
from browserml.data import ecg5000 as ecg

#: The threshold rules that read ``k`` (the others leave the k slider disabled).
RULES_USING_K = ("mean_k_sigma",)


@dataclass(frozen=True)
class Verdict:
    """What the app says about one beat."""

    beat: np.ndarray  # raw values
    scaled: np.ndarray
    reconstruction: np.ndarray
    score: float
    abnormal: bool
    label: int | None = None

    @property
    def text(self) -> str:
        verdict = "ABNORMAL" if self.abnormal else "normal"
        truth = "" if self.label is None else f" (true class: {ecg.CLASS_NAMES.get(self.label, self.label)})"
        return f"error {self.score:.5f} → {verdict}{truth}"


class AnomalyState:
    """Configuration, training and evaluation of the autoencoder, without widgets."""

    def __init__(self, config: model.AutoencoderConfig = model.ANOMAGRAM_DEFAULT) -> None:
        self.config = config
        self.threshold_rule = "best_f1"
        self.k = 3.0
        self.class_filter: int | None = None
        self._data: LessonData | None = None
        self.trainer: model.Trainer | None = None
        self.threshold: float | None = None
        self._scores: dict[str, np.ndarray] = {}

    # ---- composer
    def configure(self, **changes: Any) -> None:
        """Change any :class:`AutoencoderConfig` field; invalid values raise and change nothing.

        Data-affecting fields re-select the training beats; any change discards the model.
        """
        new = self.config.with_changes(**changes)  # validates
        if {"train_size", "abnormal_share", "split", "val_fraction", "seed"} & set(changes):
            prepare_data(new)  # surface data errors (e.g. too many beats asked) before committing
            self._data = None
        self.config = new
        self.trainer, self.threshold, self._scores = None, None, {}

    def add_layer(self, units: int = 4) -> None:
        self.configure(hidden=(*self.config.hidden, units))

    def remove_layer(self) -> None:
        if len(self.config.hidden) <= 1:
            raise ValueError("the encoder needs at least one hidden layer")
        self.configure(hidden=self.config.hidden[:-1])

    def set_units(self, index: int, units: int) -> None:
        hidden = list(self.config.hidden)
        hidden[index] = int(units)
        self.configure(hidden=tuple(hidden))

    @property
    def data(self) -> LessonData:
        if self._data is None:
            self._data = prepare_data(self.config)
        return self._data

    # ---- training
    def train(self, on_epoch: Callable[[int, float, float | None], None] | None = None) -> model.History:
        """Train (or resume after :meth:`pause`) up to ``config.epochs``."""
        if self.trainer is None:
            self.trainer = model.Trainer(self.config, self.data)
        self._scores = {}
        history = self.trainer.train(on_epoch)
        self.refresh()
        return history

    def pause(self) -> None:
        if self.trainer is not None:
            self.trainer.pause()

    def _require_model(self) -> model.Trainer:
        if self.trainer is None or not self.trainer.epochs_done:
            raise RuntimeError("train the autoencoder first")
        return self.trainer

    def current_threshold(self) -> float:
        """The threshold in use; the rule's, when training stopped before setting one.

        A run that diverges after some good epochs leaves a trained model and no
        threshold (its :meth:`train` raised before :meth:`refresh`); judging or exporting
        then needs the rule's threshold, which also reports the model's non-finite errors.
        """
        self._require_model()
        if self.threshold is None:
            self.threshold = self.auto_threshold()
        return self.threshold

    def refresh(self) -> None:
        """Recompute scores of every part and the automatic threshold."""
        trainer = self._require_model()
        split = self.data.split
        self._scores = {"train": trainer.scores(self.data.train.x), "val": trainer.scores(split.val.x),
                        "test": trainer.scores(split.test.x)}
        self.threshold = self.auto_threshold()

    def scores(self, part: str) -> np.ndarray:
        if not self._scores:
            self.refresh()
        return self._scores[part]

    # ---- threshold and metrics
    def auto_threshold(self) -> float:
        """The rule's threshold, from validation (best F1) or training errors (mean+kσ)."""
        return metrics.choose_threshold(self.threshold_rule, self.scores("val"), self.data.split.val.y,
                                   self.scores("train"), self.k)

    def set_rule(self, rule: str, k: float | None = None) -> None:
        if rule not in model.THRESHOLD_RULES:
            raise ValueError(f"threshold rule must be one of {model.THRESHOLD_RULES}, got {rule!r}")
        self.threshold_rule = rule
        if k is not None:
            self.k = float(k)
        if self.trainer is not None and self.trainer.epochs_done:
            self.threshold = self.auto_threshold()

    @property
    def uses_k(self) -> bool:
        """Whether the current rule reads ``k`` (mean + kσ does; best F1 does not)."""
        return self.threshold_rule in RULES_USING_K

    def set_threshold(self, value: float) -> None:
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"threshold must be a finite number >= 0, got {value!r}")
        self._require_model()
        self.threshold = float(value)

    def evaluation(self) -> metrics.Evaluation:
        """Test-set metrics at the current threshold."""
        self._require_model()
        return metrics.evaluate(self.scores("test"), self.data.split.test.y, self.current_threshold())

    def report(self) -> metrics.Report:
        """Autoencoder vs PCA vs IsolationForest, thresholds chosen by the current rule."""
        return metrics.compare(self._require_model(), self.threshold_rule, self.k)

    # ---- inspector and drawing
    def beat_choices(self) -> list[int]:
        """Test-beat indices, all or of the filtered class."""
        y = self.data.split.test.y
        idx = np.flatnonzero(y == self.class_filter) if self.class_filter is not None else np.arange(len(y))
        return idx.tolist()

    def set_class_filter(self, cls: int | None) -> None:
        if cls is not None and cls not in ecg.CLASS_NAMES:
            raise ValueError(f"class must be one of {sorted(ecg.CLASS_NAMES)} or None, got {cls!r}")
        self.class_filter = cls
        if not self.beat_choices():
            raise ValueError(f"empty selection: the test set has no beats of class {cls}")

    def judge(self, beat: np.ndarray, label: int | None = None) -> Verdict:
        trainer = self._require_model()
        scaled = self.data.scaler.transform(beat)
        recon = trainer.model.predict(scaled, verbose=0)[0]
        score = float(np.mean((recon - scaled[0]) ** 2))
        abnormal = score > self.current_threshold()
        return Verdict(np.asarray(beat, np.float32), scaled[0], recon, score, abnormal, label)

    def inspect(self, index: int) -> Verdict:
        test = self.data.split.test
        if not 0 <= index < test.n:
            raise IndexError(f"beat index must be in 0..{test.n - 1}, got {index}")
        return self.judge(test.x[index], int(test.y[index]))

    def judge_drawing(self, points: list[float]) -> Verdict:
        return self.judge(beat_from_drawing(points))

    def export(self, out_dir: str | Path) -> Path:
        trainer = self._require_model()
        return export_anomaly(trainer, self.current_threshold(), out_dir, self.threshold_rule)
