"""Peak kernel memory of each lesson notebook, run top to bottom: Binder's limit.

Binder guarantees 1 GB and kills a kernel past 2 GB; browserml's target is a peak of at
most 1.5 GB per notebook, with the TensorFlow the lock installs. Each notebook runs in a
fresh kernel of this Python (as Binder's JupyterLab would start it), with the in-page
runtime off (no page here); the peak is the kernel's VmHWM, sampled while it runs.

    python benchmarks/run.py memory          # the table, all five notebooks
    python benchmarks/bench_memory.py 03     # only notebooks whose name contains "03"
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from browserml.notebooks import run_notebook  # noqa: E402

BINDER_TARGET_BYTES = 1.5 * 2**30
BINDER_KILL_BYTES = 2 * 2**30


def run(only: str = "") -> list[dict]:
    env = dict(os.environ, BROWSERML_BROWSER_RUNTIME="off")
    rows = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if only not in path.name:
            continue
        result = run_notebook(path, env=env, timeout_s=1800)
        peak = result.peak_rss_bytes or 0
        rows.append({
            "notebook": path.name,
            "peak kernel memory (GiB)": round(peak / 2**30, 2),
            "vs 1.5 GiB target": round(peak / BINDER_TARGET_BYTES, 2),
            "vs Binder's 2 GiB kill": round(peak / BINDER_KILL_BYTES, 2),
            "run time (s)": round(result.seconds),
            "ran clean": "yes" if result.error is None else f"no: {result.error[:80]}",
        })
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run import table

    print(table(run(sys.argv[1] if len(sys.argv) > 1 else "")))
