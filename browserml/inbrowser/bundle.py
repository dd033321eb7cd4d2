"""What TF.js the notebook page gets, and how the bundle and each model travel to it.

``make setup`` builds the in-page TF.js bundle into ``browserml/js/dist/`` (committed, so
Colab and pip installs need no Node). The page loads it once, from the Jupyter server's
``/files/`` route or over the widget's comm (:data:`DELIVERIES`), and caches it under
:func:`bundle_id`. A model goes with the request when it is small (:func:`model_payload`)
and by URL otherwise. Nothing here imports ipywidgets or TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browserml.export import list_shards, read_model_json
from browserml.paths import JS_DIR

DIST_DIR = JS_DIR / "dist"
BUNDLE_NAME = "tfjs-bundle.mjs"
WASM_NAMES = ("tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm")
#: Every file the page may ask the kernel for (and the only ones the kernel serves).
DIST_FILES = (BUNDLE_NAME, *WASM_NAMES)
#: The TF.js backends the bundle carries.
BACKENDS = ("wasm", "cpu", "webgl", "webgpu")
#: How TF.js reaches the page: try the files route then the comm, or one of them only.
DELIVERIES = ("auto", "files", "embed")
DEFAULT_MAX_EMBED_BYTES = 16 * 1024 * 1024
OFF_ENV = "BROWSERML_BROWSER_RUNTIME"


class BrowserRuntimeError(RuntimeError):
    """The in-page runtime cannot do what was asked (missing bundle, bad request)."""


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
        # a failed build falls through to the message below, which says what to run
        with contextlib.suppress(BrowserRuntimeError, OSError, TimeoutError):
            build_dist(folder)
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
    """``BROWSERML_BROWSER_RUNTIME=off`` (or 0/false/no): Python's numbers only."""
    return os.environ.get(OFF_ENV, "").strip().lower() in {"off", "0", "false", "no"}


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


__all__ = ["BACKENDS", "BUNDLE_NAME", "DEFAULT_MAX_EMBED_BYTES", "DELIVERIES", "DIST_DIR", "DIST_FILES", "OFF_ENV",
           "WASM_NAMES", "BrowserRuntimeError", "ModelPayload", "browser_runtime_off", "build_dist", "bundle_id",
           "check_dist", "dist_dir", "model_payload"]
