"""Lesson 5's model: Playground's settings, the input features and the network with its SGD.

Every setting on Playground's page, validated as a whole (:class:`PlaygroundConfig`);
the seven input features computed *outside* the network (:func:`feature_columns`, the
contract the exported page repeats in JavaScript); and the ``tf_keras`` network with
Playground's initialisation, loss and plain SGD (:class:`Network`). Learning rate and
regularization are ``tf.Variable`` s read inside the compiled step, so changing them
takes effect at the next batch without resetting the network. TensorFlow loads on
first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from browserml.errors import BadInput, finite_float, positive_int

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


def build_network(config: PlaygroundConfig) -> Any:  # a tf_keras.Model (tf_keras is untyped)
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

    Plain SGD on the batch mean, as Playground's ``nn.ts`` does (it accumulates each
    point's derivatives and updates every ``batch size`` points); L1 adds ``rate·sign(w)``
    and L2 ``rate·w`` to each weight's gradient (biases are not regularized), the
    derivative of ``rate·|w|`` and ``rate·w²/2``. One difference: ``nn.ts`` also sets an
    L1 weight that its penalty pushes across zero to exactly 0 and freezes it (a "dead"
    link); this step lets it cross.
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
        self._batch = tf.function(self._train_step, input_signature=[spec, tf.TensorSpec((None,), tf.float32)])
        self._forward = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])
        self._layers_model: Any | None = None  # a tf_keras.Model of every Dense output, built on first use

    def set_training(self, config: PlaygroundConfig) -> None:
        """Apply learning rate and regularization without touching the weights."""
        self.config = config
        self.learning_rate.assign(config.learning_rate)
        rate = config.regularization_rate
        self.l1.assign(rate if config.regularization == "l1" else 0.0)
        self.l2.assign(rate if config.regularization == "l2" else 0.0)

    def _train_step(self, x: Any, y: Any) -> None:  # tf.Tensor arguments, inside a tf.function
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

    def _train_epoch(self, x: Any, y: Any, batch_size: Any) -> Any:  # tf.Tensor in, tf.Tensor out
        """All of an epoch's batches in one compiled loop: a Python loop of compiled steps
        (:meth:`train_batch`) costs ~0.3 ms per batch on 2 cores, five times the ~0.06 ms
        a batch takes inside this loop (circle, (4, 2) hidden, batches of 10)."""
        import tensorflow as tf

        for start in tf.range(0, tf.shape(x)[0], batch_size):
            self._train_step(x[start:start + batch_size], y[start:start + batch_size])
        return tf.constant(0)

    def train_batch(self, x: np.ndarray, y: np.ndarray) -> None:
        """One SGD step on one batch: feature columns ``x`` (n, features), targets ``y`` (n,)."""
        self._batch(np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32).reshape(-1))

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
