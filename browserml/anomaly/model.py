"""Lesson 2's model: Anomagram's composer settings, the dense autoencoder, and its training.

The model is built with the Layers API of ``tf_keras``, layer by layer, mirroring the
talk's ``tf.layers.dense({units, activation}).apply(x)``, so it exports as a TF.js
layers model that a browser can run *and re-train*. TensorFlow loads on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from browserml.anomaly.data import AnomalyInputError, LessonData, MinMaxScaler, _checked_scores, prepare_data
from browserml.data import ecg5000 as ecg
from browserml.errors import BadInput, finite_float, positive_int

OPTIMIZERS = ("adam", "adamax", "adadelta", "rmsprop", "momentum", "sgd")
ACTIVATIONS = ("relu", "elu", "selu", "tanh", "sigmoid", "linear")
REGULARIZERS = ("none", "l1", "l2", "l1l2")
THRESHOLD_RULES = ("best_f1", "mean_k_sigma")
SPLITS = ("ucr", "anomagram")
MAX_HIDDEN_LAYERS = 10
#: The widest layer: a 140-step beat needs no more to be reconstructed, and a wider
#: dense stack would not fit a browser tab (or Binder's kernel) anyway.
MAX_UNITS = 1024
#: NumPy and TensorFlow seeds are unsigned 32-bit numbers.
MAX_SEED = 2**32 - 1


class TrainingDiverged(AnomalyInputError, FloatingPointError):
    """The loss became NaN or infinite: the settings, not the code, are at fault."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything Anomagram's composer and training panel let you set.

    ``hidden`` are the encoder's hidden layer widths (the decoder mirrors them);
    ``latent`` is the bottleneck. ``activation`` is the hidden layers' (encoder and
    decoder), ``latent_activation`` the bottleneck's and ``output_activation`` the
    reconstruction's. The regularizer has its **own** rate (Anomagram reuses the learning
    rate for it, which couples two unrelated knobs).

    The default (:data:`ANOMAGRAM_DEFAULT`) is the talk's model with Anomagram's layers:
    140→15→7→2, ReLU hidden layers, a linear bottleneck (``tf.layers.dense({units:
    latentDim})``, no activation) and a sigmoid output for beats min-max scaled to [0, 1].
    """

    hidden: tuple[int, ...] = (15, 7)
    latent: int = 2
    activation: str = "relu"
    latent_activation: str = "linear"
    output_activation: str = "sigmoid"
    optimizer: str = "adam"
    learning_rate: float = 0.01
    regularizer: str = "none"
    regularizer_rate: float = 1e-4
    batch_size: int = 64
    epochs: int = 100
    train_size: int | None = None
    abnormal_share: float = 0.0
    split: str = "ucr"
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse every bad option here, before any data is loaded or a step is trained:
        the CLI (``--hidden``, ``--lr`` ...) and the widget's :meth:`with_changes` both
        build a config, so both get the same one-line message naming each bad option.
        Whole numbers stay whole (2.9 units or a batch of 2.5 is refused, not truncated)."""
        problems: list[str] = []

        def check(name: str, validate: Callable[[], Any]) -> None:
            try:
                object.__setattr__(self, name, validate())
            except BadInput as err:
                problems.append(str(err))

        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, Sequence):
            problems.append(f"hidden must be a list of layer widths such as (7, 3), got {self.hidden!r}")
        else:
            if not 1 <= len(self.hidden) <= MAX_HIDDEN_LAYERS:
                problems.append(f"hidden layers must number 1 to {MAX_HIDDEN_LAYERS}, got {len(self.hidden)}")
            check("hidden", lambda: tuple(_units(f"hidden[{i}]", u) for i, u in enumerate(self.hidden)))
        check("latent", lambda: _units("latent", self.latent))
        for name, value, allowed in (("activation", self.activation, ACTIVATIONS),
                                     ("latent_activation", self.latent_activation, ACTIVATIONS),
                                     ("output_activation", self.output_activation, ACTIVATIONS),
                                     ("optimizer", self.optimizer, OPTIMIZERS),
                                     ("regularizer", self.regularizer, REGULARIZERS),
                                     ("split", self.split, SPLITS)):
            if not isinstance(value, str) or value not in allowed:
                problems.append(f"{name} must be one of {allowed}, got {value!r}")
        check("learning_rate", lambda: finite_float("learning_rate", self.learning_rate, 0.0, low_open=True))
        check("regularizer_rate", lambda: finite_float("regularizer_rate", self.regularizer_rate, 0.0))
        check("batch_size", lambda: positive_int("batch_size", self.batch_size))
        check("epochs", lambda: positive_int("epochs", self.epochs))
        check("train_size", lambda: None if self.train_size is None else
              positive_int("train_size", self.train_size))
        check("abnormal_share", lambda: _fraction("abnormal_share", self.abnormal_share, "[0, 1)"))
        check("val_fraction", lambda: _fraction("val_fraction", self.val_fraction, "(0, 1)"))
        check("seed", lambda: _seed(self.seed))
        if problems:
            raise AnomalyInputError("; ".join(problems))

    @property
    def architecture(self) -> list[int]:
        """Layer widths from input to output, e.g. ``[140, 15, 7, 2, 7, 15, 140]``."""
        return [ecg.N_STEPS, *self.hidden, self.latent, *reversed(self.hidden), ecg.N_STEPS]

    def with_changes(self, **changes: Any) -> AutoencoderConfig:
        """A validated copy with some fields changed."""
        return replace(self, **changes)


