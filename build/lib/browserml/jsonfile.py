"""Read a JSON file that a person or a tool may have broken, with an error that says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, error: type[Exception] = ValueError, missing: str = "") -> Any:
    """Parse ``path``; a missing or malformed file raises ``error`` naming the file.

    ``missing`` replaces the default "is missing" text, to say what the file is for.
    """
    path = Path(path)
    if not path.is_file():
        raise error(missing or f"{path} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise error(f"{path}: not valid JSON ({err})") from err
