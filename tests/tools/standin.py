"""The Python side of ``js/anywidget_standin.js``: a widget's real front end in a plain
Chromium page, its messages relayed to and from the real Python widget by hand.

Used by the Chromium tests that need no Jupyter (tests/test_browser_runtime.py,
tests/test_widgets_intro.py): faster than JupyterLab, and every message is in view.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: The stand-in's script, to inline in a harness page's ``<script>``.
STANDIN_JS = (Path(__file__).parent / "js" / "anywidget_standin.js").read_text(encoding="utf-8")

#: (content, buffers): one message as the Python widget sends or receives it.
Message = tuple[dict[str, Any], Sequence[bytes]]


def relay_once(page: Any, to_kernel: Callable[[dict[str, Any], list[bytes]], Any], to_page: list[Message]) -> None:
    """Hand every message the page has sent to ``to_kernel``, then deliver the queued
    ``to_page`` messages (emptying the queue) to the page."""
    for msg in page.evaluate("window.outbox.splice(0)"):
        to_kernel(msg["content"], [base64.b64decode(b) for b in msg["buffers"]])
    while to_page:
        content, buffers = to_page.pop(0)
        page.evaluate("([c, b]) => deliver(c, b)", [content, [base64.b64encode(bytes(b)).decode() for b in buffers]])
