"""Where the project's files are, found the same way from a notebook, a test or the CLI.

Notebooks run with ``notebooks/`` as the working directory, tests and the CLI from the
project root; every path in browserml is resolved from here rather than from the
current directory, so a lesson never writes its export somewhere surprising.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
JS_DIR = PACKAGE_DIR / "js"
TEMPLATES_DIR = PACKAGE_DIR / "templates"


def project_root() -> Path:
    """The checkout's root (the folder with ``pyproject.toml`` beside ``browserml/``).

    ``BROWSERML_ROOT`` overrides it, for an installed (non-editable) package.
    """
    override = os.environ.get("BROWSERML_ROOT")
    if override:
        return Path(override).resolve()
    return PACKAGE_DIR.parent


def exports_dir() -> Path:
    """The folder lessons export their TF.js models to."""
    return project_root() / "exports"


def datasets_dir() -> Path:
    """The folder with the data files and their provenance."""
    return project_root() / "datasets"


def node_modules_dir() -> Path:
    """The project's ``node_modules`` (from ``npm ci``), where the TF.js runtime lives.

    Raises ``FileNotFoundError`` naming the fix when ``npm ci`` has not been run.
    """
    override = os.environ.get("BROWSERML_NODE_MODULES")
    path = Path(override) if override else project_root() / "node_modules"
    if not (path / "@tensorflow" / "tfjs" / "package.json").is_file():
        raise FileNotFoundError(
            f"TF.js is not installed under {path}. Run `make setup` (or `npm ci` in "
            f"{project_root()}) to install the JS runtime that checks exports."
        )
    return path
