"""A lesson notebook's own code cells, for tests that run them and compare with the package."""

from __future__ import annotations

import json
from functools import cache

from browserml.paths import project_root


@cache
def code_cells(notebook: str) -> tuple[str, ...]:
    """Every code cell of ``notebooks/<notebook>``, as text, in order."""
    nb = json.loads((project_root() / "notebooks" / notebook).read_text(encoding="utf-8"))
    return tuple("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def code_cell(notebook: str, marker: str) -> str:
    """The one code cell of ``notebook`` that contains ``marker`` (a test fails on none or two)."""
    found = [c for c in code_cells(notebook) if marker in c]
    assert len(found) == 1, f"{len(found)} code cells of {notebook} contain {marker!r}"
    return found[0]
