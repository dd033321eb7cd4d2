"""A grid of clickable thumbnails drawn from one sprite, synced to Python as ``clicked``.

ConvNet Playground's gallery is the thing a learner clicks most. Two hundred
``ipywidgets.Image`` buttons would mean two hundred widget models and round trips;
here the whole grid is one PNG *sprite* (every tile side by side, sent once as a data
URL) drawn on a canvas by ~50 lines of plain JS, ``widgets/js/thumbgrid.js``: no CDN,
no build step. Borders (the query, green/red for same/other class) and captions
(distances) are small lists, so re-highlighting never resends pixels.

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
import re
from collections.abc import Sequence

import anywidget
import numpy as np
import traitlets

from browserml.png import encode_png
from widgets.common import JS_DIR, front_end


def _js_constant(name: str) -> int:
    """The value of the front end's ``const NAME = <digits>;`` line."""
    match = re.search(rf"^const {name} = (\d+);", (JS_DIR / "thumbgrid.js").read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"thumbgrid.js has no `const {name} = <number>;` line")
    return int(match.group(1))


#: px under each tile row when there are captions: read from the front end's own
#: ``const CAPTION_H = ...;`` line, so Python's :meth:`ThumbGrid.pixel_size` and the JS agree.
CAPTION_H = _js_constant("CAPTION_H")


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
        thumb = Image.fromarray(image.astype(np.uint8)).resize((tile, tile), Image.Resampling.BILINEAR)
        sheet.paste(thumb, ((i % columns) * tile, (i // columns) * tile))
    return "data:image/png;base64," + base64.b64encode(encode_png(sheet)).decode("ascii")


class ThumbGrid(anywidget.AnyWidget):
    """Clickable thumbnails from one sprite; ``clicked`` is the tile the learner clicked.

    ``highlighted`` tiles get a border in the matching entry of ``colors``;
    ``captions`` (optional, one per tile) are drawn under the tiles and ``tooltips``
    show on hover.
    """

    _esm = front_end("thumbgrid")
    _css = JS_DIR / "thumbgrid.css"
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
