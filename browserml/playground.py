"""Lesson 5: TensorFlow Playground, rebuilt on Keras.

TensorFlow Playground (playground.tensorflow.org) trains a tiny fully connected network
on 2-D points in the browser and draws what every neuron has learned. This module is
its model and its state, with no widgets, so every control can be tested by setting a
value:

- the six datasets (circle, xor, gaussian and spiral for classification; plane and
  multi-gaussian for regression), generated exactly as Playground's ``dataset.ts`` does,
  with noise and a train:test ratio;
- the seven input features (x1, x2, x1², x2², x1·x2, sin x1, sin x2);
- 0–6 hidden layers of 1–8 neurons, one activation for all of them;
- plain SGD with Playground's loss (½·squared error), learning rate, batch size and
  L1/L2 regularization with its own rate;
- play, pause, step and reset, with the epoch counter.

The network is a ``tf_keras`` model, so it exports as a TF.js layers model; the input
features are computed *outside* the model (the exported ``browserml.json`` lists them),
which is the same contract Playground's own code keeps between ``dataset.ts`` and ``nn.ts``.

Learning rate and regularization are ``tf.Variable`` s read inside the compiled step,
so, as in Playground, changing them takes effect at the next batch without resetting
the network; changing the data, features or architecture rebuilds it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import BadInput, finite_float, positive_int
from browserml.inbrowser import BrowserRequest, BrowserRunLike
from browserml.paths import TEMPLATES_DIR

#: Playground's points live in [-6, 6]²; its heatmaps cover the same square.
DOMAIN = 6.0
CLASSIFICATION = ("circle", "xor", "gaussian", "spiral")
REGRESSION = ("plane", "multigauss")
DATASETS = CLASSIFICATION + REGRESSION
#: Playground's sample counts: 500 points to classify, 1200 to regress.
DEFAULT_SAMPLES = {"classification": 500, "regression": 1200}
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
FEATURE_LABELS = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁x₂",
                  "sin(x1)": "sin(x₁)", "sin(x2)": "sin(x₂)"}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
REGULARIZATIONS = ("none", "l1", "l2")
MAX_LAYERS = 6
MAX_NEURONS = 8
BATCH_SIZES = (1, 30)
NOISE_RANGE = (0.0, 0.5)
TRAIN_RATIO_RANGE = (0.1, 0.9)
GRID_RESOLUTION = 100
SAMPLES_RANGE = (20, 100_000)
#: NumPy and TensorFlow seeds are unsigned 32-bit numbers.
MAX_SEED = 2**32 - 1


class PlaygroundError(BadInput):
    """A setting or action Playground cannot take: one line naming it and what works."""


class TrainingDiverged(PlaygroundError, FloatingPointError):
    """The loss became NaN or infinite: the settings, not the code, are at fault."""


def task_of(dataset: str) -> str:
    """``"classification"`` or ``"regression"``, or a ``ValueError`` naming the choices."""
    if dataset in CLASSIFICATION:
        return "classification"
    if dataset in REGRESSION:
        return "regression"
    raise PlaygroundError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class PlaygroundConfig:
    """Every setting on Playground's page, validated as a whole.

    ``noise`` is Playground's 0–50 slider divided by 100; ``train_ratio`` its
    "ratio of training to test data" divided by 100.
    """

    dataset: str = "circle"
    noise: float = 0.0
    train_ratio: float = 0.5
    batch_size: int = 10
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    learning_rate: float = 0.03
    regularization: str = "none"
    regularization_rate: float = 0.0
    seed: int = 0
    n_samples: int | None = None

    def __post_init__(self) -> None:
        """Refuse a bad setting in one line naming it: whole numbers stay whole (a batch of
        2.5 or 2.9 neurons is refused, not truncated), rates are finite numbers in range
        (a bool is not a learning rate). Values from the widgets' sliders and dropdowns pass."""
        task_of(self.dataset)
        if isinstance(self.features, (str, bytes)):
            raise PlaygroundError(f"features must be a list of feature names, got {self.features!r}")
        object.__setattr__(self, "features", tuple(self.features))
        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, Sequence):
            raise PlaygroundError(f"hidden must be a list of layer widths such as (4, 2), got {self.hidden!r}")
        if not self.features:
            raise PlaygroundError("pick at least one input feature")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise PlaygroundError(f"unknown feature(s) {unknown}; choose from {FEATURES}")
        if len(set(self.features)) != len(self.features):
            raise PlaygroundError(f"features repeat: {self.features}")
        if len(self.hidden) > MAX_LAYERS:
            raise PlaygroundError(f"at most {MAX_LAYERS} hidden layers, got {len(self.hidden)}")
        object.__setattr__(self, "hidden", tuple(_neurons(i, h) for i, h in enumerate(self.hidden)))
        if self.activation not in ACTIVATIONS:
            raise PlaygroundError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.regularization not in REGULARIZATIONS:
            raise PlaygroundError(f"regularization must be one of {REGULARIZATIONS}, got {self.regularization!r}")
        for name, bounds in (("noise", NOISE_RANGE), ("train_ratio", TRAIN_RATIO_RANGE),
                             ("learning_rate", (1e-6, 10.0)), ("regularization_rate", (0.0, 10.0))):
            object.__setattr__(self, name, _check_range(name, getattr(self, name), *bounds))
        object.__setattr__(self, "batch_size", _whole("batch_size", self.batch_size, *BATCH_SIZES))
        if self.n_samples is not None:
            object.__setattr__(self, "n_samples", _whole("n_samples", self.n_samples, *SAMPLES_RANGE))
        object.__setattr__(self, "seed", _whole("seed", self.seed, 0, MAX_SEED))

    @property
    def task(self) -> str:
        return task_of(self.dataset)

    @property
    def samples(self) -> int:
        return int(self.n_samples or DEFAULT_SAMPLES[self.task])

    @property
    def hidden_neurons(self) -> int:
        return int(sum(self.hidden))

    def with_changes(self, **changes: Any) -> PlaygroundConfig:
        """A validated copy; unknown names raise ``ValueError`` listing the known ones."""
        known = set(asdict(self))
        unknown = set(changes) - known
        if unknown:
            raise PlaygroundError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return replace(self, **changes)


