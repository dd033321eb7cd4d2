"""What `browserml` does with bad input: one line on stderr naming the problem, a non-zero
exit status, and no export lost or half-written. A real bug keeps its traceback.

Each probe runs ``browserml.cli.main`` in-process (fast); a few run the installed
``browserml`` console script in a real process, where a traceback would really show.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browserml import cli
from browserml.errors import BadInput

CONSOLE_SCRIPT = Path(sys.executable).with_name("browserml")


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI, assert it failed with exactly one stderr line and no traceback; return the line."""
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse's usage errors leave through SystemExit
        status = exit_.code
    err = capsys.readouterr().err
    assert status not in (0, None), f"{argv} succeeded"
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    return lines[0]


@pytest.fixture
def old_export(tmp_path: Path) -> Callable[[], None]:
    """An existing export folder at ``tmp_path/out`` and a check that a failed command left it
    exactly as it was, with no staging or retired folders beside it."""
    out = tmp_path / "out"
    out.mkdir()
    files = {"model.json": "{}", "browserml.json": "{}", "group1-shard1of1.bin": "old"}
    for name, text in files.items():
        (out / name).write_text(text)

    def unchanged() -> None:
        assert {p.name: p.read_text() for p in out.iterdir()} == files
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []

    return unchanged


def _png(path: Path, rng_seed: int = 0, size: int = 40) -> Path:
    pixels = np.random.default_rng(rng_seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


# ---------------------------------------------------------------- image paths


@pytest.mark.parametrize("kind, message", [
    ("missing", "no such file"),
    ("empty", "empty file, not an image"),
    ("corrupt", "not an image file that Pillow can read"),
    ("truncated", "corrupt or truncated image"),
    ("folder", "a folder, not an image file"),
])
def test_a_bad_image_path_is_one_line(tmp_path, capsys, kind, message):
    """Before: a missing or folder path was a FileNotFoundError/IsADirectoryError traceback from
    ``Path.read_bytes`` (and only after the detector had loaded)."""
    path = tmp_path / f"{kind}.png"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        path.write_text("my holiday notes")
    elif kind == "truncated":
        path.write_bytes(_png(tmp_path / "whole.png", size=64).read_bytes()[:300])
    elif kind == "folder":
        path.mkdir()
    for argv in (["handtrack", "detect", str(path)],
                 ["search", "query", "--image", str(path), "--dataset", str(tmp_path / "no-such-set")]):
        line = _one_line_error(capsys, argv)
        assert line.startswith(f"browserml {argv[0]}: ") and message in line and str(path) in line


def test_detect_without_an_image_and_other_verbs_with_one(capsys):
    assert "detect needs an IMAGE" in _one_line_error(capsys, ["handtrack", "detect"])
    assert "IMAGE is for detect only" in _one_line_error(capsys, ["handtrack", "benchmark", "x.png"])


# ---------------------------------------------------------------- datasets and queries


def test_dataset_folders_that_are_missing_empty_or_files(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    a_file = _png(tmp_path / "photo.png")
    cases = {str(tmp_path / "missing"): "no such folder",
             str(empty): "empty folder",
             str(a_file): "a file, not a folder of images",
             "MNIST": "no such folder, and no image set of that name (the sets: FASHION200"}
    for dataset, message in cases.items():
        for verb in ("evaluate", "query", "features"):
            line = _one_line_error(capsys, ["search", verb, "--dataset", dataset])
            assert message in line and "unknown image set" not in line, line


@pytest.fixture
def two_images(tmp_path: Path) -> Path:
    """A folder of two classes, one image each: the smallest set search can rank."""
    for i, name in enumerate(("cats", "dogs")):
        _png(tmp_path / "pets" / name / "1.png", rng_seed=i)
    return tmp_path / "pets"


def test_an_index_out_of_range_is_named_before_any_feature_is_computed(two_images, capsys, monkeypatch):
    """Before: a raw IndexError from ``images.labels[index]``, after the features were computed."""
    from browserml.imagesearch import features

    monkeypatch.setattr(features, "cached_features", lambda *a, **k: pytest.fail("features computed"))
    line = _one_line_error(capsys, ["search", "query", "--dataset", str(two_images), "--index", "2"])
    assert "--index 2 is out of range: pets has 2 images (0 to 1)" in line
    assert "must be 0 or more" in _one_line_error(capsys, ["search", "query", "--index", "-1"])


def test_a_one_image_folder_cannot_be_searched(two_images, capsys):
    shutil.rmtree(two_images / "dogs")
    for verb in ("evaluate", "query"):
        line = _one_line_error(capsys, ["search", verb, "--dataset", str(two_images)])
        assert "pets has 1 image(s); searching needs at least 2" in line


@pytest.mark.slow
def test_a_small_folder_is_queried_with_k_capped(two_images, capsys, monkeypatch, tmp_path):
    """Two images: an index query has one other image to rank, so k=15 becomes 1 (as
    ``evaluate`` already did); an image query ranks both. Before: a SearchInputError
    "k=15 is more than the 1 rows left"."""
    monkeypatch.setenv("BROWSERML_CACHE", str(tmp_path / "cache"))
    assert cli.main(["search", "query", "--dataset", str(two_images), "--index", "1", "--layer", "block2b_add"]) == 0
    out = capsys.readouterr().out
    assert out.count("distance") == 1 and "cats" in out and "search result score: 0.000" in out
    query = two_images / "dogs" / "1.png"
    assert cli.main(["search", "query", "--dataset", str(two_images), "--image", str(query),
                     "--layer", "block2b_add"]) == 0
    ranked = [line for line in capsys.readouterr().out.splitlines() if "distance" in line]
    assert len(ranked) == 2 and "dogs" in ranked[0] and "distance 0.0000" in ranked[0]


def test_an_unknown_backbone_is_named(two_images, capsys):
    line = _one_line_error(capsys, ["search", "evaluate", "--dataset", str(two_images), "--backbone", "AlexNet"])
    assert "unknown backbone 'AlexNet'; choose one of efficientnet-lite0" in line


# ---------------------------------------------------------------- options


@pytest.mark.parametrize("argv, message", [
    (["polyfit", "--lr", "nan"], "argument --lr: must be a finite number, got nan"),
    (["polyfit", "--lr", "0"], "argument --lr: must be more than 0"),
    (["polyfit", "--iterations", "0"], "argument --iterations: must be 1 or more, got 0"),
    (["polyfit", "--degree", "two"], "argument --degree: must be a whole number, got 'two'"),
    (["anomaly", "train", "--epochs", "0"], "argument --epochs: must be 1 or more"),
    (["anomaly", "train", "--lr", "inf"], "argument --lr: must be a finite number"),
    (["anomaly", "train", "--hidden", "7", "-3"], "argument --hidden: must be 1 or more, got -3"),
    (["anomaly", "evaluate", "--k", "-1"], "argument --k: must be at least 0"),
    (["imagesearch", "query", "--k", "0"], "argument --k: must be 1 or more"),
    (["handtrack", "detect", "x.png", "--iou", "1.5"], "argument --iou: must be at most 1"),
    (["handtrack", "benchmark", "--repeats", "0"], "argument --repeats: must be 1 or more"),
    (["serve", "--port", "70000"], "argument --port: must be 0 or more and at most 65535"),
])
def test_bad_options_are_refused_while_parsing(capsys, argv, message):
    line = _one_line_error(capsys, argv)
    assert line.startswith(f"browserml {argv[0]}: ") and message in line and line.endswith("--help)")


@pytest.mark.parametrize("command", [["polyfit"], ["anomaly", "export"], ["search", "export"],
                                     ["handtrack", "convert"], ["playground"]])
def test_an_unknown_check_runtime_is_refused_before_training(tmp_path, capsys, old_export, command):
    """Before: ``_runtimes`` raised only after training and writing the export."""
    line = _one_line_error(capsys, [*command, "--out", str(tmp_path / "out"), "--check", "node", "safari"])
    assert "argument --check: unknown runtime 'safari'; use node, chromium or one of node:cpu" in line
    old_export()


def test_a_bad_input_from_any_module_is_one_line(capsys, monkeypatch):
    """Whatever a lesson module raises as BadInput (the anomaly options' own checks, say),
    even across several lines, reaches the learner as one line with status 2."""
    from browserml.anomaly import model

    def refuse(*args, **kwargs):
        raise BadInput("latent must be smaller than the last hidden layer (3),\n  got 5")

    monkeypatch.setattr(model, "Trainer", refuse)  # where the CLI looks it up
    assert cli.main(["anomaly", "train"]) == 2
    err = capsys.readouterr().err
    assert err == "browserml anomaly: latent must be smaller than the last hidden layer (3),; got 5\n"


def test_a_diverging_learning_rate_stops_with_one_line(tmp_path, capsys, old_export):
    """Before: a FloatingPointError traceback. The export that was there stays."""
    line = _one_line_error(capsys, ["polyfit", "--lr", "10", "--out", str(tmp_path / "out"), "--check"])
    assert "loss became" in line and "the learning rate 10.0 is too large" in line
    old_export()


# ---------------------------------------------------------------- corrupt exports


@pytest.fixture
def layers_copy(exports, tmp_path) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(exports["layers_float32"], folder)
    return folder


def _edit_json(path: Path, edit: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _wider_contract(m: dict) -> None:
    """Declare 5 input features (the model takes 4), with a parity sample to match: only a
    comparison with model.json can catch it."""
    m["inputs"][0]["shape"] = [None, 5]
    m["parity"]["inputs"]["features"] = [row + [0.0] for row in m["parity"]["inputs"]["features"]]


CORRUPTIONS: dict[str, tuple[Callable[[Path], object], str]] = {
    "no model.json": (lambda d: (d / "model.json").unlink(), "no model.json"),
    "model.json not JSON": (lambda d: (d / "model.json").write_text('{"format": '), "model.json: not valid JSON"),
    "model.json a list": (lambda d: (d / "model.json").write_text("[]"), "needs 'modelTopology' and 'weightsManifest'"),
    "weightsManifest garbled": (lambda d: _edit_json(d / "model.json", lambda m: m.update(weightsManifest=[3])),
                                "weightsManifest must be a list"),
    "truncated shard": (lambda d: (d / "group1-shard1of1.bin").write_bytes(b"\0" * 7),
                        "shards hold 7 bytes but the weight specs need"),
    "missing shard": (lambda d: (d / "group1-shard1of1.bin").unlink(), "weight shard 'group1-shard1of1.bin' is missing"),
    "no browserml.json": (lambda d: (d / "browserml.json").unlink(), "no browserml.json"),
    "browserml.json a list": (lambda d: (d / "browserml.json").write_text("[1]"), "must hold a JSON object"),
    "tensor without a name": (lambda d: _edit_json(d / "browserml.json", lambda m: m["inputs"][0].pop("name")),
                              "input needs a non-empty string 'name'"),
    "no tolerance": (lambda d: _edit_json(d / "browserml.json", lambda m: m["parity"].pop("tolerance")),
                     "parity.tolerance must be a finite number"),
    "ragged parity": (lambda d: _edit_json(d / "browserml.json",
                                           lambda m: m["parity"]["outputs"]["scores"][0].pop()),
                      "parity.outputs.scores is not an array of numbers"),
    "input [null, 139]-style": (lambda d: _edit_json(d / "browserml.json",
                                                     lambda m: m["inputs"][0].update(shape=[None, 3])),
                                "parity.inputs.features has shape [5, 4], but input 'features' is declared [null, 3]"),
    "contract wider than the model": (lambda d: _edit_json(d / "browserml.json", _wider_contract),
                                      ("browserml.json declares input 'features' as [null, 5] float32, but model.json "
                                       "has [null, 4] float32")),
    "output units": (lambda d: _edit_json(d / "browserml.json", lambda m: (
        m["outputs"][0].update(shape=[None, 2]),
        m["parity"]["outputs"].update(scores=[row[:2] for row in m["parity"]["outputs"]["scores"]]))),
        "declares output 'scores' as [null, 2], but its layer in model.json has 3 units"),
    "renamed output": (lambda d: _edit_json(d / "browserml.json", lambda m: (
        m["outputs"][0].update(name="logits"),
        m["parity"]["outputs"].update(logits=m["parity"]["outputs"].pop("scores")))),
        "declares outputs ['logits'], but model.json's output layers are ['scores']"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_check_refuses_a_corrupt_export_in_one_line(layers_copy, capsys, corruption):
    """Refused by Python before TF.js is started: no Node needed, and a contract that
    does not describe its model (before: "ok") is named."""
    corrupt, message = CORRUPTIONS[corruption]
    corrupt(layers_copy)
    line = _one_line_error(capsys, ["check", str(layers_copy), "--runtime", "node:cpu"])
    assert line.startswith("browserml check: ") and message in line, line


def test_check_names_a_missing_folder_and_a_file(tmp_path, capsys):
    assert "no such folder" in _one_line_error(capsys, ["check", str(tmp_path / "nope")])
    (tmp_path / "file").write_text("x")
    assert "a file, not an export folder" in _one_line_error(capsys, ["check", str(tmp_path / "file")])


@pytest.mark.tfjs
def test_check_says_in_one_line_when_tfjs_cannot_load_the_model(layers_copy, capsys):
    """A topology TF.js rejects passes every Python check; TF.js's own refusal is the verdict."""
    _edit_json(layers_copy / "model.json", lambda m: m["modelTopology"]["model_config"].update(class_name="Bogus"))
    line = _one_line_error(capsys, ["check", str(layers_copy), "--runtime", "node:cpu"])
    assert line.startswith(f"browserml check: TF.js could not run {layers_copy}: ")


def test_a_good_export_still_passes_the_python_checks(exports):
    from browserml.export import read_export

    for folder in exports.values():
        read_export(folder)


# ---------------------------------------------------------------- real bugs, real processes


def test_a_real_bug_keeps_its_traceback(capsys, monkeypatch):
    def buggy(args):
        return 1 / 0

    monkeypatch.setattr(cli, "cmd_check", buggy)
    with pytest.raises(ZeroDivisionError):
        cli.main(["check", "."])


def test_the_console_script_prints_one_line_and_no_traceback(tmp_path):
    folder = tmp_path / "folder.png"
    folder.mkdir()
    for argv, message in ((["handtrack", "detect", str(folder)], "a folder, not an image file"),
                          (["check", str(tmp_path / "nope")], "no such folder"),
                          (["polyfit", "--check", "safari"], "unknown runtime 'safari'")):
        run = subprocess.run([str(CONSOLE_SCRIPT), *argv], capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 2 and run.stdout == ""
        assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr and message in run.stderr


def test_the_console_script_shows_a_real_bug_in_full(tmp_path):
    code = ("import sys, browserml.cli as c\n"
            "c.cmd_check = lambda args: 1 / 0\n"
            "sys.exit(c.main(['check', '.']))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1
    assert "Traceback (most recent call last)" in run.stderr and run.stderr.rstrip().endswith(
        "ZeroDivisionError: division by zero")
