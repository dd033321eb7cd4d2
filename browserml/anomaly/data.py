"""Lesson 2's data: the beats the autoencoder trains on, scaled, and every check on a beat.

ECG5000 itself (download, splits, classes) is :mod:`browserml.data.ecg5000`; this is
what the lesson adds: the min-max scaler fitted on training beats only, the checks that
refuse a bad beat or a non-finite score in one line, the configured split with its
training beats (:func:`prepare_data`), and a hand-drawn beat made into a real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from browserml.data import ecg5000 as ecg
from browserml.errors import BadInput

if TYPE_CHECKING:
    from browserml.anomaly.model import AutoencoderConfig


class AnomalyInputError(BadInput):
    """An option, beat or threshold lesson 2 cannot use: one line naming it and what works."""


@dataclass(frozen=True)
class MinMaxScaler:
    """Per-time-step min-max scaling to [0, 1], fitted on training beats only.

    A zero range (a constant time step) scales by 1, so no division by zero; the
    same rule is written into ``browserml.json`` for TF.js clients, with ``max_abs``:
    a raw value beyond it (NaN and infinity too) is refused by every client alike,
    since its squared error would overflow float32 (NaN in TF.js, inf in NumPy).
    """

    min: np.ndarray
    max: np.ndarray
    max_abs: float = ecg.MAX_ABS_VALUE

    @classmethod
    def fit(cls, x: np.ndarray) -> MinMaxScaler:
        x = _check_beats(x)
        return cls(x.min(axis=0).astype(np.float32), x.max(axis=0).astype(np.float32))

    @property
    def range(self) -> np.ndarray:
        span = self.max - self.min
        return np.where(span == 0, 1.0, span).astype(np.float32)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((_check_beats(x, self.max_abs) - self.min) / self.range).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "minmax", "min": self.min.astype(float).tolist(), "max": self.max.astype(float).tolist(),
                "max_abs": float(self.max_abs)}


def _check_beats(x: np.ndarray, max_abs: float = ecg.MAX_ABS_VALUE) -> np.ndarray:
    """Raw beats as float32 ``[n, 140]``, or one line naming the first bad beat and step.

    Checked in float64 before the cast, so a finite 1e300 is named as itself; values
    beyond ``max_abs`` are refused because their squared error overflows float32.
    """
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise AnomalyInputError(f"beats must be numbers, shape [n, {ecg.N_STEPS}] ({err})") from None
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != ecg.N_STEPS:
        raise AnomalyInputError(f"beats must have shape [n, {ecg.N_STEPS}], got {list(x.shape)}")
    if x.shape[0] == 0:
        raise AnomalyInputError("empty selection: no beats to score")
    bad = ecg.first_bad_value(x, max_abs)
    if bad is not None:
        raise AnomalyInputError(f"beat {bad[0]}, step {bad[1]}: {bad[2]}")
    return x.astype(np.float32)


def _checked_scores(scores: np.ndarray, who: str) -> np.ndarray:
    """Scores as they are, or a refusal: a NaN score is never "not above the threshold"
    (it would pass as normal) and an inf one never silently "abnormal"."""
    scores = np.asarray(scores, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise AnomalyInputError(f"beat {int(bad[0])}: {who} reconstruction error is {scores[bad[0]]}, not a number "
                                "to compare with the threshold (the model or its weights give non-finite outputs)")
    return scores


@dataclass(frozen=True)
class LessonData:
    """The split, the autoencoder's training beats, and the scaler fitted on them."""

    split: ecg.Split
    train: ecg.Beats
    scaler: MinMaxScaler


def prepare_data(config: AutoencoderConfig) -> LessonData:
    """Load the configured split and select the training beats (normal ones, plus
    ``abnormal_share`` abnormal ones if asked), then fit the scaler on them."""
    split = ecg.ucr_split(config.val_fraction, config.seed) if config.split == "ucr" else \
        ecg.anomagram_split(config.val_fraction, config.seed)
    train = ecg.training_beats(split.train, config.train_size, config.abnormal_share, config.seed)
    return LessonData(split, train, MinMaxScaler.fit(train.x))


def beat_from_drawing(points: Sequence[float]) -> np.ndarray:
    """Resample a hand-drawn curve (any number of points) to 140 time steps and
    z-normalise it, as every ECG5000 beat is (mean 0, standard deviation 1).

    A flat or near-flat drawing carries no heartbeat and is refused with a message.
    """
    y = np.asarray(points, dtype=np.float64)
    if y.ndim != 1 or y.size < 2:
        raise AnomalyInputError("draw a curve across the box first (need at least 2 points)")
    if not np.all(np.isfinite(y)):
        raise AnomalyInputError("the drawing contains NaN or infinity")
    if np.ptp(y) < 1e-6:
        raise AnomalyInputError("the drawn beat is flat: draw a heartbeat with peaks and troughs")
    x_old = np.linspace(0, 1, y.size)
    beat = np.interp(np.linspace(0, 1, ecg.N_STEPS), x_old, y)
    return ((beat - beat.mean()) / beat.std()).astype(np.float32)
