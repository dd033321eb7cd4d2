"""One PNG encoder for every picture that is not a matplotlib chart (those go through
:func:`browserml.figures.render_png`): photos with boxes, thumbnails, heat maps, samples.

Why one: six copies of the same five lines had drifted apart in dtype handling and
compression. ``compress_level``: 6 (zlib's default) for files written once; the apps
pass 1 for pictures redrawn several times a second, where fast zlib is about ten times
quicker for a few percent more bytes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # Pillow loads on first use
    from PIL import Image


def encode_png(image: np.ndarray | Image.Image, *, side: int | None = None, compress_level: int = 6) -> bytes:
    """``image`` (an ``H×W`` or ``H×W×3/4`` array of 0–255, or a Pillow image) as PNG bytes,
    resized to ``side × side`` (bilinear) when ``side`` is given."""
    from PIL import Image

    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    if side is not None and picture.size != (side, side):
        picture = picture.resize((side, side), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    picture.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()
