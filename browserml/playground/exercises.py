"""Lesson 5's exercise checks. Each prints ✓, ✗ with a hint, or … for an untouched blank,
and returns whether the answer is right; none raises for a wrong or blank answer, because
the notebook must still run top to bottom (exercise 2 starts from a cell that computes two
of the seven features on purpose). The solutions are in
``notebooks/solutions/05_tensorflow_playground.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.exercises import blank, cell_ran, is_blank, verdict
from browserml.inbrowser.cell import CellResult
from browserml.playground.model import FEATURE_LABELS, FEATURES, Network, PlaygroundConfig, feature_columns
from browserml.playground.state import PlaygroundState

#: The spiral exercise: a network with at most this many hidden neurons must reach
#: ``SPIRAL_ACCURACY`` on the noise-free spiral's test points within ``SPIRAL_EPOCHS``.
SPIRAL_BUDGET = 8
SPIRAL_ACCURACY = 0.9
SPIRAL_EPOCHS = 300


# --------------------------------------------------------------------------- exercise 1


def check_xor_feature(feature: str | Any, epochs: int = 30) -> bool:
    """Exercise 1: the one input feature that lets a network with *no* hidden layer
    separate XOR (a single tanh neuron draws one straight boundary in feature space)."""
    if is_blank(feature):
        return blank("name one feature")
    if feature not in FEATURES:
        return verdict(False, "", f"{feature!r} is not one of Playground's features {FEATURES}")
    state = PlaygroundState(PlaygroundConfig(dataset="xor", features=(feature,), hidden=(), learning_rate=0.1))
    state.step(epochs)
    accuracy = state.accuracy("test")
    return verdict(accuracy >= 0.95, f"{feature} alone, no hidden layer: {accuracy:.0%} of XOR's test points",
                   f"with {feature} alone a single neuron gets {accuracy:.0%}; XOR's class is the *sign* of a "
                   "product")


# --------------------------------------------------------------------------- exercise 2



def check_tfjs_features(result: CellResult | None, points: np.ndarray) -> bool:
    """Exercise 2: the ``%%tfjs`` cell returned Playground's seven features of ``points``
    (a tensor of shape [n, 7], in the order of ``FEATURES``), equal to
    :func:`~browserml.playground.model.feature_columns`, and left no tensor behind."""
    if not cell_ran(result, "run your %%tfjs cell first"):
        return False
    assert result is not None
    want = feature_columns(points, FEATURES)
    try:
        got = np.asarray(result.value, dtype=np.float32)
    except (TypeError, ValueError):
        return verdict(False, "", f"return one tensor of shape [{len(want)}, {len(FEATURES)}], got {result.value!r}")
    if got.ndim != 2 or got.shape[0] != len(want):
        return verdict(False, "", f"return one row per point, shape [{len(want)}, {len(FEATURES)}]; got shape "
                       f"{list(got.shape)} (tf.concat(columns, 1) puts [n, 1] columns side by side)")
    if got.shape[1] != len(FEATURES):
        return verdict(False, "", f"you return {got.shape[1]} columns, Playground has {len(FEATURES)}: "
                       + ", ".join(FEATURE_LABELS[f] for f in FEATURES))
    # float32 in both; sin in TF.js and in NumPy may differ by an ulp or two (values <= 36 in x1·x2)
    for j, feature in enumerate(FEATURES):
        if not np.allclose(got[:, j], want[:, j], rtol=1e-6, atol=1e-5):
            i = int(np.argmax(np.abs(got[:, j] - want[:, j])))
            return verdict(False, "", f"column {j + 1} should be {FEATURE_LABELS[feature]}: for the point "
                           f"({points[i][0]:.3f}, {points[i][1]:.3f}) it is {want[i, j]:.4f}, yours {got[i, j]:.4f}")
    return verdict(result.leaked == 0, f"all {len(FEATURES)} features of {len(want)} points match Python's, and "
                   f"tf.memory().numTensors stayed at {result.num_tensors_before}",
                   f"the features are right, but {result.leaked} tensors were left behind: compute them inside "
                   "tf.tidy(() => ...), which keeps only the tensor it returns")


# --------------------------------------------------------------------------- exercise 3

#: Exercise 3's cases: (features, L2 rate). x1² reaches 36, so a tanh neuron saturates on some
#: points and forgetting tanh's derivative shows.
NEURON_CASES = ((("x1^2", "x2^2", "x1"), 0.1), (("x1", "x2", "x1*x2", "sin(x1)"), 0.0))


def neuron_step_case(features: tuple[str, ...], l2_rate: float) -> tuple[Network, np.ndarray, np.ndarray]:
    """A network with no hidden layer (one tanh neuron) at Playground's start, and one
    batch of 10 circle points: what exercise 3's check steps from."""
    from browserml.playground.data import make_data

    config = PlaygroundConfig(dataset="circle", features=features, hidden=(), learning_rate=0.03,
                              regularization="l2" if l2_rate else "none", regularization_rate=l2_rate)
    data = make_data(config)
    return Network(config), feature_columns(data.train_xy[:10], features), data.train_y[:10]


