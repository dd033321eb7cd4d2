"""What a run in the page produced, beside Python's own numbers: the testable part.

:func:`prepare_run` checks an export and builds a :class:`BrowserRun` (inputs, Python's
reference outputs and latency); the page's answer fills in one :class:`BackendResult`
per TF.js backend, and the run reads as parity per backend, a table, a one-line
summary, an HTML table and a chart. A fine-tune's answer is a :class:`FitResult`.
Nothing here imports ipywidgets or TensorFlow (:meth:`BrowserRun.html` borrows the
apps' table renderer, :func:`widgets.common.html_table`, when it is called).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from browserml.export import read_manifest, read_model_json
from browserml.inbrowser.bundle import BACKENDS, BrowserRuntimeError
from browserml.inbrowser.job import PAGE_ONLY
from browserml.tfjs_check import max_abs_diff

#: Python's own computation of an export's outputs from ``{input name: array}``.
Reference = Callable[[dict[str, np.ndarray]], Any]


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
            except Exception as err:  # noqa: BLE001 - names, shapes or values differ: the table says so in words
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


__all__ = ["BackendResult", "BrowserRun", "FitResult", "Reference", "prepare_run"]
