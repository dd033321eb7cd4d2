"""Lesson figures show as pictures in any notebook front end, pyplot or not."""

from IPython.core.formatters import PNGFormatter

from browserml.figures import new_figure


def test_a_figure_renders_its_own_png_without_pyplot():
    fig = new_figure(2, 1)
    fig.subplots().plot([0, 1], [1, 0])
    png = PNGFormatter()(fig)  # what IPython's display machinery asks for
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
