"""Lesson 2's export page (templates/anomaly_index.html) in headless Chromium.

A small dense autoencoder trained on synthetic "normal" beats stands in for the ECG
model, so the page is tested without the lesson's data: the page must score every beat
exactly as Python does, pass its parity sample, fine-tune in the browser, and report
errors instead of hanging.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.tfjs, pytest.mark.chromium]

WIDTH = 140
CLASS_NAMES = {"1": "Normal", "2": "R-on-T PVC", "3": "PVC", "4": "SP or EB", "5": "Unclassified"}


def normal_beats(rng: np.random.Generator, n: int) -> np.ndarray:
    """Noisy two-harmonic waves: the synthetic "normal" beat."""
    t = np.linspace(0.0, 1.0, WIDTH)
    amp = rng.normal(1.0, 0.05, size=(n, 1))
    phase = rng.normal(0.0, 0.05, size=(n, 1))
    wave = amp * np.sin(2 * np.pi * (t + phase)) + 0.4 * np.sin(4 * np.pi * (t + phase))
    return wave + rng.normal(0.0, 0.05, size=(n, WIDTH))


def abnormal_beats(rng: np.random.Generator, n: int) -> np.ndarray:
    """Half normal beats with a tall spike, half square waves."""
    beats = normal_beats(rng, n)
    for i in range(n):
        if i % 2 == 0:
            at = rng.integers(10, WIDTH - 10)
            beats[i, at - 3:at + 3] += 2.5
        else:
            beats[i] = np.sign(np.sin(2 * np.pi * 3 * np.linspace(0, 1, WIDTH))) + rng.normal(0, 0.05, WIDTH)
    return beats


def preprocess(raw: np.ndarray, mins: np.ndarray, maxs: np.ndarray) -> np.ndarray:
    """The page's contract: (raw - min) / range, a range of 0 counts as 1."""
    rng = maxs - mins
    rng = np.where(rng == 0, 1.0, rng)
    return ((raw - mins) / rng).astype(np.float32)


@dataclass
class AnomalyExport:
    folder: Path
    ids: list[int]
    labels: np.ndarray
    scores: np.ndarray
    verdicts: list[str]
    threshold: float
    num_weights: int


@pytest.fixture(scope="module")
def anomaly_export(tmp_path_factory) -> AnomalyExport:
    import tf_keras

    from browserml.export import export_layers_model
    from browserml.pages import page_files

    rng = np.random.default_rng(7)
    train_raw = normal_beats(rng, 400)
    mins, maxs = train_raw.min(axis=0), train_raw.max(axis=0)
    train = preprocess(train_raw, mins, maxs)

    tf_keras.utils.set_random_seed(0)
    inp = tf_keras.Input((WIDTH,), name="beat")
    code = tf_keras.layers.Dense(16, activation="relu", name="encoder")(inp)
    out = tf_keras.layers.Dense(WIDTH, activation="sigmoid", name="decoder")(code)
    model = tf_keras.Model(inp, out)
    model.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="mse")
    model.fit(train, train, epochs=8, batch_size=32, verbose=0)

    def mse(x: np.ndarray) -> np.ndarray:
        return np.mean((model.predict(x, verbose=0).astype(np.float64) - x) ** 2, axis=1)

    threshold = float(np.percentile(mse(train), 99))

    raw = np.concatenate([normal_beats(rng, 20), abnormal_beats(rng, 10)])
    labels = np.array([1] * 20 + [3] * 10)
    order = rng.permutation(len(raw))
    raw, labels = raw[order], labels[order]
    ids = [int(i) for i in rng.choice(np.arange(100, 5000), size=len(raw), replace=False)]
    pre = preprocess(raw, mins, maxs)
    scores = mse(pre)
    # A beat sitting on the threshold could flip between float paths; keep the test honest.
    assert np.min(np.abs(scores - threshold)) > 1e-4
    verdicts = ["abnormal" if s > threshold else "normal" for s in scores]
    assert verdicts.count("abnormal") >= 8, "the synthetic anomalies should mostly be caught"

    beats = {
        "class_names": CLASS_NAMES,
        "beats": [{"id": i, "label": int(lab), "values": row.tolist()} for i, lab, row in zip(ids, labels, raw)],
    }
    folder = export_layers_model(
        model, tmp_path_factory.mktemp("pages") / "anomaly", task="ecg-anomaly",
        parity_inputs=pre[:4],
        preprocessing={"kind": "minmax", "min": mins.tolist(), "max": maxs.tolist()},
        score="mse", threshold=threshold,
        extra_files={
            **page_files("anomaly"),
            "beats.json": json.dumps(beats),
        },
    )
    return AnomalyExport(folder, ids, labels, scores, verdicts, threshold, len(model.weights))


