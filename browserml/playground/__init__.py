"""Lesson 5: TensorFlow Playground, rebuilt on Keras.

TensorFlow Playground (playground.tensorflow.org) trains a tiny fully connected network
on 2-D points in the browser and draws what every neuron has learned. It is not TF.js:
its network, back-propagation and SGD are its own TypeScript (``nn.ts``). This package
rebuilds it on ``tf_keras``, as its model and its state, with no widgets, so every
control can be tested by setting a value:

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

The lesson lives in one module per role: :mod:`~browserml.playground.model` (the
settings, the input features, the network and its SGD), :mod:`~browserml.playground.data`
(the six datasets), :mod:`~browserml.playground.state` (the app's state: play, pause,
step, reset; no widgets), :mod:`~browserml.playground.plots`,
:mod:`~browserml.playground.export` (the TF.js layers model and its page),
:mod:`~browserml.playground.browser` (the decision boundary computed in the learner's
page), :mod:`~browserml.playground.run` (a whole run, train -> export -> check, as
``browserml playground`` does it) and :mod:`~browserml.playground.exercises`. Every public name is also here
(``pg.PlaygroundState``, ``pg.FEATURES``): importing this package is light (no
TensorFlow, no matplotlib), and each name loads its module on first use (PEP 562).
"""

from __future__ import annotations

from browserml.lazy import lazy_names

_LAZY = {
    "model": ("DOMAIN", "CLASSIFICATION", "REGRESSION", "DATASETS", "DEFAULT_SAMPLES", "FEATURES", "FEATURE_LABELS",
              "ACTIVATIONS", "REGULARIZATIONS", "MAX_LAYERS", "MAX_NEURONS", "BATCH_SIZES", "NOISE_RANGE",
              "TRAIN_RATIO_RANGE", "GRID_RESOLUTION", "SAMPLES_RANGE", "MAX_SEED", "PlaygroundError",
              "TrainingDiverged", "task_of", "PlaygroundConfig", "feature_columns", "grid_points", "build_network",
              "half_squared_error", "EpochStats", "Network"),
    "data": ("MULTIGAUSS_CENTRES", "multigauss_label", "PlaygroundData", "make_points", "make_data"),
    "state": ("DATA_FIELDS", "NETWORK_FIELDS", "TRAINING_FIELDS", "PlaygroundState"),
    "plots": ("ORANGE", "BLUE", "PLAYGROUND_CMAP", "EXTENT", "plot_datasets", "plot_boundary", "plot_neurons",
              "plot_weights"),
    "export": ("export_playground",),
    "browser": ("browser_request", "browser_grid"),
    "run": ("train_and_export", "PageCheck", "check_pages"),
    "exercises": ("SPIRAL_BUDGET", "SPIRAL_ACCURACY", "SPIRAL_EPOCHS", "spiral_result", "check_smallest_spiral",
                  "check_xor_feature", "check_tfjs_features", "NEURON_CASES", "neuron_step_case", "check_neuron_step"),
}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [name for names in _LAZY.values() for name in names]
