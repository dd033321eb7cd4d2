"""The idx format of the MNIST family (:func:`read_idx`, :func:`encode_idx`) and the full
Fashion-MNIST read from Debian's ``dataset-fashion-mnist`` (:func:`fashion_mnist`), each file
checked against upstream's sha256.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np

from browserml.data.images.decode import ImageDataError, ImageSource, _read_only

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
