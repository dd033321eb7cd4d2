"""The wire between the kernel and the page: message kinds, how arrays travel, request
ids, and reading the page's answers without trusting them.

Custom widget messages (which, unlike traits, never bloat the saved notebook)::

    page -> kernel: hello, need {request, names}, progress {id, epoch, loss}, result {id, ...}
    kernel -> page: run {id, ...}, fit {id, ...}, eval {id, code, ...}, files {reply_to, names, error} + bytes

Each message is JSON ``content`` plus a list of binary ``buffers``; an array travels as
``{"shape", "dtype", "buffer": index}`` with its bytes (float32 or int32) in that buffer.
The same kind names are in one table at the top of ``widgets/browser_runtime.js``
(tests/test_inbrowser_protocol.py checks the two agree). Nothing here imports
ipywidgets or TensorFlow.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from browserml.export import read_manifest
from browserml.inbrowser.bundle import BACKENDS, DIST_FILES, BrowserRuntimeError, ModelPayload
from browserml.inbrowser.cell import CellRequest, CellResult
from browserml.inbrowser.results import BackendResult, BrowserRun, FitResult

# page -> kernel
HELLO = "hello"
NEED = "need"
PROGRESS = "progress"
RESULT = "result"
# kernel -> page
RUN = "run"
FIT = "fit"
EVAL = "eval"
FILES = "files"
#: Every message kind, by direction (``widgets/browser_runtime.js`` has the same table).
PAGE_TO_KERNEL = (HELLO, NEED, PROGRESS, RESULT)
KERNEL_TO_PAGE = (RUN, FIT, EVAL, FILES)
#: What the kernel keeps of a ``run`` answer besides the per-backend results.
RUN_INFO_KEYS = ("delivery", "tfjs_load_ms", "tfjs_version", "delivery_errors", "wasm", "wasm_error")


def new_request_id() -> str:
    """A fresh job id: the page answers under it and never runs the same id twice."""
    return uuid.uuid4().hex


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
        "kind": RUN, "id": job_id, "manifest": _slim_manifest(run.manifest_json),
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
        "kind": FIT, "id": job_id, "manifest": _slim_manifest(manifest),
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


def encode_eval_request(
    request: CellRequest, job_id: str, scope: Mapping[str, Any], payload: ModelPayload | None,
) -> tuple[dict[str, Any], list[bytes]]:
    """The ``eval`` message: a ``%%tfjs`` cell's code, backend, deadline, the Python values
    it reads (``scope``, JSON) and, with ``--model``, the model it may load as MODEL_URL."""
    buffers: list[bytes] = []
    content: dict[str, Any] = {
        "kind": EVAL, "id": job_id, "code": request.code, "backend": request.backend,
        "timeout_s": float(request.timeout_s), "scope": dict(scope),
    }
    if payload is not None:
        content["model"] = _model_message(payload, buffers)
    return content, buffers


def files_reply(content: Mapping[str, Any], folder: Path) -> tuple[dict[str, Any], list[bytes]]:
    """The kernel's ``files`` answer to the page's ``need``: the named bundle files' bytes,
    or an error in words. Only :data:`DIST_FILES` are served, never another path."""
    names = [str(n) for n in content.get("names") or []]
    reply = {"kind": FILES, "reply_to": content.get("request"), "names": names, "error": None}
    bad = [n for n in names if n not in DIST_FILES]
    try:
        if bad:
            raise BrowserRuntimeError(f"the page asked for files that are not part of the bundle: {bad}")
        buffers = [(folder / n).read_bytes() for n in names]
    except (OSError, BrowserRuntimeError) as err:
        reply["error"] = str(err)
        buffers = []
    return reply, buffers


def read_progress(value: BrowserRun | FitResult | CellResult, content: Mapping[str, Any]) -> None:
    """A fine-tune's ``progress`` message: one more epoch's loss, and a status in words."""
    if isinstance(value, FitResult):
        value.progress.append(float(content.get("loss", float("nan"))))
        epoch = int(content.get("epoch", 0)) + 1
        value.status = f"epoch {epoch}: loss {value.progress[-1]:.4g}"


def read_result(
    value: BrowserRun | FitResult | CellResult, content: Mapping[str, Any], buffers: Sequence[Any],
) -> None:
    """Fill ``value`` from the page's ``result`` message. An answer that does not fit
    (a missing buffer, a wrong size) becomes an error in words, never an exception."""
    try:
        if isinstance(value, BrowserRun):
            value.info.update({k: content.get(k) for k in RUN_INFO_KEYS if k in content})
            value.results = decode_run_reply(content, buffers)
            value.error = content.get("error")
        elif isinstance(value, CellResult):
            value.read(content, lambda spec: _unpack_array(spec, buffers))
        else:
            decode_fit_reply(value, content, buffers)
    except BrowserRuntimeError as err:
        value.error = f"could not read the page's answer: {err}"
    value.status = "done" if not value.error else f"error: {value.error}"


__all__ = [
    "EVAL", "FILES", "FIT", "HELLO", "KERNEL_TO_PAGE", "NEED", "PAGE_TO_KERNEL", "PROGRESS", "RESULT", "RUN",
    "RUN_INFO_KEYS", "decode_fit_reply", "decode_run_reply", "encode_eval_request", "encode_fit_request",
    "encode_run_request", "files_reply", "new_request_id", "read_progress", "read_result",
]
