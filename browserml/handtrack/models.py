"""Where handtrack.js's shipped models are, and what their outputs mean.

npm ``handtrackjs@0.1.5`` carries its detector as TF.js graph models under
``models/webmodel/<type>/<variant>/model.json``. handtrack.js names the variants by
download size (its ``modelSize`` option) and defaults to ``"small"``, the int8 model;
this module keeps the same names so a lesson's ``size="small"`` means exactly what
``handTrack.load({modelSize: "small"})`` means in the browser.

Nothing here imports TensorFlow: a widget can list the models cheaply.
"""

from __future__ import annotations

from pathlib import Path

from browserml.errors import BadInput
from browserml.paths import npm_package_dir

PACKAGE = "handtrackjs"
VERSION = "0.1.5"
MODEL_TYPES: tuple[str, ...] = ("ssd320fpnlite", "ssd640fpnlite")
DEFAULT_MODEL_TYPE = "ssd320fpnlite"
# handtrack.js's modelSizeMap: modelSize -> folder (large = float32, medium = float16, small = int8).
MODEL_SIZES: dict[str, str] = {"large": "base", "medium": "fp16", "small": "int8"}
DEFAULT_SIZE = "small"
# handtrack.js's labelMap: class index (position in the score row + 1) -> label.
LABELS: dict[int, str] = {
    1: "open",
    2: "closed",
    3: "pinch",
    4: "point",
    5: "face",
    6: "pointtip",
    7: "pinchtip",
}
# handtrack.js's colorMap: how its renderPredictions draws each label.
COLORS: dict[str, str] = {
    "open": "#374151", "closed": "#B91C1C", "pinch": "#F59E0B", "point": "#10B981",
    "face": "#3B82F6", "pointtip": "#6366F1", "pinchtip": "#EC4899",
}


#: The detector handtrack.js 0.0.x loaded, the one the talk describes: SSDLite MobileNetV2 (300 x 300,
#: 1,917 anchors), one class ("hand"), trained on EgoHands, converted by TF.js's pre-1.0 converter
#: (``tensorflowjs_model.pb`` + ``weights_manifest.json``, loaded with ``tf.loadFrozenModel``, a format
#: TF.js 1.0 replaced with ``model.json``). npm ``handtrackjs@0.1.5`` still ships it, unused.
LEGACY_MODEL = "ssdlitemobilenetv2"


class HandtrackModelError(BadInput):
    """A handtrack.js model was asked for that does not exist (or is not installed)."""


def package_dir() -> Path:
    """``node_modules/handtrackjs`` (or, on Colab, where ``browserml.colab`` unpacked it),
    with an error naming the fix when it is missing."""
    path = npm_package_dir(PACKAGE)
    if not (path / "package.json").is_file():
        raise HandtrackModelError(
            f"npm package {PACKAGE}@{VERSION} is not installed under {path.parent}. Run `make setup` "
            f"(or `npm ci` in the project root): package.json lists it. On Colab the Setup cell fetches it."
        )
    return path


def size_folder(size: str) -> str:
    """The folder name (``int8``/``fp16``/``base``) of a size given either way."""
    if size in MODEL_SIZES.values():
        return size
    if size not in MODEL_SIZES:
        raise HandtrackModelError(
            f"unknown handtrack.js model size {size!r}; choose one of {tuple(MODEL_SIZES)} "
            f"(or the folder names {tuple(MODEL_SIZES.values())})"
        )
    return MODEL_SIZES[size]


def model_dir(model_type: str = DEFAULT_MODEL_TYPE, size: str = DEFAULT_SIZE) -> Path:
    """The folder of one shipped graph model (``model.json`` + shards).

    ``size`` is handtrack.js's ``modelSize`` (``"small"``, ``"medium"``, ``"large"``);
    the folder names ``"int8"``, ``"fp16"``, ``"base"`` are accepted too.
    """
    if model_type not in MODEL_TYPES:
        raise HandtrackModelError(f"unknown handtrack.js model type {model_type!r}; choose one of {MODEL_TYPES}")
    path = package_dir() / "models" / "webmodel" / model_type / size_folder(size)
    if not (path / "model.json").is_file():
        raise HandtrackModelError(
            f"{path / 'model.json'} is missing: the {PACKAGE} install looks incomplete. "
            "Run `make setup` (or `npm ci`) again."
        )
    return path


def legacy_model_dir() -> Path:
    """The folder of handtrack.js 0.0.x's model (:data:`LEGACY_MODEL`) inside the npm package:
    5 weight shards, 18.5 MB, the talk's "sharded into 5 files with a maximum size of 4.2mb"."""
    path = package_dir() / "models" / "web" / LEGACY_MODEL
    if not (path / "weights_manifest.json").is_file():
        raise HandtrackModelError(f"{path / 'weights_manifest.json'} is missing: the {PACKAGE} install looks "
                                  "incomplete. Run `make setup` (or `npm ci`) again.")
    return path


def shipped_models(model_type: str = DEFAULT_MODEL_TYPE) -> list[dict[str, object]]:
    """Every model the npm package ships for ``model_type``, plus the talk's 0.0.x model: which
    handtrack.js loads it, its folder, its classes, and its download: weight shards, and MB of
    all its files (graph and manifest included)."""
    rows: list[dict[str, object]] = []
    legacy = legacy_model_dir()
    places = [("0.0.x (the talk)", legacy, 1)] + [
        (f"{VERSION} (modelSize {size!r})", model_dir(model_type, size), len(LABELS)) for size in MODEL_SIZES]
    for version, path, classes in places:
        shards = sorted(path.glob("*.bin"))
        rows.append({"handtrack.js": version, "folder": path.relative_to(package_dir() / "models").as_posix(),
                     "classes": classes, "shards": len(shards),
                     "MB": sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 1e6})
    return rows