def check_neuron_step(fn: Callable[..., Any] | Any) -> bool:
    """Exercise 3: ``fn(w, b, x, y, learning_rate, l2_rate)`` returns ``(new_w, new_b)`` after
    one SGD step of a single tanh neuron ``o = tanh(x·w + b)`` on the batch mean of
    ½(o − y)², with ``l2_rate·w`` added to the weights' gradient (not the bias's): what the
    package's step (:meth:`Network.train_batch`) does from the same start."""
    if is_blank(fn):
        return blank("write my_step")
    for features, rate in NEURON_CASES:
        net, x, y = neuron_step_case(features, rate)
        (kernel, bias), = net.weights()
        w, b = kernel[:, 0].astype(np.float64), float(bias[0])
        lr = net.config.learning_rate
        try:
            answer = fn(w.copy(), b, x.astype(np.float64), y.astype(np.float64), lr, rate)
        except Exception as err:  # noqa: BLE001 (a learner's function may fail any way; say how, in one line)
            return verdict(False, "", f"your function raised {type(err).__name__}: {err}")
        if is_blank(answer):
            return blank("write my_step")
        try:
            new_w, new_b = answer
            new_w, new_b = np.asarray(new_w, dtype=np.float64).reshape(-1), float(np.asarray(new_b).reshape(()))
        except (TypeError, ValueError):
            return verdict(False, "", f"return two things, (new_w, new_b): new_w with {len(w)} weights, new_b a "
                           "number")
        if new_w.shape != w.shape:
            return verdict(False, "", f"new_w should hold {len(w)} weights, one per feature; yours has {new_w.size}")
        net.train_batch(x, y)
        (kernel2, bias2), = net.weights()
        want_w, want_b = kernel2[:, 0].astype(np.float64), float(bias2[0])
        # TensorFlow's float32 step against float64 NumPy: x1² <= 36 makes gradients of order 10,
        # a float32 step of order 0.3, rounding ~1e-7 of it; 1e-5 leaves room and no more
        case = f"with features {', '.join(FEATURE_LABELS[f] for f in features)} and L2 rate {rate}"
        if not np.isclose(new_b, want_b, rtol=0, atol=1e-5):
            hint = ("the bias is not regularized: only the weights get l2_rate·w" if rate and np.isclose(
                new_b, want_b - lr * rate * b, rtol=0, atol=1e-5) else
                "the bias's gradient is the batch mean of (o − y)·(1 − o²)")
            return verdict(False, "", f"{case} the new bias is {want_b:.6f}, yours {new_b:.6f}: {hint}")
        if not np.allclose(new_w, want_w, rtol=0, atol=1e-5):
            return verdict(False, "", f"{case} the new weights are {np.round(want_w, 5).tolist()}, yours "
                           f"{np.round(new_w, 5).tolist()}: the gradient is xᵀ[(o − y)·(1 − o²)] / n "
                           "(+ l2_rate·w), and the step subtracts learning_rate times it")
    return verdict(True, f"your step matches the package's on {len(NEURON_CASES)} batches: that is back-"
                   "propagation through one tanh neuron", "")


# --------------------------------------------------------------------------- exercise 4


def spiral_result(config: PlaygroundConfig, epochs: int = SPIRAL_EPOCHS) -> tuple[float, int]:
    """Train ``config`` on the spiral (noise 0, as in the exercise) and return
    (test accuracy, hidden neurons)."""
    state = PlaygroundState(config.with_changes(dataset="spiral", noise=0.0))
    state.step(epochs)
    return state.accuracy("test"), config.hidden_neurons


def check_smallest_spiral(config: PlaygroundConfig | Any, epochs: int = SPIRAL_EPOCHS) -> bool:
    """Exercise 4: separate the spiral with at most ``SPIRAL_BUDGET`` hidden neurons."""
    if is_blank(config):
        return blank("describe your network with pg.PlaygroundConfig(...)")
    if not isinstance(config, PlaygroundConfig):
        return verdict(False, "", f"describe the network with pg.PlaygroundConfig(...), got {type(config).__name__}")
    if config.hidden_neurons > SPIRAL_BUDGET:
        return verdict(False, "", f"{config.hidden_neurons} hidden neurons is more than the budget of "
                       f"{SPIRAL_BUDGET}: which input features make the spiral easier to unroll?")
    try:
        accuracy, neurons = spiral_result(config, epochs)
    except BadInput as err:  # TrainingDiverged: the settings, said in one line
        return verdict(False, "", str(err))
    return verdict(accuracy >= SPIRAL_ACCURACY,
                   f"{neurons} hidden neurons separate the spiral: test accuracy {accuracy:.0%} after {epochs} epochs",
                   f"test accuracy is {accuracy:.0%} (need {SPIRAL_ACCURACY:.0%}); try the sin features, "
                   "a higher learning rate, or one more neuron")


__all__ = ["NEURON_CASES", "SPIRAL_ACCURACY", "SPIRAL_BUDGET", "SPIRAL_EPOCHS", "check_neuron_step",
           "check_smallest_spiral", "check_tfjs_features", "check_xor_feature", "neuron_step_case", "spiral_result"]
