"""The in-notebook TF.js runtime's pure half: everything but the widget.

``widgets/browser_runtime.py`` is the anywidget that talks to the page and the view a
notebook shows; what it sends, what comes back and what it means lives here, and is
tested without a widget:

- :mod:`~browserml.inbrowser.bundle`: the TF.js bundle (find, build, hash), the
  backends it carries, and how it and each model reach the page;
- :mod:`~browserml.inbrowser.results`: :class:`BrowserRun` (parity, table, summary,
  HTML, chart), :class:`BackendResult`, :class:`FitResult`, :func:`prepare_run`;
- :mod:`~browserml.inbrowser.protocol`: message kinds, arrays as buffers, request ids,
  reading the page's answers;
- :mod:`~browserml.inbrowser.job`: :class:`BrowserJob` (``await job``), deadlines and
  fall-backs in words, the :data:`PAGE_ONLY` rule for kernels older than ipykernel 7.4;
- :mod:`~browserml.inbrowser.lessons`: what a lesson's ``browser_request`` returns and
  how it reads a run (:class:`BrowserRequest`, :func:`backend_outputs`).

Importing this package is light (no TensorFlow, no ipywidgets, no matplotlib): the
lesson helpers load at once, everything else on first use (PEP 562).
"""

from __future__ import annotations

from browserml.inbrowser.lessons import (
    BrowserRequest,
    BrowserRunLike,
    BrowserUnavailable,
    FitRuntime,
    Reference,
    backend_outputs,
    compiled_forward,
)
from browserml.lazy import lazy_names

_LAZY = {
    "bundle": ("BACKENDS", "BUNDLE_NAME", "DEFAULT_MAX_EMBED_BYTES", "DELIVERIES", "DIST_DIR", "DIST_FILES",
               "OFF_ENV", "WASM_NAMES", "BrowserRuntimeError", "ModelPayload", "browser_runtime_off", "build_dist",
               "bundle_id", "check_dist", "dist_dir", "model_payload"),
    "results": ("BackendResult", "BrowserRun", "FitResult", "prepare_run"),
    "protocol": ("decode_fit_reply", "decode_run_reply", "encode_fit_request", "encode_run_request",
                 "files_reply", "new_request_id", "read_progress", "read_result"),
    "job": ("NO_FRONT_END", "PAGE_ONLY", "SWITCHED_OFF", "WAITING", "BrowserJob", "hello_wait_s",
            "job_deadline_s"),
}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [  # noqa: RUF022 (grouped as above)
    "BrowserRequest", "BrowserRunLike", "BrowserUnavailable", "FitRuntime", "Reference", "backend_outputs",
    "compiled_forward", "BACKENDS", "BUNDLE_NAME", "DEFAULT_MAX_EMBED_BYTES", "DELIVERIES", "DIST_DIR",
    "DIST_FILES", "OFF_ENV", "WASM_NAMES", "BrowserRuntimeError", "ModelPayload", "browser_runtime_off",
    "build_dist", "bundle_id", "check_dist", "dist_dir", "model_payload", "BackendResult", "BrowserRun",
    "FitResult", "prepare_run", "decode_fit_reply", "decode_run_reply", "encode_fit_request",
    "encode_run_request", "files_reply", "new_request_id", "read_progress", "read_result", "NO_FRONT_END",
    "PAGE_ONLY", "SWITCHED_OFF", "WAITING", "BrowserJob", "hello_wait_s", "job_deadline_s"
]
