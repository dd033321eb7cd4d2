"""Automatic checks for the notebooks' exercises.

A check prints a friendly ✓ when the answer is right and raises ``AssertionError``
with a hint when it is not, so a learner sees what to try next and CI (which runs
every notebook on its reference answers) fails if a reference answer ever stops
being right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def check(passed: bool, success: str, hint: str) -> bool:
    """Print ``✓ success`` or raise ``AssertionError(hint)``."""
    if not passed:
        raise AssertionError(f"Not yet: {hint}")
    print(f"✓ {success}")
    return True


def is_blank(answer: object) -> bool:
    """A student cell's blank (``...``) that has not been filled in yet."""
    return answer is Ellipsis


def verdict(passed: bool, success: str, hint: str) -> bool:
    """Like :func:`check`, but a wrong answer prints ``✗ Not yet: hint`` instead of raising:
    for exercises whose starting cell is wrong on purpose ("fix the leak"), so a notebook
    still runs top to bottom. Tests assert the returned ``bool``."""
    print(f"✓ {success}" if passed else f"✗ Not yet: {hint}")
    return passed


def blank(what: str) -> bool:
    """What a check says about an untouched blank (and ``False``)."""
    print(f"… {what}: replace the ... with your answer, then run the cell again")
    return False


def cell_ran(result: Any, what: str = "run your %%tfjs cell first") -> bool:
    """Whether a TF.js exercise's cell (its ``_tfjs``, a ``CellResult``) ran to the end;
    when it did not, say so as a check says it (blank or ✗) and return ``False``."""
    if result is None or is_blank(result):
        return blank(what)
    if not result.ok:
        return verdict(False, "", f"the cell did not run to the end: {result.summary()}")
    return True


def solutions(notebook: str, folder: Path | None = None) -> dict[str, str]:
    """The teacher's solutions of one lesson, by exercise: the first fenced code block under
    each ``## Exercise N`` heading of ``notebooks/solutions/<notebook stem>.md``.

    Solutions live apart from the notebooks, so a learner does not stumble on them; the
    tests run every check on its solution (must pass) and on a wrong answer (must fail)."""
    from browserml.paths import project_root

    path = (folder or project_root() / "notebooks" / "solutions") / (Path(notebook).stem + ".md")
    found: dict[str, str] = {}
    name = None
    block: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if block is not None:
            if line.startswith("```"):
                if name and name not in found:
                    found[name] = "\n".join(block) + "\n"
                block = None
            else:
                block.append(line)
        elif line.startswith("## Exercise"):
            name = line[3:].strip().split(".")[0].split(":")[0].strip()
        elif line.startswith("```"):
            block = []
    return found
