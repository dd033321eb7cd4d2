"""Lesson 4's test images: real hands from a Debian package, and scenes made from them.

No Python wheel or npm package installed here ships a photo of hands, but Debian's
``opencv-doc`` does: OpenCV's own tutorials photograph open hands for histogram
back-projection (Apache-2.0 AND BSD-3-Clause, per the package's ``copyright``, whose
``Files: *`` covers ``doc/``; Debian strips the images it cannot license, such as
Lena, and kept these). Four of them, 75 KB together, are committed in
``datasets/hands`` with ``PROVENANCE.json`` and checked before every read.

handtrack.js was trained on webcam frames where a hand fills a fraction of the
picture; a close-up of a palm filling the frame gets no detection above 0.6 at all
(that is one of the scenes: agreeing on "nothing" is part of the contract). So most
scenes are composed here, deterministically: photos scaled with the same legacy
bilinear resize handtrack.js uses and pasted on a plain background, or into
scikit-image's astronaut photo (NASA, public domain; the model also detects faces).

:func:`record_expected` runs the *original* library in Node on every scene and
writes ``expected.json``; :func:`read_expected` gives it to the tests.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from browserml.atomic import atomic_directory
from browserml.data.provenance import PROVENANCE_FILE, verify
from browserml.errors import BadInput
from browserml.jsonfile import read_json
from browserml.paths import datasets_dir

EXPECTED_FILE = "expected.json"
BACKGROUND = (205, 200, 190)  # a plain light wall, for the composed scenes

DEBIAN_PACKAGE: dict[str, str] = {
    "registry": "Debian (bookworm, main)",
    "package": "opencv-doc",
    "version": "4.6.0+dfsg-12",
    "deb": "opencv-doc_4.6.0+dfsg-12_all.deb",
    "deb_sha256": "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
    "license": "Apache-2.0 AND BSD-3-Clause",
    "license_source": "/usr/share/doc/opencv-doc/copyright, stanza 'Files: *' (OpenCV; copyright Intel, "
                      "Willow Garage, NVIDIA, AMD, OpenCV Foundation, Itseez, Xperience AI, "
                      "Shenzhen Institute of AI and Robotics for Society, and OpenCV contributors)",
}
_HTML = "/usr/share/doc/opencv-doc/opencv4/html/"
# file -> (upstream path in opencv/opencv, sha256, what it shows)
SOURCE_FILES: dict[str, tuple[str, str, str]] = {
    "handSrc.jpg": (
        "doc/js_tutorials/js_assets/handSrc.jpg",
        "088532ab39ada21d9e332fa576d01d516bf4b8999c54a2c75665b35989f197fd",
        "an open hand, palm up, fingers spread, filling a 640x480 frame (grey table)",
    ),
    "handDst.jpg": (
        "doc/js_tutorials/js_assets/handDst.jpg",
        "f898d4861f5618e448ff2eff649a888a583d09d02e60a9dd652e7dd3c1ea3952",
        "the same open hand from another angle, 640x480",
    ),
    "Back_Projection_Theory0.jpg": (
        "doc/tutorials/imgproc/histograms/back_projection/images/Back_Projection_Theory0.jpg",
        "36265ed91ba8955a51d217a8de1b7a6fc6988ecf08638cdb572d81529dd4b86e",
        "an open palm raised towards the camera, fingers spread, 200x200",
    ),
    "Histogram_Comparison_Source_1.jpg": (
        "doc/tutorials/imgproc/histograms/histogram_comparison/images/Histogram_Comparison_Source_1.jpg",
        "7faadbac279c019d45bf89372563f47bcb70213044065a714897651748588a95",
        "an open palm raised, fingers spread, 200x172",
    ),
}


class HandImageError(BadInput):
    """A test image or the recorded expectations are missing, altered or inconsistent."""


def hands_dir() -> Path:
    """``datasets/hands``: the source photos, their provenance and ``expected.json``."""
    return datasets_dir() / "hands"


@functools.lru_cache(maxsize=1)
def _verified(folder: str) -> None:
    verify(Path(folder))


def read_source(name: str) -> np.ndarray:
    """One committed source photo as uint8 RGB ``(H, W, 3)``, its sha256 checked first."""
    from PIL import Image

    if name not in SOURCE_FILES:
        raise HandImageError(f"no source photo {name!r}; the photos are {sorted(SOURCE_FILES)}")
    _verified(str(hands_dir()))
    with Image.open(hands_dir() / name) as img:
        return np.asarray(img.convert("RGB"))


def astronaut() -> np.ndarray:
    """scikit-image's bundled astronaut photo (Eileen Collins, NASA, public domain), 512x512."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


