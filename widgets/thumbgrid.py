"""A grid of clickable thumbnails drawn from one sprite, synced to Python as ``clicked``.

ConvNet Playground's gallery is the thing a learner clicks most. Two hundred
``ipywidgets.Image`` buttons would mean two hundred widget models and round trips;
here the whole grid is one PNG *sprite* (every tile side by side, sent once as a data
URL) drawn on a canvas by ~50 lines of plain JS: no CDN, no build step. Borders
(the query, green/red for same/other class) and captions (distances) are small lists,
so re-highlighting never resends pixels.

Clicking tile ``i`` sets ``clicked`` to ``i`` (tile position, not a dataset index: the
app maps it). The front end sends ``-1`` first, so clicking the same tile twice still
reports twice; Python observers should ignore negative values.

The canvas's size in CSS pixels is :meth:`ThumbGrid.pixel_size`, computed in Python
from the same traits (``tile``, ``columns``, ``gap``, ``count``, captions) by the same
formula as the JS, and the widget's own ``layout.width`` is set to it (margin 0), so a
box sized from it holds the whole grid: no clipped last column, no scrollbar. The
canvas is a block with ``max-width: 100%`` too, so a narrower box shrinks it (clicks
still map to tiles) instead of clipping it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import anywidget
import numpy as np
import traitlets

from widgets.common import THEMED_JS

CAPTION_H = 14  # px under each tile row when there are captions (put into the JS below)

_ESM = THEMED_JS + r"""
export default {
  render({ model, el }) {
    const canvas = document.createElement("canvas");
    // a block (no baseline gap below) that never overflows its box: box-sizing makes
    // max-width count the whole element, and height follows the width it gets
    Object.assign(canvas.style, { cursor: "pointer", display: "block", boxSizing: "border-box",
                                  maxWidth: "100%", height: "auto", margin: "0", padding: "0", border: "0" });
    const ctx = canvas.getContext("2d");
    const sprite = new Image();
    function layout() {
      const t = model.get("tile"), cols = Math.max(1, model.get("columns")), n = model.get("count");
      const capH = model.get("captions").length ? CAPTION_H : 0, GAP = model.get("gap");
      return { t, cols, n, capH, GAP, rows: Math.ceil(n / cols) };
    }
    function origin(i, L) {
      return [L.GAP + (i % L.cols) * (L.t + L.GAP), L.GAP + Math.floor(i / L.cols) * (L.t + L.GAP + L.capH)];
    }
    function draw() {
      const L = layout();  // the same sizes as ThumbGrid.pixel_size() in Python
      canvas.width = L.cols * (L.t + L.GAP) + L.GAP;
      canvas.height = Math.max(1, L.rows * (L.t + L.GAP + L.capH) + L.GAP);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const colors = {}, given = model.get("colors");
      model.get("highlighted").forEach((i, j) => { colors[i] = given[j] || "#1f77b4"; });
      const caps = model.get("captions"), ink = themed(el, "--jp-ui-font-color1", "#333");  // light or dark theme
      ctx.font = "11px sans-serif"; ctx.textAlign = "center";
      for (let i = 0; i < L.n; i++) {
        const [x, y] = origin(i, L);
        if (sprite.complete && sprite.naturalWidth) {
          ctx.drawImage(sprite, (i % L.cols) * L.t, Math.floor(i / L.cols) * L.t, L.t, L.t, x, y, L.t, L.t);
        }
        if (colors[i]) {
          ctx.lineWidth = 4; ctx.strokeStyle = colors[i];
          ctx.strokeRect(x - 2, y - 2, L.t + 4, L.t + 4);
        }
        if (caps[i]) { ctx.fillStyle = ink; ctx.fillText(caps[i], x + L.t / 2, y + L.t + 12); }
      }
    }
    function tileAt(ev) {
      const L = layout(), r = canvas.getBoundingClientRect();
      const px = (ev.clientX - r.left) * canvas.width / r.width, py = (ev.clientY - r.top) * canvas.height / r.height;
      const col = Math.floor((px - L.GAP / 2) / (L.t + L.GAP));
      const row = Math.floor((py - L.GAP / 2) / (L.t + L.GAP + L.capH));
      const i = row * L.cols + col;
      return col >= 0 && col < L.cols && row >= 0 && i < L.n ? i : -1;
    }
    canvas.addEventListener("click", (ev) => {
      const i = tileAt(ev);
      if (i < 0) return;
      model.set("clicked", -1); model.save_changes();  // so a second click on the same tile reports again
      model.set("clicked", i); model.save_changes();
    });
    canvas.addEventListener("mousemove", (ev) => {
      const i = tileAt(ev), tips = model.get("tooltips");
      canvas.title = i >= 0 && tips[i] ? tips[i] : "";
    });
    sprite.onload = draw;
    function load() { sprite.src = model.get("sprite"); draw(); }
    model.on("change:sprite", load);
    for (const name of ["tile", "columns", "gap", "count", "highlighted", "colors", "captions"]) {
      model.on("change:" + name, draw);
    }
    load();
    el.appendChild(canvas);
  }
};
""".replace("CAPTION_H", str(CAPTION_H))


def sprite_data_url(images: np.ndarray, tile: int, columns: int) -> str:
    """Every image resized to ``tile`` x ``tile`` and laid out ``columns`` per row, as
    one PNG data URL (tile ``i`` at column ``i % columns``, row ``i // columns``).

    PNG rather than JPEG so a thumbnail shows the very pixels the model saw (resized
    only), which matters when the lesson is about what a layer considers similar.
    """
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"sprite images must be RGB, shaped (N, H, W, 3); got shape {images.shape}")
    if tile < 1 or columns < 1:
        raise ValueError(f"tile and columns must be at least 1, got tile={tile}, columns={columns}")
    n = len(images)
    rows = max(1, -(-n // columns))
    sheet = Image.new("RGB", (columns * tile, rows * tile), "white")
    for i, image in enumerate(images):
        thumb = Image.fromarray(image.astype(np.uint8)).resize((tile, tile), Image.BILINEAR)
        sheet.paste(thumb, ((i % columns) * tile, (i // columns) * tile))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class ThumbGrid(anywidget.AnyWidget):
    """Clickable thumbnails from one sprite; ``clicked`` is the tile the learner clicked.

    ``highlighted`` tiles get a border in the matching entry of ``colors``;
    ``captions`` (optional, one per tile) are drawn under the tiles and ``tooltips``
    show on hover.
    """

    _esm = _ESM
    sprite = traitlets.Unicode("").tag(sync=True)
    tile = traitlets.Int(56).tag(sync=True)
    columns = traitlets.Int(10).tag(sync=True)
    gap = traitlets.Int(6).tag(sync=True)  # px between tiles and around the grid
    count = traitlets.Int(0).tag(sync=True)
    highlighted = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
    colors = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    captions = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    tooltips = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)
    clicked = traitlets.Int(-1).tag(sync=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.layout.margin = "0"  # ipywidgets' default widget margin would push the canvas past its box
        self._fit_width()

    def pixel_size(self) -> tuple[int, int]:
        """The canvas's ``(width, height)`` in CSS pixels, by the JS's own formula."""
        cols = max(1, self.columns)
        rows = -(-self.count // cols)
        caption = CAPTION_H if self.captions else 0
        return cols * (self.tile + self.gap) + self.gap, max(1, rows * (self.tile + self.gap + caption) + self.gap)

    @traitlets.observe("tile", "columns", "gap")
    def _fit_width(self, _change: object = None) -> None:
        """Keep ``layout.width`` the canvas's width (it depends on these traits only)."""
        self.layout.width = f"{self.pixel_size()[0]}px"

    def show(self, images: np.ndarray, captions: Sequence[str] = (), tooltips: Sequence[str] = (),
             highlighted: Sequence[int] = (), colors: Sequence[str] = ()) -> None:
        """Replace the tiles (one sprite) and their decorations in a single sync."""
        with self.hold_sync():
            self.sprite = sprite_data_url(images, self.tile, self.columns) if len(images) else ""
            self.count = len(images)
            self.captions, self.tooltips = list(captions), list(tooltips)
            self.highlight(highlighted, colors)

    def highlight(self, tiles: Sequence[int], colors: Sequence[str] = ()) -> None:
        """Border ``tiles`` with ``colors`` (one each; missing ones default to blue)."""
        if len(colors) > len(tiles):
            raise ValueError(f"{len(colors)} colours for {len(tiles)} highlighted tiles")
        self.highlighted, self.colors = [int(t) for t in tiles], list(colors)
