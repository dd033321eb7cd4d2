"""Figures that show themselves in a notebook without pyplot.

The lessons build figures with ``matplotlib.figure.Figure`` directly, not pyplot, so a
widget can redraw from a callback and nothing piles up in pyplot's global list of
open figures. But Jupyter draws a bare ``Figure`` as the text ``<Figure size ...>``
unless pyplot's inline backend happens to be active. A figure that renders its own
PNG (``_repr_png_``) shows as a picture in every front end: JupyterLab, Colab, nbconvert.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

DPI = 100


class NotebookFigure(Figure):
    """A ``Figure`` that Jupyter displays as a PNG picture."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()


def new_figure(width: float, height: float, **kwargs: Any) -> NotebookFigure:
    """A constrained-layout figure of ``width`` x ``height`` inches."""
    return NotebookFigure(figsize=(width, height), layout="constrained", **kwargs)
