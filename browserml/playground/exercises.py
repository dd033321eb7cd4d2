"""Lesson 5's exercise checks: each says in words whether the learner's answer is right."""

from __future__ import annotations

from browserml.playground.model import FEATURES, PlaygroundConfig
from browserml.playground.state import PlaygroundState

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
