"""The fast tier stays fast: ``make test-fast`` (``-m "not slow and not chromium"``) runs
no notebook, no browser and no JupyterLab.

The markers come from one table in tests/conftest.py; these tests hold it to that promise
with their own list of what must never be fast, so a new browser module or fixture that
the table forgets shows up here.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FAST = "not slow and not chromium"  # the Makefile's test-fast
#: Test modules in which every test opens JupyterLab or a page in Chromium (or rides along).
BROWSER_MODULES = {"test_jupyterlab.py", "test_lessons_in_browser.py", "test_anomaly_page.py",
                   "test_handtrack_page.py", "test_playground_page.py"}
#: Fixtures that start JupyterLab or Chromium.
BROWSER_FIXTURES = {"jupyterlab", "chromium_pages", "intro_pages"}
#: Code in a test's own body that starts a browser or JupyterLab.
BROWSER_CALLS = ("sync_playwright(", "launch_chromium(", "lab_session(")


def is_fast(item: pytest.Item) -> bool:
    return not {m.name for m in item.iter_markers()} & {"slow", "chromium"}


def why_not_fast(item: pytest.Item) -> str | None:
    """Why ``item`` must not be in the fast tier, or ``None``."""
    path = Path(str(item.path))
    if path.suffix == ".ipynb":
        return "a notebook"
    if path.name in BROWSER_MODULES:
        return f"from {path.name}"
    used = BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
    if used:
        return f"uses {sorted(used)}"
    function = getattr(item, "function", None)
    if function is not None:
        source = inspect.getsource(function)
        calls = [c for c in BROWSER_CALLS if c in source]
        if calls:
            return f"calls {calls}"
    return None


def test_nothing_in_this_run_that_is_fast_opens_a_browser_or_a_notebook(request):
    """Every test this run collected (after the tier markers were applied): those the fast
    tier would run are neither notebooks nor browser tests. Costs nothing; under ``make test``
    it sees the whole suite and the notebooks."""
    wrong = [f"{item.nodeid}: {why}" for item in request.session.items
             if is_fast(item) and (why := why_not_fast(item))]
    assert not wrong, "in the fast tier but must not be:\n" + "\n".join(wrong)


def test_the_tier_table_marks_browser_modules_fixtures_and_notebooks():
    """conftest.tier_markers on stand-in items: by module, by fixture (also through another
    fixture: item.fixturenames is the closure), and every notebook cell."""
    from conftest import tier_markers

    class Item:
        def __init__(self, path: str, fixturenames: tuple[str, ...] = ()):
            self.path, self.fixturenames = ROOT / path, fixturenames

    assert {"chromium", "slow"} <= tier_markers(Item("tests/test_jupyterlab.py"))
    assert {"chromium", "slow"} <= tier_markers(Item("tests/test_lessons_in_browser.py", ("ae",)))
    assert {"jupyterlab", "chromium", "slow"} <= tier_markers(Item("tests/test_browser_runtime.py",
                                                                  ("tmp_path", "jupyterlab")))
    assert "chromium" in tier_markers(Item("tests/test_browser_runtime.py", ("chromium_pages",)))
    assert {"slow", "chromium"} <= tier_markers(Item("notebooks/01_ops_api_polynomial.ipynb"))
    assert tier_markers(Item("tests/test_polyfit.py", ("quad",))) == set()


@pytest.mark.slow
def test_make_test_fast_collects_no_notebook_and_no_browser_test():
    """What `make test-fast` would run, collected in a fresh pytest with the notebooks
    offered too (as `make test` offers them): none of them, and no browser test."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "--nbval-lax",
         "-m", FAST, "tests", "notebooks"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(ids) > 300, done.stdout[-2000:]
    assert not [i for i in ids if i.split("::")[0].endswith(".ipynb")], "a notebook in the fast tier"
    browser = [i for i in ids if Path(i.split("::")[0]).name in BROWSER_MODULES]
    assert not browser, browser[:10]
    deselected = done.stdout.strip().splitlines()[-1]
    assert "deselected" in deselected, deselected
