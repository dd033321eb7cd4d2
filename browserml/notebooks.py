"""Keep notebooks in one canonical, output-free form.

Notebooks are stored without outputs, execution counts or widget state, in the JSON
layout ``nbformat`` writes (one-space indent, sorted keys): diffs then show only
what an author changed, and a learner opens a clean notebook. CI fails on a dirty
one; ``browserml nbclean`` (``make nbclean``) fixes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KEEP_METADATA = ("kernelspec", "language_info", "colab")


def clean(nb: dict[str, Any]) -> dict[str, Any]:
    """Return ``nb`` without outputs, execution counts, widget state or cell ids noise."""
    nb = json.loads(json.dumps(nb))
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in KEEP_METADATA}
    if "language_info" in nb["metadata"]:
        nb["metadata"]["language_info"] = {"name": nb["metadata"]["language_info"].get("name", "python")}
    for cell in nb.get("cells", []):
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in ("tags",)}
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


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
