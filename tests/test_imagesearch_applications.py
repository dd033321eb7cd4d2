"""The nine Keras applications: seed layer picks, parameter counts, offline weights.

References are independent of the code under test: ConvNet Playground's own
``details.json`` (its per-layer cumulative parameter counts, computed with Keras 2.2),
Keras' documented model sizes, Keras' own weights loader (intercepted, not imitated)
and the closed-form preprocessing of each model family.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import socket
import sys
import threading
import time

import numpy as np
import pytest
import tf_keras

from browserml.imagesearch import applications as apps

# The tf_keras 2.19 names of the layers at each AppSpec.seed_layers index.
SEED_LAYER_NAMES: dict[str, tuple[str, ...]] = {
    "MobileNet": ("conv1", "conv_pw_2", "conv_dw_3", "conv_dw_4", "conv_dw_6", "conv_dw_9", "conv_pw_12",
                  "conv_pw_13"),
    "EfficientNetB0": ("stem_conv", "block2a_expand_conv", "block2b_se_reduce", "block3b_se_reduce",
                       "block4c_expand_conv", "block5b_se_reduce", "block6d_se_expand", "top_conv"),
    "EfficientNetB5": ("stem_conv", "block2b_expand_conv", "block3e_project_conv", "block4g_project_conv",
                       "block5f_expand_conv", "block5f_se_reduce", "block6f_project_conv", "top_conv"),
    "DenseNet121": ("conv2_block1_1_conv", "conv2_block6_2_conv", "conv3_block5_1_conv",
                    "conv4_block9_1_conv", "conv4_block23_2_conv", "conv5_block13_2_conv",
                    "conv5_block16_1_conv", "conv5_block16_concat"),
    "Xception": ("block1_conv1", "block1_conv2", "conv2d", "block3_sepconv1", "conv2d_2", "block7_sepconv2",
                 "block12_sepconv3", "block14_sepconv2_act"),
    "InceptionV3": ("conv2d", "conv2d_2", "conv2d_22", "conv2d_53", "mixed6", "conv2d_74", "conv2d_85",
                    "mixed10"),
    "ResNet50": ("conv2_block1_1_conv", "conv2_block2_1_conv", "conv3_block2_1_conv", "conv4_block1_1_conv",
                 "conv4_block3_1_conv", "conv4_block5_1_conv", "conv5_block1_1_conv", "conv5_block3_3_conv"),
    "VGG16": ("block1_conv1", "block1_conv2", "block3_conv1", "block3_conv3", "block4_conv1", "block4_conv3",
              "block5_conv1", "block5_conv3"),
    "VGG19": ("block1_conv1", "block1_conv2", "block3_conv1", "block3_conv4", "block4_conv1", "block4_conv4",
              "block5_conv1", "block5_conv4"),
}

# fastforwardlabs/convnetplayground app/src/assets/semsearch/details.json: each pick's
# "modelparameters" (params up to and including it) and each model's total.
SEED_PARAMS_UP_TO: dict[str, tuple[int, ...]] = {
    "MobileNet": (864, 12736, 14400, 32960, 139456, 819904, 2158784, 3224768),
    "EfficientNetB0": (864, 4072, 15746, 56242, 250272, 561284, 2690412, 4044444),
    "EfficientNetB5": (1296, 30478, 471840, 2125808, 4626816, 4708172, 13327040, 28505328),
    "DenseNet121": (18112, 347968, 657984, 2200128, 4150464, 6541120, 6996032, 7033408),
    "Xception": (864, 19424, 55200, 89632, 1110712, 5426296, 14057464, 20861480),
    "InceptionV3": (864, 28704, 725840, 6466592, 6831392, 9787424, 21403424, 21802784),
    "ResNet50": (13888, 103104, 678656, 1591424, 4364416, 6608000, 9113984, 23579520),
    "VGG16": (1792, 38720, 555328, 1735488, 2915648, 7635264, 9995072, 14714688),
    "VGG19": (1792, 38720, 555328, 2325568, 3505728, 10585152, 12944960, 20024384),
}
SEED_TOTAL_PARAMS: dict[str, int] = {
    "MobileNet": 4253864, "EfficientNetB0": 5330564, "EfficientNetB5": 30562520, "DenseNet121": 8062504,
    "Xception": 22910480, "InceptionV3": 23851784, "ResNet50": 25636712, "VGG16": 138357544,
    "VGG19": 143667240,
}
# tf_keras' EfficientNets start with a Normalization layer the seed's `efficientnet`
# package lacked: mean (3) + variance (3) + count (1) = 7 non-trainable numbers.
NORMALIZATION_PARAMS = {"EfficientNetB0": 7, "EfficientNetB5": 7}

# keras.io/api/applications: documented parameter counts (millions), checked to 1%.
KERAS_DOC_PARAMS_M: dict[str, float] = {
    "MobileNet": 4.25, "ResNet50": 25.6, "VGG16": 138.4, "VGG19": 143.7, "DenseNet121": 8.06,
    "Xception": 22.9, "EfficientNetB0": 5.33, "EfficientNetB5": 30.6, "InceptionV3": 23.9,
}
INPUT_SIZES = {"Xception": 299, "InceptionV3": 299, "EfficientNetB5": 456}


@pytest.fixture(scope="module")
def inception() -> tf_keras.Model:
    """InceptionV3 without weights, built after a stray auto-named Conv2D exists, as in a
    notebook session: its auto-generated layer names must not shift because of it."""
    tf_keras.layers.Conv2D(1, 1)
    return apps.build_application("InceptionV3", weights=None)


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch):
    """A home whose writable ``~/.keras`` holds no weights, so a real cache cannot interfere."""
    (tmp_path / ".keras").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path / ".keras" / "models"


def test_the_seeds_nine_models_with_eight_increasing_picks_each():
    assert list(apps.APPLICATIONS) == list(SEED_LAYER_NAMES)
    for name, spec in apps.APPLICATIONS.items():
        assert spec.name == name
        assert len(spec.seed_layers) == len(spec.seed_names) == 8
        assert list(spec.seed_layers) == sorted(set(spec.seed_layers))
        assert spec.input_size == INPUT_SIZES.get(name, 224)
        assert spec.preprocess_input.__module__ == spec.constructor.__module__


def _caffe(x):
    return x[..., ::-1] - np.array([103.939, 116.779, 123.68])


PREPROCESSING = {  # the closed form of each family's preprocess_input, per pixel
    "tf": lambda x: x / 127.5 - 1.0,
    "torch": lambda x: (x / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]),
    "caffe": _caffe,
    "none": lambda x: x,  # EfficientNet rescales inside the model
}
FAMILY = {"MobileNet": "tf", "Xception": "tf", "InceptionV3": "tf", "DenseNet121": "torch",
          "ResNet50": "caffe", "VGG16": "caffe", "VGG19": "caffe", "EfficientNetB0": "none",
          "EfficientNetB5": "none"}


@pytest.mark.parametrize("name", list(FAMILY))
def test_preprocessing_is_the_one_the_weights_were_trained_with(name):
    pixels = np.random.default_rng(0).uniform(0, 255, size=(2, 3, 3, 3))
    got = np.asarray(apps.APPLICATIONS[name].preprocess_input(pixels.copy()))
    np.testing.assert_allclose(got, PREPROCESSING[FAMILY[name]](pixels), rtol=1e-5, atol=1e-4)


def test_inceptionv3_layers_match_the_seed(inception):
    rows = apps.layer_table(inception)
    assert len(inception.layers) == len(rows) == 313
    assert rows[0].class_name == "InputLayer" and rows[0].output_shape == (None, 299, 299, 3)
    mixed10 = rows[310]
    assert (mixed10.name, mixed10.class_name) == ("mixed10", "Concatenate")
    assert mixed10.output_shape == (None, 8, 8, 2048)
    assert mixed10.params_up_to == pytest.approx(21.8e6, abs=0.05e6)
    assert rows[-1].params_up_to == inception.count_params() == pytest.approx(23.9e6, abs=0.05e6)
    assert rows[-1].params_up_to == SEED_TOTAL_PARAMS["InceptionV3"]
    picks = [rows[i] for i in apps.APPLICATIONS["InceptionV3"].seed_layers]
    assert [row.index for row in picks] == [1, 7, 64, 185, 196, 236, 294, 310]
    assert tuple(row.name for row in picks) == SEED_LAYER_NAMES["InceptionV3"]
    assert tuple(row.params_up_to for row in picks) == SEED_PARAMS_UP_TO["InceptionV3"]
    assert all(row.params_up_to == sum(r.params for r in rows[: row.index + 1]) for row in rows[::37])


def test_auto_generated_names_do_not_depend_on_the_session(inception):
    later = tf_keras.layers.Conv2D(1, 1, name=None)
    assert inception.layers[1].name == "conv2d"  # although a Conv2D existed before the build
    assert later.name not in {layer.name for layer in inception.layers}


def test_resolve_layer_by_index_and_name(inception):
    assert apps.resolve_layer(inception, 310) is inception.get_layer("mixed10")
    assert apps.resolve_layer(inception, np.int64(310)) is inception.layers[310]
    assert apps.resolve_layer(inception, "conv2d_22") is inception.layers[64]
    assert apps.resolve_layer(inception, 0) is inception.layers[0]


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ("mixd10", r"no layer named 'mixd10'; did you mean 'mixed10'"),
        ("no_such_layer_at_all", r"no layer named 'no_such_layer_at_all'$"),
        (313, r"index 313 is out of range: model 'inception_v3' has layers 0\.\.312"),
        (-1, r"index -1 is out of range"),
        (True, r"by index or name, not by True"),
        (1.5, r"got float 1\.5"),
    ],
)
def test_resolve_layer_errors(inception, layer, message):
    with pytest.raises(apps.LayerNotFoundError, match=message):
        apps.resolve_layer(inception, layer)
    assert issubclass(apps.LayerNotFoundError, ValueError)


def test_resolve_layer_works_on_any_keras_model(dense_model):
    assert apps.resolve_layer(dense_model, "hidden").units == 8
    assert apps.resolve_layer(dense_model, 2).name == "scores"


def test_format_layer_table(inception):
    rows = apps.layer_table(inception)
    text = apps.format_layer_table([rows[0], rows[310]])
    header, rule, first, last = text.splitlines()
    assert header.split() == ["index", "name", "type", "output", "shape", "params", "up", "to"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert first.split()[:3] == ["0", rows[0].name, "InputLayer"]
    assert last.split() == ["310", "mixed10", "Concatenate", "(None,", "8,", "8,", "2048)", "21,802,784"]
    assert len(last) == len(header)  # right-aligned counts end where the header does


def test_seed_layer_table_is_cached_and_copied():
    first = apps.seed_layer_table("mobilenet")  # the seed's lower-case spelling
    assert [row.index for row in first] == list(apps.APPLICATIONS["MobileNet"].seed_layers)
    assert tuple(row.name for row in first) == SEED_LAYER_NAMES["MobileNet"]
    assert tuple(row.params_up_to for row in first) == SEED_PARAMS_UP_TO["MobileNet"]
    first.clear()
    hits = apps._seed_rows.cache_info().hits
    assert len(apps.seed_layer_table("MobileNet")) == 8
    assert apps._seed_rows.cache_info().hits == hits + 1


def test_unknown_application_lists_the_valid_names():
    with pytest.raises(apps.UnknownApplicationError, match="'ResNet18'; choose one of .*InceptionV3"):
        apps.build_application("ResNet18", weights=None)
    with pytest.raises(ValueError, match="weights must be 'imagenet' or None"):
        apps.build_application("VGG16", weights="places365")  # type: ignore[arg-type]


def test_offline_imagenet_request_fails_fast_and_says_what_to_do(empty_keras_home):
    start = time.perf_counter()
    with pytest.raises(apps.WeightsUnavailableError) as caught:
        apps.build_application("InceptionV3", weights="imagenet")
    assert time.perf_counter() - start < 5
    message = str(caught.value)
    assert "ImageNet weights for InceptionV3" in message and "offline" in message
    assert "weights=None" in message and "EfficientNet-Lite" in message
    assert str(empty_keras_home) in message
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels.h5" in message


def test_probe_refuses_under_the_guard_and_reaches_loopback():
    assert not apps.can_reach(*apps.WEIGHTS_HOST)
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert apps.can_reach("127.0.0.1", server.getsockname()[1])


def test_probe_gives_up_on_a_hanging_lookup(monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(30)
        raise OSError("released by the test")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    assert not apps.can_reach("example.invalid", 443, timeout=0.3)
    assert time.perf_counter() - start < 2
    release.set()


def _recording_constructor(monkeypatch, name: str) -> list[dict]:
    calls: list[dict] = []
    spec = apps.APPLICATIONS[name]
    fake = dataclasses.replace(spec, constructor=lambda **kwargs: calls.append(kwargs) or "model")
    monkeypatch.setitem(apps.APPLICATIONS, name, fake)
    return calls


def test_cached_weights_skip_the_network(empty_keras_home, monkeypatch):
    calls = _recording_constructor(monkeypatch, "VGG16")
    monkeypatch.setattr(apps, "can_reach", lambda *a, **k: pytest.fail("probed although the file is cached"))
    assert apps.cached_weights_path("VGG16", include_top=False) is None
    empty_keras_home.mkdir()
    cached = empty_keras_home / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.write_bytes(b"weights")
    assert apps.cached_weights_path("VGG16", include_top=False) == cached
    assert apps.build_application("VGG16", include_top=False, input_shape=(64, 64, 3)) == "model"
    assert calls == [{"weights": "imagenet", "include_top": False, "input_shape": (64, 64, 3)}]


def test_online_without_cache_lets_keras_download(empty_keras_home, monkeypatch):
    calls = _recording_constructor(monkeypatch, "ResNet50")
    monkeypatch.setattr(apps, "can_reach", lambda host, port: (host, port) == apps.WEIGHTS_HOST)
    assert apps.build_application("ResNet50") == "model"
    assert calls == [{"weights": "imagenet", "include_top": True, "input_shape": None}]


class _Asked(Exception):
    pass


def _file_keras_asks_for(monkeypatch, name: str, include_top: bool, input_shape) -> str:
    """Run Keras' own imagenet loader up to its download call and return the file name."""
    from tf_keras.src.utils import data_utils

    def get_file(fname, *args, **kwargs):
        raise _Asked(fname)

    monkeypatch.setattr(data_utils, "get_file", get_file)
    with pytest.raises(_Asked) as asked:
        constructor = apps.APPLICATIONS[name].constructor
        constructor(weights="imagenet", include_top=include_top, input_shape=input_shape)
    return str(asked.value)


