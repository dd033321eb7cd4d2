"""``browserml playground``: train, export and check lesson 5's network headless."""

from __future__ import annotations

import json

import numpy as np
import pytest

from browserml import cli
from browserml.export import read_manifest


@pytest.mark.tfjs
def test_playground_trains_exports_and_checks_in_node(tmp_path, capsys):
    out = tmp_path / "playground"
    assert cli.main(["playground", "--epochs", "4", "--out", str(out), "--check", "node"]) == 0
    printed = capsys.readouterr().out
    assert "playground[spiral]: x1, x2, sin(x1), sin(x2) -> hidden [6, 4] tanh -> 1 (tanh)" in printed
    assert "epoch    0: train loss" in printed and "epoch    4: train loss" in printed
    assert "accuracy: train" in printed
    assert "node      wasm" in printed and "node      cpu" in printed and "FAIL" not in printed
    pg = read_manifest(out).extra["playground"]
    assert pg["epoch"] == 4 and pg["features"] == ["x1", "x2", "sin(x1)", "sin(x2)"]
    assert pg["config"]["hidden"] == [6, 4] and pg["config"]["learning_rate"] == 0.1
    assert (out / "index.html").read_text().count("browsermlResult") >= 2
    # The printed losses are the ones exported.
    assert f"test loss {pg['test_loss']:.4f}" in printed


def test_regression_with_no_hidden_layer_and_no_check(tmp_path, capsys):
    out = tmp_path / "plane"
    assert cli.main(["playground", "--dataset", "plane", "--features", "x1", "x2", "--hidden",
                     "--activation", "linear", "--epochs", "3", "--learning-rate", "0.01",
                     "--out", str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    assert "x1, x2 -> no hidden layer -> 1 (linear)" in printed and "accuracy" not in printed
    manifest = json.loads((out / "browserml.json").read_text())
    assert manifest["task"] == "playground-regression"
    assert manifest["extra"]["playground"]["config"]["hidden"] == []
    # The plane's target is (x1 + x2) / 10: after 3 epochs a linear unit is close to it.
    assert manifest["extra"]["playground"]["test_loss"] < 0.01
    grid = np.asarray(manifest["extra"]["playground"]["python_grid"]).reshape(100, 100)
    assert grid[-1, 0] < grid[0, -1], "bottom-left (-6, -6) is below top-right (+6, +6)"


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "9"], r"each hidden layer has a whole number of neurons, 1 to 8; hidden layer 1 got 9"),
    (["--noise", "0.8"], r"noise must be a number in \[0.0, 0.5\]"),
    (["--epochs", "-1"], "--epochs must be 0 or more"),
])
def test_bad_settings_are_named(tmp_path, argv, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["playground", *argv, "--out", str(tmp_path / "x"), "--check"])
    assert not (tmp_path / "x").exists()


@pytest.mark.tfjs
@pytest.mark.chromium
def test_chromium_check_opens_the_page(tmp_path, capsys):
    out = tmp_path / "circle"
    assert cli.main(["playground", "--dataset", "circle", "--features", "x1", "x2", "--hidden", "3",
                     "--epochs", "2", "--out", str(out), "--check", "chromium:wasm"]) == 0
    printed = capsys.readouterr().out
    assert "chromium  wasm" in printed
    assert "page      wasm   grid 100x100 max|Δ|=" in printed and "FAIL" not in printed
