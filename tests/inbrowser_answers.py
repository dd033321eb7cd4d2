"""What the page sends back, built by hand exactly as widgets/browser_runtime.js builds it:
shared by the in-page runtime's pure tests (tests/test_inbrowser_*.py) and its widget
tests (tests/test_browser_runtime.py). Not a test module itself."""

from __future__ import annotations

import numpy as np

from browserml.inbrowser.results import BrowserRun
from browserml.paths import exports_dir

POLY = exports_dir() / "polynomial"


def page_reply(run: BrowserRun, job_id: str, outputs_by_backend: dict, **extra) -> tuple[dict, list[bytes]]:
    """A ``result`` message as widgets/browser_runtime.js packs it."""
    buffers: list[bytes] = []
    results = []
    for backend, spec in outputs_by_backend.items():
        item = {"requested": backend, "backend": backend, "latency_ms": spec.get("latency_ms", 0.25),
                "n_runs": 30, "num_tensors_before": 4, "num_tensors_after": 4 + spec.get("leak", 0),
                "load_ms": 2.0, "error": spec.get("error"), "outputs": None}
        if "outputs" in spec:
            item["outputs"] = {}
            for name, arr in spec["outputs"].items():
                arr = np.asarray(arr, dtype=np.float32)
                item["outputs"][name] = {"shape": list(arr.shape), "dtype": "float32", "buffer": len(buffers)}
                buffers.append(arr.tobytes())
        results.append(item)
    content = {"kind": "result", "id": job_id, "job": "run", "delivery": "embed", "results": results, **extra}
    return content, buffers
