"""Features from any layer of EfficientNet-Lite0: pooling, batching, the disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from browserml.data.images import load_image_set
from browserml.imagesearch.applications import LayerNotFoundError
from browserml.imagesearch.backbones import load_backbone, resize_images
from browserml.imagesearch.features import (
    FeatureCache,
    FeatureError,
    cached_features,
    extract_features,
    feature_model,
    layer_features,
)

LAYERS = ["block3b_add", "head_relu"]


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet-lite0")


@pytest.fixture(scope="module")
def small_set():
    fashion = load_image_set("FASHION200")
    return fashion.subset(np.arange(0, 200, 20))  # one image of each class


def test_pooling_matches_numpy_on_the_raw_feature_map(lite0, small_set):
    import tf_keras

    raw = tf_keras.Model(lite0.model.inputs, lite0.model.get_layer("block3b_add").output)
    maps = np.asarray(raw(lite0.preprocess(small_set.images[:3])))
    assert maps.shape == (3, 28, 28, 40)
    for pooling, expected in (("avg", maps.mean(axis=(1, 2))), ("max", maps.max(axis=(1, 2))),
                              ("flatten", maps.reshape(3, -1))):
        got = extract_features(lite0, "block3b_add", pooling, small_set.images[:3])
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_batches_and_progress_do_not_change_features(lite0, small_set):
    calls: list[tuple[int, int]] = []
    one_batch = extract_features(lite0, "head_relu", "avg", small_set.images)
    batched = extract_features(lite0, "head_relu", "avg", small_set.images, batch_size=3,
                               progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_allclose(batched, one_batch, atol=1e-5)
    assert calls == [(3, 10), (6, 10), (9, 10), (10, 10)]


def test_layer_by_index_or_name_and_the_vector_layers(lite0, small_set):
    index = lite0.layer_names.index("head_relu")
    by_index = feature_model(lite0, index, "avg")
    assert by_index.output_shape == (None, 1280)
    logits = extract_features(lite0, "logits", "flatten", small_set.images[:2])
    np.testing.assert_allclose(logits, lite0.model(lite0.preprocess(small_set.images[:2])).numpy(), atol=1e-4)


def test_bad_requests_name_the_problem(lite0, small_set):
    with pytest.raises(FeatureError, match="pooling 'mean'"):
        feature_model(lite0, "head_relu", "mean")
    with pytest.raises(LayerNotFoundError, match="head_rel"):
        feature_model(lite0, "head_rel", "avg")
    with pytest.raises(FeatureError, match="RGB images"):
        extract_features(lite0, "head_relu", "avg", small_set.images[..., 0])
    with pytest.raises(ValueError, match="unknown backbone"):
        load_backbone("AlexNet")


def test_resize_is_what_tfjs_resize_bilinear_does():
    """Half-pixel centres: a 2x upsampling of [0, 4] gives [0, 1, 3, 4] per axis."""
    img = np.zeros((1, 2, 2, 3), np.uint8)
    img[0, :, 1] = 4
    out = resize_images(img, (4, 4))
    np.testing.assert_allclose(out[0, 0, :, 0], [0, 1, 3, 4])


def test_cache_survives_a_new_process_view_and_is_keyed_by_everything(lite0, small_set, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path)
    first = layer_features(small_set, lite0, LAYERS, "avg", cache=cache)
    assert sorted(first) == sorted(LAYERS)
    assert len(list(tmp_path.glob("*.npy"))) == 2

    import browserml.imagesearch.features as features_module

    def no_extraction(*args, **kwargs):
        raise AssertionError("features were recomputed although they are cached")

    monkeypatch.setattr(features_module, "_run_batches", no_extraction)
    again = cached_features(small_set, lite0, "head_relu", "avg", cache=FeatureCache(tmp_path))  # a fresh handle
    np.testing.assert_array_equal(again, first["head_relu"])
    with pytest.raises(AssertionError, match="recomputed"):  # another pooling is another entry
        cached_features(small_set, lite0, "head_relu", "max", cache=cache)
    with pytest.raises(AssertionError, match="recomputed"):  # other images are another entry
        cached_features(small_set.subset(np.arange(5)), lite0, "head_relu", "avg", cache=cache)


def test_a_damaged_cache_file_is_recomputed_not_trusted(lite0, small_set, tmp_path):
    cache = FeatureCache(tmp_path)
    good = cached_features(small_set, lite0, "head_relu", "avg", cache=cache)
    (npy,) = tmp_path.glob("*.npy")
    npy.write_bytes(b"not a numpy file")
    assert not list(tmp_path.glob(".tmp-*"))
    again = cached_features(small_set, lite0, "head_relu", "avg", cache=cache)
    np.testing.assert_allclose(again, good, atol=1e-6)
    assert cache.clear() == 2
