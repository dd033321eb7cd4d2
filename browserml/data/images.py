"""Lesson 3's images: the small sets ConvNet Playground searches, and any folder of yours.

ConvNet Playground lets a learner pick one of a few 200-image sets (10 classes x 20),
embeds every image with one layer of a CNN and shows the nearest neighbours. This
module provides the images, always as an :class:`ImageSet` (uint8 RGB, int64 labels,
class names, an honest description and the provenance), from four places:

- **FASHION200** (offline, committed): the first 20 images of each class of the
  Fashion-MNIST test set, stored under ``datasets/fashion200`` in Fashion-MNIST's own
  idx format and checked against ``PROVENANCE.json`` before use. :func:`build_fashion200`
  rebuilds the folder from Debian's ``dataset-fashion-mnist``, with identical content.
  :func:`fashion_mnist` reads all 70,000 images from that package.
- **PHOTOS200** (offline, generated): 10 photographs that ship inside the scikit-image
  and scikit-learn wheels, each expanded into 20 seeded random views. A class is
  "which photo", so this is *instance retrieval*, not object categories; the set says
  so in its name and description.
- **any folder** (:func:`load_folder`): one subfolder per class, the lesson's "bring
  your own images"; :func:`read_image` is the one decoder for files and uploads alike.
- **online** sets (CIFAR-10, Tiny ImageNet, Fashion-MNIST through ``tf_keras``), which
  download only when called; no default code path calls them, and the tests point them
  at a stand-in server on 127.0.0.1 (``tests/test_data_downloads.py``).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib.util
import io
import json
import math
import os
import re
import struct
import tempfile
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
from PIL import Image, ImageOps

from browserml.atomic import atomic_directory
from browserml.data.ecg5000 import default_cache_dir
from browserml.data.provenance import PROVENANCE_FILE, verify
from browserml.errors import BadInput
from browserml.paths import datasets_dir

ImageSource: TypeAlias = "bytes | str | os.PathLike[str]"

MIN_SIDE = 16  # smaller images carry too little for a CNN feature, and are usually mistakes
MAX_PIXELS = 40_000_000  # checked from the header, before decoding (decompression bombs)
DEFAULT_IMAGE_SIZE = (224, 224)  # (height, width): what the lesson's ImageNet backbones take
#: Seconds a download may wait for the server (to connect, or for the next bytes).
DOWNLOAD_TIMEOUT_S = 60


class ImageDataError(BadInput):
    """An image, an image file, a folder of images or an image set is not usable."""


# --- the image set ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images and their labels: ``images`` uint8 ``[n, h, w, 3]`` RGB, ``labels`` int64 ``[n]``.

    Label ``k`` names ``class_names[k]``. Both arrays are stored read-only (a writeable
    input is copied first), so no caller can change a set under the feature cache that
    keys on :meth:`fingerprint`; grayscale sources are repeated to 3 channels because every
    backbone in the lesson expects RGB. ``description`` is one sentence saying what a
    class means and where the pixels came from; ``source`` is the provenance summary.
    ``eq=False`` because element-wise array comparison has no single truth value: two
    sets are the same data when their fingerprints are equal.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    description: str
    source: str
    _fingerprint: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ImageDataError(f"ImageSet.name must be a non-empty string, got {self.name!r}")
        images, labels = self.images, self.labels
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            kind = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
            raise ImageDataError(f"{self.name}: images must be a uint8 array, got {kind}")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ImageDataError(
                f"{self.name}: images must have shape [n, h, w, 3] (RGB), got {images.shape}"
            )
        labels = np.asarray(labels)
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise ImageDataError(f"{self.name}: labels must be integers, got dtype {labels.dtype}")
        if labels.shape != (images.shape[0],):
            raise ImageDataError(
                f"{self.name}: labels must hold one label per image, "
                f"shape [{images.shape[0]}], got {labels.shape}"
            )
        names = tuple(self.class_names)
        if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            raise ImageDataError(
                f"{self.name}: class_names must be distinct non-empty strings, got {names!r}"
            )
        labels = labels.astype(np.int64)
        bad = (labels < 0) | (labels >= len(names))
        if bad.any():
            raise ImageDataError(
                f"{self.name}: label {labels[bad][0]} at index {int(np.flatnonzero(bad)[0])} "
                f"is not in 0..{len(names) - 1} ({len(names)} class names)"
            )
        object.__setattr__(self, "images", _frozen(images))
        object.__setattr__(self, "labels", _frozen(labels))
        object.__setattr__(self, "class_names", names)

    def __repr__(self) -> str:  # 30 MB of pixels make a useless notebook repr
        h, w = self.images.shape[1:3]
        return f"ImageSet({self.name!r}, n={len(self)}, size={h}x{w}, classes={len(self.class_names)})"

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: np.ndarray | Sequence[int] | Sequence[bool]) -> ImageSet:
        """The images picked by integer indices (any order, repeats allowed) or a bool mask.

        Class names stay the same, so labels keep their meaning across subsets.
        """
        index = np.asarray(indices)
        if index.ndim != 1:
            raise ValueError(f"subset takes a 1-D index array or mask, got shape {index.shape}")
        if index.dtype == bool:
            if index.shape[0] != len(self):
                raise ValueError(f"a bool mask needs one entry per image ({len(self)}), got {index.shape[0]}")
        elif index.size == 0:
            index = index.astype(np.intp)
        elif not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"subset takes integer indices or a bool mask, got dtype {index.dtype}")
        return ImageSet(
            self.name, self.images[index], self.labels[index], self.class_names, self.description, self.source
        )

    def by_class(self, label: int) -> np.ndarray:
        """The indices of the images labelled ``label``, in order."""
        if not 0 <= int(label) < len(self.class_names):
            raise ValueError(f"{self.name}: label must be in 0..{len(self.class_names) - 1}, got {label!r}")
        return np.flatnonzero(self.labels == int(label))

    def fingerprint(self) -> str:
        """A sha256 of the pixels, their shape, the labels and the class names.

        Feature caches key on it: the same pixels and labels give the same key whatever
        the set is called, and any changed pixel gives a new one. Computed once per set
        (the arrays are read-only, so it cannot go stale).
        """
        if not self._fingerprint:
            digest = hashlib.sha256(b"browserml.ImageSet/v1\0")
            digest.update(np.asarray(self.images.shape, dtype="<i8").tobytes())
            digest.update(np.ascontiguousarray(self.images).data.cast("B"))
            digest.update(self.labels.astype("<i8").tobytes())
            digest.update("\0".join(self.class_names).encode("utf-8"))
            self._fingerprint.append(digest.hexdigest())
        return self._fingerprint[0]


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


# --- any folder of images --------------------------------------------------------------

_IGNORED_FOLDERS = frozenset({"__MACOSX"})  # macOS zip resource forks, never a class


def _is_hidden(path: Path) -> bool:
    """Dot files (``.DS_Store``, ``._photo.jpg``, ``.ipynb_checkpoints``) and macOS zip debris."""
    return path.name.startswith(".") or path.name in _IGNORED_FOLDERS


def load_folder(
    path: str | os.PathLike[str],
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    max_per_class: int | None = None,
) -> ImageSet:
    """Every image under ``path/<class name>/``, as one :class:`ImageSet`.

    Class names are the sorted subfolder names, label ``k`` the ``k``-th of them. Each
    image goes through :func:`read_image` and :func:`fit_image` (centre crop to the
    aspect of ``image_size`` = (height, width), then resize), so sets of mixed sizes
    stack into one array. ``max_per_class`` keeps the first images of each class in
    file-name order. Hidden files are skipped; any other file that is not an image, an
    empty class or a folder without class subfolders raises :class:`ImageDataError`
    naming it, because a silently skipped image changes what the search finds.
    """
    folder = Path(path)
    height, width = _check_image_size(image_size)
    if max_per_class is not None and (
        isinstance(max_per_class, bool)
        or not isinstance(max_per_class, (int, np.integer))
        or max_per_class < 1
    ):
        raise ValueError(f"max_per_class must be a positive int or None, got {max_per_class!r}")
    if not folder.is_dir():
        raise ImageDataError(f"{folder}: not a folder")
    entries = sorted((p for p in folder.iterdir() if not _is_hidden(p)), key=lambda p: p.name)
    class_dirs = [p for p in entries if p.is_dir()]
    if not entries:
        raise ImageDataError(
            f"{folder}: empty folder; put each class's images in a subfolder named after the class"
        )
    if not class_dirs:
        found = ", ".join(p.name for p in entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ImageDataError(
            f"{folder}: no class subfolders (found {found}); put each class's images in a "
            "subfolder named after the class, e.g. cats/1.jpg, dogs/1.jpg"
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        files = _class_files(class_dir)
        for file in files[:max_per_class]:
            images.append(fit_image(read_image(file, name=str(file)), (height, width)))
            labels.append(label)
    return ImageSet(
        name=folder.resolve().name or str(folder),
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(p.name for p in class_dirs),
        description=(
            f"{len(images)} images in {len(class_dirs)} classes from the folder {folder}, one subfolder "
            f"per class, each centre-cropped to a {height}:{width} aspect and resized to {height}x{width}."
        ),
        source=f"local folder {folder.resolve()}",
    )


def _class_files(class_dir: Path) -> list[Path]:
    files = sorted((p for p in class_dir.iterdir() if not _is_hidden(p)), key=lambda p: p.name)
    nested = [p for p in files if p.is_dir()]
    if nested:
        raise ImageDataError(
            f"{nested[0]}: a folder inside the class folder {class_dir.name}; images must sit directly in "
            "their class folder (nested folders are not read)"
        )
    if not files:
        raise ImageDataError(f"{class_dir}: class folder with no images")
    return files


# --- idx files (the MNIST family's format) ---------------------------------------------

# The idx format: 2 zero bytes, a type code, the number of dimensions, each dimension as
# a big-endian uint32, then the values, big-endian, in C order.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Parse an idx file (gzip-compressed or not, detected by content) into an array.

    The header's magic number, type and dimensions are checked against the data's
    length, so a truncated download or a wrong file fails here with the file named,
    rather than as a reshape error (or worse, silently shifted images) later. Multi-byte
    types come back in native byte order; uint8 data is a read-only view of the bytes.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        label, data = name or "<idx bytes>", bytes(source)
    else:
        path = Path(source)
        label = name or path.name
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ImageDataError(f"{label}: cannot be read ({err})") from err
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ImageDataError(f"{label}: gzip data is corrupt or truncated ({err})") from err
    if len(data) < 4:
        raise ImageDataError(f"{label}: {len(data)} bytes is too short for an idx header")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise ImageDataError(
            f"{label}: magic number 0x{data[:4].hex()} is not an idx header (expected 0x0000TTNN: "
            f"type TT in {', '.join(f'{c:02x}' for c in _IDX_TYPES)}, NN >= 1 dimensions)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ImageDataError(f"{label}: truncated in the header ({len(data)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise ImageDataError(
            f"{label}: {problem}: the header says shape {shape} ({expected} bytes of data), "
            f"the file has {found}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def encode_idx(array: np.ndarray) -> bytes:
    """``array`` in the idx format (uncompressed), the inverse of :func:`read_idx`."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0:
        raise ValueError(
            f"idx stores 1+ dimensional {sorted(str(d) for d in codes)} arrays, got {array.dtype}"
        )
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=_IDX_TYPES[code]).tobytes()


