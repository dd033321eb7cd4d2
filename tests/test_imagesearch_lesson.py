"""Lesson 3's key cells compute what the package computes: the notebook's own layer cut
(``tf_keras.Model(inputs, layer.output)``) and pooling cells, run here as written, give the
features :func:`browserml.imagesearch.features.extract_features` gives for the same images."""

from __future__ import annotations

import numpy as np
import pytest
from tools.cells import code_cell

from browserml.data.images import load_image_set
from browserml.imagesearch.backbones import load_backbone
from browserml.imagesearch.features import extract_features
from browserml.paths import project_root

NOTEBOOK = project_root() / "notebooks" / "03_convnet_image_search.ipynb"
EPS32 = float(np.finfo(np.float32).eps)


def notebook_cell(marker: str) -> str:
    """The one code cell of the lesson that contains ``marker``."""
    return code_cell(NOTEBOOK.name, marker)


@pytest.fixture(scope="module")
def cells_ran() -> dict:
    import tf_keras

    namespace = {"np": np, "tf_keras": tf_keras, "lite0": load_backbone("efficientnet-lite0"),
                 "fashion": load_image_set("FASHION200")}
    for marker in ("tf_keras.Model(lite0.model.inputs, layer.output)", 'vectors = {"flatten"'):
        exec(notebook_cell(marker), namespace)  # the lesson's own cells
    return namespace


def test_the_cells_cut_the_network_and_pool_its_map(cells_ran):
    assert cells_ran["feature_map"].shape == (4, 28, 28, 40)
    assert {k: v.shape for k, v in cells_ran["vectors"].items()} == {
        "flatten": (4, 28 * 28 * 40), "avg": (4, 40), "max": (4, 40)}


def test_the_cells_features_equal_the_packages(cells_ran):
    lite0, images = cells_ran["lite0"], cells_ran["fashion"].images[:4]
    feature_map = cells_ran["feature_map"]
    # Float32 rounding: each map value sums 864 products from the pixels (15 convolutions), and the
    # package's compiled predict may round them in another order than the cell's eager call; the
    # average adds 784 more terms. So |Δ| <= 2·864·eps32·max|map| (~8e-3 here; seen ~3e-4). A wrong
    # layer, pooling or image is off by whole units, far above (checked below).
    tolerance = 2 * 864 * EPS32 * float(np.abs(feature_map).max())
    for pooling, vectors in cells_ran["vectors"].items():
        got = extract_features(lite0, "block3b_add", pooling, images)
        np.testing.assert_allclose(got, vectors, rtol=0, atol=tolerance, err_msg=pooling)
    # the comparison can fail: another image's or another layer's features are far outside it
    other_image = extract_features(lite0, "block3b_add", "avg", cells_ran["fashion"].images[100:104])
    assert np.abs(other_image - cells_ran["vectors"]["avg"]).max() > 10 * tolerance
    other_layer = extract_features(lite0, "block3a_project_bn", "avg", images)
    assert np.abs(other_layer - cells_ran["vectors"]["avg"]).max() > 10 * tolerance
