"""Lesson 2: Anomagram in Python: an autoencoder that flags abnormal ECG beats.

Anomagram trains a dense autoencoder in the browser on normal heartbeats only; a beat
it cannot reconstruct well (high mean squared error) is flagged as abnormal. This
module is that pipeline with every control of Anomagram's composer, plus what the
browser demo leaves out: a threshold chosen on validation data (never the test set),
a full set of metrics with per-class detection rates, and two scikit-learn baselines
(PCA reconstruction and IsolationForest) on the same split.

The model is built with the Layers API of ``tf_keras``, layer by layer, mirroring the
talk's ``tf.layers.dense({units, activation}).apply(x)``, so it exports as a TF.js
layers model that a browser can run *and re-train*.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from browserml.data import ecg5000 as ecg
from browserml.errors import BadInput, finite_float, positive_int
from browserml.inbrowser import BrowserRequest, BrowserRunLike, FitRuntime
from browserml.paths import TEMPLATES_DIR

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


class AnomalyInputError(BadInput):
    """An option, beat or threshold lesson 2 cannot use: one line naming it and what works."""


class TrainingDiverged(AnomalyInputError, FloatingPointError):
    """The loss became NaN or infinite: the settings, not the code, are at fault."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything Anomagram's composer and training panel let you set.

    ``hidden`` are the encoder's hidden layer widths (the decoder mirrors them);
    ``latent`` is the bottleneck. The regularizer has its **own** rate
    (Anomagram reuses the learning rate for it, which couples two unrelated knobs).
    """

    hidden: tuple[int, ...] = (7, 3)
    latent: int = 2
    activation: str = "tanh"
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
        """Layer widths from input to output, e.g. ``[140, 7, 3, 2, 3, 7, 140]``."""
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


#: Anomagram's default architecture, 140→7→3→2→3→7→140.
ANOMAGRAM_DEFAULT = AutoencoderConfig()


# --------------------------------------------------------------------------- data


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


# --------------------------------------------------------------------------- model


def _regularizer(config: AutoencoderConfig):
    import tf_keras

    rate = config.regularizer_rate
    return {"none": None, "l1": tf_keras.regularizers.L1(rate), "l2": tf_keras.regularizers.L2(rate),
            "l1l2": tf_keras.regularizers.L1L2(l1=rate, l2=rate)}[config.regularizer]


def make_optimizer(config: AutoencoderConfig):
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


def build_autoencoder(config: AutoencoderConfig):
    """The autoencoder, one ``Dense(...)(x)`` per layer, as in TF.js:

    ``x = tf.layers.dense({units: 7, activation: 'relu'}).apply(x)``  ↔
    ``x = Dense(7, activation="relu")(x)``.

    The bottleneck layer is named ``latent`` so the encoder can be read off the model.
    """
    import tf_keras

    tf_keras.utils.set_random_seed(config.seed)
    dense = tf_keras.layers.Dense
    reg = _regularizer(config)
    inputs = tf_keras.Input((ecg.N_STEPS,), name="beat")
    x = inputs
    for i, units in enumerate(config.hidden):
        x = dense(units, activation=config.activation, kernel_regularizer=reg, name=f"encoder_{i}")(x)
    x = dense(config.latent, activation=config.activation, kernel_regularizer=reg, name="latent")(x)
    for i, units in enumerate(reversed(config.hidden)):
        x = dense(units, activation=config.activation, kernel_regularizer=reg, name=f"decoder_{i}")(x)
    outputs = dense(ecg.N_STEPS, activation=config.output_activation, name="reconstruction")(x)
    model = tf_keras.Model(inputs, outputs, name="anomagram_autoencoder")
    model.compile(optimizer=make_optimizer(config), loss="mse")
    return model


def encoder_of(model):
    """The encoder half (input → ``latent``), sharing the autoencoder's weights."""
    import tf_keras

    return tf_keras.Model(model.input, model.get_layer("latent").output)


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


# --------------------------------------------------------------------------- thresholds and metrics


