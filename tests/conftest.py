"""Shared fixtures, the test tiers, and the offline guard: no test may reach past loopback.

Three things live here, each in one place:

- **The offline guard.** ``make test`` also runs the suite in a network namespace with
  only loopback up (where the OS allows it); the in-process guard below makes the rule
  hold everywhere else too, and names the culprit when a test tries to download something.
- **The test tiers.** :data:`MODULE_MARKERS`, :data:`FIXTURE_MARKERS` and
  :data:`NOTEBOOK_MARKERS` say which tests are ``slow``, need ``tfjs`` (Node or Chromium
  running an export), ``chromium`` or ``jupyterlab``. ``make test-fast`` (``-m "not slow
  and not chromium"``) is then the unit and widget-state tests only; ``tests/test_tiers.py``
  checks that no notebook and no browser test slips into it. A marker written on a single
  test (``@pytest.mark.slow``) still counts; put new module- or fixture-wide ones here.
- **One JupyterLab.** The ``jupyterlab`` fixture starts one headless JupyterLab and
  Chromium (``tools.labcheck.lab_session``) for the whole run; every test that needs
  JupyterLab uses it (JupyterLab boots once per ``make test``, not once per module).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)

# --------------------------------------------------------------------------- offline

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise OSError(f"browserml tests are offline: connection to {address!r} refused by tests/conftest.py")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def offline() -> Iterator[None]:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


# --------------------------------------------------------------------------- test tiers

SLOW, TFJS, CHROMIUM, JUPYTERLAB = "slow", "tfjs", "chromium", "jupyterlab"

#: Every test of these modules gets these markers.
MODULE_MARKERS: dict[str, tuple[str, ...]] = {
    # headless JupyterLab + Chromium; their few browser-free checks of the tooling ride along
    "test_jupyterlab.py": (CHROMIUM, SLOW),
    # the lessons' in-page glue, checked in JupyterLab (the by-hand page answers ride along)
    "test_lessons_in_browser.py": (CHROMIUM, SLOW),
    # each lesson's exported page, opened in headless Chromium
    "test_anomaly_page.py": (TFJS, CHROMIUM),
    "test_handtrack_page.py": (TFJS, CHROMIUM, SLOW),
    "test_playground_page.py": (TFJS, CHROMIUM),
    # EfficientNet-Lite0 exported and run in TF.js (Node; two tests also Chromium)
    "test_imagesearch_export.py": (TFJS, SLOW),
    # the TF.js runners themselves, in Node (one test also Chromium, marked on it)
    "test_tfjs_runtimes.py": (TFJS,),
}

#: Every test that uses one of these fixtures (itself or through another fixture) gets
#: these markers: the fixtures that start a browser or take long to build.
FIXTURE_MARKERS: dict[str, tuple[str, ...]] = {
    "jupyterlab": (JUPYTERLAB, CHROMIUM, SLOW),  # below: the session's one JupyterLab
    "chromium_pages": (TFJS, CHROMIUM),  # test_browser_runtime.py: a harness page in Chromium
    "intro_pages": (TFJS, CHROMIUM),  # test_widgets_intro.py: lesson 0's front end and the bundle in Chromium
    "reconverted": (TFJS, SLOW),  # test_handtrack_graph.py: reconverts handtrack.js's graphs
    "wheel": (SLOW,),  # test_install.py: builds and installs the wheel in a fresh venv
}

#: Every notebook cell that ``pytest --nbval-lax notebooks`` collects: a whole lesson
#: runs, with its exports checked in Node and Chromium.
NOTEBOOK_MARKERS: tuple[str, ...] = (TFJS, CHROMIUM, SLOW)

#: Notebooks that a test already runs top to bottom in JupyterLab, where every cell must
#: run (as nbval checks) and more is asserted: nbval skips them when that test runs too,
#: so each runs once per ``make test``.
NOTEBOOKS_RUN_BY_A_TEST: dict[str, str] = {
    "01_ops_api_polynomial.ipynb": "test_lesson1_notebook_itself_runs_in_its_own_page",
}


def tier_markers(item: pytest.Item) -> set[str]:
    """The markers the tables above give ``item`` (on top of those written on the test)."""
    path = Path(str(item.path))
    if path.suffix == ".ipynb":
        return set(NOTEBOOK_MARKERS)
    names = set(MODULE_MARKERS.get(path.name, ()))
    for fixture in getattr(item, "fixturenames", ()):
        names.update(FIXTURE_MARKERS.get(fixture, ()))
    return names


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> Iterator[None]:
    for item in items:  # before -m and -k select: they see these markers
        for name in sorted(tier_markers(item) - {m.name for m in item.iter_markers()}):
            item.add_marker(name)
    yield
    # after -m and -k: skip a notebook's nbval cells when its JupyterLab test also runs
    running = {getattr(item, "originalname", item.name) for item in items}
    covered = [item for item in items if Path(str(item.path)).suffix == ".ipynb"
               and NOTEBOOKS_RUN_BY_A_TEST.get(Path(str(item.path)).name) in running]
    if covered:
        config.hook.pytest_deselected(items=covered)
        items[:] = [item for item in items if item not in covered]


#: What nbval's kernels see: no page will ever say hello to their in-page runtime, so
#: it is switched off and each in-page cell answers at once with its fallback (Python's
#: numbers, or Node for ``%%tfjs``) instead of waiting 10 s for a page per job.
NBVAL_ENV = {"BROWSERML_BROWSER_RUNTIME": "off"}


class NbvalEnvironment:
    """A plugin (registered for the whole session, since a hook in this conftest would only
    see tests under tests/): before a notebook's first cell starts its kernel, set
    :data:`NBVAL_ENV`; before any other test, put the environment back as it was."""

    def __init__(self) -> None:
        self.before: dict[str, str | None] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if Path(str(item.path)).suffix == ".ipynb":
            for name, value in NBVAL_ENV.items():
                self.before.setdefault(name, os.environ.get(name))
                os.environ[name] = value
            return
        while self.before:
            name, old = self.before.popitem()
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(NbvalEnvironment(), "browserml-nbval-environment")


# --------------------------------------------------------------------------- one JupyterLab

_PLAIN = (type(None), bool, int, float, complex, str, bytes, Path, frozenset, set)


class OnLabThread:
    """``target`` (the lab session, a Playwright page, ...), used from any thread.

    Playwright's sync API ties each object to the thread that made it, and refuses to
    start a second ``sync_playwright`` on a thread that has one (several tests run their
    own Chromium on the main thread). So the session's JupyterLab and its Chromium live
    on one thread of their own, and every attribute read and call on this proxy runs
    there; what comes back is wrapped the same way unless it is plain data.
    """

    __slots__ = ("_lab", "_target")

    def __init__(self, target: Any, lab: SharedLab) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_lab", lab)

    def __getattr__(self, name: str) -> Any:
        return self._lab.wrap(self._lab.run(getattr, self._target, name))

    def __setattr__(self, name: str, value: Any) -> None:
        self._lab.run(setattr, self._target, name, _unwrap(value))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._lab.wrap(self._lab.run(self._target, *_unwrap(args), **_unwrap(kwargs)))

    def __enter__(self) -> Any:
        return self._lab.wrap(self._lab.run(self._target.__enter__))

    def __exit__(self, *exc: Any) -> Any:
        return self._lab.run(self._target.__exit__, *exc)

    def __repr__(self) -> str:
        return f"OnLabThread({self._target!r})"


def _unwrap(value: Any) -> Any:
    if isinstance(value, OnLabThread):
        return object.__getattribute__(value, "_target")
    if type(value) in (list, tuple):
        return type(value)(_unwrap(v) for v in value)
    if type(value) is dict:
        return {k: _unwrap(v) for k, v in value.items()}
    return value


class SharedLab:
    """One ``lab_session`` on a thread of its own (see :class:`OnLabThread`)."""

    def __init__(self, root: Path) -> None:
        from tools.labcheck import lab_session

        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jupyterlab")
        self._thread = self._pool.submit(threading.get_ident).result()
        self._cm = lab_session(root)
        self.session = self.run(self._cm.__enter__)

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == self._thread:
            return fn(*args, **kwargs)
        return self._pool.submit(fn, *args, **kwargs).result()

    def wrap(self, value: Any) -> Any:
        if isinstance(value, _PLAIN):
            return value
        if type(value) in (list, tuple):
            return type(value)(self.wrap(v) for v in value)
        if type(value) is dict:
            return {k: self.wrap(v) for k, v in value.items()}
        module = type(value).__module__ or ""
        if callable(value) or hasattr(value, "__enter__") or module.startswith("playwright") \
                or value is self.session:
            return OnLabThread(value, self)
        return value

    def stop_kernels(self, timeout_s: float = 10) -> None:
        """Shut down every kernel the server still runs (a test's notebook may leave one)."""
        base, token = self.session.base_url, self.session.token
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=timeout_s) as response:
                kernels = json.loads(response.read())
            for kernel in kernels:
                request = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(request, timeout=timeout_s).close()

    def close(self) -> None:
        try:
            self.run(self._cm.__exit__, None, None, None)
        finally:
            self._pool.shutdown()


