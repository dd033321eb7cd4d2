"""Figures that show themselves in a notebook without pyplot, sharp and in either theme.

The lessons build figures with ``matplotlib.figure.Figure`` directly, not pyplot, so a
widget can redraw from a callback and nothing piles up in pyplot's global list of
open figures. But Jupyter draws a bare ``Figure`` as the text ``<Figure size ...>``
unless pyplot's inline backend happens to be active. A figure that renders its own
PNG (``_repr_png_``) shows as a picture in every front end: JupyterLab, Colab, nbconvert.

Two rules every picture follows, here and in the widgets (``widgets.common.show_figure``):

- **Shown at the size it was drawn for.** A figure of ``w`` inches is meant to be
  ``w × 96`` CSS pixels wide (CSS's own inch); it is rendered at :data:`DENSITY` device
  pixels per CSS pixel (a high-density screen's 2×) and handed over *with* that CSS
  size, so the front end never stretches a small PNG (the blur learners saw) and may
  only shrink it to fit a narrow column.
- **Readable on JupyterLab's light and dark themes.** A PNG cannot follow the page's
  CSS, so the figure carries no background at all (transparent figure and axes) and
  its ink (text, ticks, spines, black lines) is :data:`NEUTRAL`, a mid-grey whose
  contrast is at least 3:1 (WCAG's minimum for graphics) on white *and* on black.
  Colours a plot chose on purpose (data series, heatmaps) are left alone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

#: CSS pixels per inch (fixed by CSS): a figure of ``w`` inches is shown ``w × 96`` px wide.
CSS_PX_PER_INCH = 96
#: Device pixels per CSS pixel in the PNG: sharp on 2× (HiDPI) screens, downscaled cleanly on 1×.
DENSITY = 2
#: The ink of every figure: mid-grey, ≥ 3:1 contrast on white (3.9) and on black (5.3).
NEUTRAL = "#808080"
#: Legend boxes: a faint grey wash instead of matplotlib's white box.
LEGEND_FACE = (0.5, 0.5, 0.5, 0.12)


def relative_luminance(colour: Any) -> float:
    """WCAG 2 relative luminance of a matplotlib colour (0 for black, 1 for white)."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = to_rgba(colour)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: Any, b: Any) -> float:
    """WCAG 2 contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _is_default_ink(colour: Any) -> bool:
    """Black is matplotlib's default for text, ticks, spines and "k" lines: the ink that
    vanishes on a dark page. Only that is recoloured; a plot's chosen colours stay."""
    try:
        r, g, b, a = to_rgba(colour)
    except (ValueError, TypeError):
        return False
    return a > 0 and max(r, g, b) < 0.1


def _neutral_legend(legend: Any) -> None:
    frame = legend.get_frame()
    frame.set_alpha(None)  # the legend's framealpha (0.8) would otherwise turn the wash into a grey slab
    frame.set_facecolor(LEGEND_FACE)
    frame.set_edgecolor(NEUTRAL)


def neutral_theme(fig: Figure) -> Figure:
    """Make ``fig`` read on light and dark pages: no background, :data:`NEUTRAL` ink.

    Applied at render time (matplotlib reads its colours when each artist is created,
    long after :func:`new_figure` returns), so every lesson's plotting code stays plain
    matplotlib. Idempotent; returns ``fig``.
    """
    fig.patch.set_facecolor("none")
    for ax in fig.axes:
        ax.set_facecolor("none")
        for spine in ax.spines.values():
            if _is_default_ink(spine.get_edgecolor()):
                spine.set_edgecolor(NEUTRAL)
        ax.tick_params(axis="both", which="both", colors=NEUTRAL)
        if ax.get_legend() is not None:
            _neutral_legend(ax.get_legend())
    for legend in fig.legends:
        _neutral_legend(legend)
    for text in fig.findobj(Text):
        if _is_default_ink(text.get_color()):
            text.set_color(NEUTRAL)
    for line in fig.findobj(Line2D):
        if _is_default_ink(line.get_color()):
            line.set_color(NEUTRAL)
        if _is_default_ink(line.get_markerfacecolor()):
            line.set_markerfacecolor(NEUTRAL)
        if _is_default_ink(line.get_markeredgecolor()):
            line.set_markeredgecolor(NEUTRAL)
    return fig


@dataclass(frozen=True)
class RenderedFigure:
    """A figure's PNG and the CSS size it is meant to be shown at (``density`` device
    pixels per CSS pixel, so the PNG is ``width_px·density × height_px·density``)."""

    data: bytes
    width_px: int
    height_px: int
    density: int
    format: str = "png"


def render_png(fig: Figure, density: int = DENSITY) -> RenderedFigure:
    """Render ``fig`` (themed by :func:`neutral_theme`) as a transparent PNG at
    ``density`` device pixels per CSS pixel, with the CSS size to show it at."""
    if density < 1:
        raise ValueError(f"density must be at least 1 device pixel per CSS pixel, got {density}")
    neutral_theme(fig)
    width_in, height_in = fig.get_size_inches()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=CSS_PX_PER_INCH * density, transparent=True)
    return RenderedFigure(buf.getvalue(), round(width_in * CSS_PX_PER_INCH), round(height_in * CSS_PX_PER_INCH),
                          int(density))


class NotebookFigure(Figure):
    """A ``Figure`` that Jupyter displays as a sharp, theme-neutral PNG picture."""

    def _repr_png_(self) -> bytes:
        return render_png(self).data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        """The PNG with its CSS width and height in the metadata, which JupyterLab, Colab
        and nbconvert honour: a 2× PNG shown at 1× size, never stretched."""
        shown = render_png(self)
        return ({"image/png": shown.data, "text/plain": repr(self)},
                {"image/png": {"width": shown.width_px, "height": shown.height_px}})


def new_figure(width: float, height: float, **kwargs: Any) -> NotebookFigure:
    """A constrained-layout figure of ``width`` x ``height`` inches (shown ``96·width``
    CSS pixels wide)."""
    return NotebookFigure(figsize=(width, height), layout="constrained", **kwargs)
