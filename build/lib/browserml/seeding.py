"""One call that makes a lesson repeatable.

Lessons draw random data, initialise weights and shuffle batches; learners compare
their numbers with the notebook's and tests compare with references. Seeding Python,
NumPy and TensorFlow together (and handing the same seed to anything that takes a
``random_state``) is what makes those comparisons meaningful.
"""

from __future__ import annotations

import os
import random

import numpy as np

DEFAULT_SEED = 42


def seed_everything(seed: int = DEFAULT_SEED) -> np.random.Generator:
    """Seed Python, NumPy and TensorFlow, and return a NumPy ``Generator`` for new code.

    TensorFlow is seeded through ``tf_keras.utils.set_random_seed``, which also seeds
    Python and NumPy's legacy global state; the returned generator is what browserml's
    own functions use, so they never depend on hidden global state.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    import tf_keras  # imported late: seeding NumPy alone must not pay TensorFlow's start-up

    tf_keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)
