"""Lesson 5's data: Playground's six datasets, generated exactly as its ``dataset.ts`` does.

Circle, xor, gaussian and spiral to classify (targets ±1), plane and multi-gaussian to
regress, with noise and a train:test ratio, all seeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from browserml.playground.model import DOMAIN, NOISE_RANGE, PlaygroundConfig, _check_range, task_of


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return rng.uniform(low, high, n)


def _circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    inner, outer = n // 2, n - n // 2
    r = np.concatenate([_uniform(rng, 0, radius * 0.5, inner), _uniform(rng, radius * 0.7, radius, outer)])
    angle = _uniform(rng, 0, 2 * math.pi, n)
    xy = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-radius, radius, (n, 2)) * noise
    label = np.where(np.hypot(*(xy + jitter).T) < radius * 0.5, 1.0, -1.0)
    return xy, label


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    padding = 0.3
    xy = rng.uniform(-5, 5, (n, 2))
    xy += np.where(xy > 0, padding, -padding)
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    moved = xy + jitter
    return xy, np.where(moved[:, 0] * moved[:, 1] >= 0, 1.0, -1.0)


def _gaussian(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    variance = 0.5 + noise / 0.5 * 3.5  # Playground maps noise 0..0.5 to variance 0.5..4
    half = n // 2
    pos = rng.normal(2.0, math.sqrt(variance), (half, 2))
    neg = rng.normal(-2.0, math.sqrt(variance), (n - half, 2))
    return np.concatenate([pos, neg]), np.concatenate([np.ones(half), -np.ones(n - half)])


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    parts, labels = [], []
    for count, delta, label in ((half, 0.0, 1.0), (n - half, math.pi, -1.0)):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * math.pi + delta
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, (count, 2)) * noise
        parts.append(xy)
        labels.append(np.full(count, label))
    return np.concatenate(parts), np.concatenate(labels)


def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    xy = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    jitter = rng.uniform(-DOMAIN, DOMAIN, (n, 2)) * noise
    return xy, (xy + jitter).sum(axis=1) / 10.0  # d3 scale [-10, 10] -> [-1, 1], unclamped


MULTIGAUSS_CENTRES = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def multigauss_label(xy: np.ndarray) -> np.ndarray:
    """Playground's regression target: the strongest of six signed bumps of radius 2."""
    value = np.zeros(len(xy))
    for cx, cy, sign in MULTIGAUSS_CENTRES:
        dist = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy)
        bump = sign * np.clip(1.0 - dist / 2.0, 0.0, 1.0)
        value = np.where(np.abs(bump) > np.abs(value), bump, value)
    return value


def _multigauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    xy = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    jitter = rng.uniform(-DOMAIN, DOMAIN, (n, 2)) * noise
    return xy, multigauss_label(xy + jitter)


_GENERATORS: dict[str, Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "circle": _circle, "xor": _xor, "gaussian": _gaussian, "spiral": _spiral,
    "plane": _plane, "multigauss": _multigauss,
}


@dataclass(frozen=True)
class PlaygroundData:
    """Points and targets, split into train and test (targets are ±1 for classification)."""

    dataset: str
    train_xy: np.ndarray
    train_y: np.ndarray
    test_xy: np.ndarray
    test_y: np.ndarray

    @property
    def task(self) -> str:
        return task_of(self.dataset)


def make_points(dataset: str, n: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of one dataset and their targets, as Playground draws them."""
    task_of(dataset)
    _check_range("noise", noise, *NOISE_RANGE)
    xy, y = _GENERATORS[dataset](int(n), float(noise), np.random.default_rng(seed))
    return xy.astype(np.float32), y.astype(np.float32)


def make_data(config: PlaygroundConfig) -> PlaygroundData:
    """The configured dataset, shuffled and split by ``train_ratio`` (Playground's order)."""
    xy, y = make_points(config.dataset, config.samples, config.noise, config.seed)
    order = np.random.default_rng(config.seed + 1).permutation(len(xy))
    xy, y = xy[order], y[order]
    cut = round(len(xy) * config.train_ratio)
    return PlaygroundData(config.dataset, xy[:cut], y[:cut], xy[cut:], y[cut:])
