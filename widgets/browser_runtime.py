"""Run a browserml export in TF.js inside the learner's own notebook page, beside Python.

The lessons prove every export in Node and headless Chromium (:mod:`browserml.tfjs_check`).
This module closes the loop in the notebook itself: the page the learner is looking at
loads TF.js (no CDN: the bundle ``make setup`` builds into ``browserml/js/dist/``), runs
the export on ``wasm``, ``cpu`` and ``webgl``, and sends outputs, latency and the live
tensor count back to the kernel, where they are compared with Python's.

One-call use in a lesson (what the notebooks are meant to do)::

    from widgets.browser_runtime import run_in_browser
    view = run_in_browser(export_dir)          # parity inputs from browserml.json
    view                                       # status line, then a table and a chart

    # a later cell, to use the numbers in Python (top-level await: see below)
    run = await view.job
    if run.answered:                           # a page ran it (under nbval none does)
        assert run.ok, run.table()

Lower level::

    rt = BrowserRuntime()                      # one per page is enough; it is shared
    job = rt.run(export_dir, inputs={"x": xs}, reference=lambda d: np.polyval(c, d["x"]),
                 backends=("wasm", "cpu"))
    run = await job                            # a BrowserRun: .table(), .figure(), .parity()
    fit = await rt.fit(export_dir, x, y, epochs=5, batch_size=32)
    clone = clone_with_weights(model, fit.weights)

How results reach the kernel, and why ``await``: the page answers with a comm message,
and the kernel only reads comm messages while its event loop is free. A cell that
blocks (``while not job.done(): time.sleep(...)``) never sees the answer, and there is
nothing to poll: ipykernel 7 has no ``do_one_iteration``; a shell-channel thread hands
each message to the main thread's asyncio loop, which the blocking cell is holding.
ipykernel 7.4 (pinned in requirements.lock) dispatches comm messages while a cell
*awaits*, so ``run = await job`` in a cell works, even under "Run All" with later
cells queued (checked in headless JupyterLab by tests/test_browser_runtime.py). On
older kernels ``await job`` returns at once with the job still pending rather than
waiting in vain. :meth:`BrowserRuntime.on_result` callbacks and the ``result``
property work everywhere: they fill in as soon as the kernel is free (between cells).
``job.result(timeout)`` blocks, so it is for scripts and tests, not notebook cells
(there it raises, naming ``await``).

Nothing hangs: the page gives each backend a deadline and answers in words; the kernel
gives the page ``hello_timeout_s`` to say hello (no widget front end at all, as under
nbval or a plain ``python`` process: "no widget front end: fall back to Python") and
each job a deadline. Both kernel-side verdicts are provisional: a page whose messages
were read late by a busy kernel still answers, and its answer replaces them.
``BROWSERML_BROWSER_RUNTIME=off`` skips the browser entirely (e.g. for nbval runs,
which have no front end and would otherwise wait ``hello_timeout_s`` per job).

How TF.js reaches the page (``delivery``): ``"files"`` fetches the bundle from the
Jupyter server's ``/files/`` route (JupyterLab, Notebook 7, Binder; the page's base URL
is honoured); ``"embed"`` has the kernel send it over the widget's comm (VS Code, Colab,
anywhere without that route: about 1.6 MB, once per page, never saved in the notebook);
``"auto"`` (default) tries files, then embed. Models up to ``max_embed_bytes`` travel
with the request; larger ones load from the ``/files/`` route.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as W
import numpy as np
import traitlets

from browserml.compat import kernel_queues_comms_during_cells
from browserml.export import list_shards, read_manifest, read_model_json
from browserml.paths import JS_DIR
from browserml.tfjs_check import max_abs_diff

DIST_DIR = JS_DIR / "dist"
BUNDLE_NAME = "tfjs-bundle.mjs"
WASM_NAMES = ("tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm")
DIST_FILES = (BUNDLE_NAME, *WASM_NAMES)
BACKENDS = ("wasm", "cpu", "webgl")
DELIVERIES = ("auto", "files", "embed")
DEFAULT_MAX_EMBED_BYTES = 16 * 1024 * 1024
OFF_ENV = "BROWSERML_BROWSER_RUNTIME"
NO_FRONT_END = "no widget front end: fall back to Python"
# ipykernel before 7.4 (Colab's 6.17) reads widget messages only between cells.
PAGE_ONLY = ("this kernel reads the page's answer only after a cell ends (ipykernel < 7.4, as on Colab): "
             "your browser's results show in the table above, in the page; Python's checks skip them")
WAITING = "waiting for the browser…"
#: Python's own computation of an export's outputs from ``{input name: array}``.
Reference = Callable[[dict[str, np.ndarray]], Any]
_ESM = (Path(__file__).with_name("browser_runtime.js")).read_text(encoding="utf-8")


class BrowserRuntimeError(RuntimeError):
    """The in-page runtime cannot do what was asked (missing bundle, bad request)."""


# --------------------------------------------------------------------------- the bundle


def dist_dir() -> Path:
    """Where ``make setup`` puts the bundle (``BROWSERML_TFJS_DIST`` overrides it)."""
    override = os.environ.get("BROWSERML_TFJS_DIST")
    return Path(override).resolve() if override else DIST_DIR


def build_dist(folder: str | Path | None = None, timeout_s: float = 120) -> Path:
    """Build the bundle with the project's esbuild (what ``make setup`` runs): ~1.5 s."""
    import shutil
    import subprocess

    folder = Path(folder) if folder is not None else dist_dir()
    node = shutil.which("node")
    script = JS_DIR / "runtime" / "build.mjs"
    if node is None:
        raise BrowserRuntimeError("Node.js is not installed, so the in-page TF.js bundle cannot be built.")
    proc = subprocess.run([node, str(script), "--out", str(folder)], capture_output=True, text=True,
                          timeout=timeout_s, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise BrowserRuntimeError(f"building the in-page TF.js bundle failed ({script}): {tail}")
    return folder


def check_dist(folder: str | Path | None = None, build_if_missing: bool = False) -> Path:
    """The dist folder, after checking the bundle and both wasm binaries are there.

    With ``build_if_missing`` (and the default folder), a missing bundle is built on
    the spot when Node and the project's ``node_modules`` are there (e.g. Colab after
    ``npm ci``); otherwise the error names the command that builds it.
    """
    default = folder is None
    folder = Path(folder) if folder is not None else dist_dir()
    missing = [name for name in DIST_FILES if not (folder / name).is_file()]
    if missing and build_if_missing and default:
        try:
            build_dist(folder)
        except (BrowserRuntimeError, OSError, TimeoutError):
            pass  # fall through to the message below, which says what to run
        missing = [name for name in DIST_FILES if not (folder / name).is_file()]
    if missing:
        raise BrowserRuntimeError(
            f"the in-page TF.js bundle is missing ({', '.join(missing)} not in {folder}). "
            "Run `make setup`, or `node browserml/js/runtime/build.mjs` after `npm ci`."
        )
    return folder


_BUNDLE_IDS: dict[tuple[str, int, int], str] = {}


def bundle_id(folder: Path) -> str:
    """A short content hash of the bundle: the page caches TF.js under it, so a rebuilt
    bundle is never confused with the one already evaluated in a long-lived page."""
    path = folder / BUNDLE_NAME
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _BUNDLE_IDS:
        _BUNDLE_IDS[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _BUNDLE_IDS[key]


def browser_runtime_off() -> bool:
    return os.environ.get(OFF_ENV, "").strip().lower() in {"off", "0", "false", "no"}


# --------------------------------------------------------------------------- pure model


@dataclass
class BackendResult:
    """What one TF.js backend in the page produced (or why it could not)."""

    requested: str
    backend: str | None = None
    outputs: dict[str, np.ndarray] | None = None
    latency_ms: float | None = None
    n_runs: int = 0
    num_tensors_before: int | None = None
    num_tensors_after: int | None = None
    load_ms: float | None = None
    error: str | None = None

    @property
    def leaked(self) -> int | None:
        """Tensors left alive by the timed loop (0 when nothing leaks)."""
        if self.num_tensors_before is None or self.num_tensors_after is None:
            return None
        return self.num_tensors_after - self.num_tensors_before


@dataclass
class ModelPayload:
    """How a model reaches the page: with the request (``embed``) or by URL (``files``)."""

    how: str
    model_json: dict[str, Any] | None
    weights: bytes
    path: str
    nbytes: int


def model_payload(export_dir: str | Path, max_embed_bytes: int = DEFAULT_MAX_EMBED_BYTES) -> ModelPayload:
    """Decide how to ship an export's model: small ones (model.json + shards up to
    ``max_embed_bytes``) go with the request and load from memory in 2-4 ms; larger
    ones load from the Jupyter ``/files/`` route, so the comm never carries them."""
    export_dir = Path(export_dir).resolve()
    model_json = read_model_json(export_dir)  # the safe reader: shards stay in the folder
    shards = list_shards(export_dir)
    json_bytes = (export_dir / "model.json").stat().st_size
    nbytes = json_bytes + sum(s.stat().st_size for s in shards)
    path = str(export_dir / "model.json")
    if nbytes <= max_embed_bytes:
        return ModelPayload("embed", model_json, b"".join(s.read_bytes() for s in shards), path, nbytes)
    return ModelPayload("files", None, b"", path, nbytes)


def _time_callable(fn: Callable[[], Any], min_sample_s: float = 0.002, samples: int = 7) -> float:
    """Median milliseconds per call, timing batches of at least ``min_sample_s``."""
    fn()  # warm-up (tracing, first allocations)
    t0 = time.perf_counter()
    fn()
    single = max(time.perf_counter() - t0, 1e-6)
    per = max(1, min(1000, int(np.ceil(min_sample_s / single))))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(per):
            fn()
        times.append((time.perf_counter() - t0) / per)
    return float(np.median(times) * 1000)


def _as_output_dict(value: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    if isinstance(value, Mapping):
        return {k: np.asarray(v, dtype=np.float64) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and len(names) > 1:
        return {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, value)}
    if hasattr(value, "numpy"):
        value = value.numpy()
    return {names[0]: np.asarray(value, dtype=np.float64)}


@dataclass
class BrowserRun:
    """One request to run an export in the page, and what came back: the testable part.

    ``expected`` are Python's outputs for ``inputs`` (the export's own parity outputs
    when ``inputs`` were not given); without them parity is ``None``, not a guess.
    """

    export_dir: Path
    model_format: str
    manifest_json: dict[str, Any]
    inputs: dict[str, np.ndarray]
    backends: tuple[str, ...]
    tolerance: float
    expected: dict[str, np.ndarray] | None = None
    python_latency_ms: float | None = None
    results: list[BackendResult] = field(default_factory=list)
    error: str | None = None
    status: str = "not sent"
    info: dict[str, Any] = field(default_factory=dict)
    round_trip_s: float | None = None

    # ------------------------------------------------------------------ answers
    def result_for(self, backend: str) -> BackendResult | None:
        return next((r for r in self.results if r.requested == backend), None)

    def parity(self) -> dict[str, float | None]:
        """Max abs difference to Python's outputs, per requested backend (``None`` when
        that backend produced nothing or there is no Python reference)."""
        out: dict[str, float | None] = {}
        for backend in self.backends:
            r = self.result_for(backend)
            if r is None or r.outputs is None or self.expected is None:
                out[backend] = None
                continue
            try:
                out[backend] = max_abs_diff(self.expected, r.outputs)
            except Exception as err:  # names or shapes differ: say so in the table
                r.error = r.error or f"outputs do not match Python's: {err}"
                out[backend] = None
        return out

    def note(self, backend: str) -> str:
        r = self.result_for(backend)
        if self.error and r is None:
            return self.error
        if r is None:
            return "no answer"
        if r.error:
            return r.error
        if r.leaked:
            return f"{r.leaked} tensors leaked"
        if r.backend and r.backend != backend:
            return f"ran on {r.backend}"
        return ""

    def table(self) -> list[dict[str, Any]]:
        """One row per requested backend: parity, page latency and the kernel's latency."""
        parity = self.parity()
        rows = []
        for backend in self.backends:
            r = self.result_for(backend)
            diff = parity[backend]
            rows.append({
                "backend": backend,
                "max_abs_diff": diff,
                "latency_ms": None if r is None else r.latency_ms,
                "python_latency_ms": self.python_latency_ms,
                "n_runs": 0 if r is None else r.n_runs,
                "tensors_leaked": None if r is None else r.leaked,
                "ok": diff is not None and diff <= self.tolerance and not (r and r.leaked),
                "note": self.note(backend),
            })
        return rows

    @property
    def done(self) -> bool:
        return bool(self.results) or self.error is not None

    @property
    def answered(self) -> bool:
        """A page ran the request (rather than the kernel giving up or falling back)."""
        return bool(self.results)

    @property
    def ok(self) -> bool:
        """Every requested backend answered within tolerance and leaked nothing."""
        rows = self.table()
        return bool(rows) and all(r["ok"] for r in rows)

    def summary(self) -> str:
        if self.error and not self.results:
            return self.error
        if not self.results and self.status == PAGE_ONLY:
            return self.status
        parts = []
        for row in self.table():
            if row["max_abs_diff"] is not None and row["latency_ms"] is not None:
                parts.append(f"{row['backend']} {row['latency_ms']:.3f} ms, max|Δ| {row['max_abs_diff']:.1e}")
            elif row["latency_ms"] is not None:
                parts.append(f"{row['backend']} {row['latency_ms']:.3f} ms")
            else:
                parts.append(f"{row['backend']}: {row['note'] or 'no result'}")
        return "; ".join(parts)

    def html(self) -> str:
        """:meth:`table` as the learner reads it: headers in words ("max |Δ| vs Python",
        "latency (ms)"), parity in scientific notation, missing values as "—"."""
        from widgets.common import html_table

        rows = [{k: (f"{v:.2e}" if k == "max_abs_diff" and v is not None else v) for k, v in r.items()}
                for r in self.table()]
        return html_table(rows, fmt="{:.3f}")

    def _repr_html_(self) -> str:
        """A run as a notebook cell's last line: the readable table, not the dataclass."""
        return self.html() if self.results else f"<i>{self.summary()}</i>"

    def figure(self) -> Any:
        """Bars of latency per backend beside the kernel's own, parity in the labels."""
        from browserml.figures import new_figure

        rows = self.table()
        labels = [r["backend"] for r in rows]
        values = [r["latency_ms"] if r["latency_ms"] is not None else 0.0 for r in rows]
        colors = ["tab:blue" if r["ok"] else "tab:red" for r in rows]
        if self.python_latency_ms is not None:
            labels.append("python")
            values.append(self.python_latency_ms)
            colors.append("tab:gray")
        fig = new_figure(5.5, 0.5 + 0.45 * max(1, len(labels)))
        ax = fig.subplots()
        ax.barh(labels, values, color=colors)
        ax.invert_yaxis()
        ax.set_xlabel("latency per call (ms, median)")
        for i, r in enumerate(rows):
            text = r["note"] or (f"max|Δ| {r['max_abs_diff']:.1e}" if r["max_abs_diff"] is not None else "")
            ax.text(values[i], i, " " + text[:40], va="center", fontsize=8)
        ax.set_title(f"{self.export_dir.name}: in this page vs the kernel", fontsize=10)
        return fig


def prepare_run(
    export_dir: str | Path,
    inputs: Mapping[str, Any] | None = None,
    reference: Reference | None = None,
    backends: Iterable[str] = ("wasm", "cpu"),
    python_latency_ms: float | None = None,
) -> BrowserRun:
    """Check an export and build the request: inputs (default: its parity inputs),
    Python's reference outputs, and the kernel-side latency when ``reference`` (a
    callable taking ``{name: array}``) is given, timed the way the page times TF.js."""
    export_dir = Path(export_dir).resolve()
    read_model_json(export_dir)
    manifest = read_manifest(export_dir)
    backends = tuple(backends)
    unknown = [b for b in backends if b not in BACKENDS]
    if not backends or unknown:
        raise BrowserRuntimeError(f"backends must be some of {BACKENDS}, got {backends}")
    specs = {s.name: s for s in manifest.inputs}
    if inputs is None:
        raw = manifest.parity_arrays("inputs")
    else:
        raw = dict(inputs)
        if sorted(raw) != sorted(specs):
            raise BrowserRuntimeError(
                f"inputs {sorted(raw)} do not match the export's inputs {sorted(specs)}")
    arrays = {name: np.ascontiguousarray(np.asarray(raw[name]),
                                         dtype=np.int32 if specs[name].dtype == "int32" else np.float32)
              for name in specs}
    output_names = [s.name for s in manifest.outputs]
    expected = manifest.parity_arrays("outputs") if inputs is None else None
    if reference is not None:
        expected = _as_output_dict(reference(arrays), output_names)
        if python_latency_ms is None:
            python_latency_ms = _time_callable(lambda: reference(arrays))
    return BrowserRun(
        export_dir=export_dir, model_format=manifest.model_format, manifest_json=manifest.to_json(),
        inputs=arrays, backends=backends, tolerance=float(manifest.parity.get("tolerance", 1e-5)),
        expected=expected, python_latency_ms=python_latency_ms,
    )


def _slim_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the page needs of browserml.json (not the parity sample or extras)."""
    return {k: manifest[k] for k in ("model_format", "inputs", "outputs", "preprocessing", "score")
            if k in manifest}


def _pack_array(arr: np.ndarray, buffers: list[bytes]) -> dict[str, Any]:
    dtype = "int32" if arr.dtype == np.int32 else "float32"
    buffers.append(np.ascontiguousarray(arr, dtype=dtype).tobytes())
    return {"shape": list(arr.shape), "dtype": dtype, "buffer": len(buffers) - 1}


def _model_message(payload: ModelPayload, buffers: list[bytes]) -> dict[str, Any]:
    if payload.how == "embed":
        buffers.append(payload.weights)
        return {"how": "embed", "model_json": payload.model_json, "weights_buffer": len(buffers) - 1}
    return {"how": "files", "path": payload.path}


def encode_run_request(
    run: BrowserRun, job_id: str, payload: ModelPayload, samples: int = 15,
    min_sample_ms: float = 2.0, timeout_s: float = 60.0, time_budget_s: float = 5.0,
) -> tuple[dict[str, Any], list[bytes]]:
    """The ``run`` message for the page: JSON content plus binary buffers.

    Each backend times ``samples`` batches of calls lasting at least ``min_sample_ms``
    (fewer, but at least 3, once ``time_budget_s`` is spent), and gives up with
    "timed out" after ``timeout_s``."""
    buffers: list[bytes] = []
    content = {
        "kind": "run", "id": job_id, "manifest": _slim_manifest(run.manifest_json),
        "model": _model_message(payload, buffers),
        "inputs": {name: _pack_array(arr, buffers) for name, arr in run.inputs.items()},
        "backends": list(run.backends), "samples": int(samples), "min_sample_ms": float(min_sample_ms),
        "timeout_s": float(timeout_s), "time_budget_s": float(time_budget_s),
    }
    return content, buffers


def _unpack_array(spec: Mapping[str, Any], buffers: Sequence[Any]) -> np.ndarray:
    try:
        raw = buffers[int(spec["buffer"])]
    except (IndexError, KeyError, ValueError, TypeError) as err:
        raise BrowserRuntimeError(f"the page's answer refers to a missing buffer: {spec}") from err
    dtype = np.int32 if spec.get("dtype") == "int32" else np.float32
    data = np.frombuffer(bytes(raw), dtype=dtype)
    shape = tuple(int(d) for d in spec.get("shape", [data.size]))
    if int(np.prod(shape)) != data.size:
        raise BrowserRuntimeError(f"the page sent {data.size} values for shape {shape}")
    return data.reshape(shape)


def decode_run_reply(content: Mapping[str, Any], buffers: Sequence[Any]) -> list[BackendResult]:
    """Per-backend results from the page's ``result`` message."""
    results = []
    for item in content.get("results") or []:
        outputs = None
        if item.get("outputs") is not None:
            outputs = {k: _unpack_array(v, buffers).astype(np.float64) for k, v in item["outputs"].items()}
        results.append(BackendResult(
            requested=str(item.get("requested")), backend=item.get("backend"), outputs=outputs,
            latency_ms=None if item.get("latency_ms") is None else float(item["latency_ms"]),
            n_runs=int(item.get("n_runs") or 0), num_tensors_before=item.get("num_tensors_before"),
            num_tensors_after=item.get("num_tensors_after"),
            load_ms=None if item.get("load_ms") is None else float(item["load_ms"]), error=item.get("error"),
        ))
    return results


@dataclass
class FitResult:
    """A fine-tune in the page: per-epoch losses and the updated weights, by the export's
    weight names (load them with :func:`browserml.export.clone_with_weights`)."""

    export_dir: Path
    backend: str | None = None
    losses: list[float] = field(default_factory=list)
    weights: dict[str, np.ndarray] | None = None
    fit_ms: float | None = None
    error: str | None = None
    status: str = "not sent"
    progress: list[float] = field(default_factory=list)
    round_trip_s: float | None = None

    @property
    def done(self) -> bool:
        return self.weights is not None or self.error is not None

    @property
    def ok(self) -> bool:
        return self.error is None and self.weights is not None

    def summary(self) -> str:
        if self.error:
            return self.error
        if not self.losses:
            return self.status
        first, last = self.losses[0], self.losses[-1]
        return f"{len(self.losses)} epochs on {self.backend}: loss {first:.4g} → {last:.4g}"


def encode_fit_request(
    export_dir: Path, job_id: str, payload: ModelPayload, x: Any, y: Any, *, epochs: int, batch_size: int,
    backend: str, optimizer: str, learning_rate: float, loss: str, shuffle: bool, timeout_s: float,
) -> tuple[dict[str, Any], list[bytes]]:
    """The ``fit`` message: model, x and y as float32, and the training settings."""
    manifest = read_manifest(export_dir).to_json()
    if manifest["model_format"] != "layers":
        raise BrowserRuntimeError(f"fine-tuning needs a layers model; {export_dir.name} is a "
                                  f"{manifest['model_format']} model")
    if backend not in BACKENDS:
        raise BrowserRuntimeError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if optimizer not in ("sgd", "adam"):
        raise BrowserRuntimeError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    xa, ya = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
    if xa.shape[0] != ya.shape[0]:
        raise BrowserRuntimeError(f"x has {xa.shape[0]} rows but y has {ya.shape[0]}")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise BrowserRuntimeError("epochs and batch_size must be at least 1")
    buffers: list[bytes] = []
    content = {
        "kind": "fit", "id": job_id, "manifest": _slim_manifest(manifest),
        "model": _model_message(payload, buffers),
        "x": _pack_array(xa, buffers), "y": _pack_array(ya, buffers),
        "epochs": int(epochs), "batch_size": int(batch_size), "backend": backend, "optimizer": optimizer,
        "learning_rate": float(learning_rate), "loss": loss, "shuffle": bool(shuffle),
        "timeout_s": float(timeout_s),
    }
    return content, buffers


def decode_fit_reply(result: FitResult, content: Mapping[str, Any], buffers: Sequence[Any]) -> FitResult:
    result.backend = content.get("backend")
    result.losses = [float(v) for v in content.get("losses") or []]
    result.fit_ms = None if content.get("fit_ms") is None else float(content["fit_ms"])
    result.error = content.get("error")
    if content.get("weights") is not None:
        result.weights = {w["name"]: _unpack_array(w, buffers).copy() for w in content["weights"]}
    return result


# --------------------------------------------------------------------------- jobs


def _in_kernel_loop_thread() -> bool:
    """True when called from a thread that runs an asyncio loop (a notebook cell)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _kernel_reads_comms_only_between_cells() -> bool:
    """See :func:`browserml.compat.kernel_queues_comms_during_cells`."""
    return kernel_queues_comms_during_cells()


class BrowserJob:
    """A request sent to the page. ``await job`` in a notebook cell; ``job.result(t)``
    in scripts and tests; ``job.value`` is whatever is known now.

    A job can be answered twice: the kernel's own deadline gives a provisional
    "no answer" result, and a late answer from the page (delayed by a busy kernel)
    still replaces it and fires the callbacks again.
    """

    def __init__(self, job_id: str, value: BrowserRun | FitResult, deadline_s: float) -> None:
        self.id = job_id
        self.value = value
        self.deadline_s = deadline_s
        self._event = threading.Event()
        self._final = False
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Any], Any]] = []
        self.sent_at: float | None = None

    def done(self) -> bool:
        """Answered, at least provisionally (see :attr:`final`)."""
        return self._event.is_set()

    @property
    def final(self) -> bool:
        """Answered by the page itself (or refused outright): nothing will replace it."""
        return self._final

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        self._callbacks.append(fn)
        if self._event.is_set():
            fn(self.value)

    def _resolve(self, final: bool = True) -> bool:
        with self._lock:
            if self._final:
                return False
            self._final = final
            self._event.set()
        for fn in list(self._callbacks):
            fn(self.value)
        return True

    def result(self, timeout: float | None = None) -> Any:
        """Block until answered (or ``timeout``), then return the value. Not in a cell."""
        if not self._event.is_set() and _in_kernel_loop_thread():
            raise BrowserRuntimeError(
                "job.result() would block the kernel, and the page's answer could never arrive. "
                "In a notebook cell write `run = await job` instead (or use runtime.on_result)."
            )
        self._event.wait(self.deadline_s if timeout is None else timeout)
        return self.value

    async def wait_async(self, timeout: float | None = None) -> Any:
        """Wait without blocking the kernel's event loop, so comm messages keep flowing.

        On a kernel that reads widget messages only between cells (ipykernel before
        7.4), waiting inside the cell could only end in a timeout, so this returns at
        once with the value as it stands, saying so in its status."""
        if not self._event.is_set() and _kernel_reads_comms_only_between_cells():
            self.value.status = PAGE_ONLY
            return self.value
        end = time.monotonic() + (self.deadline_s if timeout is None else timeout)
        while not self._event.is_set() and time.monotonic() < end:
            await asyncio.sleep(0.05)
        return self.value

    def __await__(self) -> Any:
        return self.wait_async().__await__()

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        said = self.value.summary() if self.done() else self.value.status
        return f"<BrowserJob {self.id[:8]} {state}: {said}>"


# --------------------------------------------------------------------------- the widget


class BrowserRuntime(anywidget.AnyWidget):
    """TF.js in this notebook page: run exports, fine-tune layers models, report back.

    One instance per page is enough (:func:`shared_runtime`); TF.js itself is loaded
    once per page however many there are. It shows one status line when displayed,
    and works undisplayed too (the page runs it as soon as the widget exists).
    """

    _esm = _ESM
    status = traitlets.Unicode("created").tag(sync=True)
    delivery = traitlets.Unicode("auto").tag(sync=True)
    dist_path = traitlets.Unicode("").tag(sync=True)
    home_dir = traitlets.Unicode("").tag(sync=True)
    bundle_id = traitlets.Unicode("").tag(sync=True)
    load_timeout_s = traitlets.Float(120.0).tag(sync=True)

    def __init__(self, delivery: str = "auto", hello_timeout_s: float | None = None,
                 max_embed_bytes: int = DEFAULT_MAX_EMBED_BYTES, dist: str | Path | None = None,
                 **kwargs: Any) -> None:
        if delivery not in DELIVERIES:
            raise BrowserRuntimeError(f"delivery must be one of {DELIVERIES}, got {delivery!r}")
        folder = check_dist(dist, build_if_missing=True)
        super().__init__(delivery=delivery, dist_path=str(folder.resolve()), home_dir=str(Path.home()),
                         bundle_id=bundle_id(folder), **kwargs)
        self._dist = folder
        self.max_embed_bytes = int(max_embed_bytes)
        self.hello_timeout_s = hello_timeout_s
        self.page: dict[str, Any] | None = None
        self.jobs: dict[str, BrowserJob] = {}
        self._queue: list[tuple[dict[str, Any], list[bytes]]] = []
        self._callbacks: list[Callable[[Any], Any]] = []
        self._lock = threading.Lock()
        self._hello_timer: threading.Timer | None = None
        self.sent_bytes = 0
        self.grace_s = 30.0  # added to each job's deadline: the kernel may be busy when the answer comes
        self._last_word: str | None = None  # the kernel's summary of the latest answer it read
        self.on_msg(self._on_msg)

    # ------------------------------------------------------------------ public
    @property
    def result(self) -> BrowserRun | FitResult | None:
        """The most recently answered job's value (``None`` before any answer)."""
        answered = [j for j in self.jobs.values() if j.done()]
        return answered[-1].value if answered else None

    def on_result(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(value)`` whenever a job is answered (in the kernel's thread)."""
        self._callbacks.append(callback)

    def run(
        self, export_dir: str | Path, inputs: Mapping[str, Any] | None = None,
        backends: Iterable[str] = ("wasm", "cpu"), reference: Reference | None = None,
        samples: int = 15, min_sample_ms: float = 2.0, timeout_s: float = 60.0, time_budget_s: float = 5.0,
    ) -> BrowserJob:
        """Run an export in the page on each backend; returns a :class:`BrowserJob`
        whose value is a :class:`BrowserRun` (parity, table, figure)."""
        run = prepare_run(export_dir, inputs, reference, backends)
        payload = model_payload(run.export_dir, self.max_embed_bytes)
        job_id = uuid.uuid4().hex
        content, buffers = encode_run_request(run, job_id, payload, samples, min_sample_ms, timeout_s,
                                              time_budget_s)
        run.info["model_delivery"] = payload.how
        run.info["model_bytes"] = payload.nbytes
        deadline = self.load_timeout_s + timeout_s * len(run.backends) + self.grace_s
        return self._submit(BrowserJob(job_id, run, deadline), content, buffers)

    def fit(
        self, export_dir: str | Path, x: Any, y: Any, epochs: int = 5, batch_size: int = 32,
        backend: str = "cpu", optimizer: str = "sgd", learning_rate: float = 0.01,
        loss: str = "meanSquaredError", shuffle: bool = False, timeout_s: float = 120.0,
    ) -> BrowserJob:
        """Fine-tune a layers export in the page (``model.fit``); the job's value is a
        :class:`FitResult` with per-epoch losses and the updated weights by name."""
        export_dir = Path(export_dir).resolve()
        payload = model_payload(export_dir, self.max_embed_bytes)
        job_id = uuid.uuid4().hex
        content, buffers = encode_fit_request(
            export_dir, job_id, payload, x, y, epochs=epochs, batch_size=batch_size, backend=backend,
            optimizer=optimizer, learning_rate=learning_rate, loss=loss, shuffle=shuffle, timeout_s=timeout_s)
        deadline = self.load_timeout_s + timeout_s + self.grace_s
        return self._submit(BrowserJob(job_id, FitResult(export_dir), deadline), content, buffers)

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the latest job is answered; for scripts and tests, not cells."""
        if not self.jobs:
            raise BrowserRuntimeError("nothing to wait for: call run() or fit() first")
        return list(self.jobs.values())[-1].result(timeout)

    # ------------------------------------------------------------------ plumbing
    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply trait changes from the page; but a ``status`` the page wrote about a job
        the kernel has already read is stale, and the kernel's summary stays.

        The page's status changes are state updates, which ipywidgets may hold back
        while earlier messages are unanswered; its answer is a custom message, which it
        sends at once. So "answered; waiting for the kernel…" can reach the kernel
        *after* the answer itself, and without this it stayed on screen for good.
        """
        super().set_state(sync_data)
        if "status" in sync_data and self._last_word is not None and not self._in_flight():
            self.status = self._last_word

    def _in_flight(self) -> bool:
        """Whether some job may still get news from the page (sent, queued, or answered
        only provisionally by the kernel)."""
        return any(not job.final for job in list(self.jobs.values()))

    def _send_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The one way out to the page (tests replace it to drive a page directly)."""
        self.sent_bytes += sum(len(b) for b in buffers)
        self.send(content, buffers)

    def _effective_hello_timeout(self) -> float:
        if self.hello_timeout_s is not None:
            return float(self.hello_timeout_s)
        # A kernel started by a Jupyter server for a notebook (JupyterLab, Notebook 7)
        # has JPY_SESSION_NAME; then a page is very likely there, if slow to start. Without
        # it (nbval, a plain python process, some other front end) wait less.
        return 30.0 if os.environ.get("JPY_SESSION_NAME") else 10.0

    def _submit(self, job: BrowserJob, content: dict[str, Any], buffers: list[bytes]) -> BrowserJob:
        self.jobs[job.id] = job
        job.add_done_callback(self._fire)
        if browser_runtime_off():
            job.value.error = f"browser runtime switched off ({OFF_ENV}=off): Python's numbers only"
            job.value.status = job.value.error
            job._resolve()
            return job
        with self._lock:
            if self.page is None:
                self._queue.append((content, buffers))
                job.value.status = WAITING
                self.status = WAITING
                if self._hello_timer is None:
                    self._hello_timer = threading.Timer(self._effective_hello_timeout(), self._no_hello)
                    self._hello_timer.daemon = True
                    self._hello_timer.start()
                return job
        self._dispatch(job, content, buffers)
        return job

    def _dispatch(self, job: BrowserJob, content: dict[str, Any], buffers: list[bytes]) -> None:
        job.value.status = "sent to the page"
        job.sent_at = time.monotonic()
        self._send_msg(content, buffers)
        timer = threading.Timer(job.deadline_s, self._job_deadline, args=(job,))
        timer.daemon = True
        timer.start()

    def _no_hello(self) -> None:
        """No page said hello in time: answer the queued jobs with Python's numbers only,
        provisionally, and keep them queued: a page that connects late (a busy kernel
        read its hello late) still runs them and its answer replaces this one."""
        with self._lock:
            if self.page is not None:
                return
            queued = list(self._queue)
            self._hello_timer = None
        self.status = NO_FRONT_END
        for content, _ in queued:
            job = self.jobs.get(content["id"])
            if job is not None and not job.done():
                job.value.error = NO_FRONT_END
                job.value.status = NO_FRONT_END
                job._resolve(final=False)

    def _job_deadline(self, job: BrowserJob) -> None:
        if not job.done():
            job.value.error = f"no answer from the page within {job.deadline_s:.0f} s"
            job.value.status = job.value.error
            job._resolve(final=False)

    def _fire(self, value: Any) -> None:
        for fn in list(self._callbacks):
            fn(value)

    def _on_msg(self, _widget: Any, content: Mapping[str, Any], buffers: Sequence[Any]) -> None:
        kind = content.get("kind") if isinstance(content, Mapping) else None
        if kind == "hello":
            self._on_hello(dict(content))
        elif kind == "need":
            self._on_need(content)
        elif kind == "progress":
            job = self.jobs.get(str(content.get("id")))
            if job is not None and isinstance(job.value, FitResult):
                job.value.progress.append(float(content.get("loss", float("nan"))))
                epoch = int(content.get("epoch", 0)) + 1
                job.value.status = f"epoch {epoch}: loss {job.value.progress[-1]:.4g}"
        elif kind == "result":
            self._on_result(content, buffers)

    def _on_hello(self, content: dict[str, Any]) -> None:
        with self._lock:
            self.page = content
            queued, self._queue = self._queue, []
            if self._hello_timer is not None:
                self._hello_timer.cancel()
                self._hello_timer = None
        if self.status in (WAITING, NO_FRONT_END, "created"):
            self.status = "page connected"
        for content_, buffers in queued:
            job = self.jobs.get(content_["id"])
            if job is not None and not job.final:
                job.value.error = None
                self._dispatch(job, content_, buffers)

    def _on_need(self, content: Mapping[str, Any]) -> None:
        names = [str(n) for n in content.get("names") or []]
        reply = {"kind": "files", "reply_to": content.get("request"), "names": names, "error": None}
        bad = [n for n in names if n not in DIST_FILES]
        try:
            if bad:
                raise BrowserRuntimeError(f"the page asked for files that are not part of the bundle: {bad}")
            buffers = [(self._dist / n).read_bytes() for n in names]
        except (OSError, BrowserRuntimeError) as err:
            reply["error"] = str(err)
            buffers = []
        self._send_msg(reply, buffers)

    def _on_result(self, content: Mapping[str, Any], buffers: Sequence[Any]) -> None:
        job = self.jobs.get(str(content.get("id")))
        if job is None:
            return
        value = job.value
        try:
            if isinstance(value, BrowserRun):
                value.info.update({k: content.get(k) for k in
                                   ("delivery", "tfjs_load_ms", "tfjs_version", "delivery_errors", "wasm",
                                    "wasm_error") if k in content})
                value.results = decode_run_reply(content, buffers)
                value.error = content.get("error")
            else:
                decode_fit_reply(value, content, buffers)
        except BrowserRuntimeError as err:
            value.error = f"could not read the page's answer: {err}"
        value.status = "done" if not value.error else f"error: {value.error}"
        if job.sent_at is not None:  # what the learner waits: send, load, run, answer
            value.round_trip_s = time.monotonic() - job.sent_at
        self._last_word = value.summary()
        self.status = self._last_word
        job._resolve()


_SHARED: BrowserRuntime | None = None


def shared_runtime(**kwargs: Any) -> BrowserRuntime:
    """The kernel's one :class:`BrowserRuntime` (created on first use): one per page
    keeps the page's TF.js and the notebook's widget state small."""
    global _SHARED
    if _SHARED is None or _SHARED.comm is None:
        _SHARED = BrowserRuntime(**kwargs)
    return _SHARED


class BrowserRunView(W.VBox):
    """What :func:`run_in_browser` shows: the runtime's status line, then the table and
    the chart once the page answers. ``view.job`` is awaitable; ``view.run`` is the
    :class:`BrowserRun`."""

    def __init__(self, runtime: BrowserRuntime, job: BrowserJob) -> None:
        from widgets.common import figure_image

        self.runtime = runtime
        self.job = job
        self.run = job.value
        self.table_html = W.HTML()
        self.chart = figure_image(display="none")
        super().__init__([runtime, self.table_html, self.chart])
        job.add_done_callback(self._show)

    def _show(self, run: BrowserRun) -> None:
        self.table_html.value = run.html() if run.results else f"<i>{run.summary()}</i>"
        if run.results or run.python_latency_ms is not None:
            from widgets.common import show_figure

            show_figure(self.chart, run.figure())
            self.chart.layout.display = ""


def run_in_browser(
    export_dir: str | Path, inputs: Mapping[str, Any] | None = None,
    backends: Iterable[str] = ("wasm", "cpu"), reference: Reference | None = None, **run_kwargs: Any,
) -> BrowserRunView:
    """Run an export in this notebook page (parity inputs by default) and show the
    table and chart when the page answers; ``await view.job`` to use the numbers."""
    runtime = shared_runtime()
    job = runtime.run(export_dir, inputs=inputs, backends=backends, reference=reference, **run_kwargs)
    return BrowserRunView(runtime, job)
