"""A small canvas you can draw a curve on, synced to Python as a list of y values.

ipywidgets has no drawing input, so this is an ``anywidget``: ~40 lines of plain JS
(``widgets/js/drawpad.js``, styles in ``drawpad.css``), no CDN, no build step. Drawing
left to right records one y per pixel column (0 at the bottom, 1 at the top);
``points`` is what Python sees. Its border and midline are JupyterLab's theme colours
(``--jp-*``), its canvas transparent: no white slab on the dark theme. Where the front
end cannot load it (no widget manager), the lesson falls back to choosing a beat instead
of drawing.
"""

from __future__ import annotations

import anywidget
import traitlets

from widgets.common import JS_DIR, front_end


class DrawPad(anywidget.AnyWidget):
    """Draw a curve; ``points`` holds its y values (0 = bottom, 1 = top), left to right."""

    _esm = front_end("drawpad")
    _css = JS_DIR / "drawpad.css"
    points = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)
    width = traitlets.Int(420).tag(sync=True)
    height = traitlets.Int(160).tag(sync=True)
