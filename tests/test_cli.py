"""The headless CLI: what `make run` uses to build every export."""

import json

import pytest

from browserml import cli
from browserml.export import read_manifest


@pytest.mark.tfjs
def test_polyfit_trains_exports_and_checks_in_node(tmp_path, capsys):
    out = tmp_path / "polynomial"
    assert cli.main(["polyfit", "--out", str(out), "--iterations", "120"]) == 0
    printed = capsys.readouterr().out
    assert "120 iterations" in printed and "node      wasm" in printed and "FAIL" not in printed
    m = read_manifest(out)
    assert list(m.extra["coefficients"]) == ["a", "b", "c"]
    assert abs(m.extra["coefficients"]["a"] - 0.6) < 0.05


@pytest.mark.tfjs
def test_make_run_needs_no_chromium(tmp_path, capsys, monkeypatch):
    """`make run` asks every lesson for Node and Chromium checks; where Chromium is missing
    (a learner's laptop, Binder) it checks in Node and says what it skipped, no traceback."""
    monkeypatch.setenv("BROWSERML_CHROMIUM", str(tmp_path / "no-chromium"))
    assert cli.main(["polyfit", "--out", str(tmp_path / "p"), "--iterations", "30", "--check", "node", "chromium"]) == 0
    printed = capsys.readouterr().out
    assert "Chromium is not installed here" in printed and "node      wasm" in printed and "chromium" not in \
        printed.split("checking in")[1].split(".")[0]


@pytest.mark.tfjs
def test_make_run_needs_no_node_either(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BROWSERML_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("BROWSERML_NODE_MODULES", str(tmp_path / "no-node-modules"))
    assert cli.main(["polyfit", "--out", str(tmp_path / "p"), "--iterations", "30", "--check", "node", "chromium"]) == 0
    assert "checking in nothing here" in capsys.readouterr().out


def test_polyfit_cubic_setting_without_checks(tmp_path, capsys):
    out = tmp_path / "cubic"
    assert cli.main(["polyfit", "--setting", "cubic", "--out", str(out), "--check"]) == 0
    assert "75 iterations" in capsys.readouterr().out
    assert list(read_manifest(out).extra["coefficients"]) == ["a", "b", "c", "d"]


@pytest.mark.tfjs
def test_check_fails_on_a_broken_export(exports, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(exports["graph"], broken)
    manifest = json.loads((broken / "browserml.json").read_text())
    manifest["parity"]["outputs"]["y"][0] += 1.0
    (broken / "browserml.json").write_text(json.dumps(manifest))
    assert cli.main(["check", str(broken), "--runtime", "node:cpu"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert cli.main(["check", str(exports["graph"]), "--runtime", "node:cpu"]) == 0


def test_unknown_runtime_is_named(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check", ".", "--runtime", "safari"])
    assert exit_.value.code == 2
    assert "argument --runtime: unknown runtime 'safari'" in capsys.readouterr().err


def test_nbclean_check_reports_dirty_notebooks(tmp_path, capsys):
    nb = tmp_path / "dirty.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "1", "metadata": {},
                                         "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}],
                                         "execution_count": 1}], "metadata": {}, "nbformat": 4,
                              "nbformat_minor": 5}))
    assert cli.main(["nbclean", "--check", str(nb)]) == 1
    assert cli.main(["nbclean", str(nb)]) == 0
    assert cli.main(["nbclean", "--check", str(nb)]) == 0


@pytest.fixture
def image_folder(tmp_path, monkeypatch):
    """Two classes of four images each: dark squares and light stripes."""
    from PIL import Image
    import numpy as np

    rng = np.random.default_rng(0)
    for name, make in (("dark", lambda: rng.integers(0, 60, (40, 40, 3))),
                       ("stripes", lambda: np.tile(np.array([[0], [255]] * 20), (1, 40))[..., None].repeat(3, -1))):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(make().astype("uint8")).save(tmp_path / "imgs" / name / f"{i}.png")
    monkeypatch.setenv("BROWSERML_CACHE", str(tmp_path / "cache"))
    return tmp_path / "imgs"


def test_search_evaluates_and_queries_any_folder(image_folder, capsys):
    assert cli.main(["search", "evaluate", "--dataset", str(image_folder), "--layer", "block2b_add", "head_relu",
                     "--metric", "cosine", "squared"]) == 0
    out = capsys.readouterr().out
    assert out.count(" P@7 ") == 4 and "dim 1280" in out and "dim 24" in out  # k capped at N - 1
    assert cli.main(["search", "query", "--dataset", str(image_folder), "--index", "0", "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("distance") == 3 and "search result score" in out
    query = image_folder / "stripes" / "2.png"
    assert cli.main(["search", "query", "--dataset", str(image_folder), "--image", str(query), "--k", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[1]
    assert "stripes" in first and "distance 0.0000" in first  # the file itself is in the gallery


def test_handtrack_detect_prints_handtrack_style_boxes(tmp_path, capsys):
    from PIL import Image

    from browserml.handtrack.images import scenes

    path = tmp_path / "wave.png"
    Image.fromarray(scenes()["astronaut_waving"]).save(path)
    assert cli.main(["handtrack", "detect", str(path), "--size", "large"]) == 0
    out = capsys.readouterr().out
    assert "2 detection(s)" in out and "face" in out and "open" in out and "bbox [x, y, w, h]" in out
    assert cli.main(["handtrack", "detect", str(path), "--score", "0.99"]) == 0
    assert "0 detection(s)" in capsys.readouterr().out


def test_handtrack_detect_names_a_bad_image(tmp_path, capsys):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    assert cli.main(["handtrack", "detect", str(path)]) == 2
    assert capsys.readouterr().err == f"browserml handtrack: {path}: not an image file that Pillow can read\n"


def test_lesson3_command_is_named_like_its_package_and_keeps_its_old_name(capsys):
    """`browserml imagesearch` (as browserml.imagesearch); `browserml search` still works."""
    for name in ("imagesearch", "search"):
        with pytest.raises(SystemExit) as done:
            cli.main([name, "--help"])
        assert done.value.code == 0
        assert "features" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "imagesearch" in capsys.readouterr().out
