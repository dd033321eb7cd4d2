"""The files that make an export folder a web page: its ``index.html`` and the shared
page module it imports.

Every lesson's page template (``browserml/templates/<lesson>_index.html``) imports
``./browserml-page.js``: the backend picker, the status line, the model loaded by an
absolute URL, image decoding. That module is built once from ``browserml/js/runtime/``
(``make bundle``) and committed, and each export writes a copy beside its page, so an
export folder still works on its own when it is copied or served elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from browserml.paths import JS_DIR, TEMPLATES_DIR

#: The shared page module's name, as every template imports it.
PAGE_MODULE = "browserml-page.js"
PAGE_MODULE_PATH = JS_DIR / "dist" / PAGE_MODULE


def template(lesson: str) -> Path:
    """The page template of ``lesson`` (``polynomial``, ``anomaly``, ``imagesearch``, ...)."""
    return TEMPLATES_DIR / f"{lesson}_index.html"


def page_files(lesson: str) -> dict[str, str]:
    """``{"index.html": ..., "browserml-page.js": ...}`` for an export folder."""
    return {
        "index.html": template(lesson).read_text(encoding="utf-8"),
        PAGE_MODULE: PAGE_MODULE_PATH.read_text(encoding="utf-8"),
    }


def write_page(folder: str | Path, lesson: str) -> None:
    """Write the page files into ``folder`` (a staging folder of an atomic export)."""
    for name, text in page_files(lesson).items():
        (Path(folder) / name).write_text(text, encoding="utf-8")
