"""Features from any layer of EfficientNet-Lite0: pooling, batching, the disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from browserml.data.images import load_image_set
from browserml.imagesearch.applications import LayerNotFoundError
from browserml.imagesearch.backbones import load_backbone, resize_images
from browserml.imagesearch.features import (
    CacheEntryRecomputed,
    FeatureCache,
    FeatureError,
    cached_features,
    extract_features,
    feature_model,
    layer_features,
)

LAYERS = ["block3b_add", "head_relu"]

EPS32 = float(np.finfo(np.float32).eps)
# Products summed on the way from the pixels to a layer: over its convolutions, kh·kw·c_in
# (kh·kw for a depthwise one), plus c_in of the logits' Dense. 15 convolutions reach block3b_add,
# 49 head_relu.
PRODUCTS_TO = {"block3b_add": 864, "head_relu": 11083, "logits": 12363}


def rerun_tolerance(layer: str, magnitude: float, more_terms: int = 0) -> float:
    """How far two float32 runs of the same network may disagree at ``layer``.

    Another run (eager call vs compiled predict with BN folded, another batch size, another
    CPU's oneDNN/SIMD kernels, FMA or not) rounds each dot product differently; a sum of n
    products is off by at most n·eps32 of the magnitude involved (Higham's gamma_n), and these
    add up along the path: eps32 x products on the path x largest |value| compared. A real
    mistake (another layer, pooling, image or order) moves features by O(0.1-10), far above.
    """
    return EPS32 * (PRODUCTS_TO[layer] + more_terms) * magnitude


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
    # The map is recomputed (predict_on_batch, not an eager call): |map| reaches ~37, so
    # 864·eps32·37 ~ 4e-3 (seen here: 3e-4 on flatten; the old 1e-5 + 1e-5·|x| failed near 10 and
    # near 0). max and flatten select or copy map values; avg also sums 784 positions in float32,
    # in TF and in NumPy (in other orders), each off by <= 784·eps32·mean|x| (~1.3e-3).
    map_tol = rerun_tolerance("block3b_add", float(np.abs(maps).max()))
    sum_tol = 2 * 784 * EPS32 * float(np.abs(maps).mean(axis=(1, 2)).max())
    for pooling, expected, tol in (("avg", maps.mean(axis=(1, 2)), map_tol + sum_tol),
                                   ("max", maps.max(axis=(1, 2)), map_tol),
                                   ("flatten", maps.reshape(3, -1), map_tol)):
        got = extract_features(lite0, "block3b_add", pooling, small_set.images[:3])
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=tol, err_msg=pooling)


def test_batches_and_progress_do_not_change_features(lite0, small_set):
    calls: list[tuple[int, int]] = []
    one_batch = extract_features(lite0, "head_relu", "avg", small_set.images)
    batched = extract_features(lite0, "head_relu", "avg", small_set.images, batch_size=3,
                               progress=lambda done, total: calls.append((done, total)))
    # Batches of 3 vs 10 may take other kernels: the network's rerun tolerance at head_relu (its
    # ReLU6 outputs <= 6) plus the 49-position average, ~8e-3 (seen: 1.3e-6, within 8x of the old 1e-5).
    np.testing.assert_allclose(batched, one_batch, rtol=0,
                               atol=rerun_tolerance("head_relu", float(np.abs(one_batch).max()), 49))
    assert calls == [(3, 10), (6, 10), (9, 10), (10, 10)]


def test_layer_by_index_or_name_and_the_vector_layers(lite0, small_set):
    index = lite0.layer_names.index("head_relu")
    by_index = feature_model(lite0, index, "avg")
    assert by_index.output_shape == (None, 1280)
    logits = extract_features(lite0, "logits", "flatten", small_set.images[:2])
    eager = lite0.model(lite0.preprocess(small_set.images[:2])).numpy()
    # Compiled predict vs eager call, as in the pooling test, over the whole network: |logit| ~7,
    # so 12363·eps32·7 ~ 1e-2 (seen: 8.5e-6, within 12x of the old 1e-4); a wrong layer is O(1) off.
    np.testing.assert_allclose(logits, eager, rtol=0, atol=rerun_tolerance("logits", float(np.abs(eager).max())))


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
    recomputed = r"changed since it was written \(its sha256 does not match the note\); recomputing it"
    with pytest.warns(CacheEntryRecomputed, match=recomputed):
        again = cached_features(small_set, lite0, "head_relu", "avg", cache=cache)
    np.testing.assert_allclose(again, good, atol=1e-6)
    assert cache.clear() == 2