def _units(name: str, value: object) -> int:
    """A layer width: a whole number from 1 to :data:`MAX_UNITS`."""
    try:
        units = positive_int(name, value)
    except BadInput as err:
        raise AnomalyInputError(f"{err} (every layer needs a whole number of units: at least 1 unit, "
                                f"at most {MAX_UNITS})") from None
    if units > MAX_UNITS:
        raise AnomalyInputError(f"{name} must be at most {MAX_UNITS} units, got {units}")
    return units


def _fraction(name: str, value: object, interval: str) -> float:
    """A finite share in ``"[0, 1)"`` or ``"(0, 1)"``: both ends open but 0 in the first."""
    share = finite_float(name, value)
    above_low = share >= 0 if interval == "[0, 1)" else share > 0
    if not above_low or share >= 1:
        raise AnomalyInputError(f"{name} must be in {interval}, got {share}")
    return share


def _seed(value: object) -> int:
    seed = positive_int("seed", value, minimum=0)
    if seed > MAX_SEED:
        raise AnomalyInputError(f"seed must be at most {MAX_SEED} (an unsigned 32-bit number), got {seed}")
    return seed


#: The default: the talk's 140→15→7→2→7→15→140 (its slides' encoder and decoder, 2,243 and
#: 2,381 parameters) with Anomagram's layers: ReLU hidden layers, a linear bottleneck, a
#: sigmoid output; Adam at 0.01, batches of 64, 100 epochs. Anomagram's composer now starts
#: at 7→3 instead: on the 233 normal beats of the UCR TRAIN file its 3-unit ReLU layers
#: lose units (test ROC-AUC 0.956-0.989 over seeds 0-4; with seed 3 the whole decoder_0
#: layer is dead from the first weights, and the model can only output one beat), while
#: 15→7 reaches 0.983-0.989 over seeds 0-9.
ANOMAGRAM_DEFAULT = AutoencoderConfig()


# --------------------------------------------------------------------------- model


def _regularizer(config: AutoencoderConfig) -> Any:  # a tf_keras regularizer or None (tf_keras is untyped)
    import tf_keras

    rate = config.regularizer_rate
    return {"none": None, "l1": tf_keras.regularizers.L1(rate), "l2": tf_keras.regularizers.L2(rate),
            "l1l2": tf_keras.regularizers.L1L2(l1=rate, l2=rate)}[config.regularizer]


def make_optimizer(config: AutoencoderConfig) -> Any:  # a tf_keras optimizer (tf_keras is untyped)
    """The optimizer by Anomagram's names (``momentum`` is SGD with momentum 0.9)."""
    import tf_keras

    lr = config.learning_rate
    return {
        "adam": lambda: tf_keras.optimizers.Adam(lr),
        "adamax": lambda: tf_keras.optimizers.Adamax(lr),
        "adadelta": lambda: tf_keras.optimizers.Adadelta(lr),
        "rmsprop": lambda: tf_keras.optimizers.RMSprop(lr),
        "momentum": lambda: tf_keras.optimizers.SGD(lr, momentum=0.9),
        "sgd": lambda: tf_keras.optimizers.SGD(lr),
    }[config.optimizer]()


def build_autoencoder(config: AutoencoderConfig) -> Any:  # a compiled tf_keras.Model
    """The autoencoder, one ``Dense(...)(x)`` per layer, as in TF.js:

    ``x = tf.layers.dense({units: 15, activation: 'relu'}).apply(x)``  ↔
    ``x = Dense(15, activation="relu")(x)``.

    The bottleneck layer is named ``latent`` so the encoder can be read off the model; with
    the default it has no activation (``latent_activation="linear"``), as on the slide.
    """
    import tf_keras

    tf_keras.utils.set_random_seed(config.seed)
    dense = tf_keras.layers.Dense
    reg = _regularizer(config)
    inputs = tf_keras.Input((ecg.N_STEPS,), name="beat")
    x = inputs
    for i, units in enumerate(config.hidden):
        x = dense(units, activation=config.activation, kernel_regularizer=reg, name=f"encoder_{i}")(x)
    x = dense(config.latent, activation=config.latent_activation, kernel_regularizer=reg, name="latent")(x)
    for i, units in enumerate(reversed(config.hidden)):
        x = dense(units, activation=config.activation, kernel_regularizer=reg, name=f"decoder_{i}")(x)
    outputs = dense(ecg.N_STEPS, activation=config.output_activation, name="reconstruction")(x)
    model = tf_keras.Model(inputs, outputs, name="anomagram_autoencoder")
    model.compile(optimizer=make_optimizer(config), loss="mse")
    return model


