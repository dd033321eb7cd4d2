"""What a lesson hands to the in-page TF.js runtime, and how it reads the page's answer.

:func:`widgets.browser_runtime.run_in_browser` runs an export in the learner's own
notebook page and compares it with Python, given the arrays to feed the export and a
Python ``reference`` that computes the same outputs from those arrays. Each lesson
knows its export's input contract (scaled beats, preprocessed pixels, feature
columns), so each lesson module has a ``browser_request(...)`` returning both as one
:class:`BrowserRequest`, and the notebook cell is a single call::

    view = run_in_browser(export, **pf.browser_request(export))

This module holds what those helpers share. Lessons read a run through small protocols
(:class:`BrowserRunLike`, :class:`FitRuntime`) that :class:`browserml.inbrowser.results.BrowserRun`
and ``widgets.browser_runtime.BrowserRuntime`` satisfy, so a lesson module imports
neither the runtime's results nor anything from ``widgets/`` (the widgets import the
package, never the reverse).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypedDict

import numpy as np

#: Python's own computation of an export's outputs from ``{input name: array}``.
Reference = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


class BrowserRequest(TypedDict):
    """Keyword arguments for ``run_in_browser`` / ``BrowserRuntime.run``."""

    inputs: dict[str, np.ndarray]
    reference: Reference


class BrowserUnavailable(RuntimeError):
    """The page computed nothing usable (no widget front end, runtime switched off, a
    backend error); the message carries the runtime's own words."""


class BrowserRunLike(Protocol):
    """What a lesson reads of :class:`browserml.inbrowser.results.BrowserRun`."""

    backends: tuple[str, ...]
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray] | None

    def result_for(self, backend: str) -> Any: ...

    def note(self, backend: str) -> str: ...


class FitRuntime(Protocol):
    """What a fine-tune needs of ``widgets.browser_runtime.BrowserRuntime``."""

    def fit(self, export_dir: Any, x: Any, y: Any, epochs: int = ..., batch_size: int = ..., backend: str = ...,
            optimizer: str = ..., learning_rate: float = ..., loss: str = ..., shuffle: bool = ...,
            timeout_s: float = ...) -> Awaitable[Any]: ...


def backend_outputs(run: BrowserRunLike, backend: str | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """``(backend, outputs)`` of one backend that ran in the page: ``backend`` itself, or
    by default the first requested backend that produced outputs.

    Raises :class:`BrowserUnavailable` naming why when there is nothing to read, so a
    cell that uses the browser's numbers fails in words, not with ``None``.
    """
    chosen: Sequence[str] = (backend,) if backend is not None else run.backends
    if backend is not None and backend not in run.backends:
        raise ValueError(f"backend {backend!r} was not requested; this run asked for {list(run.backends)}")
    for name in chosen:
        result = run.result_for(name)
        if result is not None and result.outputs is not None:
            return name, {k: np.asarray(v, dtype=np.float64) for k, v in result.outputs.items()}
    why = "; ".join(f"{name}: {run.note(name) or 'no outputs'}" for name in chosen)
    raise BrowserUnavailable(f"the page produced no outputs ({why})")


def compiled_forward(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A ``tf_keras`` model's forward pass as a compiled ``tf.function`` returning NumPy.

    ``predict``/``predict_on_batch`` spend milliseconds per call in Keras bookkeeping,
    which would make Python's side of the latency table measure Keras rather than the
    model; this is the arithmetic, like ``model.predict`` in TF.js. Outputs are the
    same numbers as ``model.predict``.
    """
    import tensorflow as tf

    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(forward(np.asarray(x, dtype=np.float32)))

    return run


__all__ = ["BrowserRequest", "BrowserRunLike", "BrowserUnavailable", "FitRuntime", "Reference", "backend_outputs",
           "compiled_forward"]
