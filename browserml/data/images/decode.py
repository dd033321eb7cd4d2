"""Reading and checking one image: :func:`read_image`, :func:`to_rgb`, :func:`fit_image`, :class:`ImageDataError`.

The one decoder for folders, downloads and the widgets' uploads, with the size limits it
enforces and the small array helpers the image sets share.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from PIL import Image, ImageOps

from browserml.errors import BadInput

ImageSource: TypeAlias = "bytes | str | os.PathLike[str]"

MIN_SIDE = 16  # smaller images carry too little for a CNN feature, and are usually mistakes
MAX_PIXELS = 40_000_000  # checked from the header, before decoding (decompression bombs)
DEFAULT_IMAGE_SIZE = (224, 224)  # (height, width): what the lesson's ImageNet backbones take


class ImageDataError(BadInput):
    """An image, an image file, a folder of images or an image set is not usable."""



def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view: the caller's own array keeps its flags."""
    view = array.view()
    view.flags.writeable = False
    return view


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only array nobody else can write through: writeable input is copied first."""
    return _read_only(np.array(array) if array.flags.writeable else array)


def _gray_to_rgb(images: np.ndarray) -> np.ndarray:
    """``[..., h, w]`` grayscale to ``[..., h, w, 3]`` by repeating the channel."""
    return np.repeat(images[..., np.newaxis], 3, axis=-1)


# --- one image ---------------------------------------------------------------------------


def read_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Decode one image file (a path or its bytes) to uint8 RGB ``[h, w, 3]``.

    The one decoder for folders, downloads and the widget's uploads, so every way in
    treats an image the same. The size is checked from the header *before* decoding:
    more than :data:`MAX_PIXELS` is refused (a decompression bomb decodes a few KB into
    GBs), as is a side under :data:`MIN_SIDE`. EXIF orientation is applied, the first
    frame of an animation or multi-page file is taken, and colour is converted by
    :func:`to_rgb`. Every failure is an :class:`ImageDataError` naming ``name`` (by
    default the file's name).
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<uploaded bytes>"
        data = bytes(source)
        if not data:
            raise ImageDataError(f"{label}: empty file, not an image")
        stream: Any = io.BytesIO(data)
    else:
        path = Path(source)
        label = name or path.name
        if path.is_dir():
            raise ImageDataError(f"{label}: a folder, not an image file")
        if not path.is_file():
            raise ImageDataError(f"{label}: no such file")
        if path.stat().st_size == 0:
            raise ImageDataError(f"{label}: empty file, not an image")
        if not os.access(path, os.R_OK):
            raise ImageDataError(f"{label}: cannot be read (permission denied)")
        stream = path
    with warnings.catch_warnings():
        # PIL warns above its own limit; ours is lower and checked just below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream)
        except Image.DecompressionBombError as err:
            raise ImageDataError(f"{label}: too large to decode safely ({err})") from err
        except Image.UnidentifiedImageError as err:
            raise ImageDataError(f"{label}: not an image file that Pillow can read") from err
        except OSError as err:
            raise ImageDataError(f"{label}: corrupt or truncated image ({err})") from err
    with image:
        _check_size(image.size, label)
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
            return to_rgb(upright)
        except ImageDataError as err:
            raise ImageDataError(f"{label}: {err}") from err
        except Exception as err:  # Pillow's decoders raise many kinds on corrupt input
            raise ImageDataError(
                f"{label}: corrupt or truncated image ({type(err).__name__}: {err})"
            ) from err


def _check_size(size: tuple[int, int], label: str) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageDataError(
            f"{label}: {width}x{height} is {width * height / 1e6:.1f} megapixels; images over "
            f"{MAX_PIXELS / 1e6:.0f} megapixels are refused before decoding (resize it first)"
        )
    if min(width, height) < MIN_SIDE:
        raise ImageDataError(
            f"{label}: {width}x{height} is too small; each side needs at least {MIN_SIDE} pixels"
        )


def to_rgb(image: Image.Image) -> np.ndarray:
    """A decoded PIL image as uint8 RGB ``[h, w, 3]``, whatever its mode.

    - 16- and 32-bit integer grayscale (``I;16*``, ``I``) is scaled from 0..65535 to
      0..255; Pillow's own ``convert`` would clip it to 255 and show a white image.
    - Float grayscale (``F``) is read as 0..1 when it lies there, else clipped to 0..255.
    - Transparency (RGBA, LA, PA, a palette or grayscale with a transparent colour) is
      composited onto white: the hidden pixels' colours are arbitrary, often black.
    - Everything else (1-bit, L, P, CMYK, YCbCr, RGB) goes through ``convert("RGB")``.
    ICC profiles are ignored: the lesson's backbones were trained on untagged sRGB. The
    array is the caller's own (writeable), unlike ``np.asarray`` of a PIL image.
    """
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image).astype(np.float64)
        return _gray_to_rgb(np.rint(np.clip(values, 0, 65535) * (255 / 65535)).astype(np.uint8))
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ImageDataError("float image holds NaN or infinite values")
        scale = 255.0 if values.size and values.min() >= 0 and values.max() <= 1 else 1.0
        return _gray_to_rgb(np.rint(np.clip(values * scale, 0, 255)).astype(np.uint8))
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.array(Image.alpha_composite(white, rgba).convert("RGB"))
    try:
        return np.array(image.convert("RGB"))
    except ValueError as err:
        raise ImageDataError(f"colour mode {mode!r} cannot be converted to RGB ({err})") from err


def fit_image(rgb: np.ndarray, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """Centre-crop ``rgb`` to the aspect ratio of ``image_size`` = (height, width), then resize.

    Cropping keeps objects their real shape (squashing a 4:3 photo into a square
    distorts what the CNN sees) at the cost of the borders, where subjects rarely
    are; it is also what ``tf_keras`` does with ``crop_to_aspect_ratio=True``.
    Resizing is Pillow's antialiased bilinear filter.
    """
    height, width = _check_image_size(image_size)
    if rgb.shape[:2] == (height, width):
        return rgb
    fitted = ImageOps.fit(Image.fromarray(rgb), (width, height), method=Image.Resampling.BILINEAR)
    return np.array(fitted)


def _check_image_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        height, width = (int(side) for side in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (height, width), got {image_size!r}") from None
    if height < MIN_SIDE or width < MIN_SIDE:
        raise ValueError(f"image_size sides must be at least {MIN_SIDE}, got {image_size!r}")
    return height, width