# --- Fashion-MNIST, full ---------------------------------------------------------------

FASHION_CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = {
    "registry": "Debian (bookworm, main)",
    "package": "dataset-fashion-mnist",
    "version": "0.0~git20200523.55506a9-1",
    "deb": "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
    "deb_sha256": "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
}
FASHION_MNIST_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# sha256 of each file's *uncompressed* idx content: upstream's values (zalandoresearch/
# fashion-mnist, data/fashion/), which Debian's re-gzipped files still match.
FASHION_MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_LICENSE = (
    "MIT License, Copyright (c) 2017 Zalando SE, https://tech.zalando.com (Fashion-MNIST's own license, "
    "restated in Debian's copyright file as Expat); not a license granted by browserml."
)
FASHION_REFERENCE = (
    "Xiao, H., Rasul, K., Vollgraf, R. (2017). Fashion-MNIST: a Novel Image Dataset for Benchmarking "
    "Machine Learning Algorithms. arXiv:1708.07747."
)

FashionSplit: TypeAlias = Literal["train", "test", "all"]


def fashion_mnist(
    split: FashionSplit = "train", folder: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The full Fashion-MNIST from Debian's package: ``(images uint8 [n, 28, 28], labels int64 [n])``.

    ``split`` is ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"`` (train then
    test, 70,000). Lesson 3 uses it to search at scale; the lesson itself needs only
    the committed FASHION200. Each file's content is checked against upstream's
    sha256 while it is parsed. Results are cached and read-only.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    source = Path(folder) if folder is not None else DEBIAN_FASHION_MNIST_DIR
    if split == "all":  # read uncached: the 70,000 images are held once, not cached twice as well
        parts = [_fashion_split.__wrapped__(str(source), part) for part in ("train", "test")]
        images, labels = (np.concatenate(arrays) for arrays in zip(*parts))
        del parts
        return _read_only(images), _read_only(labels)
    return _fashion_split(str(source), split)