class LabFixture(OnLabThread):
    """What the ``jupyterlab`` fixture gives: the :class:`~tools.labcheck.LabSession`
    (used as is: ``lab.open_notebook(...)``, ``check_lesson(lab, ...)``), plus ``call`` and
    ``folder`` for tests that drive the session in one go or need a folder of their own."""

    __slots__ = ()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(session, *args, **kwargs)`` on the session's thread, with the real session."""
        lab = object.__getattribute__(self, "_lab")
        return lab.run(fn, lab.session, *args, **kwargs)

    def folder(self, name: str) -> Path:
        """A new, empty folder under the server root, for a test's own notebooks and files
        (a notebook's kernel starts in its folder; open it as ``folder.relative_to(lab.root)``)."""
        lab = object.__getattribute__(self, "_lab")
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=lab.root))


_shared_lab: SharedLab | None = None


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabFixture]:
    """The run's one headless JupyterLab + Chromium (server root: a temporary folder)."""
    global _shared_lab
    pytest.importorskip("playwright")
    from browserml.tfjs_check import TfjsRuntimeError, chromium_executable

    try:
        chromium_executable()
    except TfjsRuntimeError as err:
        pytest.skip(str(err))
    _shared_lab = SharedLab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield LabFixture(_shared_lab.session, _shared_lab)
    finally:
        lab, _shared_lab = _shared_lab, None
        lab.close()


