"""Shared view helpers for what a learner reads: readable tables, charts shown at their
drawn size, and front ends that follow JupyterLab's light or dark theme (issue 14)."""

from __future__ import annotations

import io
import re

import ipywidgets as W
import pytest
from PIL import Image

from browserml.figures import new_figure
from widgets import drawpad, scatter
from widgets.common import THEMED_JS, flex_row, html_table, readable_header, readable_table, show_figure

HEADER = re.compile(r"<th(?:\s[^>]*)?>(.*?)</th>")


@pytest.mark.parametrize("key, words", [
    ("max_abs_diff", "max |Δ| vs Python"), ("least_squares", "least squares"), ("roc_auc", "ROC AUC"),
    ("tensors_leaked", "tensors leaked"), ("load_ms", "load (ms)"), ("python_latency_ms", "Python latency (ms)"),
    ("backend", "backend"),
])
def test_keys_read_as_words(key, words):
    assert readable_header(key) == words


def test_html_table_never_shows_python_keys_none_nan_or_booleans():
    html = html_table([{"max_abs_diff": 1e-7, "latency_ms": None, "f1": float("nan"), "ok": True}])
    assert HEADER.findall(html) == ["max |Δ| vs Python", "latency (ms)", "F1", "OK"]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    assert cells == ["0.0000", "—", "—", "yes"]
    assert HEADER.findall(html_table([{"least_squares": 1.0}], headers={"least_squares": "best fit"})) == ["best fit"]


def test_a_notebook_shows_rows_as_a_readable_table():
    shown = readable_table([{"backend": "wasm", "tensors_leaked": 0}])
    assert HEADER.findall(shown._repr_html_()) == ["backend", "tensors leaked"]


def test_flex_rows_keep_each_block_at_its_own_height_and_wrap():
    html = flex_row("<table></table>", "<table></table>")
    assert "align-items:flex-start" in html and "flex-wrap:wrap" in html


def test_show_figure_sets_the_css_size_the_pixels_are_for():
    image = W.Image()
    fig = new_figure(4, 2.5)
    fig.subplots().plot([0, 1])
    shown = show_figure(image, fig)
    assert image.layout.width == "384px" and image.layout.max_width == "100%" and image.layout.height == "auto"
    assert Image.open(io.BytesIO(image.value)).size == (384 * shown.density, 240 * shown.density)
    assert image.format == "png"


@pytest.mark.parametrize("widget", [scatter.Scatter, drawpad.DrawPad], ids=["scatter", "drawpad"])
def test_canvas_front_ends_take_their_ink_from_the_theme(widget):
    """A canvas cannot use var(): the ESM reads the --jp-* colour when it draws, and its
    CSS uses the variables; no hard-coded black or light-grey ink is left."""
    esm, css = widget._esm, str(widget._css)
    assert esm.startswith(THEMED_JS) and "themed(el, \"--jp-" in esm
    assert "var(--jp-border-color" in css
    assert not re.search(r"""(strokeStyle|fillStyle)\s*=\s*["']#(000|eee|888)""", esm)
    assert not re.search(r"""ring\([^)]*["']#000["']""", esm)
    assert "1px solid #" not in esm + css


def test_every_labelled_control_gets_a_tooltip_not_null():
    """ipywidgets 8.1 shows a control's ``tooltip`` as its label's hover text verbatim: "null" when unset."""
    import ipywidgets as W

    from widgets.common import IPYWIDGETS_MAJOR, explain_labels

    slider = W.IntSlider(description="points")
    own = W.Dropdown(options=["a"], description="<b>rule</b>", tooltip="how the threshold is chosen")
    html = W.Dropdown(options=["a"], description="<b>rule</b>")
    bare = W.IntSlider()
    explain_labels(W.VBox([W.HBox([slider, own]), W.Tab(children=[W.VBox([html, bare])])]))
    if IPYWIDGETS_MAJOR >= 8:
        assert (slider.tooltip, own.tooltip, html.tooltip, bare.tooltip) == (
            "points", "how the threshold is chosen", "rule", None)


def test_the_polyfit_app_has_no_labelled_control_without_a_tooltip():
    from ipywidgets.widgets.widget_description import DescriptionWidget

    from widgets.polyfit import PolyfitApp

    stack, unlabelled = [PolyfitApp().widget], []
    while stack:
        w = stack.pop()
        stack.extend(getattr(w, "children", ()) or ())
        if isinstance(w, DescriptionWidget) and w.description and not w.tooltip:
            unlabelled.append(w.description)
    assert unlabelled == []