def threshold_best_f1(scores: np.ndarray, abnormal: np.ndarray) -> float:
    """The score cut-off that maximises F1 on labelled (validation) beats."""
    from sklearn.metrics import precision_recall_curve

    abnormal = np.asarray(abnormal, bool)
    scores = _checked_scores(scores, "the validation beat's")
    if abnormal.all() or not abnormal.any():
        raise AnomalyInputError("best-F1 threshold needs both normal and abnormal validation beats")
    precision, recall, cuts = precision_recall_curve(abnormal, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))
    # Predictions are "score > threshold": put the cut just below the best cut-off score.
    return float(np.nextafter(cuts[best], -np.inf))


def check_threshold_rule(rule: str, k: float = 3.0) -> float:
    """``k`` as a float once ``rule`` and ``k`` are known good; call it before training, so a
    ``--k nan`` is refused at once instead of giving a NaN threshold (every beat "normal",
    F1 = 0) after the whole run. ``k`` counts standard deviations above the mean: ≥ 0."""
    if not isinstance(rule, str) or rule not in THRESHOLD_RULES:
        raise AnomalyInputError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    try:
        return finite_float("k", k, 0.0)
    except BadInput as err:
        raise AnomalyInputError(f"{err} (k of the mean+kσ rule counts standard deviations above the mean "
                                "training error, e.g. 3)") from None


def threshold_mean_k_sigma(train_scores: np.ndarray, k: float = 3.0) -> float:
    """Unsupervised rule: mean + k standard deviations of the training errors."""
    k = check_threshold_rule("mean_k_sigma", k)
    train_scores = _checked_scores(train_scores, "the training beat's")
    if train_scores.size < 2:
        raise AnomalyInputError("mean+kσ threshold needs at least 2 training scores")
    threshold = float(train_scores.mean() + k * train_scores.std())
    if not np.isfinite(threshold):
        raise AnomalyInputError(f"mean + {k:g}σ of the training errors is {threshold}; use a smaller k")
    return threshold


@dataclass(frozen=True)
class Evaluation:
    """Every number the lesson reports for one detector at one threshold."""

    threshold: float
    metrics: dict[str, float]
    confusion: np.ndarray  # [[TN, FP], [FN, TP]]
    per_class: dict[str, float]  # detection rate (share flagged) per class name

    def row(self, name: str) -> dict[str, Any]:
        return {"detector": name, **{k: round(v, 4) for k, v in self.metrics.items()}}


def evaluate(scores: np.ndarray, labels: np.ndarray, threshold: float) -> Evaluation:
    """Metrics of "score > threshold means abnormal" against ECG5000 labels (1 = normal)."""
    from sklearn import metrics as skm

    threshold = finite_float("threshold", threshold)
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.shape != labels.shape or scores.size == 0:
        raise AnomalyInputError(f"scores {scores.shape} and labels {labels.shape} must be equal, non-empty")
    scores = _checked_scores(scores, "the")
    truth = labels != ecg.NORMAL
    flagged = scores > threshold
    tn, fp, fn, tp = skm.confusion_matrix(truth, flagged, labels=[False, True]).ravel()
    safe = lambda a, b: float(a / b) if b else 0.0  # noqa: E731
    both = truth.any() and not truth.all()
    out = {
        "accuracy": safe(tp + tn, tp + tn + fp + fn),
        "precision": safe(tp, tp + fp),
        "recall": safe(tp, tp + fn),
        "f1": safe(2 * tp, 2 * tp + fp + fn),
        "roc_auc": float(skm.roc_auc_score(truth, scores)) if both else float("nan"),
        "pr_auc": float(skm.average_precision_score(truth, scores)) if both else float("nan"),
        "tpr": safe(tp, tp + fn), "tnr": safe(tn, tn + fp), "fpr": safe(fp, fp + tn), "fnr": safe(fn, fn + tp),
    }
    per_class = {ecg.CLASS_NAMES.get(int(c), str(c)): float(flagged[labels == c].mean()) for c in np.unique(labels)}
    return Evaluation(float(threshold), out, np.array([[tn, fp], [fn, tp]]), per_class)


