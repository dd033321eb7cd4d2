"""The TOY detection set: what it is (constants, :class:`DetectionSet`), how it is drawn
(:func:`make_toy_set`: hand-like shapes pasted on photo crops) and its TFRecords in the
Object Detection API's layout (:func:`write_tfrecord`, :func:`read_tfrecord`,
:func:`load_tfrecord`). Steps 1 and 2 of :mod:`browserml.handtrack.training`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)
from browserml.errors import BadInput
from browserml.png import encode_png

TOY_LABEL = "TOY"
#: The real thing, for contrast (github.com/victordibia/handtracking, README).
ORIGINAL: dict[str, Any] = {
    "dataset": "EgoHands (4,800 labelled images)",
    "model": "SSD MobileNet, TensorFlow Object Detection API",
    "map_at_0_5_iou": 0.9686,
}
#: Class ids as in an Object Detection API label map (1-based; 0 is background), with
#: handtrack.js's names for the same poses (its LABELS 1 and 2).
TOY_CLASSES: dict[int, str] = {1: "open", 2: "closed"}
IMAGE_SIZE = 96
BACKBONE = "efficientnet-lite0"
FEATURE_LAYER = "block4c_add"  # EfficientNet-Lite0's stage 4 output: stride 16, 80 channels
STRIDE = 16
GRID = IMAGE_SIZE // STRIDE  # 6 cells per side at 96x96
HEAD_FILTERS = 64
CHANNELS = 5 + len(TOY_CLASSES)  # objectness, x and y inside the cell, width, height, class probabilities
MIN_OBJECT, MAX_OBJECT = 26, 50  # longest side of a pasted shape, in pixels
SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 56, 30),
)
BACKGROUND_SIDE = 160  # photos are downscaled to this shorter side before cropping backgrounds


class ToyDataError(BadInput):
    """A toy detection set or a TFRecord of one is malformed."""


# --------------------------------------------------------------------------- the toy set


@dataclass(frozen=True, eq=False)
class DetectionSet:
    """Images with their labelled boxes, the Object Detection API's way.

    ``images`` uint8 ``[n, h, w, 3]``; ``boxes[i]`` float32 ``[k_i, 4]`` normalised
    ``(ymin, xmin, ymax, xmax)`` (the order TF and handtrack.js's raw outputs use);
    ``classes[i]`` int64 ``[k_i]`` ids of :data:`TOY_CLASSES`. ``description`` says
    what the pictures are, so a plot or a metric can carry the toy label.
    """

    images: np.ndarray
    boxes: tuple[np.ndarray, ...]
    classes: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ToyDataError(f"images must be uint8 [n, h, w, 3], got {self.images.dtype} {self.images.shape}")
        if not len(self.boxes) == len(self.classes) == len(self.names) == n:
            raise ToyDataError(f"{n} images need as many box arrays, class arrays and names: got "
                               f"{len(self.boxes)}, {len(self.classes)}, {len(self.names)}")
        for i, (b, c) in enumerate(zip(self.boxes, self.classes)):
            if b.ndim != 2 or b.shape[1] != 4 or len(c) != len(b):
                raise ToyDataError(f"{self.names[i]}: boxes {b.shape} and classes {c.shape} do not match")
            if len(b) and (b.min() < 0 or b.max() > 1 or np.any(b[:, 2:] <= b[:, :2])):
                raise ToyDataError(f"{self.names[i]}: boxes must be (ymin, xmin, ymax, xmax) inside 0..1")

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (f"DetectionSet(n={len(self)}, size={self.images.shape[1]}x{self.images.shape[2]}, "
                f"objects={self.n_objects})")

    @property
    def n_objects(self) -> int:
        return int(sum(len(b) for b in self.boxes))

    def subset(self, index: Sequence[int] | np.ndarray) -> DetectionSet:
        idx = [int(i) for i in index]
        return DetectionSet(self.images[idx], tuple(self.boxes[i] for i in idx),
                            tuple(self.classes[i] for i in idx), tuple(self.names[i] for i in idx),
                            self.description)


def _finger(draw: ImageDraw.ImageDraw, x0: float, y0: float, angle_deg: float, length: float,
            width: float) -> None:
    """A finger: a thick line from its base with round ends (two discs)."""
    a = math.radians(angle_deg)
    x1, y1 = x0 + length * math.sin(a), y0 - length * math.cos(a)
    draw.line([(x0, y0), (x1, y1)], fill=255, width=round(width))
    r = width / 2
    for x, y in ((x0, y0), (x1, y1)):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)


def hand_mask(kind: str, rng: np.random.Generator, canvas: int = 128) -> Image.Image:
    """A hand-like silhouette (mode ``"L"``, 255 inside) on a square canvas, upright.

    ``"open"``: a palm (ellipse) with four spread fingers and a thumb, lengths jittered.
    ``"closed"``: a palm with four knuckle bumps on top and a thumb folded across.
    Drawn large, then scaled down by the caller, so the edges come out smooth.
    """
    mask = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(mask)
    c = canvas / 2
    palm_w, palm_h = canvas * rng.uniform(0.30, 0.36), canvas * rng.uniform(0.30, 0.36)
    top = c - palm_h / 2 + canvas * 0.12
    draw.ellipse([c - palm_w / 2, top, c + palm_w / 2, top + palm_h], fill=255)
    draw.rectangle([c - palm_w * 0.3, top + palm_h * 0.6, c + palm_w * 0.3, top + palm_h * 1.2], fill=255)  # wrist
    finger_w = palm_w / 4.2
    if kind == "open":
        spread = rng.uniform(6, 14)
        for k in range(4):
            x = c - palm_w / 2 + finger_w * (k + 0.5) * 1.05
            length = canvas * rng.uniform(0.20, 0.27) * (0.85 if k in (0, 3) else 1.0)
            _finger(draw, x, top + palm_h * 0.25, (k - 1.5) * spread, length, finger_w)
        _finger(draw, c - palm_w / 2 + finger_w / 2, top + palm_h * 0.6, -rng.uniform(50, 75),
                canvas * rng.uniform(0.16, 0.2), finger_w * 1.1)
    elif kind == "closed":
        for k in range(4):
            x = c - palm_w / 2 + finger_w * (k + 0.5) * 1.05
            r = finger_w * 0.62
            draw.ellipse([x - r, top - r * 0.6, x + r, top + r * 1.4], fill=255)
        draw.ellipse([c - palm_w * 0.55, top + palm_h * 0.35, c + palm_w * 0.15, top + palm_h * 0.65], fill=255)
    else:
        raise ToyDataError(f"unknown hand kind {kind!r}; choose one of {tuple(TOY_CLASSES.values())}")
    return mask


def _shaded(mask: np.ndarray, tone: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Skin-toned pixels for a mask: a tone, a gentle left-to-right light gradient and noise,
    so the shape is not a flat colour a detector could match with one pixel."""
    h, w = mask.shape
    light = np.linspace(rng.uniform(0.8, 0.95), rng.uniform(1.0, 1.15), w)[None, :, None]
    noise = rng.normal(0, 6, size=(h, w, 3))
    return np.clip(tone[None, None, :] * light + noise, 0, 255)


def _backgrounds(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops of the shipped photographs (uint8).

    The photos come from :func:`browserml.data.images.load_photo` (sha256-checked files
    inside the installed wheels; nothing is downloaded), downscaled once, then cropped
    at random and flipped half the time.
    """
    from browserml.data.images import PHOTO_SOURCES, load_photo

    photos = []
    for source in PHOTO_SOURCES:
        photo = Image.fromarray(load_photo(source))
        factor = BACKGROUND_SIDE / min(photo.size)
        photos.append(np.asarray(photo.resize((round(photo.width * factor), round(photo.height * factor)),
                                              Image.Resampling.LANCZOS)))
    out = np.empty((n, size, size, 3), np.uint8)
    for k in range(n):
        pixels = photos[int(rng.integers(len(photos)))]
        y = int(rng.integers(pixels.shape[0] - size + 1))
        x = int(rng.integers(pixels.shape[1] - size + 1))
        crop = pixels[y:y + size, x:x + size]
        out[k] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return out


def _place(taken: list[tuple[int, int, int, int]], w: int, h: int, size: int,
           rng: np.random.Generator) -> tuple[int, int] | None:
    """A top-left corner for a ``w`` x ``h`` shape inside the image that overlaps no taken
    box and centres in a grid cell no other shape centres in (one box per cell)."""
    cell = STRIDE
    for _ in range(50):
        x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
        cell_of = (int((y + h / 2) // cell), int((x + w / 2) // cell))
        clash = any(not (x + w <= tx or tx + tw <= x or y + h <= ty or ty + th <= y)
                    or cell_of == (int((ty + th / 2) // cell), int((tx + tw / 2) // cell))
                    for tx, ty, tw, th in taken)
        if not clash:
            return x, y
    return None


def make_toy_set(n: int = 200, seed: int = 0, size: int = IMAGE_SIZE, max_objects: int = 2) -> DetectionSet:
    """A TOY detection set: ``n`` photo crops with 1..``max_objects`` synthetic hands each.

    Each shape (see :func:`hand_mask`) is rotated by up to ±35°, scaled so its longest
    side is :data:`MIN_OBJECT`..:data:`MAX_OBJECT` pixels (at 96x96), skin-toned from
    :data:`SKIN_TONES` and pasted where it overlaps no other shape. The box is the tight
    box of the pasted (binary) mask, in pixel edges: exact by construction. The same
    ``seed`` gives the same pixels.
    """
    if n < 1 or max_objects < 1:
        raise ToyDataError(f"need n >= 1 and max_objects >= 1, got n={n}, max_objects={max_objects}")
    if size % STRIDE or size < 4 * STRIDE:
        raise ToyDataError(f"size must be a multiple of {STRIDE} (the detector's stride), >= {4 * STRIDE}; got {size}")
    rng = np.random.default_rng(seed)
    images = _backgrounds(n, size, rng)
    kinds = {name: cid for cid, name in TOY_CLASSES.items()}
    boxes, classes = [], []
    scale_px = size / IMAGE_SIZE
    for k in range(n):
        taken: list[tuple[int, int, int, int]] = []
        image_boxes, image_classes = [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            kind = str(rng.choice(list(kinds)))
            mask = hand_mask(kind, rng).rotate(float(rng.uniform(-35, 35)), resample=Image.Resampling.BILINEAR)
            mask = mask.crop(mask.getbbox())
            longest = rng.uniform(MIN_OBJECT, MAX_OBJECT) * scale_px
            factor = longest / max(mask.size)
            mask = mask.resize((max(2, round(mask.width * factor)), max(2, round(mask.height * factor))),
                               Image.Resampling.BILINEAR)
            binary = np.asarray(mask) >= 128
            ys, xs = np.nonzero(binary)
            binary = binary[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            h, w = binary.shape
            corner = _place(taken, w, h, size, rng)
            if corner is None:
                continue
            x, y = corner
            tone = np.asarray(SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], np.float64) * rng.uniform(0.9, 1.1)
            region = images[k, y:y + h, x:x + w]
            region[binary] = _shaded(binary, tone, rng)[binary].astype(np.uint8)
            taken.append((x, y, w, h))
            image_boxes.append([y / size, x / size, (y + h) / size, (x + w) / size])
            image_classes.append(kinds[kind])
        boxes.append(np.asarray(image_boxes, np.float32).reshape(-1, 4))
        classes.append(np.asarray(image_classes, np.int64))
    return DetectionSet(
        images, tuple(boxes), tuple(classes), tuple(f"toy_{seed}_{k:04d}.png" for k in range(n)),
        description=(f"{TOY_LABEL}: {n} random crops of the 10 photographs shipped with scikit-image and "
                     f"scikit-learn, each with 1-{max_objects} pasted synthetic hand-like shapes (drawn palm and "
                     "fingers, 'open' or 'closed'); boxes exact by construction; seed "
                     f"{seed}. Not photographs of hands."),
    )


# --------------------------------------------------------------------------- TFRecords


def _bytes(values: Iterable[bytes]) -> Any:
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def _floats(values: Iterable[float]) -> Any:
    import tensorflow as tf

    return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def _ints(values: Iterable[int]) -> Any:
    import tensorflow as tf

    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def to_tf_example(image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, name: str) -> Any:
    """One image as a ``tf.train.Example`` in the Object Detection API's layout
    (``create_tf_record`` scripts write exactly these keys; boxes normalised, classes
    1-based with their label map names in ``class/text``)."""
    import tensorflow as tf

    height, width = image.shape[:2]
    key = name.encode()
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    feature = {
        "image/height": _ints([height]),
        "image/width": _ints([width]),
        "image/filename": _bytes([key]),
        "image/source_id": _bytes([key]),
        "image/encoded": _bytes([encode_png(image)]),
        "image/format": _bytes([b"png"]),
        "image/object/bbox/xmin": _floats(boxes[:, 1]),
        "image/object/bbox/xmax": _floats(boxes[:, 3]),
        "image/object/bbox/ymin": _floats(boxes[:, 0]),
        "image/object/bbox/ymax": _floats(boxes[:, 2]),
        "image/object/class/text": _bytes(TOY_CLASSES[int(c)].encode() for c in classes),
        "image/object/class/label": _ints(int(c) for c in classes),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_tfrecord(data: DetectionSet, path: str | Path) -> Path:
    """Write ``data`` as one TFRecord file of :func:`to_tf_example` records."""
    import tensorflow as tf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for image, boxes, classes, name in zip(data.images, data.boxes, data.classes, data.names):
            writer.write(to_tf_example(image, boxes, classes, name).SerializeToString())
    return path


def _feature_spec() -> dict[str, Any]:
    import tensorflow as tf

    spec: dict[str, Any] = {
        "image/height": tf.io.FixedLenFeature([], tf.int64),
        "image/width": tf.io.FixedLenFeature([], tf.int64),
        "image/filename": tf.io.FixedLenFeature([], tf.string),
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/format": tf.io.FixedLenFeature([], tf.string),
        "image/object/class/label": tf.io.VarLenFeature(tf.int64),
        "image/object/class/text": tf.io.VarLenFeature(tf.string),
    }
    for key in ("xmin", "xmax", "ymin", "ymax"):
        spec[f"image/object/bbox/{key}"] = tf.io.VarLenFeature(tf.float32)
    return spec


def parse_example(serialized: Any) -> dict[str, Any]:
    """A serialised Example as tensors: ``image`` uint8 [h, w, 3], ``boxes`` [k, 4]
    ``(ymin, xmin, ymax, xmax)``, ``classes`` int64 [k], ``text`` [k], ``name``."""
    import tensorflow as tf

    f = tf.io.parse_single_example(serialized, _feature_spec())
    dense = {k: tf.sparse.to_dense(v) for k, v in f.items() if isinstance(v, tf.SparseTensor)}
    image = tf.io.decode_image(f["image/encoded"], channels=3, expand_animations=False)
    image = tf.ensure_shape(image, [None, None, 3])
    boxes = tf.stack([dense[f"image/object/bbox/{k}"] for k in ("ymin", "xmin", "ymax", "xmax")], axis=1)
    return {"image": image, "height": f["image/height"], "width": f["image/width"], "boxes": boxes,
            "classes": dense["image/object/class/label"], "text": dense["image/object/class/text"],
            "name": f["image/filename"], "format": f["image/format"]}


def read_tfrecord(paths: str | Path | Sequence[str | Path]) -> Any:
    """A ``tf.data.Dataset`` of :func:`parse_example` dicts, in file order."""
    import tensorflow as tf

    files = [str(paths)] if isinstance(paths, (str, Path)) else [str(p) for p in paths]
    missing = [p for p in files if not Path(p).is_file()]
    if missing:
        raise ToyDataError(f"TFRecord file(s) not found: {missing}")
    return tf.data.TFRecordDataset(files).map(parse_example)


def load_tfrecord(paths: str | Path | Sequence[str | Path], description: str = "") -> DetectionSet:
    """Read TFRecords back into a :class:`DetectionSet` (all images must share one size)."""
    images, boxes, classes, names = [], [], [], []
    for record in read_tfrecord(paths).as_numpy_iterator():
        name = record["name"].decode()
        if (record["height"], record["width"]) != record["image"].shape[:2]:
            raise ToyDataError(f"{name}: image/height,width {record['height']}x{record['width']} do not match "
                               f"the decoded image {record['image'].shape[:2]}")
        images.append(record["image"])
        boxes.append(record["boxes"].astype(np.float32))
        classes.append(record["classes"].astype(np.int64))
        names.append(name)
    if not images:
        raise ToyDataError(f"{paths}: no records")
    if len({im.shape for im in images}) != 1:
        raise ToyDataError(f"{paths}: images of different sizes {sorted({im.shape for im in images})}")
    return DetectionSet(np.stack(images), tuple(boxes), tuple(classes), tuple(names), description)
