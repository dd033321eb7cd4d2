"""Run an export in real TF.js and measure how far it is from Python.

"Never trust an export until real TF.js has run it." This module runs any browserml
export folder in two real runtimes:

- **Node**: npm ``@tensorflow/tfjs`` 4.22 (pure JS, ``cpu``) and
  ``@tensorflow/tfjs-backend-wasm`` (``wasm``), through ``js/run_export.cjs``;
- **headless Chromium** (Debian ``chromium`` driven by Playwright), loading the
  model with TF.js's stock HTTP loader from a page served on 127.0.0.1
  (``cpu``, ``wasm``, and ``webgl`` where the browser has it).

Both feed the export's parity inputs (or yours) and return outputs, backend, median
latency and the live tensor count. :func:`check_parity` turns that into the max
absolute difference against the Python outputs stored in ``browserml.json``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.export import ExportError, read_export, read_manifest
from browserml.paths import JS_DIR, node_modules_dir
from browserml.serve import serve

NODE_BACKENDS = ("cpu", "wasm")
CHROMIUM_BACKENDS = ("cpu", "wasm", "webgl")
DEFAULT_RUNTIMES: tuple[tuple[str, str], ...] = (("node", "cpu"), ("node", "wasm"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


class TfjsRuntimeError(RuntimeError):
    """TF.js could not run an export (missing runtime, load failure, bad inputs)."""


class TfjsUnavailableError(TfjsRuntimeError, BadInput):
    """Node.js or Chromium is not installed here: the learner's setup to fix, not a bug."""


@dataclass(frozen=True)
class RuntimeResult:
    """What one TF.js runtime produced for an export."""

    runtime: str
    backend: str
    outputs: dict[str, np.ndarray]
    latency_ms: float
    tfjs_version: str
    num_tensors_before: int
    num_tensors_after: int
    scores: np.ndarray | None = None

    @classmethod
    def from_json(cls, runtime: str, data: Mapping[str, Any]) -> RuntimeResult:
        outputs = {k: np.asarray(v["data"], dtype=np.float64).reshape(v["shape"]) for k, v in data["outputs"].items()}
        scores = None if data.get("scores") is None else np.asarray(data["scores"], dtype=np.float64)
        return cls(runtime, data["backend"], outputs, float(data["latency_ms"]), data["tfjs_version"],
                   int(data["num_tensors_before"]), int(data["num_tensors_after"]), scores)


@dataclass(frozen=True)
class ParityReport:
    """How far one runtime's outputs are from Python's, and how fast it ran."""

    runtime: str
    backend: str
    max_abs_diff: float
    tolerance: float
    latency_ms: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_abs_diff) and self.max_abs_diff <= self.tolerance)

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        return (f"{self.runtime:9s} {self.backend:6s} max|Δ|={self.max_abs_diff:.2e} "
                f"(tol {self.tolerance:.0e}) {self.latency_ms:8.3f} ms  {verdict}")