@functools.lru_cache(maxsize=2)
def _fashion_split(folder: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = FASHION_MNIST_FILES[part]
    directory = Path(folder)
    if not (directory / images_file).is_file():
        raise FileNotFoundError(
            f"Fashion-MNIST is not installed: {directory / images_file} is missing. Install Debian's "
            "package with `sudo apt-get install dataset-fashion-mnist` (or run `make setup`), or use "
            "load_fashion_mnist_online()."
        )
    images = _read_fashion_file(directory / images_file, 3)
    labels = _read_fashion_file(directory / labels_file, 1)
    _check_fashion_pair(images, labels, directory / images_file)
    return _read_only(images), _read_only(labels.astype(np.int64))


def _read_fashion_file(path: Path, ndim: int) -> np.ndarray:
    """Read one of the four upstream files, checking its content against upstream's sha256."""
    try:
        content = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise ImageDataError(f"{path}: cannot be read or decompressed ({err})") from err
    expected = FASHION_MNIST_SHA256.get(path.name)
    actual = hashlib.sha256(content).hexdigest()
    if expected and actual != expected:
        raise ImageDataError(
            f"{path}: content sha256 is {actual}, but Fashion-MNIST's {path.name} has {expected}; "
            "the file is corrupt or not Fashion-MNIST (reinstall dataset-fashion-mnist)"
        )
    array = read_idx(content, name=str(path))
    if array.ndim != ndim or array.dtype != np.uint8:
        raise ImageDataError(f"{path}: expected {ndim}-D uint8 idx data, got {array.ndim}-D {array.dtype}")
    return array


def _check_fashion_pair(images: np.ndarray, labels: np.ndarray, path: Path) -> None:
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise ImageDataError(
            f"{path}: expected [n, 28, 28] images with n labels, got {images.shape} and {labels.shape}"
        )
    if labels.size and labels.max() >= len(FASHION_CLASS_NAMES):
        raise ImageDataError(f"{path}: label {labels.max()} is not a Fashion-MNIST class (0..9)")


def load_fashion_mnist_online() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Fashion-MNIST through ``tf_keras``, downloaded on first use.

    Returns ``((x_train, y_train), (x_test, y_test))`` as ``tf_keras`` does. For
    machines without Debian's package; the same pixels as :func:`fashion_mnist`.
    """
    import tf_keras

    return tf_keras.datasets.fashion_mnist.load_data()


def fashion_mnist_anywhere(split: FashionSplit = "all") -> tuple[np.ndarray, np.ndarray]:
    """Debian's Fashion-MNIST when installed (offline, checked); otherwise the same
    images through Keras' downloader — for Colab and other machines without the package."""
    try:
        return fashion_mnist(split)
    except FileNotFoundError:
        (x_train, y_train), (x_test, y_test) = load_fashion_mnist_online()
        parts = {"train": [(x_train, y_train)], "test": [(x_test, y_test)],
                 "all": [(x_train, y_train), (x_test, y_test)]}[split]
        return (_read_only(np.concatenate([x for x, _ in parts])),
                _read_only(np.concatenate([y for _, y in parts]).astype(np.int64)))


# --- FASHION200, committed -------------------------------------------------------------

FASHION200_DIR_NAME = "fashion200"
FASHION200_PER_CLASS = 20
FASHION200_FILES = ("images-idx3-ubyte.gz", "labels-idx1-ubyte.gz")


def fashion200_dir() -> Path:
    """The folder with the committed FASHION200 files and their ``PROVENANCE.json``."""
    return datasets_dir() / FASHION200_DIR_NAME


def first_per_class(labels: np.ndarray, per_class: int, n_classes: int) -> np.ndarray:
    """Indices of the first ``per_class`` items of each class, class by class (class-major)."""
    picks = []
    for label in range(n_classes):
        found = np.flatnonzero(labels == label)[:per_class]
        if found.size < per_class:
            raise ImageDataError(f"class {label} has only {found.size} items, {per_class} needed")
        picks.append(found)
    return np.concatenate(picks)


def build_fashion200(
    source_dir: str | os.PathLike[str] = DEBIAN_FASHION_MNIST_DIR,
    out_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write FASHION200 (files, ``PROVENANCE.json``, ``README.md``) from Fashion-MNIST's test set.

    The rule is deterministic, so anyone with Debian's ``dataset-fashion-mnist`` gets
    the committed folder back: the first 20 images of each class in the t10k files'
    order, classes 0..9 one after another. The source is checked against upstream's
    sha256 first (a different source would silently give a different subset). Each
    ``.gz`` is gzip level 9 with no name and time stamp 0, so it depends only on the
    content. The folder is replaced atomically. Returns the folder.
    """
    source = Path(source_dir)
    target = Path(out_dir) if out_dir is not None else fashion200_dir()
    images_file, labels_file = FASHION_MNIST_FILES["test"]
    all_images = _read_fashion_file(source / images_file, 3)
    all_labels = _read_fashion_file(source / labels_file, 1)
    _check_fashion_pair(all_images, all_labels, source / images_file)
    indices = first_per_class(all_labels, FASHION200_PER_CLASS, len(FASHION_CLASS_NAMES))
    payloads = {
        FASHION200_FILES[0]: (encode_idx(all_images[indices]), source / images_file),
        FASHION200_FILES[1]: (encode_idx(all_labels[indices]), source / labels_file),
    }
    with atomic_directory(target) as staging:
        entries = []
        for name, (content, origin) in payloads.items():
            (staging / name).write_bytes(gzip.compress(content, compresslevel=9, mtime=0))
            entries.append(_fashion200_entry(staging / name, content, origin))
        provenance = _fashion200_provenance(entries, indices, all_labels[indices])
        (staging / PROVENANCE_FILE).write_text(_json(provenance), encoding="utf-8")
        (staging / "README.md").write_text(_fashion200_readme(provenance), encoding="utf-8")
    return target


def _json(data: Any) -> str:
    """Indented JSON, with lists of numbers kept on one line (200 indices, one per line, hide the rest)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    def join(match: re.Match[str]) -> str:
        return "[" + re.sub(r",\s+", ", ", match.group(1)) + "]"

    return re.sub(r"\[\s+([-\d,\s]+?)\s+\]", join, text) + "\n"


def _fashion200_entry(path: Path, content: bytes, origin: Path) -> dict[str, Any]:
    origin_bytes = origin.read_bytes()
    return {
        "name": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "uncompressed_name": path.name.removesuffix(".gz"),
        "sha256_uncompressed": hashlib.sha256(content).hexdigest(),
        "bytes_uncompressed": len(content),
        "shape": list(read_idx(content).shape),
        "source": {
            **DEBIAN_PACKAGE,
            "path_in_package": str(DEBIAN_FASHION_MNIST_DIR / origin.name),
            "file_sha256": hashlib.sha256(origin_bytes).hexdigest(),
            "file_sha256_uncompressed": hashlib.sha256(gzip.decompress(origin_bytes)).hexdigest(),
            "original": "Fashion-MNIST test set (t10k), https://github.com/zalandoresearch/fashion-mnist, "
            f"data/fashion/{origin.name}",
            "note": "Debian re-gzipped the upstream files (gzip time stamp 2020-06-05), so the .gz hashes "
            "differ from upstream's published MD5s; the uncompressed content's sha256 is upstream's.",
        },
        "license": FASHION_LICENSE,
    }


def _fashion200_provenance(
    entries: list[dict[str, Any]], indices: np.ndarray, labels: np.ndarray
) -> dict[str, Any]:
    per_class = {
        name: [int(i) for i in indices[labels == label]] for label, name in enumerate(FASHION_CLASS_NAMES)
    }
    return {
        "dataset": "FASHION200",
        "description": (
            "200 Fashion-MNIST test images, 20 for each of its 10 clothing classes (0 T-shirt/top, "
            "1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot): "
            "28x28 grayscale images of Zalando's product photos, labelled with the product's category."
        ),
        "format": (
            "Each .gz is gzip (level 9, no file name, time stamp 0) of an idx file in Fashion-MNIST's own "
            "format: magic 0x00000803 (images, uint8, 3 dimensions) or 0x00000801 (labels, uint8, "
            "1 dimension), the dimensions as big-endian uint32, then the bytes. Images are 28x28, "
            "0 = background."
        ),
        "selection": {
            "from": "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (the 10,000-image test set)",
            "rule": (
                "deterministic: the first 20 images of each class in the test set's order, class 0 to 9; "
                "stored class by class (images 0-19 are class 0, 20-39 class 1, ...)"
            ),
            "builder": "browserml.data.images.build_fashion200",
            "test_set_indices": per_class,
        },
        "files": entries,
        "references": [FASHION_REFERENCE],
    }


def _fashion200_readme(provenance: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| `{e['name']}` | {' x '.join(map(str, e['shape']))} | `{e['sha256']}` "
        f"| `{e['sha256_uncompressed']}` |"
        for e in provenance["files"]
    )
    indices = "\n".join(
        f"| {label} | {name} | {', '.join(map(str, picked))} |"
        for label, (name, picked) in enumerate(provenance["selection"]["test_set_indices"].items())
    )
    source = provenance["files"][0]["source"]
    return f"""# FASHION200

{provenance['description']} Lesson 3 searches them with CNN features, as ConvNet
Playground does with its 200-image sets. `browserml.data.images.fashion200()` loads
them (as RGB, the gray channel repeated) after checking `PROVENANCE.json`.

## Files

| file | shape | sha256 (.gz) | sha256 (uncompressed idx) |
|---|---|---|---|
{rows}
| `PROVENANCE.json` | | the same, machine-readable: what `browserml.data.provenance.verify` checks | |

{provenance['format']}

## Which images

{provenance['selection']['rule'].capitalize()}. The test-set indices:

| label | class | t10k indices |
|---|---|---|
{indices}

## Where the files come from

Debian's package `{source['package']}` {source['version']} (`{source['deb']}`, sha256
`{source['deb_sha256']}`) installs Fashion-MNIST under `{DEBIAN_FASHION_MNIST_DIR}`.
Debian re-gzipped upstream's files, so their `.gz` hashes differ from the MD5s in
Fashion-MNIST's README; the uncompressed content still has upstream's sha256, which
the builder checks. Rebuild this folder, byte for byte, with

```bash
.venv/bin/python -c "from browserml.data.images import build_fashion200; build_fashion200()"
```

## License note (of the source)

{FASHION_LICENSE}

## Reference

- {FASHION_REFERENCE}
"""


@functools.lru_cache(maxsize=1)
def fashion200() -> ImageSet:
    """FASHION200: 10 Fashion-MNIST classes x 20 test images, 28x28, from the committed files.

    The folder is checked against ``PROVENANCE.json`` first; a mismatch raises
    ``DataIntegrityError`` naming the file. Cached: the set is read-only.
    """
    folder = fashion200_dir()
    verify(folder)
    images = read_idx(folder / FASHION200_FILES[0], name=str(folder / FASHION200_FILES[0]))
    labels = read_idx(folder / FASHION200_FILES[1], name=str(folder / FASHION200_FILES[1]))
    _check_fashion_pair(images, labels, folder / FASHION200_FILES[0])
    return ImageSet(
        name="FASHION200",
        images=_gray_to_rgb(images),
        labels=labels.astype(np.int64),
        class_names=FASHION_CLASS_NAMES,
        description=(
            "Clothing categories: 20 Fashion-MNIST test images for each of its 10 classes (T-shirt/top to "
            "Ankle boot), 28x28 grayscale images of Zalando product photos repeated to 3 channels."
        ),
        source=(
            "Fashion-MNIST (Zalando SE, MIT License) test set via Debian's dataset-fashion-mnist, the first "
            f"20 per class; committed in datasets/{FASHION200_DIR_NAME} with PROVENANCE.json"
        ),
    )


# --- PHOTOS200: views of 10 photographs ------------------------------------------------


@dataclass(frozen=True)
class PhotoSource:
    """One photograph inside an installed wheel, with what its package says about it."""

    class_name: str
    module: str  # the package folder holding the file
    file: str
    loader: str  # the public function that returns the same picture
    sha256: str  # of the file as shipped; a different file would change every view
    credit: str
    license: str


_SKIMAGE = "scikit-image 0.26.0 wheel; license as its loader's docstring states (skimage/data/_fetchers.py)"
_SKLEARN = "scikit-learn 1.9.1 wheel; license as sklearn/datasets/images/README.txt states"

PHOTO_SOURCES: tuple[PhotoSource, ...] = (
    PhotoSource(
        "astronaut", "skimage.data", "astronaut.png", "skimage.data.astronaut()",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "Eileen Collins, NASA Great Images database",
        f"public domain (no known copyright restrictions); {_SKIMAGE}",
    ),
    PhotoSource(
        "cat", "skimage.data", "chelsea.png", "skimage.data.chelsea()",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
        "Chelsea the cat, photo by Stefan van der Walt", f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "coffee cup", "skimage.data", "coffee.png", "skimage.data.coffee()",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
        "photo by Rachel Michetti, courtesy of Pikolo Espresso Bar", f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "rocket launch", "skimage.data", "rocket.jpg", "skimage.data.rocket()",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
        "Falcon 9 launching DSCOVR, SpaceX Photos", f"public domain (released by SpaceX); {_SKIMAGE}",
    ),
    PhotoSource(
        "Hubble deep field", "skimage.data", "hubble_deep_field.jpg", "skimage.data.hubble_deep_field()",
        "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
        "Hubble eXtreme Deep Field, NASA (HubbleSite)", f"public domain (NASA media guidelines); {_SKIMAGE}",
    ),
    PhotoSource(
        "retina", "skimage.data", "retina.jpg", "skimage.data.retina()",
        "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
        "fundus photograph of a normal left eye, Mikael Haggstrom, Wikimedia Commons",
        f"CC0 1.0; {_SKIMAGE}",
    ),
    PhotoSource(
        "cameraman", "skimage.data", "camera.png", "skimage.data.camera()",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
        "grayscale photo by Lav Varshney", f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "brick wall", "skimage.data", "brick.png", "skimage.data.brick()",
        "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
        "grayscale texture from CC0Textures (Bricks25), warped and cropped by scikit-image",
        f"CC0; {_SKIMAGE}",
    ),
    PhotoSource(
        "pagoda", "sklearn.datasets.images", "china.jpg", "sklearn.datasets.load_sample_image('china.jpg')",
        "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
        "Flickr user danielbuechele (photo 6061409035), retrieved by Robert Layton",
        f"CC BY 2.0, attribution danielbuechele; {_SKLEARN}",
    ),
    PhotoSource(
        "flower", "sklearn.datasets.images", "flower.jpg", "sklearn.datasets.load_sample_image('flower.jpg')",
        "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
        "Flickr user vultilion (photo 6056698931), retrieved by Robert Layton",
        f"CC BY 2.0 (the README's attribution line says danielbuechele, its links vultilion); {_SKLEARN}",
    ),
)
PHOTOS_PER_CLASS = 20
PHOTO_VIEW_SIZE = 224
PHOTO_WORKING_SIDE = 256  # photos are first downscaled (antialiased) so their shorter side is this
CROP_AREA = (0.4, 1.0)  # fraction of the photo's area a view covers
CROP_ASPECT = (3 / 4, 4 / 3)
MAX_ROTATION_DEG = 15.0
JITTER = (0.75, 1.25)  # brightness and contrast factors


def load_photo(source: PhotoSource) -> np.ndarray:
    """The photograph as uint8 RGB, read from the installed wheel (never downloaded).

    The file is read directly, not through ``skimage.data``'s fetcher, so nothing can
    reach for the network, and found without importing its package (importing
    scikit-learn alone takes over a second). Its sha256 must match
    :attr:`PhotoSource.sha256`, since a different file would silently give different views.
    """
    package, *subpackages = source.module.split(".")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImageDataError(f"{source.module}/{source.file}: the package {package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *subpackages, source.file)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ImageDataError(f"{path}: cannot be read ({err})") from err
    actual = hashlib.sha256(data).hexdigest()
    if actual != source.sha256:
        raise ImageDataError(
            f"{path}: sha256 is {actual}, PHOTO_SOURCES records {source.sha256}; a different "
            "scikit-image/scikit-learn release ships a different file (see requirements.lock)"
        )
    return read_image(data, name=f"{source.module}/{source.file}")


def augment_views(
    photo: np.ndarray, n_views: int, rng: np.random.Generator, size: int = PHOTO_VIEW_SIZE
) -> np.ndarray:
    """``n_views`` random views of one photo, uint8 ``[n_views, size, size, 3]``.

    Each view is a random resized crop (covering :data:`CROP_AREA` of the photo, aspect
    in :data:`CROP_ASPECT`, stretched to a square as torchvision's RandomResizedCrop
    does), a horizontal flip half the time, a rotation within ±:data:`MAX_ROTATION_DEG`
    about the crop's centre, and brightness and contrast factors in :data:`JITTER`.
    Crop, flip and rotation are one affine map, so each view is resampled only once
    (bilinear); the photo is mirror-padded first so rotated corners show reflected
    photo, not black triangles a CNN could key on.
    """
    height, width = photo.shape[:2]
    pad_y, pad_x = height // 2, width // 2  # a rotated full crop reaches past the edge by less
    padded = Image.fromarray(np.pad(photo, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect"))
    views = np.empty((n_views, size, size, 3), dtype=np.uint8)
    for k in range(n_views):
        matrix = _view_matrix(height, width, size, rng)
        matrix = np.array([[1, 0, pad_x], [0, 1, pad_y], [0, 0, 1]]) @ matrix
        view = padded.transform(
            (size, size), Image.Transform.AFFINE, tuple(matrix[:2].ravel()),
            resample=Image.Resampling.BILINEAR,
        )
        brightness, contrast = rng.uniform(*JITTER, size=2)
        pixels = np.asarray(view, dtype=np.float32)
        mean = pixels.mean()
        views[k] = np.rint(np.clip(((pixels - mean) * contrast + mean) * brightness, 0, 255)).astype(np.uint8)
    return views


def _view_matrix(height: int, width: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """The 3x3 map from a view's continuous (x, y) to the photo's, for one random view.

    Continuous coordinates: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``, as in
    Pillow's ``Image.transform``.
    """
    crop_w, crop_h = _random_crop_size(height, width, rng)
    center_x = rng.uniform(crop_w / 2, width - crop_w / 2)
    center_y = rng.uniform(crop_h / 2, height - crop_h / 2)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    # view (x, y) -> [-0.5, 0.5]^2, flipped -> crop size -> rotated -> photo (x, y)
    to_unit = np.array([[flip / size, 0, -flip / 2], [0, 1 / size, -0.5], [0, 0, 1]])
    scale = np.diag([crop_w, crop_h, 1.0])
    cos, sin = math.cos(angle), math.sin(angle)
    rotate = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
    place = np.array([[1, 0, center_x], [0, 1, center_y], [0, 0, 1]])
    return place @ rotate @ scale @ to_unit


def _random_crop_size(height: int, width: int, rng: np.random.Generator) -> tuple[float, float]:
    """(width, height) of a crop of :data:`CROP_AREA` of the area with aspect in :data:`CROP_ASPECT`.

    Rejection sampling as in torchvision: draws that do not fit are redrawn; after 10
    misses, the largest crop with an allowed aspect is used.
    """
    area = height * width
    log_low, log_high = math.log(CROP_ASPECT[0]), math.log(CROP_ASPECT[1])
    for _ in range(10):
        target = area * rng.uniform(*CROP_AREA)
        aspect = math.exp(rng.uniform(log_low, log_high))
        crop_w, crop_h = math.sqrt(target * aspect), math.sqrt(target / aspect)
        if crop_w <= width and crop_h <= height:
            return crop_w, crop_h
    aspect = min(max(width / height, CROP_ASPECT[0]), CROP_ASPECT[1])
    return min(width, height * aspect), min(height, width / aspect)


def _working_copy(photo: np.ndarray) -> np.ndarray:
    """Downscale (antialiased) so the shorter side is :data:`PHOTO_WORKING_SIDE`.

    Views are then resampled by less than 2x either way, where bilinear sampling does
    not visibly alias.
    """
    height, width = photo.shape[:2]
    factor = PHOTO_WORKING_SIDE / min(height, width)
    if factor >= 1:
        return photo
    size = (round(width * factor), round(height * factor))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))


@functools.lru_cache(maxsize=4)
def photos200(seed: int = 0) -> ImageSet:
    """PHOTOS200: 20 random views of each of 10 photographs, 224x224; class = which photo.

    The same ``seed`` gives the same pixels (on the same library versions). This is an
    *instance retrieval* set: a good search returns other views of the query's photo,
    which says nothing about recognising object categories.
    """
    rng = np.random.default_rng(seed)
    views = [augment_views(_working_copy(load_photo(s)), PHOTOS_PER_CLASS, rng) for s in PHOTO_SOURCES]
    labels = np.repeat(np.arange(len(PHOTO_SOURCES), dtype=np.int64), PHOTOS_PER_CLASS)
    return ImageSet(
        name="PHOTOS200 (instance retrieval)",
        images=np.concatenate(views),
        labels=labels,
        class_names=tuple(s.class_name for s in PHOTO_SOURCES),
        description=(
            "Instance retrieval, not object categories: each class is 20 random views (crop, flip, rotation, "
            "brightness and contrast) of one of 10 photographs shipped in the scikit-image and scikit-learn "
            "wheels, so a match means 'a view of the same photo'."
        ),
        source=(
            f"PHOTO_SOURCES in browserml.data.images (files in the installed wheels, sha256-checked; public "
            f"domain, CC0 and CC BY 2.0), views made with seed {seed}"
        ),
    )


# --- online sets (download only when called; tested against a local stand-in server) -

CIFAR10_CLASS_NAMES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
#: Where :func:`load_tinyimagenet_subset` downloads Tiny ImageNet from (Stanford CS231n).
TINYIMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
_TINY_ROOT = "tiny-imagenet-200"


def _seeded_per_class(
    labels: np.ndarray, classes: Sequence[int], per_class: int, rng: np.random.Generator
) -> np.ndarray:
    """``per_class`` random indices of each class in ``classes``, class-major, sorted within a class."""
    picks = []
    for label in classes:
        members = np.flatnonzero(labels == label)
        if members.size < per_class:
            raise ValueError(f"class {label} has {members.size} images, {per_class} requested")
        picks.append(np.sort(rng.choice(members, size=per_class, replace=False)))
    return np.concatenate(picks)


def load_cifar10_subset(per_class: int = 20, seed: int = 0) -> ImageSet:
    """CIFAR10-200: ``per_class`` seeded test images of each of CIFAR-10's 10 classes, 32x32.

    Downloads CIFAR-10 (163 MB) through ``tf_keras`` on first use. Images keep their
    native 32x32; the feature extractor resizes them like any other set.
    """
    import tf_keras

    try:
        _, (x_test, y_test) = tf_keras.datasets.cifar10.load_data()
    except Exception as err:
        # tf_keras's get_file raises a bare Exception for a failed download (404, refused,
        # cut short) and a ValueError for an archive whose sha256 is not CIFAR-10's.
        if "URL fetch failure" not in str(err) and "file hash does not match" not in str(err):
            raise
        raise ImageDataError(f"could not download CIFAR-10 ({err}); the offline sets are "
                             f"{', '.join(OFFLINE_SETS)}") from err
    labels = np.asarray(y_test).reshape(-1).astype(np.int64)
    rng = np.random.default_rng(seed)
    picked = _seeded_per_class(labels, range(len(CIFAR10_CLASS_NAMES)), per_class, rng)
    return ImageSet(
        name=f"CIFAR10-{per_class * len(CIFAR10_CLASS_NAMES)}",
        images=np.asarray(x_test[picked], dtype=np.uint8),
        labels=labels[picked],
        class_names=CIFAR10_CLASS_NAMES,
        description=(
            f"Object categories: {per_class} CIFAR-10 test images for each of its 10 classes (airplane to "
            "truck), 32x32 colour photos collected from the web (Krizhevsky 2009)."
        ),
        source=(
            f"CIFAR-10 test set via tf_keras.datasets.cifar10, {per_class} per class drawn with seed {seed}"
        ),
    )


def load_tinyimagenet_subset(
    n_classes: int = 10, per_class: int = 20, seed: int = 0, cache_dir: str | os.PathLike[str] | None = None
) -> ImageSet:
    """TINYIMAGENET-200: ``per_class`` training images of ``n_classes`` seeded Tiny ImageNet classes, 64x64.

    Downloads ``tiny-imagenet-200.zip`` (237 MB) into ``cache_dir`` (default
    :func:`browserml.data.ecg5000.default_cache_dir`) on first use, written atomically
    so an interrupted download is never mistaken for the archive; images are read
    straight from the zip. Class names are the first synonym in ``words.txt``.
    """
    if not 1 <= n_classes <= 200 or not 1 <= per_class <= 500:
        raise ValueError(
            f"Tiny ImageNet has 200 classes of 500 training images; got {n_classes=}, {per_class=}"
        )
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    archive_path = folder / Path(TINYIMAGENET_URL).name
    if not archive_path.is_file():
        _download_file(TINYIMAGENET_URL, archive_path, check=_check_tiny_zip)
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(archive_path) as archive:
        wnids = sorted(archive.read(f"{_TINY_ROOT}/wnids.txt").decode("utf-8").split())
        lines = archive.read(f"{_TINY_ROOT}/words.txt").decode("utf-8").splitlines()
        words = dict(line.split("\t", 1) for line in lines if "\t" in line)
        chosen = sorted(rng.choice(wnids, size=n_classes, replace=False))
        all_names = archive.namelist()
        images, labels = [], []
        for label, wnid in enumerate(chosen):
            prefix = f"{_TINY_ROOT}/train/{wnid}/images/"
            files = sorted(n for n in all_names if n.startswith(prefix) and n.endswith(".JPEG"))
            for i in np.sort(rng.choice(len(files), size=per_class, replace=False)):
                images.append(read_image(archive.read(files[i]), name=f"{archive_path.name}:{files[i]}"))
                labels.append(label)
    return ImageSet(
        name=f"TINYIMAGENET-{n_classes * per_class}",
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(_unique_names([words.get(w, w).split(",")[0].strip() for w in chosen], chosen)),
        description=(
            f"Object categories: {per_class} Tiny ImageNet training images for each of {n_classes} randomly "
            "chosen classes (ImageNet synsets), 64x64 colour photos downscaled from ImageNet."
        ),
        source=(
            f"{TINYIMAGENET_URL} (Stanford CS231n), classes and images drawn with seed {seed}: "
            + ", ".join(chosen)
        ),
    )


def _unique_names(names: list[str], wnids: Sequence[str]) -> list[str]:
    """Class names, with the WordNet id added where two synsets share a first synonym."""
    return [f"{n} ({w})" if names.count(n) > 1 else n for n, w in zip(names, wnids)]


def _check_tiny_zip(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise ImageDataError(f"{TINYIMAGENET_URL}: the download is not a zip archive")
    with zipfile.ZipFile(path) as archive:
        if f"{_TINY_ROOT}/wnids.txt" not in archive.namelist():
            raise ImageDataError(f"{TINYIMAGENET_URL}: the archive has no {_TINY_ROOT}/wnids.txt")


def _download_file(url: str, path: Path, check: Callable[[Path], None]) -> None:
    """Stream ``url`` to a sibling temporary file, ``check`` it, then rename it to ``path``.

    A body shorter than its Content-Length is refused here: ``read(n)`` just returns
    fewer bytes when the server hangs up early, so nothing else would notice.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            received = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                received += len(chunk)
            expected = response.headers.get("Content-Length")
            if expected is not None and expected.isdigit() and received < int(expected):
                raise ImageDataError(
                    f"could not download {url} (the body ended after {received} of {expected} bytes); "
                    f"the offline sets are {', '.join(OFFLINE_SETS)}"
                )
        check(Path(staging))
        os.replace(staging, path)
    except (OSError, http.client.HTTPException) as err:  # urllib.error.URLError is an OSError
        Path(staging).unlink(missing_ok=True)
        raise ImageDataError(  # offline, or the server is down: one line, not a traceback
            f"could not download {url} ({err}); the offline sets are {', '.join(OFFLINE_SETS)}"
        ) from err
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


# --- the registry ----------------------------------------------------------------------

IMAGE_SETS: dict[str, Callable[[], ImageSet]] = {
    "FASHION200": fashion200,
    "PHOTOS200": photos200,
    "CIFAR10-200": load_cifar10_subset,
    "TINYIMAGENET-200": load_tinyimagenet_subset,
}
OFFLINE_SETS: tuple[str, ...] = ("FASHION200", "PHOTOS200")


def load_image_set(name: str) -> ImageSet:
    """The image set registered as ``name`` (case-insensitive); see :data:`IMAGE_SETS`.

    The online sets download on first use; :data:`OFFLINE_SETS` never do.
    """
    loader = IMAGE_SETS.get(str(name).upper())
    if loader is None:
        online = [n for n in IMAGE_SETS if n not in OFFLINE_SETS]
        raise ImageDataError(
            f"unknown image set {name!r}; valid names: {', '.join(IMAGE_SETS)} "
            f"(offline: {', '.join(OFFLINE_SETS)}; online, downloading on first use: {', '.join(online)})"
        )
    return loader()
