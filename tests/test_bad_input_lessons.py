"""Bad input inside the lessons: refused in one clear line, or recomputed, never silently wrong.

Issue 14, part 9. Each probe is something a learner can type or a file can hold:

- ECG beats (files and arrays) that are NaN, infinite, or so large (1e20) that their
  squared error overflows float32, where TF.js scored NaN (never flagged) and Python inf
  (flagged): both sides now refuse the same beat, by the same rule;
- anomaly and Playground options that are NaN, out of range or not whole numbers;
- a Playground run that diverges with in-range settings;
- feature-cache entries that are damaged, altered behind an intact header, or hold NaN.

Every expected refusal is a :class:`~browserml.errors.BadInput` whose message is one line.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from browserml import anomaly as an
from browserml import playground as pg
from browserml.data import ecg5000 as ecg
from browserml.errors import BadInput

NAN, INF = float("nan"), float("inf")


def refused(call, *args, match: str, **kwargs) -> str:
    """Run ``call``; it must raise a BadInput whose one-line message matches ``match``."""
    with pytest.raises(BadInput, match=match) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message, f"a BadInput message is one line, got {message!r}"
    return message


def normal_like_beats(n: int, seed: int = 0) -> np.ndarray:
    """z-normalised sine-shaped beats (float32 ``[n, 140]``): finite and within ±3."""
    t = np.linspace(0, 2 * np.pi, ecg.N_STEPS)
    rng = np.random.default_rng(seed)
    beats = np.sin(t)[None, :] + rng.normal(0, 0.1, (n, ecg.N_STEPS))
    return ((beats - beats.mean(1, keepdims=True)) / beats.std(1, keepdims=True)).astype(np.float32)


def beat_file(tmp_path: Path, text: str, name: str = "beats.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line(value: str = "0.5", n_values: int = ecg.N_STEPS) -> str:
    return "\t".join(["1"] + [value] + ["0.25"] * (n_values - 1)) + "\n"


# --------------------------------------------------------------------------- ECG files and arrays


@pytest.mark.parametrize(("text", "expected"), [
    (line() + line(value="nan"), r"beats\.tsv: line 2, column 2: nan is not a finite number"),
    (line(value="inf"), r"line 1, column 2: inf is not a finite number"),
    (line(value="1e20"), r"line 1, column 2: 1e\+20 is beyond ±1e\+06"),
    (line(value="-3e7"), r"line 1, column 2: -3e\+07 is beyond ±1e\+06"),
    (line(n_values=139), r"line 1 has 140 columns; expected 141"),
    ("", r"beats\.tsv: empty file"),
], ids=["nan", "inf", "1e20", "-3e7", "wrong-shape", "empty"])
def test_a_bad_ecg_file_is_refused_in_one_line(tmp_path, text, expected):
    refused(ecg.read_beats, beat_file(tmp_path, text), match=expected)


def test_a_wrong_shape_csv_is_refused(tmp_path):
    csv = ",".join(["0.1"] * 140) + ",1\n" + ",".join(["0.1"] * 12) + "\n"
    refused(ecg.read_tensorflow_csv, beat_file(tmp_path, csv, "ecg.csv"), match=r"ecg\.csv: line 2 has 12 columns")


@pytest.mark.parametrize(("value", "expected"), [
    (NAN, r"beat 2, step 9: nan is not a finite number"),
    (-INF, r"beat 2, step 9: -inf is not a finite number"),
    (1e20, r"beat 2, step 9: 1e\+20 is beyond ±1e\+06"),
])
def test_beats_built_from_an_array_refuse_bad_values(value, expected):
    x = normal_like_beats(3)
    x[2, 9] = value
    refused(ecg.Beats, x, np.ones(3), match=expected)


@pytest.mark.parametrize(("value", "expected"), [
    (NAN, r"beat 1, step 7: nan is not a finite number"),
    (INF, r"beat 1, step 7: inf is not a finite number"),
    (1e20, r"beat 1, step 7: 1e\+20 is beyond ±1e\+06"),
    # Finite in float64, inf once cast to float32: named as the value it is.
    (1e300, r"beat 1, step 7: 1e\+300 is beyond ±1e\+06"),
])
def test_the_scaler_refuses_a_beat_python_and_tfjs_could_not_score_alike(value, expected):
    scaler = an.MinMaxScaler.fit(normal_like_beats(20))
    x = normal_like_beats(3, seed=1).astype(np.float64)
    x[1, 7] = value
    refused(scaler.transform, x, match=expected)
    assert scaler.transform(x[[0, 2]]).shape == (2, ecg.N_STEPS), "the good beats still pass"


def test_non_finite_scores_are_refused_not_compared_with_the_threshold():
    """NaN > threshold is False: a NaN score would be called normal without a word."""
    refused(an.evaluate, np.array([0.1, NAN, 0.3]), np.array([1, 2, 1]), 0.2, match=r"beat 1: .* nan")
    refused(an.threshold_best_f1, np.array([0.1, INF, 0.3]), np.array([False, True, True]), match="beat 1")
    refused(an.evaluate, np.array([0.1, 0.2]), np.array([1, 2]), NAN, match="threshold must be a finite number")


# --------------------------------------------------------------------------- anomaly options


@pytest.mark.parametrize(("changes", "name"), [
    ({"hidden": (2.9,)}, r"hidden\[0\] must be a whole number, got 2\.9"),
    ({"hidden": (7, 0)}, r"hidden\[1\] must be 1 or more"),
    ({"hidden": (4096,)}, r"hidden\[0\] must be at most 1024 units"),
    ({"hidden": 7}, "hidden must be a list of layer widths"),
    ({"latent": 2.5}, "latent must be a whole number"),
    ({"latent": 0}, "latent must be 1 or more"),
    ({"epochs": 0}, "epochs must be 1 or more"),
    ({"epochs": NAN}, "epochs must be a whole number"),
    ({"learning_rate": NAN}, "learning_rate must be a finite number"),
    ({"learning_rate": True}, "learning_rate must be a number, got True"),
    ({"learning_rate": -0.01}, "learning_rate must be more than 0"),
    ({"regularizer_rate": INF}, "regularizer_rate must be a finite number"),
    ({"batch_size": 2.5}, "batch_size must be a whole number, got 2.5"),
    ({"batch_size": 0}, "batch_size must be 1 or more"),
    ({"train_size": 0}, "train_size must be 1 or more"),
    ({"train_size": 99.5}, "train_size must be a whole number"),
    ({"abnormal_share": NAN}, "abnormal_share must be a finite number"),
    ({"abnormal_share": 1.0}, r"abnormal_share must be in \[0, 1\)"),
    ({"val_fraction": 0.0}, r"val_fraction must be in \(0, 1\)"),
    ({"val_fraction": NAN}, "val_fraction must be a finite number"),
    ({"seed": -1}, "seed must be 0 or more"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"optimizer": ["adam"]}, "optimizer must be one of"),
])
def test_bad_anomaly_options_are_refused_by_name(changes, name):
    refused(an.ANOMAGRAM_DEFAULT.with_changes, **changes, match=name)


def test_every_bad_anomaly_option_is_named_at_once():
    message = refused(an.AutoencoderConfig, learning_rate=NAN, batch_size=2.5, latent=0, match="learning_rate")
    assert "batch_size" in message and "latent" in message


def test_widget_and_cli_values_pass_and_stay_whole_numbers():
    """IntSlider ints, FloatLogSlider floats, argparse lists, NumPy scalars: all fine."""
    config = an.AutoencoderConfig(hidden=[np.int64(7), 3.0], latent=np.int32(2), batch_size=np.int64(64),
                                  learning_rate=np.float32(0.01), abnormal_share=0.05, train_size=200, seed=3)
    assert config.hidden == (7, 3) and type(config.hidden[1]) is int and type(config.latent) is int
    assert type(config.batch_size) is int and type(config.learning_rate) is float
    json.dumps({**asdict(config)})  # what the export writes into browserml.json


@pytest.mark.parametrize(("k", "expected"), [
    (NAN, "k must be a finite number, got nan"), (INF, "k must be a finite number"), (-1.0, "k must be at least 0"),
    ("3", "k must be a number"),
])
def test_a_bad_k_is_refused_instead_of_a_nan_threshold(k, expected):
    refused(an.check_threshold_rule, "mean_k_sigma", k, match=expected)
    scores = np.linspace(0.01, 0.02, 50)
    refused(an.choose_threshold, "mean_k_sigma", scores, np.ones(50), scores, k, match=expected)
    refused(an.threshold_mean_k_sigma, scores, k, match=expected)


def test_an_unknown_threshold_rule_is_refused():
    refused(an.check_threshold_rule, "percentile", 3.0, match="threshold rule must be one of")


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    """``browserml ...``'s exit status and stderr, whether the refusal came from argparse
    (a usage error naming ``--lr``) or from the configuration (naming ``learning_rate``)."""
    from browserml.cli import main

    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err.strip()


@pytest.mark.parametrize(("args", "expected"), [
    (["--lr", "nan"], r"(learning_rate|--lr)\b.*finite number"),
    (["--latent", "0"], r"(latent|--latent)\b.* 1 or more"),
    (["--val-fraction", "1.5"], r"(val_fraction|--val-fraction)\b"),
    (["--abnormal-share", "nan"], r"(abnormal_share|--abnormal-share)\b.*finite number"),
    (["--epochs", "1", "--rule", "mean_k_sigma", "--k", "nan"], r"\bk\b.*finite number"),
])
def test_the_cli_refuses_bad_anomaly_options_before_training(monkeypatch, capsys, args, expected):
    import re

    def no_training(*_args, **_kwargs):
        raise AssertionError("a Trainer was built for a bad configuration")

    monkeypatch.setattr("browserml.anomaly.model.Trainer", no_training)  # where the CLI looks it up
    status, err = _cli(["anomaly", "evaluate", *args], capsys)
    assert status == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("browserml anomaly: ") and re.search(expected, err), err


def test_the_widget_state_refuses_bad_options_and_keeps_its_config():
    from browserml.anomaly.state import AnomalyState

    state = AnomalyState()
    for changes in ({"batch_size": 2.5}, {"learning_rate": True}, {"hidden": (2.9,)}):
        refused(state.configure, **changes, match="must be")
        assert state.config == an.ANOMAGRAM_DEFAULT


# --------------------------------------------------------------------------- Playground


@pytest.mark.parametrize(("changes", "expected"), [
    ({"hidden": (2.9,)}, "hidden layer 1 got 2.9"),
    ({"hidden": (4, True)}, "hidden layer 2 got True"),
    ({"batch_size": 2.5}, r"batch_size must be a whole number in \[1, 30\], got 2\.5"),
    ({"learning_rate": True}, "learning_rate must be a number .* got True"),
    ({"learning_rate": NAN}, "learning_rate must be a number"),
    ({"regularization_rate": "0.1"}, "regularization_rate must be a number"),
    ({"n_samples": 100.5}, "n_samples must be a whole number"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"hidden": "42"}, "hidden must be a list of layer widths"),
])
def test_bad_playground_settings_are_refused_not_truncated(changes, expected):
    refused(pg.PlaygroundConfig().with_changes, **changes, match=expected)


def test_playground_widget_values_pass():
    """IntSlider batch sizes, FloatSlider ratios, Dropdown rates (and NumPy scalars)."""
    config = pg.PlaygroundConfig(batch_size=np.int64(10), hidden=(np.int64(4), 2.0), train_ratio=np.float64(0.7),
                                 noise=0.35000000000000003, learning_rate=0.03, n_samples=300.0)
    assert config.batch_size == 10 and type(config.batch_size) is int
    assert config.hidden == (4, 2) and all(type(h) is int for h in config.hidden)
    assert type(config.n_samples) is int and type(config.train_ratio) is float


def test_a_diverging_playground_run_stops_at_the_first_nan_with_a_hint():
    state = pg.PlaygroundState(pg.PlaygroundConfig(dataset="plane", activation="relu", learning_rate=10.0,
                                                   batch_size=1))
    weights = state.network.model.get_weights()
    message = refused(state.step, 3, match=r"training diverged at epoch 1: the loss became nan")
    assert "learning rate 10 is too high for relu" in message and "try 1" in message
    # Nothing NaN is kept: the network, the epoch counter and the curve are as before the epoch.
    assert state.epoch == 0 and len(state.history) == 1 and np.isfinite(state.history[0].train_loss)
    for before, after in zip(weights, state.network.model.get_weights()):
        np.testing.assert_array_equal(after, before)
    # The hint works: at the suggested rate the same run trains.
    state.set(learning_rate=0.01)
    assert np.isfinite(state.step(3).train_loss)


# --------------------------------------------------------------------------- the feature cache


@pytest.fixture(scope="module")
def tiny_search():
    """A 12-image set and a tiny conv backbone: the cache logic without EfficientNet's cost."""
    import tf_keras

    from browserml.data.images import ImageSet
    from browserml.imagesearch.backbones import Backbone

    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    image_set = ImageSet("tiny", images, np.arange(12) % 3, ("a", "b", "c"), "random pixels", "this test")
    tf_keras.utils.set_random_seed(0)
    inp = tf_keras.Input((8, 8, 3))
    conv = tf_keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inp)
    backbone = Backbone("tiny-conv", tf_keras.Model(inp, conv), (8, 8),
                        lambda x: np.asarray(x, np.float32) / 255.0, None)
    return image_set, backbone