@pytest.mark.parametrize(
    ("name", "include_top", "input_shape"),
    [("MobileNet", True, None), ("MobileNet", False, (160, 160, 3)), ("MobileNet", False, (100, 100, 3)),
     pytest.param("EfficientNetB0", False, None, marks=pytest.mark.slow),
     pytest.param("ResNet50", False, None, marks=pytest.mark.slow)],
)
def test_weights_file_names_are_the_ones_keras_asks_for(monkeypatch, name, include_top, input_shape):
    expected = apps.APPLICATIONS[name].weights_filename(include_top, input_shape)
    assert _file_keras_asks_for(monkeypatch, name, include_top, input_shape) == expected


@pytest.mark.parametrize("name", ["DenseNet121", "Xception", "InceptionV3", "VGG16", "VGG19"])
def test_literal_weights_file_names_appear_in_keras_source(name):
    spec = apps.APPLICATIONS[name]
    source = inspect.getsource(sys.modules[spec.constructor.__module__])
    for include_top in (True, False):
        assert f'"{spec.weights_filename(include_top)}"' in source


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name in SEED_LAYER_NAMES if name != "InceptionV3"])
def test_every_seed_layer_exists_with_the_seeds_parameter_count(name):
    spec = apps.APPLICATIONS[name]
    model = apps.build_application(name, weights=None)
    rows = apps.layer_table(model)
    assert model.input_shape == (None, spec.input_size, spec.input_size, 3)
    assert rows[-1].params_up_to == model.count_params()
    assert model.count_params() == pytest.approx(KERAS_DOC_PARAMS_M[name] * 1e6, rel=0.01)
    offset = NORMALIZATION_PARAMS.get(name, 0)
    if offset:
        assert sum(row.params for row in rows if row.class_name == "Normalization") == offset
    assert model.count_params() == SEED_TOTAL_PARAMS[name] + offset
    picks = [rows[i] for i in spec.seed_layers]
    assert tuple(row.name for row in picks) == SEED_LAYER_NAMES[name]
    assert tuple(row.params_up_to - offset for row in picks) == SEED_PARAMS_UP_TO[name]
    del model
    gc.collect()
