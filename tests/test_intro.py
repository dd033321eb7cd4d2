"""Lesson 0's model and export: the tiny Fashion-MNIST classifier, its NumPy forward pass
(what the kernel answers the page's pings with) against Keras, the drawing's preprocessing,
and the TF.js export reproduced by real TF.js under Node.

The classifier is trained once for the module (the defaults: about a second of training
on 2 cores, after TensorFlow's import).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from browserml import intro
from browserml.errors import BadInput
from browserml.export import read_manifest

#: float32 agreement between two implementations of the same float32 network: Keras and
#: NumPy (or TF.js) sum 784 products in different orders, so probabilities differ by ~1e-7;
#: 1e-5 is the project's float32 parity tolerance (browserml.manifest.FLOAT32_TOLERANCE).
FLOAT32_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def trained() -> intro.TrainedClassifier:
    return intro.train_classifier()


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    return intro.export_classifier(trained, tmp_path_factory.mktemp("intro") / "intro")


def test_importing_the_lesson_and_its_state_imports_no_tensorflow():
    code = ("import sys, browserml.intro as i; i.IntroState; i.predict_numpy; i.read_classifier_weights; "
            "print(json.dumps([m for m in ('tensorflow', 'tf_keras', 'ipywidgets') if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []


def test_the_classifier_is_small_quick_and_good_enough(trained):
    model = trained.model
    assert [tuple(w.shape) for w in model.weights] == [(784, 64), (64,), (64, 10), (10,)]
    assert model.count_params() == 50_890
    assert trained.test_accuracy > 0.78, trained.summary()  # about 0.83 with the defaults
    assert trained.train_seconds < 30
    assert trained.losses[-1] < trained.losses[0]
    assert "Fashion-MNIST" in trained.summary() and f"{trained.test_accuracy:.1%}" in trained.summary()


def test_the_data_sample_is_seeded_and_scaled():
    config = intro.ClassifierConfig(n_train=300, n_test=100, seed=3)
    a, b = intro.load_data(config), intro.load_data(config)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.x_train.shape == (300, 28, 28) and a.x_train.dtype == np.float32
    assert a.x_train.min() == 0.0 and a.x_train.max() <= 1.0 and set(np.unique(a.y_test)) <= set(range(10))
    other = intro.load_data(intro.ClassifierConfig(n_train=300, n_test=100, seed=4))
    assert not np.array_equal(a.x_train, other.x_train)


@pytest.mark.parametrize("changes, message", [
    ({"hidden": 0}, "hidden must be 1 or more"),
    ({"n_train": 70_000}, "60,000 training"),
    ({"epochs": 2.5}, "epochs must be a whole number"),
    ({"learning_rate": 0.0}, "learning_rate"),
])
def test_bad_settings_are_named(changes, message):
    with pytest.raises(BadInput, match=message):
        intro.ClassifierConfig(**changes)


def test_numpy_forward_pass_matches_keras(trained):
    images = trained.data.x_test[:500]
    mine = intro.predict_numpy(trained.weights(), images)
    keras = trained.predict(images)
    assert mine.shape == (500, 10) and mine.dtype == np.float32
    np.testing.assert_allclose(mine, keras, atol=FLOAT32_TOLERANCE, rtol=0)
    np.testing.assert_array_equal(mine.argmax(1), keras.argmax(1))
    np.testing.assert_allclose(mine.sum(1), 1.0, atol=1e-6)
    # one image, flat rows and a batch are the same thing (BLAS may sum a batch of one in another order)
    np.testing.assert_allclose(intro.predict_numpy(trained.weights(), images[0]), mine[:1], atol=1e-7, rtol=0)
    np.testing.assert_allclose(intro.predict_numpy(trained.weights(), images[:3].reshape(3, 784)), mine[:3],
                               atol=1e-7, rtol=0)


def test_bad_images_and_weights_are_refused_in_words(trained):
    weights = trained.weights()
    with pytest.raises(BadInput, match=r"\[28, 28\]"):
        intro.predict_numpy(weights, np.zeros((27, 28)))
    with pytest.raises(BadInput, match=r"in \[0, 1\]"):
        intro.predict_numpy(weights, np.full((28, 28), 255.0))
    with pytest.raises(BadInput, match=r"in \[0, 1\]"):
        intro.predict_numpy(weights, np.full((28, 28), np.nan))
    with pytest.raises(BadInput, match="hidden/kernel"):
        intro.predict_numpy({k: v for k, v in weights.items() if k != "probs/bias"}, np.zeros((28, 28)))


def test_top_k_names_the_classes_best_first():
    probs = np.zeros(10)
    probs[[1, 7, 9]] = [0.2, 0.5, 0.3]
    assert intro.top_k(probs) == [("Sneaker", 0.5), ("Ankle boot", 0.3), ("Trouser", 0.2)]
    assert intro.CLASS_NAMES[0] == "T-shirt/top" and len(intro.CLASS_NAMES) == 10


def test_a_drawing_is_fitted_to_its_bounding_box_like_fashion_mnist():
    canvas = np.zeros((280, 280))
    canvas[40:240, 100:150] = 1.0  # a tall bar: it fills the height and 50/200 of 28 columns, centred
    x = intro.fit_drawing(canvas)
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.max() == 1.0 and x.min() == 0.0
    profile = x.mean(axis=0)
    assert np.all(x[:, 14] == 1.0), "uniform ink stays uniform (a box filter, not a resampling)"
    assert profile.sum() == pytest.approx(7.0) and (profile * np.arange(28)).sum() / 7 == pytest.approx(13.5)
    np.testing.assert_array_equal(intro.fit_drawing(np.roll(canvas, 30, axis=1)), x)  # position does not matter
    assert intro.fit_drawing(np.zeros((50, 60))).sum() == 0  # nothing drawn, nothing seen
    dot = np.zeros((100, 100))
    dot[50, 50] = 0.5  # a tiny drawing is not magnified past the canvas' own pixels
    assert intro.fit_drawing(dot).sum() == pytest.approx(0.5)
    with pytest.raises(BadInput):
        intro.fit_drawing(np.zeros((2, 2, 2)))


def test_the_export_carries_the_contract_and_the_same_weights(trained, exported):
    manifest = read_manifest(exported)
    assert manifest.task == intro.TASK and manifest.model_format == "layers"
    assert manifest.labels == list(intro.CLASS_NAMES)
    assert manifest.preprocessing == intro.PREPROCESSING
    assert [s.name for s in manifest.inputs] == ["image"] and manifest.inputs[0].shape == (None, 28, 28)
    assert manifest.extra["test_accuracy"] == trained.test_accuracy
    assert np.asarray(manifest.parity["inputs"]["image"]).shape == (intro.PARITY_IMAGES, 28, 28)
    assert {p.name for p in exported.iterdir()} >= {"model.json", "browserml.json", "README.md"}
    weights = intro.read_classifier_weights(exported)
    assert list(weights) == ["hidden/kernel", "hidden/bias", "probs/kernel", "probs/bias"]
    for name, value in trained.weights().items():
        np.testing.assert_array_equal(weights[name], value)


def test_reading_weights_refuses_other_exports_and_short_shards(exported, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(exported, other)
    contract = json.loads((other / "browserml.json").read_text())
    (other / "browserml.json").write_text(json.dumps({**contract, "task": "ecg-anomaly"}))
    with pytest.raises(BadInput, match="not lesson 0"):
        intro.read_classifier_weights(other)
    model_json = json.loads((exported / "model.json").read_text())
    data = b"".join(p.read_bytes() for p in sorted(exported.glob("*.bin")))
    with pytest.raises(BadInput, match="too few"):
        intro.weights_from_parts(model_json, data[:-4])
    with pytest.raises(BadInput, match="more than"):
        intro.weights_from_parts(model_json, data + b"\0\0\0\0")


@pytest.mark.tfjs
@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_tfjs_in_node_reproduces_keras(trained, exported, backend):
    """The parity sample, then 16 other test images: real TF.js 4.22 under Node gives
    Keras's probabilities within float32 tolerance, and the same classes."""
    from browserml.tfjs_check import check_parity, has_node, run_in_node

    if not has_node():
        pytest.skip("Node.js and the project's node_modules are not installed")
    report, = check_parity(exported, [("node", backend)])
    assert report.ok and report.max_abs_diff <= FLOAT32_TOLERANCE, str(report)
    images = trained.data.x_test[100:116]
    result = run_in_node(exported, backend, inputs={"image": images})
    probs = result.outputs["probs"]
    keras = trained.predict(images)
    np.testing.assert_allclose(probs, keras, atol=FLOAT32_TOLERANCE, rtol=0)
    np.testing.assert_array_equal(probs.argmax(1), keras.argmax(1))
    assert result.num_tensors_after == result.num_tensors_before
