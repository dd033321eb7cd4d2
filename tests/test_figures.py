"""Lesson figures show as pictures in any notebook front end, pyplot or not: sharp (drawn
at twice the size they are shown at, which travels with them) and readable on
JupyterLab's light and dark themes (transparent, mid-grey ink)."""

import io

import numpy as np
import pytest
from IPython.core.formatters import PNGFormatter
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.text import Text
from PIL import Image

from browserml.figures import CSS_PX_PER_INCH, DENSITY, NEUTRAL, contrast_ratio, new_figure, render_png


def test_a_figure_renders_its_own_png_without_pyplot():
    fig = new_figure(2, 1)
    fig.subplots().plot([0, 1], [1, 0])
    png = PNGFormatter()(fig)  # what IPython's display machinery asks for
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


# ---------------------------------------------------------------- sharp, and readable in either theme


def busy_figure():
    """Everything a lesson figure has: title, labels, ticks, a legend, a text, a black line."""
    fig = new_figure(3, 2)
    ax = fig.subplots()
    ax.plot([0, 1], [1, 0], label="fit")
    ax.axvline(0.5, color="black", ls="--", label="threshold")
    ax.text(0.2, 0.2, "note")
    ax.set(title="title", xlabel="x", ylabel="y")
    ax.legend()
    return fig


def rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_a_figure_is_rendered_at_its_display_size_times_the_density():
    shown = render_png(busy_figure())
    assert (shown.width_px, shown.height_px) == (3 * CSS_PX_PER_INCH, 2 * CSS_PX_PER_INCH)
    assert shown.density == DENSITY == 2
    assert rgba(shown.data).shape[:2] == (2 * CSS_PX_PER_INCH * DENSITY, 3 * CSS_PX_PER_INCH * DENSITY)


def test_the_notebook_shows_the_png_at_its_css_size_not_its_pixel_size():
    data, metadata = InteractiveShell.instance().display_formatter.format(busy_figure())
    assert metadata["image/png"] == {"width": 288, "height": 192}
    assert Image.open(io.BytesIO(data["image/png"])).size == (576, 384), "2x pixels for the 1x size"


def test_no_opaque_white_anywhere_only_transparency_behind_the_plot():
    picture = rgba(render_png(busy_figure()).data)
    assert picture[0, 0, 3] == 0 and picture[-1, -1, 3] == 0, "no background"
    white = (picture[..., 3] == 255) & (picture[..., :3] >= 240).all(axis=-1)
    assert not white.any(), f"{white.sum()} opaque white pixels (a white slab on a dark page)"


def test_the_ink_reads_on_white_and_on_black():
    fig = busy_figure()
    render_png(fig)
    inks = [t.get_color() for t in fig.findobj(Text) if t.get_text()]
    inks += [s.get_edgecolor() for s in fig.axes[0].spines.values()]
    inks += [fig.axes[0].lines[1].get_color()]  # the black threshold line
    assert inks and all(contrast_ratio(c, "white") >= 3 and contrast_ratio(c, "black") >= 3 for c in inks), inks
    assert fig.axes[0].lines[0].get_color() != NEUTRAL, "a plot's own colours are kept"
    assert fig.axes[0].get_legend().get_frame().get_facecolor()[3] <= 0.2, "the legend box is a faint wash"


def test_contrast_ratio_is_wcags():
    assert contrast_ratio("black", "white") == pytest.approx(21)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1)
    with pytest.raises(ValueError, match="density"):
        render_png(new_figure(1, 1), density=0)
