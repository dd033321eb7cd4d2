"""Check each lesson's app in headless JupyterLab, or screenshot it for the README.

    PYTHONPATH=tests python -m tools.lab check [--lesson 1 5]
    PYTHONPATH=tests python -m tools.lab screenshots [--lesson 2] [--out notebooks/images]

``make screenshots`` runs the second. Exit status 0 when every checked app rendered and
responded, 1 otherwise (each lesson's summary says why).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from browserml.paths import project_root
from tools import labcheck


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.lab", description=__doc__.splitlines()[0])
    parser.add_argument("verb", choices=["check", "screenshots"],
                        help="check: render, act once, expect a change; screenshots: lesson{N}_widget.png")
    parser.add_argument("--lesson", type=int, nargs="+", help="lesson numbers (default: all)")
    parser.add_argument("--out", type=Path, default=project_root() / "notebooks" / "images",
                        help="screenshots: the folder to write to (default notebooks/images)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lessons = args.lesson or sorted(labcheck.LESSONS)
    unknown = [n for n in lessons if n not in labcheck.LESSONS]
    if unknown:
        raise SystemExit(f"no lesson {unknown}; lessons: {sorted(labcheck.LESSONS)}")
    if args.verb == "screenshots":
        results = labcheck.lesson_screenshots(args.out, lessons)
    else:
        results = []
        with tempfile.TemporaryDirectory(prefix="browserml-lab-") as tmp, labcheck.lab_session(Path(tmp)) as lab:
            for n in lessons:
                results.append(labcheck.check_lesson(lab, n))
                print(results[-1].summary())
    return 0 if all(not r.problems() for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