@pytest.fixture(autouse=True)
def _lab_kernels_stopped(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each JupyterLab test, no kernel is left running (each holds a TensorFlow)."""
    yield
    if _shared_lab is not None and "jupyterlab" in request.fixturenames:
        _shared_lab.stop_kernels()


# --------------------------------------------------------------------------- small models


@pytest.fixture(scope="session")
def dense_model():
    """A small tf_keras MLP with fixed weights (4 -> 8 relu -> 3)."""
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    inp = tf_keras.Input((4,), name="features")
    hidden = tf_keras.layers.Dense(8, activation="relu", name="hidden")(inp)
    out = tf_keras.layers.Dense(3, name="scores")(hidden)
    return tf_keras.Model(inp, out)


@pytest.fixture(scope="session")
def parity_batch() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)


@pytest.fixture(scope="session")
def exports(tmp_path_factory, dense_model, parity_batch) -> dict[str, Path]:
    """One export of each kind, made once per session: layers float32, layers uint8,
    layers float16 and a graph model (the lesson-1 polynomial)."""
    from browserml import polyfit as pf
    from browserml.export import export_layers_model

    root = tmp_path_factory.mktemp("exports")
    made = {}
    for quant in (None, "uint8", "float16"):
        name = f"layers_{quant or 'float32'}"
        made[name] = export_layers_model(
            dense_model, root / name, task="test-mlp", parity_inputs={"features": parity_batch},
            quantization=quant, labels=["a", "b", "c"],
        )
    made["graph"] = pf.export_polynomial([0.5, -1.25, 0.75], root / "polynomial")
    return made
