"""Keep notebooks in one canonical, output-free form.

Notebooks are stored without outputs, execution counts or widget state, in the JSON
layout ``nbformat`` writes (one-space indent, sorted keys): diffs then show only
what an author changed, and a learner opens a clean notebook. CI fails on a dirty
one; ``browserml nbclean`` (``make nbclean``) fixes it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browserml.compat import GLOG_LINE

KEEP_METADATA = ("kernelspec", "language_info", "colab")


def clean(nb: dict[str, Any]) -> dict[str, Any]:
    """Return ``nb`` without outputs, execution counts, widget state or cell ids noise."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_METADATA}
    if "language_info" in nb["metadata"]:
        nb["metadata"]["language_info"] = {"name": nb["metadata"]["language_info"].get("name", "python")}
    seen = {cell.get("id") for cell in nb.get("cells", [])}
    for cell in nb.get("cells", []):
        if not cell.get("id"):  # nbformat 4.5 wants one; derived from the source, so stable
            cell["id"] = _new_id(cell, seen)
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in ("tags",)}
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def _new_id(cell: dict[str, Any], seen: set[Any]) -> str:
    import hashlib

    source = "".join(cell.get("source", ""))
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()
    for start in range(0, 32):
        candidate = digest[start:start + 8]
        if candidate not in seen:
            seen.add(candidate)
            return candidate
    raise ValueError("could not make a unique cell id")  # 32 collisions of 8 hex digits: never


def canonical_text(nb: dict[str, Any]) -> str:
    """The stored form: nbformat's layout, UTF-8, trailing newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def is_clean(path: str | Path) -> bool:
    """Whether the file is already in canonical, output-free form."""
    text = Path(path).read_text(encoding="utf-8")
    return text == canonical_text(clean(json.loads(text)))


def clean_file(path: str | Path) -> bool:
    """Rewrite the file canonically; returns whether it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    new = canonical_text(clean(json.loads(text)))
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


# --------------------------------------------------------------------------- running

#: What must never reach a learner's cell output (issue: "quiet notebooks"): TensorFlow's
#: C++ start-up logs, the "Try YDF" advert tensorflow-decision-forests prints on import, and
#: tf_keras's HDF5 / compiled-metrics warnings. Each is avoided at its source in browserml.
#: A printed ``{'key': value}`` counts too: results are printed as sentences or tables.
LOG_NOISE: dict[str, re.Pattern[str]] = {
    "TensorFlow C++ log": re.compile(GLOG_LINE.pattern + r"|absl::InitializeLog|cuInit|computation placer|"
                                     r"oneDNN custom operations|cuda drivers", re.M),
    "YDF advert": re.compile(r"YDF|Decision Forests", re.I),
    "HDF5 warning": re.compile(r"as an HDF5 file|considered legacy", re.I),
    "compiled-metrics warning": re.compile(r"compiled metrics|compile_metrics", re.I),
    # not a log, but as unreadable (issue 14.7): a learner reads sentences and tables, not Python keys
    "raw Python dict": re.compile(r"\{'\w+': "),
}


def log_noise(text: str) -> list[str]:
    """Each kind of :data:`LOG_NOISE` found in ``text``, with the line it was found on."""
    found = []
    for what, pattern in LOG_NOISE.items():
        hit = pattern.search(text)
        if hit:
            line = text[text.rfind("\n", 0, hit.start()) + 1:text.find("\n", hit.end()) % (len(text) + 1)]
            found.append(f"{what}: {line[:160]!r}")
    return found


@dataclass
class NotebookRun:
    """One notebook run top to bottom in a fresh kernel."""

    path: Path
    seconds: float
    peak_rss_bytes: int | None  # the kernel's peak resident memory (Linux VmHWM), None elsewhere
    nb: Any  # the executed notebook (nbformat node)
    error: str | None = None  # the failing cell's error, in one line
    traceback: str | None = None  # the failing cell's source and traceback

    def stream_text(self, name: str = "stderr") -> str:
        """Everything the cells wrote to one stream, in order."""
        return "".join(o.get("text", "") for c in self.nb.cells if c.cell_type == "code"
                       for o in c.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == name)


def _peak_rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_notebook(path: str | Path, env: dict[str, str] | None = None, timeout_s: float = 900,
                 kernel_args: Sequence[str] = ()) -> NotebookRun:
    """Run ``path`` top to bottom in a new kernel of this Python, from its own folder.

    The kernel's peak memory is sampled while it runs (the kernel exits when the run
    ends, so it is read before that), which is what Binder's and Colab's limits apply to.
    A failing cell ends the run; its error comes back in :attr:`NotebookRun.error`."""
    import nbclient
    import nbformat
    from jupyter_client.manager import KernelManager

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3")
    peak: list[int | None] = [None]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            provisioner = getattr(km, "provisioner", None)
            process = getattr(provisioner, "process", None)
            if process is not None:
                rss = _peak_rss(process.pid)
                if rss is not None:
                    peak[0] = max(peak[0] or 0, rss)

    client = nbclient.NotebookClient(nb, km=km, timeout=int(timeout_s), kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}},
                                     extra_arguments=list(kernel_args))
    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    error = traceback = None
    sampler.start()
    try:
        with _environment(env):
            client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
        traceback = str(exc)
    finally:
        stop.set()
        sampler.join()
    return NotebookRun(path, time.monotonic() - started, peak[0], nb, error, traceback)


class _environment:
    """Temporarily replace ``os.environ`` (a kernel inherits the environment it starts in)."""

    def __init__(self, env: dict[str, str] | None) -> None:
        self.env = env

    def __enter__(self) -> None:
        self.saved = dict(os.environ)
        if self.env is not None:
            os.environ.clear()
            os.environ.update(self.env)

    def __exit__(self, *_exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)