def _neighbours(features: np.ndarray) -> list[list[int]]:
    from browserml.imagesearch.search import top_k

    return [top_k(features, i, k=3).indices.tolist() for i in range(len(features))]


def _tamper_keeping_the_header(npy: Path) -> None:
    """Rows reversed, header byte for byte the same: shape and dtype still look right."""
    data = npy.read_bytes()
    features = np.load(io.BytesIO(data))
    header = data[: len(data) - features.nbytes]
    npy.write_bytes(header + np.ascontiguousarray(features[::-1]).tobytes())


def _zero_bytes(npy: Path) -> None:
    npy.write_bytes(b"")


def _zip_magic(npy: Path) -> None:
    npy.write_bytes(b"PK\x03\x04" + b"\0" * 60)


def _json_list_note(npy: Path) -> None:
    npy.with_suffix(".json").write_text("[1, 2]")


def _nan_features_with_a_matching_note(npy: Path) -> None:
    """NaN features written consistently (note and data agree), as a buggy writer would."""
    import hashlib

    features = np.load(npy)
    features[3, 0] = np.nan
    buffer = io.BytesIO()
    np.save(buffer, features)
    npy.write_bytes(buffer.getvalue())
    note_path = npy.with_suffix(".json")
    note = json.loads(note_path.read_text())
    note["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    note_path.write_text(json.dumps(note))


@pytest.mark.parametrize("damage", [_tamper_keeping_the_header, _zero_bytes, _zip_magic, _json_list_note,
                                    _nan_features_with_a_matching_note])
def test_a_bad_cache_entry_is_recomputed_with_a_note(tiny_search, tmp_path, damage):
    from browserml.imagesearch.features import FeatureCache, cached_features, extract_features

    image_set, backbone = tiny_search
    fresh = extract_features(backbone, "conv", "avg", image_set.images)
    cache = FeatureCache(tmp_path)
    cached_features(image_set, backbone, "conv", "avg", cache=cache)
    (npy,) = tmp_path.glob("*.npy")
    damage(npy)
    for attempt in range(2):  # the bad entry is replaced, so the second query reads a good one
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            got = cached_features(image_set, backbone, "conv", "avg", cache=cache)
        notes = [str(w.message) for w in said if "feature cache" in str(w.message)]
        if attempt == 0:
            assert len(notes) == 1 and "recomputing" in notes[0] and "\n" not in notes[0], notes
        else:
            assert notes == []
        # Same network, same batches: the recomputed features are these very numbers.
        np.testing.assert_array_equal(got, fresh)
        assert _neighbours(got) == _neighbours(fresh)
    assert not list(tmp_path.glob(".tmp-*"))


def test_the_cache_never_stores_nan_features(tiny_search, tmp_path):
    from browserml.imagesearch.features import FeatureCache, FeatureKey

    image_set, backbone = tiny_search
    key = FeatureKey(image_set.fingerprint(), backbone.name, None, "conv", "avg")
    refused(FeatureCache(tmp_path).put, key, np.full((2, 3), np.nan, np.float32), match="NaN")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- Python vs TF.js (Node)


@pytest.fixture(scope="module")
def small_export(tmp_path_factory) -> tuple[an.Trainer, Path]:
    """A briefly trained lesson-2 autoencoder, exported with a validation-chosen threshold."""
    trainer = an.Trainer(an.ANOMAGRAM_DEFAULT.with_changes(epochs=3))
    trainer.train()
    val = trainer.data.split.val
    threshold = an.choose_threshold("best_f1", trainer.scores(val.x), val.y, None)
    return trainer, an.export_anomaly(trainer, threshold, tmp_path_factory.mktemp("ae") / "anomaly")


@pytest.mark.tfjs
@pytest.mark.slow
def test_a_1e20_beat_is_refused_by_python_and_by_tfjs_in_node(small_export):
    """The issue's probe: TF.js scored NaN (not flagged), Python inf (flagged). Now the rule
    travels in browserml.json (``max_abs``) and both sides refuse the same beat and step."""
    from browserml.tfjs_check import TfjsRuntimeError, run_in_node

    trainer, folder = small_export
    x = trainer.data.split.test.x[:4].astype(np.float64)
    x[1, 7] = 1e20
    refused(trainer.scores, x, match=r"beat 1, step 7: 1e\+20 is beyond ±1e\+06")
    refused(an.tfjs_scores, folder, x, match=r"beat 1, step 7: 1e\+20 is beyond")
    with pytest.raises(TfjsRuntimeError, match=r"beat 1, step 7: 1e\+20 is beyond ±1e\+6"):
        run_in_node(folder, "wasm", inputs={"beat": x}, raw=True)  # the real TF.js, Python's check bypassed


@pytest.mark.tfjs
@pytest.mark.slow
def test_a_large_but_allowed_beat_gets_the_same_verdict_on_both_sides(small_export):
    """Just inside the limit, the scores are finite and equal on both sides: flagged by both.
    The limit is part of the export's contract, for every TF.js client to apply."""
    from browserml.export import read_manifest

    trainer, folder = small_export
    assert read_manifest(folder).preprocessing["max_abs"] == ecg.MAX_ABS_VALUE
    x = trainer.data.split.test.x[:4].copy()
    x[1, 7] = 0.9e6
    python = trainer.scores(x)
    tfjs = an.tfjs_scores(folder, x, backend="wasm")
    assert np.all(np.isfinite(python)) and np.all(np.isfinite(tfjs))
    # float32 sums of 140 squares on each side: relative error ≤ 140·eps32 ≈ 1.7e-5 (plus the
    # reconstruction's own 1e-5 absolute parity on values in [0, 1]).
    np.testing.assert_allclose(tfjs, python, rtol=140 * np.finfo(np.float32).eps, atol=1e-5)
    threshold = read_manifest(folder).threshold
    assert list(tfjs > threshold) == list(python > threshold) and tfjs[1] > threshold


@pytest.mark.tfjs
@pytest.mark.chromium
@pytest.mark.slow
def test_the_export_page_refuses_a_1e20_beat_in_beats_json(small_export, tmp_path):
    from browserml.tfjs_check import TfjsRuntimeError, run_export_page

    _, folder = small_export
    page = shutil.copytree(folder, tmp_path / "anomaly")
    beats = json.loads((page / "beats.json").read_text())
    beats["beats"][2]["values"][7] = 1e20
    (page / "beats.json").write_text(json.dumps(beats))
    bad_id = beats["beats"][2]["id"]
    with pytest.raises(TfjsRuntimeError, match=rf"beat {bad_id}, step 7: 1e\+20 is beyond ±1e\+6"):
        run_export_page(page, backend="cpu", timeout_s=90)