@pytest.mark.parametrize("backend", ["wasm", "cpu"])
def test_the_page_scores_every_beat_as_python_does(anomaly_export, backend, tmp_path):
    from browserml.tfjs_check import run_export_page

    shot = tmp_path / f"anomaly-{backend}.png"
    result = run_export_page(anomaly_export.folder, backend=backend, screenshot=shot)
    assert result["backend"] == backend
    assert result["ids"] == anomaly_export.ids
    np.testing.assert_allclose(result["scores"], anomaly_export.scores, rtol=0, atol=1e-5)
    assert result["verdicts"] == anomaly_export.verdicts
    truth = np.where(anomaly_export.labels != 1, "abnormal", "normal")
    assert result["accuracy"] == pytest.approx(np.mean(truth == np.array(anomaly_export.verdicts)))
    assert result["parityMaxAbsDiff"] <= 1e-5
    assert result["fineTune"] is None
    # Only the model's weights stay alive: every batch, plot and parity tensor was disposed.
    assert result["numTensorsAfterLoad"] == anomaly_export.num_weights
    assert result["numTensors"] == result["numTensorsAfterLoad"]
    assert shot.stat().st_size > 20_000, "the page drew its table and plots"


def test_fine_tuning_in_the_page_lowers_the_normal_scores(anomaly_export):
    from browserml.tfjs_check import run_export_page

    result = run_export_page(anomaly_export.folder, backend="wasm",
                             params={"finetune": 1, "epochs": 15, "lr": 0.01})
    # The scores published are the exported model's, before fine-tuning.
    np.testing.assert_allclose(result["scores"], anomaly_export.scores, rtol=0, atol=1e-5)
    ft = result["fineTune"]
    losses = np.asarray(ft["losses"], dtype=np.float64)
    assert losses.shape == (15,) and np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    after = np.asarray(ft["scoresAfter"], dtype=np.float64)
    assert after.shape == anomaly_export.scores.shape and np.all(np.isfinite(after))
    normal = anomaly_export.labels == 1
    assert after[normal].mean() < anomaly_export.scores[normal].mean()
    # Training left nothing behind: Adam's moments and every batch tensor were disposed.
    assert result["numTensors"] == result["numTensorsAfterLoad"] == anomaly_export.num_weights


def test_a_missing_beats_file_is_reported_not_hung(anomaly_export, tmp_path):
    from browserml.tfjs_check import TfjsRuntimeError, run_export_page

    broken = shutil.copytree(anomaly_export.folder, tmp_path / "anomaly")
    (broken / "beats.json").unlink()
    with pytest.raises(TfjsRuntimeError, match=r"beats\.json could not be loaded \(HTTP 404\)"):
        run_export_page(broken, backend="cpu", timeout_s=60)


def test_bad_fine_tune_settings_are_reported(anomaly_export):
    from browserml.tfjs_check import TfjsRuntimeError, run_export_page

    with pytest.raises(TfjsRuntimeError, match="epochs must be a whole number"):
        run_export_page(anomaly_export.folder, backend="cpu", params={"finetune": 1, "epochs": 0}, timeout_s=60)


def test_backend_given_twice_is_refused(anomaly_export):
    from browserml.tfjs_check import run_export_page

    with pytest.raises(ValueError, match="backend"):
        run_export_page(anomaly_export.folder, backend="cpu", params={"backend": "wasm"})
