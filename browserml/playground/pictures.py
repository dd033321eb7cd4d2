"""Lesson 5's pictures, as Playground draws them: its colour map, the heat maps of every
feature and neuron, the decision boundary with the data points, and the loss strip.

Pure NumPy → PNG through Pillow (no matplotlib, no widgets): these are redrawn several
times a second while the network trains, so each is a few array operations and one fast
PNG encode. The colours are Playground's own (orange negative, blue positive, white 0).
The app (``widgets/playground.py``) shows them; the tests call them directly.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence

import numpy as np

from browserml import playground as pg
from browserml.figures import NEUTRAL
from browserml.png import encode_png

#: Playground's colours: orange for negative, blue for positive, white at 0.
NEGATIVE = "#f59322"
POSITIVE = "#0877bd"
ZERO = "#ffffff"
#: Links use Playground's own light grey at 0, so a near-zero weight stays faintly visible on white.
LINK_ZERO = "#e8eaeb"
#: A diverged network outputs NaN; it is drawn grey rather than silently white.
NAN_COLOUR = "#9e9e9e"
#: Playground's learning rates and regularization rates (its dropdowns).
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: Playground's link width scale: |w| in [0, 5] maps linearly to [1, 10] px, clamped.
LINK_WIDTH_DOMAIN = 5.0
LINK_WIDTH_RANGE = (1.0, 10.0)
OUTPUT_PX = 300
NEURON_RESOLUTION = 32
OUTPUT_RESOLUTION = pg.GRID_RESOLUTION


def hex_to_rgb(colour: str) -> np.ndarray:
    """``"#f59322"`` → ``array([245, 147, 34])`` (float, for interpolation)."""
    text = colour.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"colour must look like '#rrggbb', got {colour!r}")
    return np.array([int(text[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


#: Steps of the colour table per unit: values are rounded to 1/128 (Playground uses 30 shades).
COLOUR_STEPS = 128


@functools.lru_cache(maxsize=8)
def _colour_table(zero: str) -> np.ndarray:
    """(2·COLOUR_STEPS + 2, 3) uint8: -1 … +1 in 1/COLOUR_STEPS steps, then the NaN colour."""
    t = np.linspace(-1.0, 1.0, 2 * COLOUR_STEPS + 1)[:, None]
    mid = hex_to_rgb(zero)
    table = np.where(t < 0, mid + (hex_to_rgb(NEGATIVE) - mid) * -t, mid + (hex_to_rgb(POSITIVE) - mid) * t)
    return np.rint(np.vstack([table, hex_to_rgb(NAN_COLOUR)])).astype(np.uint8)


def colour_rgb(values: np.ndarray | float, zero: str = ZERO) -> np.ndarray:
    """Playground's diverging scale as uint8 RGB, shape ``values.shape + (3,)``.

    -1 → orange, 0 → ``zero``, +1 → blue, linear in between (to 1/128) and clamped
    outside (a ReLU's 4.2 is as blue as 1); NaN → grey. A table lookup, because a
    redraw colours ~60 000 pixels.
    """
    v = np.asarray(values, dtype=np.float32)
    index = np.rint((np.clip(v, -1.0, 1.0) + 1.0) * COLOUR_STEPS)
    index = np.where(np.isnan(v), 2 * COLOUR_STEPS + 1, index).astype(np.intp)
    return _colour_table(zero)[index]


def hex_colour(value: float, zero: str = ZERO) -> str:
    """One value's colour as ``"#rrggbb"`` (for SVG strokes and fills)."""
    return hex_colours(np.array([value]), zero)[0]


def hex_colours(values: np.ndarray, zero: str = ZERO) -> list[str]:
    """Many values' colours as ``"#rrggbb"``, flattened in C order (one colour map call)."""
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in colour_rgb(np.ravel(values), zero).tolist()]


def link_width(weight: np.ndarray | float) -> np.ndarray:
    """Playground's stroke width for a weight: 1 px at 0 to 10 px at |w| ≥ 5."""
    low, high = LINK_WIDTH_RANGE
    w = np.abs(np.nan_to_num(np.asarray(weight, dtype=np.float64), nan=0.0))
    return low + (high - low) * np.clip(w, 0.0, LINK_WIDTH_DOMAIN) / LINK_WIDTH_DOMAIN


