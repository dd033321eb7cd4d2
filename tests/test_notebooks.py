"""Every notebook is stored clean and follows the house shape.

(Executing them is `pytest --nbval-lax notebooks/`, which `make test` runs too; lesson 1
runs once, in headless JupyterLab, where tests/test_browser_runtime.py checks every cell
and its in-page parity: tests/conftest.py, NOTEBOOKS_RUN_BY_A_TEST.)
"""

import json
import re
from pathlib import Path

import pytest

from browserml.notebooks import canonical_text, clean, is_clean

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds the lessons"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs_in_canonical_form(path):
    assert is_clean(path), f"{path.name} is dirty or not canonical: run `make nbclean`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_the_house_shape(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    text = ["".join(c["source"]) for c in cells]
    md = [t for c, t in zip(cells, text) if c["cell_type"] == "markdown"]
    h1 = [line for t in md for line in t.splitlines() if re.match(r"^# ", line)]
    assert len(h1) == 1 and text[0].startswith("# "), "one H1, in the first cell"
    assert "colab-badge.svg" in text[0] and "mybinder.org" in text[0], "Colab and Binder badges"
    assert "What you will learn" in text[0]
    setup = next(t for c, t in zip(cells, text) if c["cell_type"] == "code")
    assert '"google.colab" in sys.modules' in setup and "colab.setup(home" in setup, "one Setup cell, installs only on Colab"
    assert sum("colab.setup(" in t for t in text) == 1, "installing happens in the Setup cell only"
    assert "seed_everything" in setup
    pips = [t for c, t in zip(cells, text) if c["cell_type"] == "code" and ("pip install" in t or "!pip" in t)]
    assert not pips, "no cell runs pip itself: browserml.colab installs, --no-deps, only what Colab lacks"
    headings = [line for t in md for line in t.splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Exercises", "## Summary"], "ends with Exercises then a Summary"
    order = "\n".join(text)
    assert order.index("App(") < order.index("check_parity(") < order.index("## Exercises"), \
        "widget, then the export checked in TF.js, then exercises"
    exercise_code = "\n".join(t for c, t in zip(cells, text) if c["cell_type"] == "code"
                              and order.index(t) > order.index("## Exercises"))
    assert exercise_code.count(".check_") >= 2, "exercises have automatic checks"


def test_cleaning_is_idempotent_and_strips_outputs():
    nb = {"cells": [{"cell_type": "code", "source": "1", "outputs": [{"output_type": "stream"}],
                     "execution_count": 3, "metadata": {"scrolled": True}, "id": "x"}],
          "metadata": {"widgets": {"state": {}}, "kernelspec": {"name": "python3"}}, "nbformat": 4,
          "nbformat_minor": 5}
    once = clean(nb)
    assert once["cells"][0]["outputs"] == [] and once["cells"][0]["execution_count"] is None
    assert "widgets" not in once["metadata"] and once["cells"][0]["metadata"] == {}
    assert canonical_text(clean(once)) == canonical_text(once)