def choose_threshold(rule: str, val_scores: np.ndarray, val_labels: np.ndarray, train_scores: np.ndarray,
                     k: float = 3.0) -> float:
    """A threshold by ``rule``, from validation or training data, never the test set."""
    k = check_threshold_rule(rule, k)
    if rule == "best_f1":
        return threshold_best_f1(val_scores, np.asarray(val_labels) != ecg.NORMAL)
    if rule == "mean_k_sigma":
        return threshold_mean_k_sigma(train_scores, k)
    raise AnomalyInputError(f"threshold rule must be one of {THRESHOLD_RULES}, got {rule!r}")


# --------------------------------------------------------------------------- baselines


def baseline_scores(data: LessonData, n_components: int, seed: int = 0) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Scorers fitted on the same training beats: PCA reconstruction error and IsolationForest."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest

    x = data.scaler.transform(data.train.x)
    pca = PCA(n_components=min(n_components, x.shape[0], x.shape[1]), random_state=seed).fit(x)
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(x)

    def pca_score(raw: np.ndarray) -> np.ndarray:
        z = data.scaler.transform(raw)
        return np.mean((pca.inverse_transform(pca.transform(z)) - z) ** 2, axis=1)

    return {f"PCA ({pca.n_components_} components)": pca_score,
            "IsolationForest": lambda raw: -forest.score_samples(data.scaler.transform(raw))}


@dataclass(frozen=True)
class Report:
    """The autoencoder and the baselines, each with a validation-chosen threshold, on test."""

    rule: str
    rows: dict[str, Evaluation]

    def table(self) -> list[dict[str, Any]]:
        return [e.row(name) for name, e in self.rows.items()]


def compare(trainer: Trainer, rule: str = "best_f1", k: float = 3.0) -> Report:
    """Evaluate the trained autoencoder and the baselines on the test beats."""
    k = check_threshold_rule(rule, k)
    split = trainer.data.split
    scorers = {"Autoencoder": trainer.scores, **baseline_scores(trainer.data, trainer.config.latent,
                                                                trainer.config.seed)}
    rows = {}
    for name, score in scorers.items():
        threshold = choose_threshold(rule, score(split.val.x), split.val.y, score(trainer.data.train.x), k)
        rows[name] = evaluate(score(split.test.x), split.test.y, threshold)
    return Report(rule, rows)


# --------------------------------------------------------------------------- export

_PAGE_TEMPLATE = TEMPLATES_DIR / "anomaly_index.html"


