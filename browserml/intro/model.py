"""Lesson 0's model: a tiny Fashion-MNIST classifier the learner's page runs as they draw.

Why so small: the point of lesson 0 is *where* a model runs, not how good it is. A
28×28 → 64 → 10 dense network (50,890 weights, 199 KiB as float32) trains in about a
second on two CPU cores, travels to the page once, and answers in a fraction of a
millisecond there, so every stroke can be classified live. With the defaults it
reaches about 83 % on 2,000 Fashion-MNIST test images (:attr:`TrainedClassifier.test_accuracy`
says what this run reached; ``tests/test_intro.py`` holds it above 78 %).

The model is built with ``tf_keras`` (TF.js 4.22 rejects Keras 3 layers exports) and
TensorFlow loads only when :func:`train_classifier` or :func:`build_classifier` runs.
The kernel's side of the latency comparison needs no TensorFlow at all:
:func:`predict_numpy` is the same forward pass in NumPy, from the exported weights.

**What the model reads** (:data:`PREPROCESSING`, also written into ``browserml.json``):
one ``float32 [28, 28]`` image in [0, 1], light ink on a black background, as in
Fashion-MNIST (0 = background, 1 = full ink). A drawing becomes one by
:func:`fit_drawing`, the rule the page applies in JavaScript: take the square around the
ink's bounding box whose side is the box's longer side (Fashion-MNIST's items fill the
frame along their longer side), centred on the box; split it into 28 × 28 equal cells;
a cell's value is the mean ink of the pixels whose centres fall in it (a box filter).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from browserml.data.images.idx import FASHION_CLASS_NAMES
from browserml.errors import BadInput, positive_int

#: The ten Fashion-MNIST classes, in label order (index 0 is "T-shirt/top").
CLASS_NAMES: tuple[str, ...] = FASHION_CLASS_NAMES
#: Side of the model's input image, in pixels.
IMAGE_SIZE = 28
#: The model's input name, as TF.js and ``browserml.json`` see it.
INPUT_NAME = "image"
#: Names of the two dense layers, so their weights read ``hidden/kernel``, ``probs/bias``...
LAYER_NAMES = ("hidden", "probs")
#: The input contract, written into ``browserml.json``: what a client must feed the model.
PREPROCESSING: dict[str, Any] = {
    "kind": "drawing",
    "shape": [IMAGE_SIZE, IMAGE_SIZE],
    "range": [0.0, 1.0],
    "ink": "light on black (0 = background, 1 = full ink), as in Fashion-MNIST",
    "fit": ("the square around the ink's bounding box, its side the box's longer side (at least 28 px), centred "
            "on the box, split into 28 x 28 equal cells; each cell is the mean ink of the pixels whose centres "
            "fall in it, pixels beyond the drawing counting as background"),
}


@dataclass(frozen=True)
class ClassifierConfig:
    """How the classifier is trained: a few thousand images, a few epochs, one seed."""

    hidden: int = 64
    n_train: int = 8000
    n_test: int = 2000
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hidden", "n_train", "n_test", "epochs", "batch_size"):
            object.__setattr__(self, name, positive_int(name, getattr(self, name)))
        if self.n_train > 60_000 or self.n_test > 10_000:
            raise BadInput(f"Fashion-MNIST has 60,000 training and 10,000 test images; asked for "
                           f"{self.n_train:,} and {self.n_test:,}")
        if not 0 < self.learning_rate < 1:
            raise BadInput(f"learning_rate must be between 0 and 1, got {self.learning_rate}")
        object.__setattr__(self, "seed", positive_int("seed", self.seed, minimum=0))


DEFAULT_CONFIG = ClassifierConfig()


@dataclass(frozen=True)
class FashionData:
    """A seeded sample of Fashion-MNIST as the model reads it: float32 [n, 28, 28] in [0, 1]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_data(config: ClassifierConfig = DEFAULT_CONFIG) -> FashionData:
    """``config.n_train`` training and ``config.n_test`` test images, drawn without
    replacement with ``config.seed``, from Debian's Fashion-MNIST when it is installed
    (offline, checked against upstream's sha256), else through Keras' downloader."""
    from browserml.data.images.idx import fashion_mnist_anywhere

    rng = np.random.default_rng(config.seed)
    x_train, y_train = fashion_mnist_anywhere("train")
    x_test, y_test = fashion_mnist_anywhere("test")
    train = np.sort(rng.choice(len(x_train), size=config.n_train, replace=False))
    test = np.sort(rng.choice(len(x_test), size=config.n_test, replace=False))
    scale = np.float32(1 / 255)
    return FashionData(x_train[train].astype(np.float32) * scale, y_train[train].astype(np.int64),
                       x_test[test].astype(np.float32) * scale, y_test[test].astype(np.int64))


