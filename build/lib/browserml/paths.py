"""Where the project's files are, found the same way from a notebook, a test or the CLI.

Notebooks run with ``notebooks/`` as the working directory, tests and the CLI from the
project root; every path in browserml is resolved from here rather than from the
current directory, so a lesson never writes its export somewhere surprising.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
JS_DIR = PACKAGE_DIR / "js"
TEMPLATES_DIR = PACKAGE_DIR / "templates"


def is_checkout() -> bool:
    """Whether browserml runs from a checkout (editable install, Colab clone, Binder)
    rather than from a non-editable ``pip install .`` into site-packages."""
    return (PACKAGE_DIR.parent / "pyproject.toml").is_file()


def project_root() -> Path:
    """The checkout's root (the folder with ``pyproject.toml`` beside ``browserml/``).

    ``BROWSERML_ROOT`` overrides it. A non-editable install has no checkout: there the
    current folder is the root, so exports land in ``./exports`` where the learner is.
    """
    override = os.environ.get("BROWSERML_ROOT")
    if override:
        return Path(override).resolve()
    return PACKAGE_DIR.parent if is_checkout() else Path.cwd()


def exports_dir() -> Path:
    """The folder lessons export their TF.js models to."""
    return project_root() / "exports"


def datasets_dir() -> Path:
    """The folder with the data files and their provenance: the checkout's ``datasets/``,
    or, for a non-editable install, the copy the wheel put in ``<prefix>/share/browserml``."""
    local = project_root() / "datasets"
    installed = Path(sys.prefix) / "share" / "browserml" / "datasets"
    return installed if not local.is_dir() and installed.is_dir() else local


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


#: Where ``browserml.colab`` unpacks npm packages on a machine without npm (Colab).
NPM_PACKAGES_DIR = ".npm-packages"


def npm_package_dir(name: str) -> Path:
    """The folder of the npm package ``name``: ``node_modules/<name>`` after ``npm ci``, or
    ``.npm-packages/<name>`` where ``browserml.colab`` unpacked it without npm. When neither
    exists, the ``node_modules`` path (for error messages that name ``npm ci``)."""
    try:
        installed = node_modules_dir() / name
    except FileNotFoundError:
        override = os.environ.get("BROWSERML_NODE_MODULES")
        installed = (Path(override) if override else project_root() / "node_modules") / name
    unpacked = project_root() / NPM_PACKAGES_DIR / name
    if not (installed / "package.json").is_file() and (unpacked / "package.json").is_file():
        return unpacked
    return installed
