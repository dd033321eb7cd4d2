"""The named image sets: FASHION200 (committed, rebuilt by :func:`build_fashion200`), the
online CIFAR-10 and Tiny ImageNet subsets (downloaded only when called), and the registry
(:data:`IMAGE_SETS`, :func:`load_image_set`). PHOTOS200 lives in :mod:`.photos`.

Tests that point the downloads at a stand-in server patch :data:`TINYIMAGENET_URL` and
:data:`DOWNLOAD_TIMEOUT_S` here, where they are looked up, not on the package.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import json
import os
import re
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from browserml.atomic import atomic_directory
from browserml.data.ecg5000 import default_cache_dir
from browserml.data.images.decode import ImageDataError, _gray_to_rgb, read_image
from browserml.data.images.idx import (
    DEBIAN_FASHION_MNIST_DIR,
    DEBIAN_PACKAGE,
    FASHION_CLASS_NAMES,
    FASHION_LICENSE,
    FASHION_MNIST_FILES,
    FASHION_REFERENCE,
    _check_fashion_pair,
    _read_fashion_file,
    encode_idx,
    read_idx,
)
from browserml.data.images.imageset import ImageSet
from browserml.data.images.photos import photos200
from browserml.data.provenance import PROVENANCE_FILE, verify
from browserml.paths import datasets_dir

#: Seconds a download may wait for the server (to connect, or for the next bytes).
DOWNLOAD_TIMEOUT_S = 60


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