def build_classifier(hidden: int = DEFAULT_CONFIG.hidden) -> Any:  # a tf_keras.Model (tf_keras is untyped)
    """``Input [28, 28] → Flatten → Dense(hidden, relu) → Dense(10, softmax)``, in ``tf_keras``.

    The talk's TF.js would read ``tf.sequential({layers: [tf.layers.flatten({inputShape:
    [28, 28]}), tf.layers.dense({units: 64, activation: 'relu'}), tf.layers.dense({units:
    10, activation: 'softmax'})]})``; the exported model is exactly that.
    """
    import tf_keras

    inputs = tf_keras.Input((IMAGE_SIZE, IMAGE_SIZE), name=INPUT_NAME)
    flat = tf_keras.layers.Flatten(name="flatten")(inputs)
    hidden_out = tf_keras.layers.Dense(positive_int("hidden", hidden), activation="relu", name=LAYER_NAMES[0])(flat)
    probs = tf_keras.layers.Dense(len(CLASS_NAMES), activation="softmax", name=LAYER_NAMES[1])(hidden_out)
    return tf_keras.Model(inputs, probs, name="fashion_mlp")


@dataclass
class TrainedClassifier:
    """A trained classifier, the data it saw, and what it reached on the test sample."""

    model: Any  # tf_keras.Model
    config: ClassifierConfig
    data: FashionData
    test_accuracy: float
    train_seconds: float
    losses: list[float] = field(default_factory=list)

    def weights(self) -> dict[str, np.ndarray]:
        """The weights by name (``hidden/kernel``, ``hidden/bias``, ``probs/kernel``,
        ``probs/bias``), as float32 arrays: what :func:`predict_numpy` takes."""
        return {w.name.split(":")[0]: np.asarray(w.numpy(), dtype=np.float32) for w in self.model.weights}

    def predict(self, images: Any) -> np.ndarray:
        """Class probabilities from Keras, ``[n, 10]``, for images :func:`check_images` accepts."""
        return np.asarray(self.model.predict(check_images(images), verbose=0))

    def summary(self) -> str:
        c = self.config
        return (f"{c.hidden}-unit classifier trained on {c.n_train:,} Fashion-MNIST images for {c.epochs} epochs "
                f"in {self.train_seconds:.1f} s: {self.test_accuracy:.1%} on {c.n_test:,} test images")