def encoder_of(model: Any) -> Any:  # tf_keras.Model in and out
    """The encoder half (input → ``latent``), sharing the autoencoder's weights."""
    import tf_keras

    return tf_keras.Model(model.input, model.get_layer("latent").output)


def hidden_outputs(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """What each hidden layer (``encoder_*`` and ``decoder_*``, the ones with
    ``config.activation``) outputs for the scaled beats ``x``: ``{name: [beats, units]}``,
    in the model's order. With ReLU, a unit whose column is 0 for every beat is dead."""
    import tf_keras

    names = [layer.name for layer in model.layers if layer.name.startswith(("encoder_", "decoder_"))]
    probe = tf_keras.Model(model.input, [model.get_layer(name).output for name in names])
    outputs = probe.predict(np.asarray(x, np.float32), verbose=0, batch_size=1024)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return {name: np.asarray(out) for name, out in zip(names, outputs)}


# --------------------------------------------------------------------------- training


@dataclass
class History:
    """Loss per epoch, for the live curves."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


class Trainer:
    """Trains an autoencoder in chunks that can be paused and resumed.

    ``train()`` runs until ``config.epochs`` in total or until :meth:`pause` is
    called (from another thread), after the current epoch. Calling it again resumes.
    """

    def __init__(self, config: AutoencoderConfig, data: LessonData | None = None) -> None:
        self.config = config
        self.data = data or prepare_data(config)
        self.model = build_autoencoder(config)
        self.history = History()
        self._pause = threading.Event()
        x_val_normal = self.data.split.val.subset(~self.data.split.val.is_abnormal).x
        self._x_train = self.data.scaler.transform(self.data.train.x)
        self._x_val = self.data.scaler.transform(x_val_normal) if len(x_val_normal) else None

    @property
    def epochs_done(self) -> int:
        return len(self.history.loss)

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.config.epochs

    def pause(self) -> None:
        self._pause.set()

    def train(self, on_epoch: Callable[[int, float, float | None], None] | None = None) -> History:
        """Train up to ``config.epochs`` epochs; ``on_epoch(epoch, loss, val_loss)`` after each."""
        import tf_keras

        trainer = self

        class Progress(tf_keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                logs = logs or {}
                loss, val = float(logs["loss"]), logs.get("val_loss")
                if not np.isfinite(loss):
                    self.model.stop_training = True
                    cfg = trainer.config
                    raise TrainingDiverged(
                        f"training diverged: the loss became {loss} at epoch {epoch + 1} "
                        f"(learning rate {cfg.learning_rate:g} with {cfg.optimizer}); lower the learning rate, "
                        "e.g. 10 times")
                trainer.history.loss.append(loss)
                if val is not None:
                    trainer.history.val_loss.append(float(val))
                if on_epoch is not None:
                    on_epoch(epoch + 1, loss, None if val is None else float(val))
                if trainer._pause.is_set():
                    self.model.stop_training = True

        self._pause.clear()
        if self.finished:
            return self.history
        self.model.fit(
            self._x_train, self._x_train, batch_size=self.config.batch_size, initial_epoch=self.epochs_done,
            epochs=self.config.epochs, shuffle=True, verbose=0, callbacks=[Progress()],
            validation_data=None if self._x_val is None else (self._x_val, self._x_val),
        )
        return self.history

    def scores(self, x_raw: np.ndarray) -> np.ndarray:
        """Reconstruction error per beat: MSE between scaled beat and reconstruction."""
        return reconstruction_errors(self.model, self.data.scaler, x_raw)

    def latent(self, x_raw: np.ndarray) -> np.ndarray:
        return encoder_of(self.model).predict(self.data.scaler.transform(x_raw), verbose=0, batch_size=1024)


def reconstruction_errors(model: Any, scaler: MinMaxScaler, x_raw: np.ndarray) -> np.ndarray:
    """Mean squared reconstruction error of each raw beat, on the scaled values."""
    x = scaler.transform(x_raw)
    recon = model.predict(x, verbose=0, batch_size=1024)
    with np.errstate(over="ignore", invalid="ignore"):  # refused just below, with a message
        errors = np.mean((recon - x) ** 2, axis=1)
    return _checked_scores(errors, "Python's").astype(np.float32)
