import random

import numpy as np
import pytest

from browserml.seeding import seed_everything


def _draws():
    import tensorflow as tf

    return random.random(), np.random.rand(), float(tf.random.uniform(())), seed_everything.__name__


def test_one_call_makes_python_numpy_and_tf_repeatable():
    rng_a = seed_everything(7)
    a = _draws()
    first = rng_a.random()
    rng_b = seed_everything(7)
    assert _draws() == a and rng_b.random() == first
    seed_everything(8)
    assert _draws()[:3] != a[:3]


@pytest.mark.parametrize("bad", [-1, 1.5, "7"])
def test_bad_seeds_are_named(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(bad)
