"""The curriculum's front door: README index, badges, Binder and Colab set-up.

A learner arrives from the README or a badge. These tests check that every door leads
somewhere real: each lesson is listed with a picture of its app, each badge names its
own notebook, Binder's files install the same pinned set plus Node and the in-page TF.js
bundle, and a notebook still runs where there is no Chromium (Binder, Colab).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
README = (ROOT / "README.md").read_text(encoding="utf-8")


def first_cell(path: Path) -> str:
    return "".join(json.loads(path.read_text())["cells"][0]["source"])


def test_readme_opens_with_the_two_commands():
    commands = re.findall(r"^make (\w+)", README.split("---")[0], flags=re.M)
    assert commands[:2] == ["run", "test"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_readme_index_lists_each_lesson_with_its_app_picture(path):
    row = next((line for line in README.splitlines() if f"(notebooks/{path.name})" in line and line.startswith("|")),
               None)
    assert row is not None, f"README's curriculum table has no row for {path.name}"
    number = int(path.name[:2])
    picture = re.search(r'src="(notebooks/images/[^"]+\.png)"', row)
    assert picture and (ROOT / picture.group(1)).is_file(), f"lesson {number}: no screenshot in its row"
    assert "slide" in README and row.count("|") >= 5, "lesson, slide, picture columns"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badges_open_this_notebook(path):
    text = first_cell(path)
    colab = re.search(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/main/(\S+?)\)", text)
    binder = re.search(r"mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/main\?labpath=(\S+?)\)", text)
    assert colab and binder, "both badges"
    assert colab.group(2) == unquote(binder.group(2)) == f"notebooks/{path.name}"
    assert colab.group(1) == binder.group(1)
    setup = "".join(json.loads(path.read_text())["cells"][1]["source"])
    assert f"github.com/{colab.group(1)}" in setup, "Colab clones the repository the badges name"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_setup_installs_only_what_colab_lacks(path):
    """The Colab branch clones (unless the course is there), puts the clone on sys.path
    (an editable install is invisible before a restart) and calls browserml.colab.setup,
    which installs with --no-deps; it never resolves against the lock, which would
    replace Colab's TensorFlow, numpy or widgets; and it needs no npm."""
    setup = "".join(json.loads(path.read_text())["cells"][1]["source"])
    branch = setup.split('if "google.colab" in sys.modules:')[1].split("\nimport browserml")[0]
    assert "if not os.path.isdir(home)" in branch and "sys.path.insert(0, home)" in branch
    assert "colab.setup(home" in branch
    for forbidden in ("requirements.lock", "-e ", "npm ci", "npm install", "%pip", "--upgrade"):
        assert forbidden not in branch, f"the Colab branch must not run {forbidden!r}"
    assert setup.index("import browserml") < setup.index("import numpy"), "browserml first: quiet TensorFlow"


def test_colab_setup_pins_come_from_the_locks():
    from browserml import colab

    pins = colab._pins(ROOT)
    for name in colab.COLAB_LACKS:
        assert "==" in pins[name], f"{name} is not pinned in requirements.lock / requirements-nodeps.txt"
    assert pins["tensorflowjs"] == "tensorflowjs==4.22.0"


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            pins[line.split("==")[0].strip().lower().replace("_", "-")] = line.strip()
    return pins


def test_binder_builds_the_same_environment():
    """environment.yml holds every pin of the lock inline (no -r / -e: Binder then caches
    the environment layer across code changes); postBuild adds tensorflowjs --no-deps,
    browserml and the npm packages. The TF.js bundle ships in the package."""
    env = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.1[123]\s*$", env, flags=re.M) and re.search(r"- nodejs=\d+", env)
    assert "-r " not in env and "-e " not in env, "a local file in environment.yml defeats Binder's layer cache"
    inline = set(re.findall(r'^\s+- "([^"]+)"$', env, flags=re.M))
    assert inline == set(_lock_pins().values()), "environment.yml is stale: run `make lock`"
    post = (ROOT / "postBuild").read_text()
    assert os.access(ROOT / "postBuild", os.X_OK), "Binder only runs an executable postBuild"
    assert "--no-deps -r requirements-nodeps.txt" in post and "--no-deps -e ." in post and "npm ci" in post


def test_the_lock_is_one_set_for_three_pythons():
    """One universal lock: the same pins on 3.11-3.13 (a marker may only pick by OS), with
    TensorFlow 2.21, and without what the project never uses."""
    pins = _lock_pins()
    for needed in ("jupyterlab", "ipywidgets", "anywidget", "tensorflow", "tf-keras", "nbval"):
        assert needed in pins, f"{needed} is not pinned"
    assert pins["tensorflow"].startswith("tensorflow==2.21") and pins["tf-keras"].startswith("tf-keras==2.21")
    for never in ("tensorflowjs", "tensorflow-decision-forests", "ydf", "jax", "jaxlib", "flax", "optax",
                  "orbax-checkpoint"):
        assert never not in pins, f"{never} must not be in the lock"
    names = [line.split("==")[0] for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line]
    assert len(names) == len(set(names)), "a package pinned twice: a different version per Python"
    assert 'requires-python = ">=3.11"' in (ROOT / "pyproject.toml").read_text()


def test_the_committed_tfjs_bundle_is_current(tmp_path):
    """Colab and pip installs use the committed bundle and page module; each must be what
    build.mjs makes from package-lock.json's TF.js and browserml/js/runtime/ today."""
    if shutil.which("node") is None or not (ROOT / "node_modules" / "esbuild").is_dir():
        pytest.fail("needs Node and `npm ci` (make setup) to rebuild the bundle")
    from browserml.inbrowser.bundle import DIST_FILES, build_dist, dist_dir
    from browserml.pages import PAGE_MODULE

    build_dist(tmp_path)
    for name in (*DIST_FILES, PAGE_MODULE):
        assert (tmp_path / name).read_bytes() == (dist_dir() / name).read_bytes(), f"{name} is stale: run `make bundle`"


@pytest.mark.slow
def test_a_lesson_runs_where_there_is_no_chromium(tmp_path):
    """Binder and Colab have Node but no Chromium: lesson 1 must still run top to bottom,
    checking in Node and saying in words what it skipped. (Its second run per `make test`:
    the other, in JupyterLab with Chromium and the in-page runtime, is in
    test_browser_runtime.py; the kernel's environment differs, so one run cannot be both.)"""
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "01_ops_api_polynomial.ipynb", as_version=4)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TF_")},  # as a learner's kernel starts
           "BROWSERML_CHROMIUM": str(tmp_path / "no-chromium"), "BROWSERML_BROWSER_RUNTIME": "off",
           "PYTHONPATH": str(ROOT)}
    script = (
        "import nbformat, nbclient, sys\n"
        f"nb = nbformat.read({str(ROOT / 'notebooks' / '01_ops_api_polynomial.ipynb')!r}, as_version=4)\n"
        f"nbclient.NotebookClient(nb, timeout=300, kernel_name='python3', resources={{'metadata': {{'path': "
        f"{str(ROOT / 'notebooks')!r}}}}}).execute()\n"
        f"nbformat.write(nb, {str(tmp_path / 'out.ipynb')!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Chromium is not installed here" in text
    from browserml.notebooks import log_noise

    assert not log_noise(text), "quiet: no TensorFlow C++ logs, YDF advert or HDF5 warnings in any output"
    assert re.search(r"^node\s+wasm\s+max", text, flags=re.M), "still checked in Node"
    assert not re.search(r"^chromium\s+\w+\s+max", text, flags=re.M), "no Chromium row"
    assert len(nb.cells) == len(out.cells)