def page_beats(beats: ecg.Beats, per_class: int = 8, seed: int = 0) -> dict[str, Any]:
    """A few raw beats of each class for the export's page (``beats.json``)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in sorted(np.unique(beats.y)):
        idx = np.flatnonzero(beats.y == c)
        chosen += sorted(rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist())
    return {"class_names": {str(k): v for k, v in ecg.CLASS_NAMES.items()},
            "beats": [{"id": int(i), "label": int(beats.y[i]), "values": beats.x[i].astype(float).round(6).tolist()}
                      for i in chosen]}


def export_anomaly(trainer: Trainer, threshold: float, out_dir: str | Path, rule: str = "best_f1") -> Path:
    """Export the autoencoder as a TF.js layers model any client can score raw beats with.

    ``browserml.json`` carries the min-max preprocessing (fitted on training beats),
    ``"score": "mse"`` and the threshold; the folder also holds ``index.html`` (score a
    beat, and fine-tune the model in the browser with ``model.fit``) and ``beats.json``.
    """
    from browserml.export import export_layers_model

    if not trainer.epochs_done:
        raise RuntimeError("train the autoencoder before exporting it")
    if not np.isfinite(threshold):
        raise AnomalyInputError(f"threshold must be finite, got {threshold}")
    test = trainer.data.split.test
    sample = page_beats(test)
    parity_rows = trainer.data.scaler.transform(np.array([b["values"] for b in sample["beats"][::8]]))
    return export_layers_model(
        trainer.model, out_dir, task="ecg-anomaly",
        parity_inputs={"beat": parity_rows},
        title="Anomagram ECG autoencoder",
        description=("A dense autoencoder trained on normal ECG5000 beats. Scale a raw 140-step beat with "
                     "`preprocessing`, reconstruct it, and call it abnormal when the mean squared error "
                     "is above `threshold`."),
        preprocessing=trainer.data.scaler.to_json(),
        labels=[ecg.CLASS_NAMES[c] for c in sorted(ecg.CLASS_NAMES)],
        score="mse", threshold=threshold,
        extra={"config": {**asdict(trainer.config), "hidden": list(trainer.config.hidden)},
               "architecture": trainer.config.architecture, "threshold_rule": rule,
               "epochs_trained": trainer.epochs_done},
        extra_files={"index.html": _PAGE_TEMPLATE.read_text(encoding="utf-8"),
                     "beats.json": json.dumps(sample)},
    )


def tfjs_scores(export_dir: str | Path, x_raw: np.ndarray, backend: str = "wasm") -> np.ndarray:
    """Score raw beats with the export in TF.js under Node, using only what the export
    itself says: its ``browserml.json`` preprocessing, model and ``score``."""
    from browserml.tfjs_check import run_in_node

    x_raw = _check_beats(x_raw, export_scaler(export_dir).max_abs)
    result = run_in_node(export_dir, backend, inputs={"beat": x_raw}, raw=True)
    if result.scores is None:
        raise AnomalyInputError(f"{export_dir} does not declare a score in browserml.json")
    return _checked_scores(result.scores, f"TF.js ({backend})")


# --------------------------------------------------------------------------- drawn beats


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


# --------------------------------------------------------------------------- exercises


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


# --------------------------------------------------------------------------- the hybrid flow in TF.js


def fit_in_tfjs(export_dir: str | Path, x_raw: np.ndarray, epochs: int = 20, batch_size: int = 512,
                learning_rate: float = 0.01, backend: str = "wasm", infer_rows: int = 500) -> dict[str, Any]:
    """Keep training the exported autoencoder in TF.js under Node on raw beats, scaled
    with the export's own preprocessing; returns losses, timings and the new weights."""
    from browserml.tfjs_check import run_node_script

    scaler = export_scaler(export_dir)
    config = {"x": scaler.transform(x_raw).astype(float).tolist(), "epochs": int(epochs),
              "batch_size": int(batch_size), "learning_rate": float(learning_rate), "infer_rows": int(infer_rows)}
    return run_node_script("layers_fit.cjs", ["--dir", Path(export_dir).resolve(), "--backend", backend],
                           timeout_s=600, payload=config)


# --------------------------------------------------------------------------- in the learner's own page


def export_scaler(export_dir: str | Path) -> MinMaxScaler:
    """The min-max scaling an export declares in ``browserml.json``: what every client
    must apply to a raw beat before the model sees it."""
    from browserml.export import read_manifest

    pre = read_manifest(export_dir).preprocessing or {}
    if pre.get("kind") != "minmax":
        raise AnomalyInputError(f"{export_dir} declares no min-max preprocessing (got {pre.get('kind')!r}); "
                                "is it a lesson-2 autoencoder export?")
    try:  # exports from before max_abs was declared keep today's limit
        low, high = (_check_beats(pre[side]) for side in ("min", "max"))
        max_abs = finite_float("preprocessing.max_abs", pre.get("max_abs", ecg.MAX_ABS_VALUE), 0.0, low_open=True)
    except (KeyError, BadInput) as err:
        raise AnomalyInputError(f"{export_dir}: browserml.json's min-max preprocessing is unusable ({err})") from None
    return MinMaxScaler(low[0], high[0], max_abs)


def browser_request(export_dir: str | Path, model: Any, x_raw: np.ndarray) -> BrowserRequest:
    """Score raw beats in the learner's page: the beats scaled with the export's own
    preprocessing (its input contract), and ``model`` (the Python autoencoder) on those
    very scaled beats as the reference, so the table compares reconstructions."""
    from browserml.export import read_manifest
    from browserml.inbrowser import compiled_forward

    manifest = read_manifest(export_dir)
    (inp,), (out,) = manifest.inputs, manifest.outputs
    x = export_scaler(export_dir).transform(x_raw)
    forward = compiled_forward(model)
    return {"inputs": {inp.name: x}, "reference": lambda d: {out.name: forward(d[inp.name])}}


