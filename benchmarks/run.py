#!/usr/bin/env python
"""Run browserml's benchmarks and print their tables.

    python benchmarks/run.py            # every benchmarks/bench_*.py
    python benchmarks/run.py polyfit    # only those whose name contains "polyfit"

Each benchmark module has ``run() -> list[dict]`` whose rows become one table; every
ratio in a table is measured side by side in the same run, on the same machine.
Rows that carry a ``"section"`` key are split into one table per section (in order of
first appearance), each with its own columns and the section as its heading.
Targets live here, never in timed tests.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def table(rows: list[dict]) -> str:
    """A Markdown table of ``rows`` (floats to 3 significant figures)."""
    cols = list(rows[0])
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def sections(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """``rows`` grouped by their ``"section"`` value ("" for rows without one), the
    key itself dropped: one benchmark can then print tables with different columns."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(str(r.get("section", "")), []).append({k: v for k, v in r.items() if k != "section"})
    return list(groups.items())


def main(argv: list[str]) -> int:
    wanted = argv[1] if len(argv) > 1 else ""
    print(f"# browserml benchmarks ({platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} cores, Python {platform.python_version()})\n")
    for path in sorted(HERE.glob("bench_*.py")):
        if wanted not in path.stem:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        print(f"## {path.stem}: {module.__doc__.strip().splitlines()[0]}\n")
        for title, rows in sections(module.run()):
            if title:
                print(f"### {title}\n")
            print(table(rows))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
