"""A clickable 2-D scatter (a UMAP of image features), synced to Python as ``clicked``.

ConvNet Playground shows where the query and its results sit in a 2-D map of the
layer's features; clicking a point searches from it. Its ink (legend text, the rings
around results, the empty-map message) is JupyterLab's theme colour, read from the
page's ``--jp-*`` variables at each draw, so it reads on the light and dark themes. A matplotlib PNG cannot be
clicked, and a plotting library would mean a CDN or a build step, so this is an
``anywidget`` of plain JS: points coloured by class with an HTML legend, the results
ringed in black, the query ringed larger in red, and a hover tooltip.

Clicking within 10 pixels of a point sets ``clicked`` to the nearest point's index
(``-1`` is sent first so that clicking the same point twice reports twice; Python
observers should ignore negative values).
"""

from __future__ import annotations

from collections.abc import Sequence

import anywidget
import numpy as np
import traitlets

from widgets.common import THEMED_JS

#: matplotlib's tab10 then the light half of tab20: distinct colours for up to 20 classes.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)

_ESM = THEMED_JS + r"""
const M = 12;
export default {
  render({ model, el }) {
    const canvas = document.createElement("canvas");
    canvas.style.border = "1px solid var(--jp-border-color2, #ddd)"; canvas.style.cursor = "crosshair";
    canvas.style.maxWidth = "100%";
    const legend = document.createElement("div");
    legend.style.display = "flex"; legend.style.flexWrap = "wrap"; legend.style.gap = "4px 12px";
    legend.style.font = "12px sans-serif"; legend.style.marginTop = "4px";
    legend.style.color = "var(--jp-ui-font-color1, #333)";
    legend.style.maxWidth = model.get("width") + "px";
    const ctx = canvas.getContext("2d");
    let screen = [];
    function project() {
      const xs = model.get("x"), ys = model.get("y"), w = model.get("width"), h = model.get("height");
      if (!xs.length) return [];
      const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
      const sx = (w - 2 * M) / ((x1 - x0) || 1), sy = (h - 2 * M) / ((y1 - y0) || 1);
      return xs.map((x, i) => [M + (x - x0) * sx, h - M - (ys[i] - y0) * sy]);
    }
    function color(i) {
      const labels = model.get("labels"), pal = model.get("palette");
      return labels.length && pal.length ? pal[labels[i] % pal.length] : "#1f77b4";
    }
    function ring(p, r, c, lw) { ctx.beginPath(); ctx.arc(p[0], p[1], r, 0, 2 * Math.PI);
      ctx.lineWidth = lw; ctx.strokeStyle = c; ctx.stroke(); }
    function draw() {
      canvas.width = model.get("width"); canvas.height = model.get("height");
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      screen = project();
      ctx.globalAlpha = 0.75;
      screen.forEach((p, i) => { ctx.beginPath(); ctx.arc(p[0], p[1], 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = color(i); ctx.fill(); });
      ctx.globalAlpha = 1;
      const ink = themed(el, "--jp-ui-font-color0", "#000");
      model.get("highlighted").forEach((i) => { if (screen[i]) ring(screen[i], 6, ink, 1.5); });
      const q = model.get("query");
      if (screen[q]) { ring(screen[q], 9, "#d62728", 3); }
      if (!screen.length) { ctx.fillStyle = themed(el, "--jp-ui-font-color2", "#888"); ctx.font = "13px sans-serif";
        ctx.fillText(model.get("message"), M, canvas.height / 2); }
      legend.replaceChildren(...model.get("class_names").map((name, c) => {
        const item = document.createElement("span"), pal = model.get("palette");
        item.innerHTML = `<span style="display:inline-block;width:10px;height:10px;border-radius:5px;` +
          `background:${pal[c % pal.length]};margin-right:4px"></span>`;
        item.append(name); return item; }));
    }
    function nearest(ev) {
      const r = canvas.getBoundingClientRect();
      const px = (ev.clientX - r.left) * canvas.width / r.width, py = (ev.clientY - r.top) * canvas.height / r.height;
      let best = -1, bd = 100;  // 10 px squared
      screen.forEach((p, i) => { const d = (p[0] - px) ** 2 + (p[1] - py) ** 2; if (d < bd) { bd = d; best = i; } });
      return best;
    }
    canvas.addEventListener("click", (ev) => {
      const i = nearest(ev);
      if (i < 0) return;
      model.set("clicked", -1); model.save_changes();  // so a second click on the same point reports again
      model.set("clicked", i); model.save_changes();
    });
    canvas.addEventListener("mousemove", (ev) => {
      const i = nearest(ev), tips = model.get("tooltips");
      canvas.title = i >= 0 ? (tips[i] || `#${i}`) : "";
    });
    for (const name of ["x", "y", "labels", "class_names", "palette", "query", "highlighted", "width", "height",
                        "message"]) {
      model.on("change:" + name, draw);
    }
    draw();
    el.appendChild(canvas); el.appendChild(legend);
  }
};
"""


class Scatter(anywidget.AnyWidget):
    """Points ``(x[i], y[i])`` coloured by ``palette[labels[i]]``, with a class legend.

    ``query`` (an index, -1 for none) is ringed in red, ``highlighted`` indices in
    black; ``clicked`` is the index of the point the learner clicked. ``message`` is
    shown while there are no points (e.g. "computing UMAP…").
    """

    _esm = _ESM
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