def browser_scores(run: BrowserRunLike, backend: str | None = None) -> np.ndarray:
    """Anomaly scores from the page's reconstructions: the mean squared error between
    each scaled beat sent and what that backend gave back (``score: "mse"``)."""
    from browserml.inbrowser import backend_outputs

    _, outputs = backend_outputs(run, backend)
    (x,), (recon,) = run.inputs.values(), outputs.values()
    with np.errstate(over="ignore", invalid="ignore"):  # refused just below, with a message
        scores = np.mean((np.asarray(recon, np.float64) - np.asarray(x, np.float64)) ** 2, axis=1)
    return _checked_scores(scores, f"the page's ({backend or 'first backend'})")


def pick_beats(beats: ecg.Beats, classes: Sequence[int] | None = None, indices: Sequence[int] | None = None,
               n: int | None = None, seed: int = 0) -> ecg.Beats:
    """The beats a learner hands to the browser for fine-tuning: by class (ECG5000
    labels 1-5, see ``ecg.CLASS_NAMES``), by index, or both (indices first, then the
    class filter), optionally ``n`` of them drawn at random (seeded)."""
    picked = beats if indices is None else beats.subset(np.asarray(list(indices), dtype=np.intp))
    if classes is not None:
        wanted = [int(c) for c in classes]
        unknown = [c for c in wanted if c not in ecg.CLASS_NAMES]
        if unknown:
            raise AnomalyInputError(f"unknown class(es) {unknown}; ECG5000 classes are {ecg.CLASS_NAMES}")
        picked = picked.subset(np.isin(picked.y, wanted))
    if n is not None:
        if n < 1:
            raise AnomalyInputError(f"n must be at least 1, got {n}")
        if n < picked.n:
            picked = picked.subset(np.sort(np.random.default_rng(seed).choice(picked.n, size=n, replace=False)))
    if picked.n == 0:
        raise AnomalyInputError("no beats match that choice: pick other classes or indices")
    return picked


