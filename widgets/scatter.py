"""A clickable 2-D scatter (a UMAP of image features), synced to Python as ``clicked``.

ConvNet Playground shows where the query and its results sit in a 2-D map of the
layer's features; clicking a point searches from it. Its ink (legend text, the rings
around results, the empty-map message) is JupyterLab's theme colour, read from the
page's ``--jp-*`` variables at each draw, so it reads on the light and dark themes. A
matplotlib PNG cannot be clicked, and a plotting library would mean a CDN or a build
step, so this is an ``anywidget`` of plain JS (``widgets/js/scatter.js``, styles in
``scatter.css``): points coloured by class with an HTML legend, the results ringed in
the theme's ink, the query ringed larger in red, and a hover tooltip.

Clicking within 10 pixels of a point sets ``clicked`` to the nearest point's index
(``-1`` is sent first so that clicking the same point twice reports twice; Python
observers should ignore negative values).
"""

from __future__ import annotations

from collections.abc import Sequence

import anywidget
import numpy as np
import traitlets

from widgets.common import JS_DIR, front_end

#: matplotlib's tab10 then the light half of tab20: distinct colours for up to 20 classes.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)



class Scatter(anywidget.AnyWidget):
    """Points ``(x[i], y[i])`` coloured by ``palette[labels[i]]``, with a class legend.

    ``query`` (an index, -1 for none) is ringed in red, ``highlighted`` indices in
    black; ``clicked`` is the index of the point the learner clicked. ``message`` is
    shown while there are no points (e.g. "computing UMAP…").
    """

    _esm = front_end("scatter")
    _css = JS_DIR / "scatter.css"
    x = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)
    y = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)
    labels = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    palette = traitlets.List(traitlets.Unicode(), default_value=list(PALETTE)).tag(sync=True)
    tooltips = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    query = traitlets.Int(-1).tag(sync=True)
    highlighted = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    clicked = traitlets.Int(-1).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(420).tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)

    def plot(self, points: np.ndarray, labels: Sequence[int], class_names: Sequence[str],
             tooltips: Sequence[str] = ()) -> None:
        """Show ``points`` (N, 2) with one class label each, in a single sync."""
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(labels) != len(points):
            raise ValueError(f"need points (N, 2) and N labels, got {points.shape} and {len(labels)} labels")
        if not np.all(np.isfinite(points)):
            raise ValueError("points contain NaN or infinity")
        with self.hold_sync():
            self.x, self.y = points[:, 0].tolist(), points[:, 1].tolist()
            self.labels = [int(v) for v in labels]
            self.class_names = list(class_names)
            self.tooltips = list(tooltips)

    def clear(self, message: str = "") -> None:
        """Remove the points and show ``message`` instead."""
        with self.hold_sync():
            self.x, self.y, self.labels, self.tooltips = [], [], [], []
            self.query, self.highlighted, self.message = -1, [], message