def png_bytes(rgb: np.ndarray, size: int | None = None) -> bytes:
    """uint8 RGB (h, w, 3) → PNG bytes, resized bilinearly to ``size`` square if given.

    ``compress_level=1``: these pictures are redrawn several times a second, and
    fast zlib is ten times quicker than the default for a few percent more bytes.
    """

    return encode_png(rgb, side=size, compress_level=1)


def heatmap_png(values: np.ndarray, size: int | None = None, discretize: bool = False) -> bytes:
    """A (h, w) array of outputs as a Playground heatmap PNG (top row = x2 = +6)."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"a heatmap needs a 2-D array, got shape {values.shape}")
    return png_bytes(colour_rgb(np.sign(values) if discretize else values), size)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def to_pixels(xy: np.ndarray, size: int, domain: float = pg.DOMAIN) -> tuple[np.ndarray, np.ndarray]:
    """Points of the [-domain, domain]² square → pixel columns and rows of a ``size`` picture
    (x1 = -domain is the left edge, x2 = +domain the top edge, as in :func:`grid_points`)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return (xy[:, 0] + domain) / (2 * domain) * size, (domain - xy[:, 1]) / (2 * domain) * size


def output_png(grid: np.ndarray, points: dict[str, np.ndarray], size: int = OUTPUT_PX, radius: float = 3.0) -> bytes:
    """The OUTPUT panel: the grid as a heatmap, training points outlined in white and
    test points (when ``points`` has them) outlined in black, filled by their target."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(colour_rgb(grid), "RGB").resize((size, size), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    for split, outline in (("train", (255, 255, 255)), ("test", (0, 0, 0))):
        if f"{split}_xy" not in points:
            continue
        px, py = to_pixels(points[f"{split}_xy"], size)
        fills = colour_rgb(points[f"{split}_y"])
        for x, y, fill in zip(px.tolist(), py.tolist(), fills.tolist()):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tuple(fill), outline=outline)
    return encode_png(image, compress_level=1)


#: The loss chart's lines, RGBA: test loss solid, training loss the same grey at half
#: strength; both on a transparent background, so the chart reads on a light or dark page.
TEST_LOSS_INK = (*hex_to_rgb(NEUTRAL).astype(int).tolist(), 255)
TRAIN_LOSS_INK = (*hex_to_rgb(NEUTRAL).astype(int).tolist(), 130)


def loss_curve_png(history: Sequence[pg.EpochStats], width: int = 280, height: int = 48) -> bytes:
    """Playground's little loss chart: training loss faint, test loss solid (2 px), y from
    0 to the largest finite loss seen; long histories are sampled down to one point per
    pixel. Transparent behind the lines: no white slab on a dark page."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    losses = np.array([[h.train_loss, h.test_loss] for h in history], dtype=np.float64).reshape(-1, 2)
    finite = losses[np.isfinite(losses)]
    if len(losses) >= 2 and finite.size:
        top = max(float(finite.max()), 1e-12)
        index = np.unique(np.linspace(0, len(losses) - 1, min(len(losses), width)).round().astype(int))
        xs = index / (len(losses) - 1) * (width - 1)
        draw = ImageDraw.Draw(image)
        for column, colour, line_width in ((0, TRAIN_LOSS_INK, 1), (1, TEST_LOSS_INK, 2)):
            ys = (height - 2) - np.nan_to_num(losses[index, column], nan=top, posinf=top) / top * (height - 4)
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=line_width)
    return encode_png(image, compress_level=1)


def dataset_thumbnails(tile: int = 48, n: int = 160) -> np.ndarray:
    """The six datasets as (6, tile, tile, 3) pictures of their noise-free points."""
    from PIL import Image, ImageDraw

    pictures = []
    for name in pg.DATASETS:
        xy, y = pg.make_points(name, n, 0.0, seed=0)
        image = Image.new("RGB", (tile, tile), (247, 247, 247))
        draw = ImageDraw.Draw(image)
        px, py = to_pixels(xy, tile)
        for x, yy, fill in zip(px.tolist(), py.tolist(), colour_rgb(y).tolist()):
            draw.ellipse((x - 1.2, yy - 1.2, x + 1.2, yy + 1.2), fill=tuple(fill))
        pictures.append(np.asarray(image))
    return np.stack(pictures)


def feature_grids(resolution: int = NEURON_RESOLUTION) -> dict[str, np.ndarray]:
    """Each of the seven features over the square, as Playground's input nodes show them."""
    columns = pg.feature_columns(pg.grid_points(resolution), pg.FEATURES)
    return {f: columns[:, i].reshape(resolution, resolution) for i, f in enumerate(pg.FEATURES)}