# --------------------------------------------------------------------------- composing scenes


def scaled(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` resized to ``height`` rows (aspect kept) with TF.js's legacy bilinear
    resize, rounded to uint8: pure NumPy, so every machine composes identical pixels."""
    from browserml.handtrack.detect import resize_bilinear

    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return np.clip(np.round(resize_bilinear(image, height, width)), 0, 255).astype(np.uint8)


def compose(size: tuple[int, int], pastes: Sequence[tuple[np.ndarray, int, int]],
            background: np.ndarray | None = None) -> np.ndarray:
    """A ``(height, width)`` frame (plain :data:`BACKGROUND`, or a copy of ``background``)
    with each ``(image, top, left)`` pasted on it; a paste must fit inside the frame."""
    frame = np.empty((*size, 3), np.uint8)
    frame[:] = BACKGROUND if background is None else background
    for image, top, left in pastes:
        h, w = image.shape[:2]
        if top < 0 or left < 0 or top + h > size[0] or left + w > size[1]:
            raise HandImageError(f"a {w}x{h} paste at ({left}, {top}) does not fit a {size[1]}x{size[0]} frame")
        frame[top:top + h, left:left + w] = image
    return frame


def _hand_closeup() -> np.ndarray:
    return read_source("handSrc.jpg")


def _two_open_hands() -> np.ndarray:
    return compose((480, 640), [(scaled(read_source("handSrc.jpg"), 170), 150, 20),
                                (scaled(read_source("handDst.jpg"), 170), 160, 390)])


def _raised_hand_small() -> np.ndarray:
    return compose((230, 300), [(scaled(read_source("Histogram_Comparison_Source_1.jpg"), 60), 90, 120)])


def _astronaut_waving() -> np.ndarray:
    base = astronaut()
    return compose(base.shape[:2], [(scaled(read_source("Back_Projection_Theory0.jpg"), 130), 40, 360)], base)


class Scene(NamedTuple):
    """How to make a test scene, and what it shows."""

    make: Callable[[], np.ndarray]
    shows: str


SCENES: dict[str, Scene] = {
    "hand_closeup": Scene(_hand_closeup, "handSrc.jpg as shipped: one open hand filling the 640x480 frame"),
    "two_open_hands": Scene(
        _two_open_hands, "handSrc.jpg and handDst.jpg, 170 px high, side by side on a plain 640x480 background"),
    "raised_hand_small": Scene(
        _raised_hand_small,
        "Histogram_Comparison_Source_1.jpg, 60 px high, on a plain 300x230 background (odd size)"),
    "astronaut": Scene(astronaut, "scikit-image's astronaut, 512x512 (a face)"),
    "astronaut_waving": Scene(
        _astronaut_waving,
        "the astronaut with Back_Projection_Theory0.jpg (130 px high) pasted top right: a face and an open hand"),
}


def scene(name: str) -> np.ndarray:
    """One test scene as uint8 RGB ``(H, W, 3)``."""
    if name not in SCENES:
        raise HandImageError(f"no scene {name!r}; the scenes are {list(SCENES)}")
    return SCENES[name].make()


def scenes() -> dict[str, np.ndarray]:
    """Every test scene, in :data:`SCENES` order."""
    return {name: scene(name) for name in SCENES}


def pixels_sha256(image: np.ndarray) -> str:
    """sha256 of an image's shape and bytes: recorded so a changed decoder or scene shows."""
    image = np.ascontiguousarray(image)
    return hashlib.sha256(repr(image.shape).encode() + image.tobytes()).hexdigest()


# --------------------------------------------------------------------------- building the folder


def build_sources(package_root: str | os.PathLike[str] = "/", out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Copy the four photos from Debian's ``opencv-doc`` into ``datasets/hands`` and write
    ``PROVENANCE.json`` and ``README.md`` (``expected.json``, if present, is kept).

    ``package_root`` is ``/`` when the package is installed, or the folder that
    ``apt-get download opencv-doc && dpkg-deb -x opencv-doc_*.deb DIR`` filled. Every
    file must have the recorded sha256, so the result equals the committed folder.
    """
    root = Path(package_root)
    target = Path(out_dir) if out_dir is not None else hands_dir()
    with atomic_directory(target) as staging:
        entries = []
        for name, (upstream, sha256, shows) in SOURCE_FILES.items():
            source = root / (_HTML + name).lstrip("/")
            if not source.is_file():
                raise HandImageError(f"{source} is missing: install or extract {DEBIAN_PACKAGE['deb']}")
            data = source.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha256:
                raise HandImageError(f"{source}: sha256 {hashlib.sha256(data).hexdigest()}, expected {sha256}")
            (staging / name).write_bytes(data)
            entries.append({"name": name, "sha256": sha256, "bytes": len(data), "shows": shows,
                            "source": {**DEBIAN_PACKAGE, "path_in_package": _HTML + name,
                                       "upstream": f"https://github.com/opencv/opencv, {upstream}"}})
        provenance = {
            "dataset": "hands",
            "description": "Photos of open hands from OpenCV's documentation, the sources of lesson 4's "
                           "handtrack.js test scenes (browserml.handtrack.images).",
            "builder": "browserml.handtrack.images.build_sources",
            "files": entries,
        }
        (staging / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(_readme(entries), encoding="utf-8")
        if (target / EXPECTED_FILE).is_file():
            shutil.copy2(target / EXPECTED_FILE, staging / EXPECTED_FILE)
    return target


def _readme(entries: Sequence[Mapping[str, Any]]) -> str:
    rows = "\n".join(f"| `{e['name']}` | {e['shows']} | `{e['source']['upstream'].split(', ')[1]}` | "
                     f"`{e['sha256']}` |" for e in entries)
    scene_rows = "\n".join(f"| `{name}` | {sc.shows} |" for name, sc in SCENES.items())
    return f"""# hands

Photos of real hands for lesson 4 (handtrack.js), from Debian's `{DEBIAN_PACKAGE['package']}`
{DEBIAN_PACKAGE['version']} (`{_HTML}`), OpenCV's own tutorial images.
License: **{DEBIAN_PACKAGE['license']}** ({DEBIAN_PACKAGE['license_source']}).
Rebuild with `browserml.handtrack.images.build_sources()`; `PROVENANCE.json` holds the
sha256 of every file and of the .deb.

| file | shows | upstream (opencv/opencv) | sha256 |
|---|---|---|---|
{rows}

The test scenes are composed from these (and scikit-image's public-domain astronaut)
by `browserml.handtrack.images.scenes()`:

| scene | what |
|---|---|
{scene_rows}

`{EXPECTED_FILE}` holds what the original handtrack.js 0.1.5 (its `dist/handtrack.min.js`,
in Node) detects in each scene, per model size and `flipHorizontal`; regenerate it
with `browserml.handtrack.images.record_expected()` (a few minutes: pure-JS TF.js).
"""


# --------------------------------------------------------------------------- expected detections

# The handtrack.js parameter sets recorded: each model size, and the mirrored video
# handtrack.js's demos use (flipHorizontal) for the default and the float32 models.
EXPECTED_RUNS: tuple[dict[str, Any], ...] = (
    {"modelSize": "small", "flipHorizontal": False},
    {"modelSize": "small", "flipHorizontal": True},
    {"modelSize": "medium", "flipHorizontal": False},
    {"modelSize": "large", "flipHorizontal": False},
    {"modelSize": "large", "flipHorizontal": True},
)


def record_expected(runs: Sequence[Mapping[str, Any]] = EXPECTED_RUNS, path: str | os.PathLike[str] | None = None,
                    timeout_s: float = 1800) -> dict[str, Any]:
    """Run the original handtrack.js in Node on every scene for each parameter set in
    ``runs`` and write the detections to ``expected.json`` (atomically). Returns the data."""
    from browserml.handtrack.detect import js_detect

    images = scenes()
    record: dict[str, Any] = {
        "generated_by": "browserml.handtrack.images.record_expected",
        "reference": "browserml/js/handtrack_reference.cjs",
        "images": {name: {"shape": list(img.shape), "pixels_sha256": pixels_sha256(img)}
                   for name, img in images.items()},
        "runs": [],
    }
    for params in runs:
        result = js_detect(images, timeout_s=timeout_s, **params)
        record["library"] = result["library"]
        record["runs"].append({"params": dict(params), "results": result["results"]})
    target = Path(path) if path is not None else hands_dir() / EXPECTED_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=1)
        stream.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would make a committed file unreadable to others
    os.replace(tmp, target)
    return record


def read_expected(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``expected.json``, checked to hold a result for every scene in every run."""
    target = Path(path) if path is not None else hands_dir() / EXPECTED_FILE
    data = read_json(target, HandImageError, f"{target} is missing: run browserml.handtrack.images.record_expected()")
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list) or not runs or not isinstance(data.get("images"), dict):
        raise HandImageError(f"{target}: needs 'images' and a non-empty 'runs' list")
    for run in runs:
        missing = set(data["images"]) - set(run.get("results", {}))
        if missing:
            raise HandImageError(f"{target}: run {run.get('params')} has no result for {sorted(missing)}")
    return data