def train_classifier(config: ClassifierConfig = DEFAULT_CONFIG, data: FashionData | None = None) -> TrainedClassifier:
    """Train the classifier (Adam, sparse cross-entropy), seeded; about a second on 2 cores.

    ``data`` defaults to :func:`load_data` with the same config; pass it to train several
    configurations on one sample.
    """
    import tf_keras

    from browserml.seeding import seed_everything

    data = data or load_data(config)
    seed_everything(config.seed)
    model = build_classifier(config.hidden)
    model.compile(optimizer=tf_keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t0 = time.perf_counter()
    history = model.fit(data.x_train, data.y_train, epochs=config.epochs, batch_size=config.batch_size,
                        shuffle=True, verbose=0)
    seconds = time.perf_counter() - t0
    probs = np.asarray(model.predict(data.x_test, verbose=0))
    accuracy = float(np.mean(probs.argmax(axis=1) == data.y_test))
    return TrainedClassifier(model, config, data, accuracy, seconds, [float(v) for v in history.history["loss"]])


# --------------------------------------------------------------------------- no TensorFlow below


def check_images(images: Any) -> np.ndarray:
    """``images`` as float32 ``[n, 28, 28]``: one ``[28, 28]`` image, a batch, or flat
    ``[n, 784]`` rows; values must be finite and in [0, 1] (see :data:`PREPROCESSING`)."""
    arr = np.asarray(images, dtype=np.float32)
    pixels = IMAGE_SIZE * IMAGE_SIZE
    if arr.shape == (IMAGE_SIZE, IMAGE_SIZE) or arr.shape == (pixels,):
        arr = arr.reshape(1, IMAGE_SIZE, IMAGE_SIZE)
    elif arr.ndim == 2 and arr.shape[1] == pixels:
        arr = arr.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if arr.ndim != 3 or arr.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise BadInput(f"images must be [28, 28], [n, 28, 28] or [n, 784], got shape {np.shape(images)}")
    if not np.all(np.isfinite(arr)) or (arr.size and (arr.min() < 0 or arr.max() > 1)):
        raise BadInput("image values must be finite and in [0, 1] (0 = background, 1 = full ink)")
    return arr


def predict_numpy(weights: dict[str, np.ndarray], images: Any) -> np.ndarray:
    """The classifier's forward pass in NumPy: ``softmax(relu(x·W1 + b1)·W2 + b2)``.

    What the kernel runs when the page sends it a drawing (the latency comparison's
    round trip), so it needs no TensorFlow: ``weights`` are the exported ones
    (:func:`browserml.intro.export.read_classifier_weights`) or
    :meth:`TrainedClassifier.weights`. Returns float32 probabilities ``[n, 10]``,
    computed in float32 like Keras and TF.js (they agree to about 1e-6).
    """
    x = check_images(images).reshape(-1, IMAGE_SIZE * IMAGE_SIZE)
    try:
        w1, b1, w2, b2 = (np.asarray(weights[f"{layer}/{part}"], dtype=np.float32)
                          for layer in LAYER_NAMES for part in ("kernel", "bias"))
    except KeyError as err:
        raise BadInput(f"weights lack {err.args[0]!r}; expected {sorted(weights)} to hold hidden/kernel, "
                       "hidden/bias, probs/kernel and probs/bias") from None
    if w1.shape[0] != x.shape[1] or w2.shape != (w1.shape[1], len(CLASS_NAMES)):
        raise BadInput(f"weights of shapes {w1.shape} and {w2.shape} are not a 784 → h → 10 classifier")
    hidden = np.maximum(x @ w1 + b1, np.float32(0))
    logits = hidden @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def top_k(probabilities: Any, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most likely classes of one image, best first, as ``(name, probability)``."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if p.size != len(CLASS_NAMES):
        raise BadInput(f"expected {len(CLASS_NAMES)} probabilities, got {p.size}")
    order = np.argsort(-p, kind="stable")[: positive_int("k", k)]
    return [(CLASS_NAMES[i], float(p[i])) for i in order]


def fit_drawing(ink: Any) -> np.ndarray:
    """A drawing of any size (a 2-D array, 0 = background, 1 = full ink) as the model's
    ``[28, 28]`` input, by the page's rule (:data:`PREPROCESSING`): the square around the
    ink's bounding box, its side the longer side (at least 28, so a tiny drawing is never
    magnified), centred on the box, split into 28 × 28 cells; a cell is the mean ink of
    the pixels whose centres fall in it (pixels beyond the drawing count as background).
    An empty drawing gives zeros.

    ``widgets/js/pageclassifier.js`` does the same in JavaScript, with the same
    arithmetic: the pixel at column ``x`` falls in cell ``floor((x + 0.5 - left) / (side / 28))``.
    """
    a = np.asarray(ink, dtype=np.float64)
    if a.ndim != 2 or not np.all(np.isfinite(a)):
        raise BadInput(f"a drawing is a 2-D array of finite ink values, got shape {a.shape}")
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float64)
    ys, xs = np.nonzero(a > 0)
    if ys.size == 0:
        return out.astype(np.float32)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = max(x1 - x0, y1 - y0, IMAGE_SIZE)
    left, top = (x0 + x1 - side) / 2, (y0 + y1 - side) / 2
    cell = side / IMAGE_SIZE
    cols = np.floor((xs + 0.5 - left) / cell).astype(int)
    rows = np.floor((ys + 0.5 - top) / cell).astype(int)
    inside = (cols >= 0) & (cols < IMAGE_SIZE) & (rows >= 0) & (rows < IMAGE_SIZE)
    np.add.at(out, (rows[inside], cols[inside]), a[ys[inside], xs[inside]])
    counts = np.outer(_pixels_per_cell(top, side), _pixels_per_cell(left, side))
    return np.minimum(out / counts, 1.0).astype(np.float32)


def _pixels_per_cell(start: float, side: int) -> np.ndarray:
    """How many whole-pixel centres fall in each of the 28 cells along one axis of the
    square ``[start, start + side)`` (7 or 8 each when ``side`` is 200: the cells do not
    fall on pixel edges, so a uniform patch of ink is averaged, never counted twice)."""
    positions = np.arange(math.floor(start) - 1, math.ceil(start + side) + 1)
    cells = np.floor((positions + 0.5 - start) / (side / IMAGE_SIZE)).astype(int)
    return np.bincount(cells[(cells >= 0) & (cells < IMAGE_SIZE)], minlength=IMAGE_SIZE).astype(np.float64)


__all__ = ["CLASS_NAMES", "DEFAULT_CONFIG", "IMAGE_SIZE", "INPUT_NAME", "LAYER_NAMES", "PREPROCESSING",
           "ClassifierConfig", "FashionData", "TrainedClassifier", "build_classifier", "check_images", "fit_drawing",
           "load_data", "predict_numpy", "top_k", "train_classifier"]