def finetune_in_browser(runtime: FitRuntime, export_dir: str | Path, beats: ecg.Beats, epochs: int = 20,
                        batch_size: int = 32, learning_rate: float = 0.005, optimizer: str = "adam",
                        backend: str = "cpu", shuffle: bool = False) -> Any:
    """Keep training the exported autoencoder in the learner's page with ``model.fit``
    on ``beats`` (scaled by the export's own preprocessing; an autoencoder's target is
    its input). Returns the runtime's job: ``fit = await job`` in a cell gives the
    per-epoch losses and the updated weights by name (a ``FitResult``)."""
    x = export_scaler(export_dir).transform(beats.x)
    return runtime.fit(export_dir, x, x, epochs=epochs, batch_size=batch_size, backend=backend,
                       optimizer=optimizer, learning_rate=learning_rate, loss="meanSquaredError", shuffle=shuffle)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC of scores against ECG5000 labels (abnormal = not class 1); NaN with one class only."""
    from sklearn.metrics import roc_auc_score

    truth = np.asarray(labels) != ecg.NORMAL
    return float(roc_auc_score(truth, scores)) if truth.any() and not truth.all() else float("nan")


@dataclass
class FineTuneReport:
    """A fine-tune done in the browser, scored by Python with the weights it sent back."""

    losses: list[float]  # per epoch, as the page's model.fit reported them
    backend: str | None
    tuned_on: int  # how many beats the page trained on
    loss_before: float  # Python's MSE on those beats with the exported weights ...
    loss_after: float  # ... and with the returned ones
    scores_before: np.ndarray  # reconstruction errors of the evaluation beats
    scores_after: np.ndarray
    labels: np.ndarray
    auc_before: float
    auc_after: float
    model: Any = field(repr=False, default=None)  # the tf_keras clone carrying the returned weights

    def table(self) -> list[dict[str, Any]]:
        return [{"weights": "exported (Python)", "loss_on_picked_beats": self.loss_before, "roc_auc": self.auc_before},
                {"weights": "fine-tuned in the browser", "loss_on_picked_beats": self.loss_after,
                 "roc_auc": self.auc_after}]

    def summary(self) -> str:
        curve = f"browser loss {self.losses[0]:.5f} → {self.losses[-1]:.5f} over {len(self.losses)} epochs " \
                f"on {self.backend}; " if self.losses else ""
        return (f"{curve}Python, on the {self.tuned_on} picked beats: MSE {self.loss_before:.5f} → "
                f"{self.loss_after:.5f}; ROC-AUC on {len(self.labels)} beats "
                f"{self.auc_before:.4f} → {self.auc_after:.4f}")

    def figure(self) -> Any:
        """The page's loss curve beside Python's ROC-AUC before and after."""
        from browserml.figures import new_figure

        fig = new_figure(8, 2.8)
        ax, ax_auc = fig.subplots(1, 2, width_ratios=[3, 2])
        if self.losses:
            epochs = np.arange(1, len(self.losses) + 1)
            ax.plot(epochs, self.losses, marker="o", ms=3, color="tab:blue",
                    label=f"model.fit in the page ({self.backend})")
        ax.axhline(self.loss_before, color="gray", ls="--", lw=1, label="Python, exported weights")
        ax.axhline(self.loss_after, color="tab:orange", ls="--", lw=1, label="Python, returned weights")
        ax.set(xlabel="epoch", ylabel="MSE on the picked beats", title=f"fine-tune on {self.tuned_on} beats")
        ax.legend(fontsize=7)
        bars = ax_auc.bar(["before", "after"], [self.auc_before, self.auc_after], color=["gray", "tab:orange"])
        ax_auc.bar_label(bars, fmt="%.4f", fontsize=8)
        low = min(self.auc_before, self.auc_after)
        ax_auc.set(ylim=(max(0.0, low - 0.05) if np.isfinite(low) else 0.0, 1.0), ylabel="ROC-AUC (Python)",
                   title=f"{len(self.labels)} beats, scored in Python")
        return fig


def score_returned_weights(trainer: Trainer, weights: Any, beats: ecg.Beats,
                           tuned_on: ecg.Beats | None = None) -> FineTuneReport:
    """Python's verdict on weights fine-tuned in the browser.

    ``weights`` is the runtime's ``FitResult`` (its losses are kept for the curve) or a
    plain ``{weight name: array}``. The trainer's model is cloned with them
    (:func:`browserml.export.clone_with_weights`), and both models score ``beats`` (e.g.
    the test split) with the trainer's scaler, which is the export's. ``tuned_on`` (the
    beats the page trained on) adds Python's MSE on them before and after.
    """
    from browserml.export import clone_with_weights

    losses: list[float] = []
    backend = None
    if hasattr(weights, "weights") and not isinstance(weights, Mapping):
        if getattr(weights, "error", None) or weights.weights is None:
            raise AnomalyInputError(f"the browser fine-tune returned no weights: {getattr(weights, 'error', None)}")
        losses, backend, weights = [float(v) for v in weights.losses], weights.backend, weights.weights
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a FitResult or a {{name: array}} mapping, got {type(weights).__name__}")
    clone = clone_with_weights(trainer.model, weights)
    scaler = trainer.data.scaler
    before, after = reconstruction_errors(trainer.model, scaler, beats.x), reconstruction_errors(clone, scaler, beats.x)
    picked = tuned_on if tuned_on is not None else beats
    loss_before = float(np.mean(reconstruction_errors(trainer.model, scaler, picked.x)))
    loss_after = float(np.mean(reconstruction_errors(clone, scaler, picked.x)))
    return FineTuneReport(losses, backend, picked.n, loss_before, loss_after, before, after, beats.y.copy(),
                          roc_auc(before, beats.y), roc_auc(after, beats.y), clone)
