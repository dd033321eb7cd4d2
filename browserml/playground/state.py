"""Lesson 5's app state: everything Playground's page holds (play, pause, step, reset), with no widgets.

Changing the data, the features or the architecture rebuilds the network; learning
rate, regularization and batch size apply from the next batch on, as in Playground.
``widgets.playground.PlaygroundApp`` is only its view.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import positive_int
from browserml.playground.data import make_data
from browserml.playground.export import export_playground
from browserml.playground.model import (
    FEATURES,
    GRID_RESOLUTION,
    MAX_LAYERS,
    EpochStats,
    Network,
    PlaygroundConfig,
    PlaygroundError,
    TrainingDiverged,
    feature_columns,
    grid_points,
    half_squared_error,
)

#: Changing these rebuilds the data (and so the network).
DATA_FIELDS = frozenset({"dataset", "noise", "train_ratio", "seed", "n_samples"})
#: Changing these rebuilds the network on the same data.
NETWORK_FIELDS = frozenset({"features", "hidden", "activation"})
#: These apply from the next batch on, the weights stay.
TRAINING_FIELDS = frozenset({"learning_rate", "regularization", "regularization_rate", "batch_size"})


class PlaygroundState:
    """Everything Playground's page holds, with no widgets.

    Set values with :meth:`set` (or the +/− helpers), then :meth:`step`, or
    :meth:`play` in a thread and :meth:`pause` from another. Display toggles
    (``show_test_data``, ``discretize``) live here too, so the view only draws.
    """

    def __init__(self, config: PlaygroundConfig | None = None) -> None:
        self.config = config or PlaygroundConfig()
        self.show_test_data = False
        self.discretize = False
        self.data = make_data(self.config)
        self._lock = threading.RLock()
        self._pause = threading.Event()
        self.playing = False
        self.reset()

    # ---- settings
    def set(self, **changes: Any) -> None:
        """Change settings by name. Invalid values raise ``ValueError`` and change nothing."""
        with self._lock:
            new = self.config.with_changes(**changes)
            changed = {k for k in changes if getattr(self.config, k) != getattr(new, k)}
            self.config = new
            if changed & DATA_FIELDS:
                self.data = make_data(new)
            if changed & (DATA_FIELDS | NETWORK_FIELDS):
                self.reset()
            elif changed & TRAINING_FIELDS:
                self.network.set_training(new)

    def toggle_feature(self, feature: str, on: bool) -> None:
        """Playground's click on an input: switch one feature on or off (order stays canonical)."""
        if feature not in FEATURES:
            raise PlaygroundError(f"unknown feature {feature!r}; choose from {FEATURES}")
        chosen = set(self.config.features) | {feature} if on else set(self.config.features) - {feature}
        if not chosen:
            raise PlaygroundError("keep at least one input feature")
        self.set(features=tuple(f for f in FEATURES if f in chosen))

    def add_layer(self) -> None:
        """Playground's "+" above the layers: a new last hidden layer of 2 neurons."""
        if len(self.config.hidden) >= MAX_LAYERS:
            raise PlaygroundError(f"Playground allows at most {MAX_LAYERS} hidden layers")
        self.set(hidden=(*self.config.hidden, 2))

    def remove_layer(self) -> None:
        if not self.config.hidden:
            raise PlaygroundError("there is no hidden layer to remove")
        self.set(hidden=self.config.hidden[:-1])

    def add_neuron(self, layer: int) -> None:
        """"+" over hidden layer ``layer`` (0-based)."""
        self._resize(layer, +1)

    def remove_neuron(self, layer: int) -> None:
        self._resize(layer, -1)

    def _resize(self, layer: int, delta: int) -> None:
        hidden = list(self.config.hidden)
        if not 0 <= layer < len(hidden):
            raise IndexError(f"hidden layer {layer} does not exist (there are {len(hidden)})")
        hidden[layer] += delta
        self.set(hidden=tuple(hidden))

    # ---- training
    def reset(self) -> None:
        """New weights (seeded), epoch 0, empty history; the data stays."""
        with self._lock:
            self.network = Network(self.config)
            self.epoch = 0
            self._shuffle = np.random.default_rng(self.config.seed + 2)
            self._train_columns = feature_columns(self.data.train_xy, self.config.features)
            self._test_columns = feature_columns(self.data.test_xy, self.config.features)
            self.history: list[EpochStats] = [self._stats()]

    def _stats(self) -> EpochStats:
        return EpochStats(self.epoch, self.loss("train"), self.loss("test"))

    def loss(self, split: str = "test") -> float:
        columns, target = self._split(split)
        return half_squared_error(self.network.predict(columns), target)

    def accuracy(self, split: str = "test") -> float:
        """Share of points on the right side of 0 (classification only)."""
        if self.config.task != "classification":
            raise PlaygroundError("accuracy is defined for the classification datasets only")
        columns, target = self._split(split)
        return float(np.mean(np.sign(self.network.predict(columns)) == target))

    def _split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if split == "train":
            return self._train_columns, self.data.train_y
        if split == "test":
            return self._test_columns, self.data.test_y
        raise PlaygroundError(f"split must be 'train' or 'test', got {split!r}")

    def step(self, epochs: int = 1) -> EpochStats:
        """Train ``epochs`` epochs (Playground's "step" button is one).

        At the first epoch whose loss is NaN or infinite the network is put back as it was
        before that epoch and :class:`TrainingDiverged` says why and what to try: in-range
        settings can still diverge (plane, relu, learning rate 10, batch 1), and
        Playground itself would draw NaN every epoch without a word.
        """
        epochs = positive_int("epochs", epochs)
        with self._lock:
            for _ in range(epochs):
                before = self.network.model.get_weights()
                self.network.train_epoch(self._train_columns, self.data.train_y, self._shuffle)
                stats = EpochStats(self.epoch + 1, self.loss("train"), self.loss("test"))
                if not (math.isfinite(stats.train_loss) and math.isfinite(stats.test_loss)):
                    self.network.model.set_weights(before)
                    raise TrainingDiverged(self._divergence_message(stats))
                self.epoch += 1
                self.history.append(stats)
            return self.history[-1]

    def _divergence_message(self, stats: EpochStats) -> str:
        """Why a loss became NaN, and what to try, in one line."""
        c = self.config
        tenth = c.learning_rate / 10
        lower = max((r for r in (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001) if r <= tenth), default=None)
        fix = f"lower the learning rate (try {lower:g})" if lower is not None else "lower the learning rate"
        if c.activation in ("relu", "linear"):
            fix += ", or pick tanh (it is bounded)"
        if c.batch_size < 10:
            fix += f", or raise the batch size above {c.batch_size}"
        return (f"training diverged at epoch {stats.epoch}: the loss became {stats.train_loss} "
                f"(learning rate {c.learning_rate:g} is too high for {c.activation} with batch size {c.batch_size}); "
                f"the network is back at epoch {self.epoch}: {fix}")

    def play(self, on_epoch: Callable[[EpochStats], None] | None = None, max_epochs: int | None = None) -> int:
        """Train until :meth:`pause` (from another thread) or ``max_epochs``; returns the epoch."""
        self.playing = True
        self._pause.clear()
        try:
            start = self.epoch
            while not self._pause.is_set() and (max_epochs is None or self.epoch - start < max_epochs):
                stats = self.step()
                if on_epoch is not None:
                    on_epoch(stats)
        finally:
            self.playing = False
        return self.epoch

    def pause(self) -> None:
        self._pause.set()

    # ---- what the view draws
    def grid(self, resolution: int = GRID_RESOLUTION) -> np.ndarray:
        """The output over the square, shape (resolution, resolution), top row x2=+6."""
        values = self.network.predict(feature_columns(grid_points(resolution), self.config.features))
        values = values.reshape(resolution, resolution)
        return np.sign(values) if self.discretize else values

    def neuron_grids(self, resolution: int = 24) -> list[np.ndarray]:
        """Per column of the diagram (inputs, each hidden layer, output), an array
        (units, resolution, resolution): what Playground's small heatmaps show."""
        columns = feature_columns(grid_points(resolution), self.config.features)
        layers = [columns, *self.network.layer_outputs(columns)]
        return [layer.T.reshape(-1, resolution, resolution) for layer in layers]

    def points(self) -> dict[str, np.ndarray]:
        """The points to draw: train always, test when ``show_test_data`` is on."""
        shown = {"train_xy": self.data.train_xy, "train_y": self.data.train_y}
        if self.show_test_data:
            shown |= {"test_xy": self.data.test_xy, "test_y": self.data.test_y}
        return shown

    def export(self, out_dir: str | Path, resolution: int = GRID_RESOLUTION) -> Path:
        return export_playground(self, out_dir, resolution)