def _check_range(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a float in [low, high]; NaN, inf, bools and strings refused."""
    try:
        return finite_float(name, value, low, high)
    except BadInput as err:
        raise PlaygroundError(f"{name} must be a number in [{low}, {high}], got {value!r}") from err


def _whole(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int in [low, high]: 2.5 is refused, not truncated to 2."""
    try:
        number = positive_int(name, value, minimum=low)
    except BadInput as err:
        raise PlaygroundError(f"{name} must be a whole number in [{low}, {high}], got {value!r}") from err
    if number > high:
        raise PlaygroundError(f"{name} must be a whole number in [{low}, {high}], got {value!r}")
    return number


def _neurons(layer: int, value: object) -> int:
    try:
        return _whole(f"hidden layer {layer + 1}", value, 1, MAX_NEURONS)
    except PlaygroundError as err:
        raise PlaygroundError(f"each hidden layer has a whole number of neurons, 1 to {MAX_NEURONS}; "
                              f"hidden layer {layer + 1} got {value!r}") from err


# --------------------------------------------------------------------------- datasets (Playground's dataset.ts)


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
    cut = int(round(len(xy) * config.train_ratio))
    return PlaygroundData(config.dataset, xy[:cut], y[:cut], xy[cut:], y[cut:])


# --------------------------------------------------------------------------- features and network


def feature_columns(xy: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """The network's input: one column per feature, computed from (x1, x2) points.

    This is the contract the exported page repeats in JavaScript (``browserml.json``
    lists the features in order), so both sides feed the model the same numbers.
    """
    xy = np.asarray(xy, dtype=np.float32)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise PlaygroundError(f"points must have shape (n, 2), got {xy.shape}")
    if not np.all(np.isfinite(xy)):
        raise PlaygroundError("points contain NaN or infinity")
    x1, x2 = xy[:, 0], xy[:, 1]
    table = {"x1": x1, "x2": x2, "x1^2": x1 * x1, "x2^2": x2 * x2, "x1*x2": x1 * x2,
             "sin(x1)": np.sin(x1), "sin(x2)": np.sin(x2)}
    unknown = [f for f in features if f not in table]
    if unknown:
        raise PlaygroundError(f"unknown feature(s) {unknown}; choose from {FEATURES}")
    return np.stack([table[f] for f in features], axis=1).astype(np.float32)


def grid_points(resolution: int = GRID_RESOLUTION) -> np.ndarray:
    """Pixel centres of the heatmap, row-major from the top-left (x1=-6, x2=+6).

    Rows run from x2 = +6 (top) down to -6, columns from x1 = -6 to +6, so the array
    reshaped to (resolution, resolution) *is* the picture.
    """
    if resolution < 2:
        raise PlaygroundError(f"resolution must be at least 2, got {resolution}")
    ticks = np.linspace(-DOMAIN, DOMAIN, resolution, dtype=np.float32)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


def build_network(config: PlaygroundConfig):
    """The ``tf_keras`` network: Playground's initialisation (weights U(-0.5, 0.5),
    biases 0.1), ``tanh`` output for ±1 classes, linear output for regression."""
    import tf_keras

    tf_keras.utils.set_random_seed(config.seed)
    init = tf_keras.initializers.RandomUniform(-0.5, 0.5, seed=config.seed)
    bias = tf_keras.initializers.Constant(0.1)
    inputs = tf_keras.Input((len(config.features),), name="features")
    x = inputs
    for i, width in enumerate(config.hidden, start=1):
        x = tf_keras.layers.Dense(width, activation=config.activation, kernel_initializer=init,
                                  bias_initializer=bias, name=f"hidden_{i}")(x)
    out_activation = "tanh" if config.task == "classification" else "linear"
    output = tf_keras.layers.Dense(1, activation=out_activation, kernel_initializer=init,
                                   bias_initializer=bias, name="output")(x)
    return tf_keras.Model(inputs, output, name=f"playground_{config.dataset}")


def half_squared_error(prediction: np.ndarray, target: np.ndarray) -> float:
    """Playground's loss: the mean of ½·(output − target)²."""
    prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
    target = np.asarray(target, dtype=np.float64).reshape(-1)
    return float(np.mean(0.5 * (prediction - target) ** 2)) if len(target) else float("nan")


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    test_loss: float


class Network:
    """A built network plus its compiled SGD step.

    Plain SGD on the batch mean, as Playground does; L1 adds ``rate·sign(w)`` and L2
    ``rate·w`` to each weight's gradient (biases are not regularized), the derivative
    of ``rate·|w|`` and ``rate·w²/2``.
    """

    def __init__(self, config: PlaygroundConfig) -> None:
        import tensorflow as tf

        self.config = config
        self.model = build_network(config)
        self.learning_rate = tf.Variable(config.learning_rate, dtype=tf.float32, trainable=False)
        self.l1 = tf.Variable(0.0, dtype=tf.float32, trainable=False)
        self.l2 = tf.Variable(0.0, dtype=tf.float32, trainable=False)
        self.set_training(config)
        self.kernels = [layer.kernel for layer in self.model.layers if hasattr(layer, "kernel")]
        spec = tf.TensorSpec((None, len(config.features)), tf.float32)
        self._epoch = tf.function(self._train_epoch, input_signature=[
            spec, tf.TensorSpec((None,), tf.float32), tf.TensorSpec((), tf.int32)])
        self._forward = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])
        self._layers_model = None

    def set_training(self, config: PlaygroundConfig) -> None:
        """Apply learning rate and regularization without touching the weights."""
        self.config = config
        self.learning_rate.assign(config.learning_rate)
        rate = config.regularization_rate
        self.l1.assign(rate if config.regularization == "l1" else 0.0)
        self.l2.assign(rate if config.regularization == "l2" else 0.0)

    def _train_step(self, x, y):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            out = tf.reshape(self.model(x, training=True), [-1])
            loss = tf.reduce_mean(0.5 * tf.square(out - y))
        variables = self.model.trainable_variables
        grads = tape.gradient(loss, variables)
        for var, grad in zip(variables, grads):
            if any(var is k for k in self.kernels):
                grad = grad + self.l1 * tf.sign(var) + self.l2 * var
            var.assign_sub(self.learning_rate * grad)

    def _train_epoch(self, x, y, batch_size):
        """All of an epoch's batches in one compiled loop: a Python loop of compiled
        steps costs ~2.5 ms per batch on 2 cores, ten times the arithmetic."""
        import tensorflow as tf

        for start in tf.range(0, tf.shape(x)[0], batch_size):
            self._train_step(x[start:start + batch_size], y[start:start + batch_size])
        return tf.constant(0)

    def train_epoch(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """One pass over the shuffled training points in batches of ``batch_size``."""
        order = rng.permutation(len(x))
        self._epoch(x[order], y[order], np.int32(self.config.batch_size))

    def predict(self, columns: np.ndarray) -> np.ndarray:
        """Outputs for feature columns, shape (n,).

        A compiled forward pass: ``predict_on_batch`` spends ~10-25 ms per call in Keras
        overhead, ten times the arithmetic, and ``step()`` predicts twice per epoch (the
        two losses); the outputs are bit-identical."""
        return self._forward(np.asarray(columns, dtype=np.float32)).numpy().reshape(-1)

    def layer_outputs(self, columns: np.ndarray) -> list[np.ndarray]:
        """Every hidden layer's and the output's activations for the given inputs."""
        import tf_keras

        if self._layers_model is None:
            dense = [layer.output for layer in self.model.layers if hasattr(layer, "kernel")]
            self._layers_model = tf_keras.Model(self.model.inputs, dense)
        outs = self._layers_model.predict_on_batch(np.asarray(columns, dtype=np.float32))
        return [np.asarray(o) for o in (outs if isinstance(outs, list) else [outs])]

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(kernel, bias) per layer, input side first; kernel[i, j] links i to j."""
        return [(layer.kernel.numpy(), layer.bias.numpy()) for layer in self.model.layers
                if hasattr(layer, "kernel")]


# --------------------------------------------------------------------------- state: play, pause, step, reset


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
        self.set(hidden=self.config.hidden + (2,))

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
        layers = [columns] + self.network.layer_outputs(columns)
        return [layer.T.reshape(-1, resolution, resolution) for layer in layers]

    def points(self) -> dict[str, np.ndarray]:
        """The points to draw: train always, test when ``show_test_data`` is on."""
        shown = {"train_xy": self.data.train_xy, "train_y": self.data.train_y}
        if self.show_test_data:
            shown |= {"test_xy": self.data.test_xy, "test_y": self.data.test_y}
        return shown

    def export(self, out_dir: str | Path, resolution: int = GRID_RESOLUTION) -> Path:
        return export_playground(self, out_dir, resolution)


# --------------------------------------------------------------------------- export


_PAGE_TEMPLATE = TEMPLATES_DIR / "playground_index.html"


def export_playground(state: PlaygroundState, out_dir: str | Path, resolution: int = GRID_RESOLUTION) -> Path:
    """The trained network as a TF.js layers model, with its decision-boundary page.

    ``browserml.json`` carries the feature list (the page computes the same columns),
    the grid's resolution and domain, Python's grid prediction to compare against, and
    the test points to draw; the parity sample is a slice of the grid itself.
    """
    from browserml.export import export_layers_model

    config = state.config
    points = grid_points(resolution)
    columns = feature_columns(points, config.features)
    values = state.network.predict(columns).reshape(resolution, resolution)
    sample = columns[:: max(1, len(columns) // 64)]
    extra = {
        "playground": {
            "config": {**asdict(config), "features": list(config.features), "hidden": list(config.hidden)},
            "features": list(config.features),
            "domain": DOMAIN,
            "resolution": int(resolution),
            "grid_order": "row-major; rows from x2=+domain (top) to -domain, columns from x1=-domain to +domain",
            "python_grid": np.round(values.astype(np.float64), 7).ravel().tolist(),
            "epoch": int(state.epoch),
            "test_loss": state.loss("test"),
            "train_loss": state.loss("train"),
            "test_points": np.round(state.data.test_xy, 4).tolist(),
            "test_targets": state.data.test_y.tolist(),
        }
    }
    return export_layers_model(
        state.network.model, out_dir, task=f"playground-{config.task}",
        parity_inputs=sample, title=f"TensorFlow Playground: {config.dataset}",
        description=(f"{len(config.features)} features -> hidden {list(config.hidden)} ({config.activation}) -> 1, "
                     f"trained {state.epoch} epochs; test loss {state.loss('test'):.4f}"),
        preprocessing={"kind": "playground_features", "features": list(config.features)},
        extra=extra,
        extra_files={"index.html": _PAGE_TEMPLATE.read_text(encoding="utf-8")},
    )


# --------------------------------------------------------------------------- exercises


#: The spiral exercise: a network with at most this many hidden neurons must reach
#: ``SPIRAL_ACCURACY`` on the noise-free spiral's test points within ``SPIRAL_EPOCHS``.
SPIRAL_BUDGET = 8
SPIRAL_ACCURACY = 0.9
SPIRAL_EPOCHS = 300


def spiral_result(config: PlaygroundConfig, epochs: int = SPIRAL_EPOCHS) -> tuple[float, int]:
    """Train ``config`` on the spiral (noise 0, as in the exercise) and return
    (test accuracy, hidden neurons)."""
    state = PlaygroundState(config.with_changes(dataset="spiral", noise=0.0))
    state.step(epochs)
    return state.accuracy("test"), config.hidden_neurons


def check_smallest_spiral(config: PlaygroundConfig, epochs: int = SPIRAL_EPOCHS) -> bool:
    """Exercise: separate the spiral with at most ``SPIRAL_BUDGET`` hidden neurons."""
    from browserml.exercises import check

    if config.hidden_neurons > SPIRAL_BUDGET:
        return check(False, "", f"{config.hidden_neurons} hidden neurons is more than the budget of "
                                 f"{SPIRAL_BUDGET}: which input features make the spiral easier to unroll?")
    accuracy, neurons = spiral_result(config, epochs)
    return check(accuracy >= SPIRAL_ACCURACY,
                 f"{neurons} hidden neurons separate the spiral: test accuracy {accuracy:.0%} after {epochs} epochs",
                 f"test accuracy is {accuracy:.0%} (need {SPIRAL_ACCURACY:.0%}); try the sin features, "
                 "a higher learning rate, or one more neuron")


def check_xor_feature(feature: str, epochs: int = 30) -> bool:
    """Exercise: the one input feature that lets a network with *no* hidden layer
    separate XOR (a single tanh neuron draws one straight boundary in feature space)."""
    from browserml.exercises import check

    if feature not in FEATURES:
        return check(False, "", f"{feature!r} is not one of Playground's features {FEATURES}")
    state = PlaygroundState(PlaygroundConfig(dataset="xor", features=(feature,), hidden=(), learning_rate=0.1))
    state.step(epochs)
    accuracy = state.accuracy("test")
    return check(accuracy >= 0.95, f"{feature} alone, no hidden layer: {accuracy:.0%} of XOR's test points",
                 f"with {feature} alone a single neuron gets {accuracy:.0%}; XOR's class is the *sign* of a product")


# --------------------------------------------------------------------------- in the learner's own page


def browser_request(state: PlaygroundState, export_dir: str | Path,
                    resolution: int = GRID_RESOLUTION) -> BrowserRequest:
    """The decision-boundary grid in the learner's page: the feature columns of every
    grid point (the export's input contract, in its feature order) and the state's own
    network on them as the reference, so the page's grid is compared with
    :meth:`PlaygroundState.grid`. Refuses an export of another network or epoch."""
    from browserml.export import read_manifest

    manifest = read_manifest(export_dir)
    info = manifest.extra.get("playground") or {}
    features = list((manifest.preprocessing or {}).get("features") or [])
    if features != list(state.config.features):
        raise PlaygroundError(f"{export_dir} takes features {features}, the state's network {list(state.config.features)}; "
                         "export this state again")
    if info.get("epoch") != state.epoch:
        raise PlaygroundError(f"{export_dir} holds the network at epoch {info.get('epoch')}, the state is at epoch "
                         f"{state.epoch}; export this state again")
    (inp,), (out,) = manifest.inputs, manifest.outputs
    columns = feature_columns(grid_points(resolution), state.config.features)
    return {"inputs": {inp.name: columns},
            "reference": lambda d: {out.name: state.network.predict(d[inp.name]).reshape(-1, 1)}}


def browser_grid(run: BrowserRunLike, backend: str | None = None) -> np.ndarray:
    """The page's grid as the picture :meth:`PlaygroundState.grid` draws: shape
    (resolution, resolution), top row x2 = +6 (not discretized)."""
    from browserml.inbrowser import backend_outputs

    _, outputs = backend_outputs(run, backend)
    (values,) = outputs.values()
    side = int(round(np.sqrt(values.size)))
    if side * side != values.size:
        raise PlaygroundError(f"the page sent {values.size} values, not a square grid")
    return np.asarray(values, dtype=np.float64).reshape(side, side)