def max_abs_diff(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> float:
    """Largest absolute difference over all named outputs; shapes must match exactly."""
    if set(expected) != set(actual):
        raise TfjsRuntimeError(f"output names differ: expected {sorted(expected)}, got {sorted(actual)}")
    worst = 0.0
    for name, want in expected.items():
        want_arr, got_arr = np.asarray(want, dtype=np.float64), np.asarray(actual[name], dtype=np.float64)
        if want_arr.shape != got_arr.shape:
            raise TfjsRuntimeError(f"output {name!r}: shape {got_arr.shape} != expected {want_arr.shape}")
        if want_arr.size:
            diff = np.abs(want_arr - got_arr)
            worst = max(worst, float(np.nanmax(diff)) if not np.isnan(diff).any() else float("inf"))
    return worst


def _checked_export(export_dir: str | Path) -> Path:
    """The export folder, resolved, after the safe readers accept its model.json and
    browserml.json and find that the one describes the other: unsafe, broken or
    self-contradicting folders are refused before any JS sees them."""
    export_dir = Path(export_dir).resolve()
    if not export_dir.is_dir():
        raise ExportError(f"{export_dir}: no such folder" if not export_dir.exists() else
                          f"{export_dir}: a file, not an export folder")
    read_export(export_dir)
    return export_dir


def _inputs_json(inputs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if inputs is None:
        return None
    return {k: np.asarray(v, dtype=np.float64).tolist() for k, v in inputs.items()}


# --------------------------------------------------------------------------- Node


def node_executable() -> str:
    """Path of ``node``, or a clear error naming the fix."""
    node = shutil.which("node")
    if node is None:
        raise TfjsUnavailableError("Node.js is not installed; `make setup` needs `node` and `npm` on PATH.")
    return node


def run_node_script(
    script: str,
    args: Sequence[Any] = (),
    timeout_s: float = 180,
    payload: Any = None,
    payload_flag: str = "--config",
) -> dict[str, Any]:
    """Run one of browserml's Node scripts (``browserml/js/``) and parse the JSON line it prints.

    ``payload`` (any JSON-able value, e.g. data and settings) is written to a temporary
    file passed as ``payload_flag FILE``: data too large for a command line.
    The scripts resolve ``@tensorflow/tfjs`` through ``NODE_PATH`` set to the project's
    ``node_modules``, so they work wherever the package is imported from.
    """
    with tempfile.TemporaryDirectory() as tmp:
        args = [*map(str, args)]
        if payload is not None:
            path = Path(tmp) / "payload.json"
            path.write_text(json.dumps(payload))
            args += [payload_flag, str(path)]
        env = dict(os.environ, NODE_PATH=str(node_modules_dir()))
        cmd = [node_executable(), str(JS_DIR / script), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        said = [line for line in proc.stderr.splitlines() if line.startswith("browserml ")]
        detail = said[0] if said else "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise TfjsRuntimeError(f"TF.js (Node) failed running {script} {' '.join(map(str, args))}: {detail}")
    return json.loads(lines[-1])


def run_in_node(
    export_dir: str | Path,
    backend: str = "cpu",
    inputs: Mapping[str, Any] | None = None,
    repeats: int = 1,
    timeout_s: float = 180,
    raw: bool = False,
) -> RuntimeResult:
    """Run an export in ``@tensorflow/tfjs`` under Node on ``cpu`` or ``wasm``.

    With ``raw=True`` the inputs are raw values, and the JS applies the export's own
    ``browserml.json`` preprocessing (and computes its ``score``, if it declares one).
    """
    if backend not in NODE_BACKENDS:
        raise ValueError(f"Node backend must be one of {NODE_BACKENDS}, got {backend!r}")
    export_dir = _checked_export(export_dir)
    args = ["--dir", str(export_dir), "--backend", backend, "--repeats", str(int(repeats)),
            "--raw", "1" if raw else "0"]
    data = run_node_script("run_export.cjs", args, timeout_s, payload=_inputs_json(inputs), payload_flag="--inputs")
    return RuntimeResult.from_json("node", data)


# --------------------------------------------------------------------------- Chromium


def chromium_executable() -> str:
    """Path of Debian's Chromium (never a downloaded browser), or a clear error."""
    path = os.environ.get("BROWSERML_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        raise TfjsUnavailableError(
            f"Chromium not found at {path}. `make setup` installs Debian's `chromium`; "
            "set BROWSERML_CHROMIUM to use another build. browserml never downloads a browser."
        )
    return path


def launch_chromium(playwright: Any) -> Any:
    """Launch headless Debian Chromium with the flags that keep it off the network."""
    return playwright.chromium.launch(executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS)


def in_worker_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` in a fresh thread: Playwright's sync API refuses to run inside the
    asyncio loop that a Jupyter kernel runs cells in, but works from another thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


@contextlib.contextmanager
def _served_browser(mounts: Mapping[str, Path]) -> Iterator[tuple[str, Any]]:
    """Serve ``mounts`` on 127.0.0.1 and launch headless Chromium; yield ``(base_url, browser)``."""
    from playwright.sync_api import sync_playwright

    with serve(mounts) as base, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            yield base, browser
        finally:
            browser.close()


def _chromium_runs(
    export_dir: Path, backends: Sequence[str], inputs: Any, repeats: int, timeout_s: float
) -> list[dict]:
    mounts = {"/node_modules/": node_modules_dir(), "/browserml/": JS_DIR, "/export/": export_dir}
    results = []
    with _served_browser(mounts) as (base, browser):
        for backend in backends:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, sink=errors: sink.append(str(exc)))  # this page's own list
            page.goto(f"{base}/browserml/harness.html", timeout=timeout_s * 1000)
            page.wait_for_function("typeof window.browsermlHarness === 'function'", timeout=timeout_s * 1000)
            try:
                data = page.evaluate(
                    "cfg => window.browsermlHarness(cfg)",
                    {"backend": backend, "inputs": inputs, "repeats": repeats},
                )
            except Exception as err:  # playwright.Error: surface the page's own message
                raise TfjsRuntimeError(f"TF.js (Chromium, {backend}) failed: {err} {errors}") from err
            results.append(data)
            page.close()
    return results


def run_in_chromium(
    export_dir: str | Path,
    backends: Sequence[str] = ("cpu", "wasm"),
    inputs: Mapping[str, Any] | None = None,
    repeats: int = 1,
    timeout_s: float = 120,
) -> list[RuntimeResult]:
    """Run an export in headless Chromium on each backend (one browser, a page each)."""
    unknown = set(backends) - set(CHROMIUM_BACKENDS)
    if unknown:
        raise ValueError(f"unknown Chromium backends {sorted(unknown)}; choose from {CHROMIUM_BACKENDS}")
    export_dir = _checked_export(export_dir)
    chromium_executable()
    raw = in_worker_thread(_chromium_runs, export_dir, list(backends), _inputs_json(inputs), int(repeats), timeout_s)
    return [RuntimeResult.from_json("chromium", r) for r in raw]


# --------------------------------------------------------------------------- parity


def run_everywhere(
    export_dir: str | Path,
    runtimes: Iterable[tuple[str, str]] = DEFAULT_RUNTIMES,
    inputs: Mapping[str, Any] | None = None,
    repeats: int = 1,
) -> list[RuntimeResult]:
    """Run an export on each ``(runtime, backend)`` pair; Chromium pairs share one browser."""
    pairs = list(runtimes)
    results: dict[tuple[str, str], RuntimeResult] = {}
    chromium = [b for r, b in pairs if r == "chromium"]
    if chromium:
        for res in run_in_chromium(export_dir, chromium, inputs, repeats):
            results[("chromium", res.backend)] = res
    for runtime, backend in pairs:
        if runtime == "node":
            results[(runtime, backend)] = run_in_node(export_dir, backend, inputs, repeats)
        elif runtime != "chromium":
            raise ValueError(f"unknown runtime {runtime!r}; choose 'node' or 'chromium'")
    return [results[p] for p in pairs]


def check_parity(
    export_dir: str | Path,
    runtimes: Iterable[tuple[str, str]] = DEFAULT_RUNTIMES,
    repeats: int = 1,
) -> list[ParityReport]:
    """Run the export's parity sample in each runtime and compare with Python's outputs.

    The export is checked (:func:`browserml.export.read_export`) even when no runtime
    is available, so a broken or self-contradicting folder never passes as "ok"."""
    manifest = read_manifest(_checked_export(export_dir))
    expected = manifest.parity_arrays("outputs")
    tolerance = float(manifest.parity["tolerance"])
    return [
        ParityReport(r.runtime, r.backend, max_abs_diff(expected, r.outputs), tolerance, r.latency_ms)
        for r in run_everywhere(export_dir, runtimes, repeats=repeats)
    ]


def assert_parity(
    export_dir: str | Path,
    runtimes: Iterable[tuple[str, str]] = DEFAULT_RUNTIMES,
) -> list[ParityReport]:
    """:func:`check_parity`, raising ``AssertionError`` with the whole table on any failure,
    and when no runtime ran at all (an empty table proves nothing)."""
    reports = check_parity(export_dir, runtimes)
    if not reports:
        raise AssertionError(f"TF.js parity for {export_dir}: no runtime ran, so nothing was checked")
    if not all(r.ok for r in reports):
        raise AssertionError(f"TF.js parity failed for {export_dir}:\n" + "\n".join(map(str, reports)))
    return reports


# --------------------------------------------------------------------------- lesson pages


def _open_page(export_dir: Path, page_path: str, query: str, timeout_s: float, screenshot: Path | None) -> dict:
    mounts = {"/node_modules/": node_modules_dir(), f"/exports/{export_dir.name}/": export_dir}
    with _served_browser(mounts) as (base, browser):
        page = browser.new_page()
        page.goto(f"{base}/exports/{export_dir.name}/{page_path}{query}", timeout=timeout_s * 1000)
        page.wait_for_function("window.browsermlResult !== undefined", timeout=timeout_s * 1000)
        result = page.evaluate("window.browsermlResult")
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
    return result


def _checked_page_folder(export_dir: str | Path) -> Path:
    """A page's folder: an export itself, or a folder of exports (one per variant, as
    lesson 4's ``base/``, ``float16/``, ``uint8/``), each accepted by the safe readers."""
    folder = Path(export_dir).resolve()
    if (folder / "model.json").exists():
        return _checked_export(folder)
    variants = sorted(d for d in folder.iterdir() if (d / "model.json").is_file()) if folder.is_dir() else []
    if not variants:
        raise FileNotFoundError(f"{folder} holds no model.json, neither itself nor in a sub-folder")
    for variant in variants:
        _checked_export(variant)
    return folder


def run_export_page(
    export_dir: str | Path,
    page_path: str = "index.html",
    backend: str | None = None,
    timeout_s: float = 120,
    screenshot: str | Path | None = None,
    params: Mapping[str, str | int | float] | None = None,
) -> dict[str, Any]:
    """Open an export's own page in headless Chromium, as a learner would, and return
    the ``window.browsermlResult`` it publishes when done (optionally screenshot it).

    ``params`` are added to the page's query string after ``backend`` (e.g.
    ``{"finetune": 1, "epochs": 15}``), for pages that take options from their URL.

    The page is served exactly as ``make serve`` serves it: the export folder under
    ``/exports/NAME/`` beside ``/node_modules/``, so its relative TF.js paths resolve.
    """
    export_dir = _checked_page_folder(export_dir)
    if not (export_dir / page_path).is_file():
        raise FileNotFoundError(f"{export_dir} has no {page_path}")
    chromium_executable()
    if backend and params and "backend" in params:
        raise ValueError("give the backend either as backend= or in params, not both")
    items = ([("backend", backend)] if backend else []) + [(str(k), str(v)) for k, v in (params or {}).items()]
    query = "?" + urllib.parse.urlencode(items) if items else ""
    shot = Path(screenshot).resolve() if screenshot else None
    result = in_worker_thread(_open_page, export_dir, page_path, query, timeout_s, shot)
    if "error" in result:
        raise TfjsRuntimeError(f"{export_dir / page_path} reported: {result['error']}")
    return result


# --------------------------------------------------------------------------- where Chromium is missing


def has_chromium() -> bool:
    """Whether headless Chromium checks can run here (Debian ``chromium`` + Python playwright).

    Binder and Colab have Node but no system Chromium, and browserml never downloads one;
    there the notebooks check exports in Node and in the learner's own browser instead.
    """
    try:
        chromium_executable()
        import playwright  # noqa: F401
    except (TfjsRuntimeError, ImportError):
        return False
    return True


def has_node() -> bool:
    """Whether Node checks can run here: ``node`` on PATH and TF.js in ``node_modules``.

    Colab has neither Node nor ``npm ci``'s TF.js; there every export is checked in the
    learner's own page instead (``run_in_browser``)."""
    if shutil.which("node") is None:
        return False
    try:
        node_modules_dir()
    except FileNotFoundError:
        return False
    return True


def available_runtimes(wanted: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``wanted`` minus the runtimes this machine lacks, saying in words what was skipped.

    A notebook asks for Node and Chromium; Binder has Node but no Chromium, Colab has
    neither. The notebook still checks what it can, and the learner reads why a row is
    absent instead of a traceback."""
    pairs = list(wanted)
    missing = {"chromium": not has_chromium() if any(r == "chromium" for r, _ in pairs) else False,
               "node": not has_node() if any(r == "node" for r, _ in pairs) else False}
    if not any(missing.values()):
        return pairs
    kept = [p for p in pairs if not missing[p[0]]]
    gone = " and ".join(name.capitalize() if name == "chromium" else "Node.js" for name, m in missing.items() if m)
    checking = ", ".join(f"{r}:{b}" for r, b in kept) or "nothing here"
    print(f"{gone} {'are' if ' and ' in gone else 'is'} not installed here, so those checks are skipped (Binder "
          f"has no Chromium; Colab has neither); checking in {checking}. "
          "In a notebook the export still runs in real TF.js in your own page: 'Run it in your own browser'.")
    return kept
