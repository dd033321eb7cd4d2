"""Lesson 2's key cells and the package compute the same thing: the notebook builds the
autoencoder layer by layer, compiles it with ``loss="mse"`` and fits it with ``fit(x, x)``;
``an.build_autoencoder`` and ``an.Trainer`` are the reusable version. The cells are taken from
the notebook itself and run here, so an edit to either side that changes the numbers fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tf_keras
from tf_keras.layers import Dense

from browserml import anomaly as an
from browserml.anomaly import plots

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "02_layers_api_autoencoder_ecg.ipynb"
#: The cells from the model's section to the training section, the package's Trainer left out.
FIRST, LAST = "### The autoencoder: encoder and decoder in one model", "## 4. "


def key_cells() -> list[str]:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = ["".join(c["source"]) for c in cells]
    start = next(i for i, t in enumerate(text) if t.startswith(FIRST))
    stop = next(i for i, t in enumerate(text) if i > start and t.startswith(LAST))
    return [t for c, t in zip(cells[start:stop], text[start:stop])
            if c["cell_type"] == "code" and "an.Trainer(" not in t]


@pytest.fixture(scope="module")
def cells() -> dict:
    """The notebook's key cells, run in order with the Setup cell's names."""
    namespace = {"an": an, "np": np, "plots": plots, "tf_keras": tf_keras, "Dense": Dense}
    code = key_cells()
    joined = "\n".join(code)
    for line in ("autoencoder = tf_keras.Model(inputs, outputs", 'autoencoder.compile(', 'loss="mse")',
                 "autoencoder.fit(x_train, x_train"):
        assert line in joined, f"the notebook's cells no longer show {line!r}"
    for source in code:
        exec(source, namespace)  # the notebook's own cells
    return namespace


@pytest.fixture(scope="module")
def package() -> an.Trainer:
    trainer = an.Trainer(an.ANOMAGRAM_DEFAULT)
    trainer.train()
    return trainer


def test_the_cells_build_the_packages_architecture(cells, package):
    mine, theirs = cells["autoencoder"], package.model
    assert [(layer.name, type(layer).__name__) for layer in mine.layers] == \
        [(layer.name, type(layer).__name__) for layer in theirs.layers]
    dense = [layer for layer in mine.layers if isinstance(layer, Dense)]
    assert [layer.units for layer in dense] == an.ANOMAGRAM_DEFAULT.architecture[1:] == [15, 7, 2, 7, 15, 140]
    assert [layer.activation.__name__ for layer in dense] == \
        [layer.activation.__name__ for layer in theirs.layers if isinstance(layer, Dense)] == \
        ["relu", "relu", "linear", "relu", "relu", "sigmoid"]
    assert mine.count_params() == theirs.count_params() == 2243 + 2381, "the talk's encoder + decoder"


def test_the_cells_and_the_trainer_give_the_same_losses_and_weights(cells, package):
    """Same seed, same data, same float32 steps in the same order: equal to float32 rounding
    (1e-5 relative on the losses, 1e-5 absolute on weights of order 1)."""
    history = cells["history"].history
    np.testing.assert_allclose(history["loss"], package.history.loss, rtol=1e-5, atol=0)
    np.testing.assert_allclose(history["val_loss"], package.history.val_loss, rtol=1e-5, atol=0)
    for mine, theirs in zip(cells["autoencoder"].get_weights(), package.model.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(cells["x_train"], package.data.scaler.transform(package.data.train.x))
    assert len(history["loss"]) == an.ANOMAGRAM_DEFAULT.epochs and history["loss"][-1] < history["loss"][0] / 4
