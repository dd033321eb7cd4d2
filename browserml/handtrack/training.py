"""How Handtrack.js was trained, rebuilt as a loop that runs offline in a minute: a TOY.

The real detector (npm ``handtrackjs``) is an SSD MobileNet that Victor Dibia trained
with the TensorFlow Object Detection API on EgoHands: 4,800 labelled frames of hands
seen from a head camera, written as TFRecords, trained for hours on a GPU, exported
to a SavedModel and converted to TF.js. The original repository reports mAP 0.9686
at 0.5 IoU (:data:`ORIGINAL`). None of that data or compute is here, so this module
runs **the same four steps at toy scale**, and every result it produces says so:

1. **Data** (:func:`make_toy_set`): a set the lesson makes itself. Backgrounds are
   random crops of the ten photographs shipped inside the scikit-image and
   scikit-learn wheels (:data:`browserml.data.images.PHOTO_SOURCES`); on each, one
   or two *synthetic hand-like shapes* are pasted: a skin-toned palm with five
   fingers ("open") or a palm with knuckles and a folded thumb ("closed"), randomly
   sized, rotated and tinted. They are drawn polygons, not photographs of hands. Each
   box is the tight box of the pasted mask's pixels, so it is exact by construction.
2. **TFRecord** (:func:`write_tfrecord`, :func:`read_tfrecord`): the Object Detection
   API's ``tf.train.Example`` layout (``image/encoded``, ``image/height``,
   ``image/object/bbox/xmin`` …, ``image/object/class/label|text``), PNG-encoded so a
   round trip is exact, read back with ``tf.data``. Training reads these files.
3. **Training** (:func:`train_toy_detector`): a small detection head fine-tuned in
   ``tf_keras`` on frozen EfficientNet-Lite0 features (ImageNet weights, from lesson 3).
   Like SSD it predicts, for every cell of a grid laid over the image, "is an object
   centred here", its box and its class; unlike SSD it has one box per cell (a
   YOLO-v1-style grid) and no feature pyramid. Handtrack.js too started from a
   pretrained network: 4,800 images are far too few to learn features from scratch.
   :func:`evaluate` measures mean IoU and mAP@0.5 on a held-out toy split.
4. **Export** (:func:`export_toy_detector`): through :func:`browserml.export.export_layers_model`,
   so TF.js loads it with ``tf.loadLayersModel`` and :mod:`browserml.tfjs_check` proves
   it computes what Python computes. :func:`decode_grid` documents the decoding a
   page must do (a few lines of JS).

What a toy number means: the toy metric says the loop works end to end on easy,
synthetic data; it says nothing about detecting real hands, and it is not comparable
with :data:`ORIGINAL`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)
from browserml.errors import BadInput
from browserml.handtrack.boxes import box_iou, non_max_suppression
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


# --------------------------------------------------------------------------- grid encoding


def encode_grid(boxes: np.ndarray, classes: np.ndarray, grid: int = GRID) -> np.ndarray:
    """The training target of one image, float32 ``[grid, grid, 5 + n_classes]``.

    The cell containing a box's centre is responsible for it (as in YOLO v1; SSD matches
    several anchors instead): objectness 1, the centre's offset inside the cell
    (0..1), width and height as fractions of the image, and the class one-hot. Other
    cells hold zeros and only learn "no object here".
    """
    target = np.zeros((grid, grid, CHANNELS), np.float32)
    for (ymin, xmin, ymax, xmax), cls in zip(np.asarray(boxes, np.float64), classes):
        cy, cx = (ymin + ymax) / 2 * grid, (xmin + xmax) / 2 * grid
        i, j = min(int(cy), grid - 1), min(int(cx), grid - 1)
        if target[i, j, 0]:
            raise ToyDataError(f"two boxes centre in cell ({i}, {j}); this toy grid holds one box per cell")
        target[i, j, :5] = (1.0, cx - j, cy - i, xmax - xmin, ymax - ymin)
        target[i, j, 4 + int(cls)] = 1.0  # class id 1 -> channel 5
    return target


@dataclass(frozen=True)
class Detections:
    """One image's detections: ``boxes`` [k, 4] normalised ``(ymin, xmin, ymax, xmax)``,
    ``scores`` [k] (objectness x class probability), ``classes`` [k] ids, best first."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def decode_grid(output: np.ndarray, score_threshold: float = 0.3, iou_threshold: float = 0.3,
                max_boxes: int = 10) -> Detections:
    """Turn one grid output ``[grid, grid, 5 + n_classes]`` into boxes (what a page's JS does).

    Per cell: box centre ``((j + x) / grid, (i + y) / grid)``, size ``(w, h)``, class
    ``argmax`` of the probabilities, score ``objectness x that probability``; then
    greedy non-maximum suppression, as handtrack.js does after its network.
    """
    out = np.asarray(output, np.float64)
    grid = out.shape[0]
    ii, jj = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    cx, cy = (jj + out[..., 1]) / grid, (ii + out[..., 2]) / grid
    w, h = out[..., 3], out[..., 4]
    boxes = np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1).reshape(-1, 4).clip(0, 1)
    probs = out[..., 5:].reshape(-1, out.shape[-1] - 5)
    cls = probs.argmax(axis=1)
    scores = out[..., 0].reshape(-1) * probs[np.arange(len(cls)), cls]
    keep = non_max_suppression(boxes, scores, max_boxes, iou_threshold, score_threshold,
                               drop_at_threshold=False)  # tf.image.non_max_suppression's rule
    return Detections(boxes[keep].astype(np.float32), scores[keep].astype(np.float32), cls[keep] + 1)


# --------------------------------------------------------------------------- metrics


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision-recall curve with precision made monotone ("all points"
    interpolation, PASCAL VOC 2010+ and the Object Detection API's VOC metric)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def class_average_precision(detections: Sequence[Detections], truth_boxes: Sequence[np.ndarray],
                            truth_classes: Sequence[np.ndarray], cls: int, iou: float = 0.5) -> float:
    """AP of one class: detections of all images ranked by score; each is a true positive
    when it overlaps an unclaimed ground-truth box of that class by IoU >= ``iou``."""
    n_truth = sum(int(np.sum(c == cls)) for c in truth_classes)
    if n_truth == 0:
        return float("nan")
    ranked = []
    for k, det in enumerate(detections):
        for box, score in zip(det.boxes[det.classes == cls], det.scores[det.classes == cls]):
            ranked.append((-float(score), k, box))
    ranked.sort(key=lambda r: (r[0], r[1]))
    claimed = [np.zeros(int(np.sum(c == cls)), bool) for c in truth_classes]
    hits = np.zeros(len(ranked))
    for r, (_, k, box) in enumerate(ranked):
        truth = truth_boxes[k][truth_classes[k] == cls]
        if not len(truth):
            continue
        overlaps = box_iou(box[None], truth)[0]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= iou and not claimed[k][best]:
            claimed[k][best] = True
            hits[r] = 1
    tp = np.cumsum(hits)
    recall = tp / n_truth
    precision = tp / np.arange(1, len(ranked) + 1) if ranked else np.zeros(0)
    return average_precision(recall, precision)


@dataclass(frozen=True)
class ToyMetrics:
    """Held-out TOY metrics: ``map50`` = mean over classes of AP at IoU 0.5; ``mean_iou`` =
    mean over ground-truth boxes of the best IoU any detection reaches (class ignored)."""

    map50: float
    ap50: dict[str, float]
    mean_iou: float
    n_images: int
    n_objects: int
    label: str = TOY_LABEL

    def __str__(self) -> str:
        per_class = ", ".join(f"{k} {v:.3f}" for k, v in self.ap50.items())
        return (f"[{self.label}] mAP@0.5 {self.map50:.3f} ({per_class}); mean best IoU {self.mean_iou:.3f} "
                f"on {self.n_images} held-out toy images, {self.n_objects} objects "
                f"(the original: mAP@0.5 {ORIGINAL['map_at_0_5_iou']} on EgoHands; not comparable)")


def evaluate_detections(detections: Sequence[Detections], data: DetectionSet) -> ToyMetrics:
    """mAP@0.5 and mean best IoU of ``detections`` (one per image) against ``data``'s boxes."""
    if len(detections) != len(data):
        raise ValueError(f"{len(detections)} detection lists for {len(data)} images")
    ap = {name: class_average_precision(detections, data.boxes, data.classes, cid)
          for cid, name in TOY_CLASSES.items()}
    best = [box_iou(truth, det.boxes).max(axis=1) if len(det) else np.zeros(len(truth))
            for truth, det in zip(data.boxes, detections)]
    ious = np.concatenate(best) if best else np.zeros(0)
    present = [v for v in ap.values() if not math.isnan(v)]
    return ToyMetrics(float(np.mean(present)) if present else float("nan"), ap,
                      float(ious.mean()) if ious.size else float("nan"), len(data), data.n_objects)


# --------------------------------------------------------------------------- the model


@dataclass(eq=False)
class ToyDetector:
    """The toy detector in its three views, all sharing the same layer objects.

    ``model``: preprocessed image -> grid, the whole detector (what is exported);
    ``backbone``: preprocessed image -> features, EfficientNet-Lite0 cut at
    :data:`FEATURE_LAYER`, frozen (ImageNet weights); ``head``: features -> grid, the
    only part that trains. Training the head on features computed once is the same
    maths as training ``model`` with a frozen backbone, many times faster.
    """

    model: Any
    backbone: Any
    head: Any
    variant: Any

    @property
    def grid(self) -> int:
        return int(self.model.output_shape[1])

    @property
    def size(self) -> int:
        return int(self.model.input_shape[1])

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """uint8 RGB ``[n, size, size, 3]`` -> the backbone's input, ``(rgb - 127) / 128``."""
        from browserml.imagesearch.lite import preprocess

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"the toy detector takes [n, {self.size}, {self.size}, 3] images, got {images.shape}")
        return preprocess(images, self.variant)

    def features(self, images: np.ndarray) -> np.ndarray:
        return self.backbone.predict(self.preprocess(images), batch_size=64, verbose=0)

    def predict_grid(self, images: np.ndarray) -> np.ndarray:
        """The raw grid ``[n, grid, grid, 5 + n_classes]`` for uint8 images."""
        return self.model.predict(self.preprocess(images), batch_size=64, verbose=0)


def build_toy_detector(size: int = IMAGE_SIZE, layer: str = FEATURE_LAYER, head_filters: int = HEAD_FILTERS,
                       weights: str | None = "imagenet", seed: int = 0) -> ToyDetector:
    """A small single-shot detector on frozen EfficientNet-Lite0 features.

    The backbone is :func:`browserml.imagesearch.lite.build_efficientnet_lite` at
    ``size`` x ``size`` (the weights do not depend on the resolution) cut at ``layer``;
    at 96x96, ``block4c_add`` is a 6x6 grid of 80-channel features (stride 16). The head
    is a 3x3 convolution (batch norm, ReLU) and three 1x1 convolutions per cell:
    objectness and box through sigmoids, class probabilities through a softmax,
    concatenated into ``[n, grid, grid, 5 + n_classes]``. This is the shape of SSD's
    box predictor with one anchor per cell. Only layers TF.js's layers format
    supports, so the page needs no custom code.
    """
    import dataclasses

    import tf_keras

    from browserml.imagesearch.lite import build_efficientnet_lite, get_variant

    tf_keras.utils.set_random_seed(seed)
    variant = dataclasses.replace(get_variant(BACKBONE), resolution=int(size))
    lite = build_efficientnet_lite(variant, weights=weights, include_top=False)
    try:
        cut = lite.get_layer(layer).output
    except ValueError as err:
        raise ValueError(f"{BACKBONE} has no layer {layer!r} (see browserml.imagesearch.lite)") from err
    backbone = tf_keras.Model(lite.input, cut, name="toy_backbone")
    backbone.trainable = False  # frozen: batch norm stays in inference mode too
    layers = tf_keras.layers
    head_layers = [
        layers.Conv2D(head_filters, 3, padding="same", use_bias=False, name="head_conv"),
        layers.BatchNormalization(name="head_bn"),
        layers.ReLU(name="head_relu"),
    ]
    outputs = [layers.Conv2D(1, 1, activation="sigmoid", name="objectness"),
               layers.Conv2D(4, 1, activation="sigmoid", name="box"),
               layers.Conv2D(len(TOY_CLASSES), 1, activation="softmax", name="class_probs")]
    concat = layers.Concatenate(name="grid")

    def head_on(x: Any) -> Any:
        for layer_ in head_layers:
            x = layer_(x)
        return concat([out(x) for out in outputs])

    features = tf_keras.Input(tuple(cut.shape[1:]), name="features")
    head = tf_keras.Model(features, head_on(features), name="toy_head")
    model = tf_keras.Model(lite.input, head_on(cut), name="toy_hand_detector")
    return ToyDetector(model, backbone, head, variant)


def detection_loss(y_true: Any, y_pred: Any, box_weight: float = 5.0, negative_weight: float = 0.5) -> Any:
    """YOLO-style loss per image: objectness cross-entropy in every cell (empty cells
    weighted down: most cells are empty), plus, where an object is centred, squared
    error of the box (``sqrt`` of width and height, so small boxes count) and the class
    cross-entropy; summed over the cells of each image."""
    import tensorflow as tf

    eps = 1e-6
    obj_t, obj_p = y_true[..., 0], tf.clip_by_value(y_pred[..., 0], eps, 1 - eps)
    objectness = -(obj_t * tf.math.log(obj_p) + negative_weight * (1 - obj_t) * tf.math.log(1 - obj_p))
    centre = tf.reduce_sum(tf.square(y_true[..., 1:3] - y_pred[..., 1:3]), axis=-1)
    size = tf.reduce_sum(tf.square(tf.sqrt(y_true[..., 3:5] + eps) - tf.sqrt(y_pred[..., 3:5] + eps)), axis=-1)
    cls = -tf.reduce_sum(y_true[..., 5:] * tf.math.log(tf.clip_by_value(y_pred[..., 5:], eps, 1.0)), axis=-1)
    per_cell = objectness + obj_t * (box_weight * (centre + size) + cls)
    return tf.reduce_sum(per_cell, axis=[1, 2])  # per image; Keras averages over the batch


@dataclass
class TrainResult:
    """A trained toy detector, its per-epoch training loss and the time each part took."""

    detector: ToyDetector
    loss: list[float] = field(default_factory=list)
    feature_seconds: float = 0.0
    train_seconds: float = 0.0
    label: str = TOY_LABEL


def train_toy_detector(
    train: DetectionSet,
    epochs: int = 15,
    batch_size: int = 16,
    learning_rate: float = 3e-3,
    seed: int = 0,
    on_epoch: Callable[[int, float], Any] | None = None,
    detector: ToyDetector | None = None,
) -> TrainResult:
    """Fine-tune the head of a :class:`ToyDetector` on ``train`` (Adam, :func:`detection_loss`).

    The frozen backbone's features are computed once; each epoch then only runs the
    head, so a few hundred images train in seconds on two cores.
    """
    import tf_keras

    from browserml.seeding import seed_everything

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    seed_everything(seed)
    detector = detector or build_toy_detector(train.images.shape[1], seed=seed)
    result = TrainResult(detector)
    start = time.perf_counter()
    x = detector.features(train.images)
    result.feature_seconds = time.perf_counter() - start
    y = np.stack([encode_grid(b, c, detector.grid) for b, c in zip(train.boxes, train.classes)])
    detector.head.compile(optimizer=tf_keras.optimizers.Adam(learning_rate), loss=detection_loss)

    class Report(tf_keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            result.loss.append(float((logs or {})["loss"]))
            if on_epoch is not None:
                on_epoch(epoch + 1, result.loss[-1])

    start = time.perf_counter()
    detector.head.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[Report()])
    result.train_seconds = time.perf_counter() - start
    return result


def predict(detector: ToyDetector, images: np.ndarray, score_threshold: float = 0.3, iou_threshold: float = 0.3,
            max_boxes: int = 10) -> list[Detections]:
    """Run the toy detector on uint8 images and decode each grid (:func:`decode_grid`)."""
    return [decode_grid(o, score_threshold, iou_threshold, max_boxes) for o in detector.predict_grid(images)]


def evaluate(detector: ToyDetector, data: DetectionSet, score_threshold: float = 0.05) -> ToyMetrics:
    """TOY mAP@0.5 and mean IoU of ``detector`` on ``data`` (a low score threshold, as mAP
    integrates over all thresholds)."""
    return evaluate_detections(predict(detector, data.images, score_threshold), data)


# --------------------------------------------------------------------------- export


def export_toy_detector(detector: ToyDetector, out_dir: str | Path, parity_images: np.ndarray) -> Path:
    """Export the whole toy detector (backbone + head) as a TF.js layers model whose
    manifest says it is a toy, how to preprocess its input and how to decode its grid."""
    from browserml.export import export_layers_model
    from browserml.imagesearch.lite import PREPROCESSING

    size = detector.size
    return export_layers_model(
        detector.model, out_dir, task="object-detection-toy",
        parity_inputs=detector.preprocess(parity_images),
        title=f"{TOY_LABEL} hand detector (lesson 4's training loop at toy scale)",
        description=("A detection head trained in seconds on frozen EfficientNet-Lite0 features, on synthetic "
                     "hand-like shapes pasted on photo crops. It shows the data -> TFRecord -> training -> export "
                     "loop; it is not a hand detector (the real one is handtrack.js's SSD trained on EgoHands)."),
        preprocessing={"kind": "affine", "size": [size, size], "scale": PREPROCESSING["scale"],
                       "offset": PREPROCESSING["offset"]},
        labels=[TOY_CLASSES[k] for k in sorted(TOY_CLASSES)],
        extra={"toy": True, "grid": detector.grid, "stride": size // detector.grid,
               "channels": ["objectness", "x_in_cell", "y_in_cell", "width", "height"]
               + [f"p({name})" for name in TOY_CLASSES.values()],
               "class_ids": {name: cid for cid, name in TOY_CLASSES.items()},
               "decode": "box centre ((col + x_in_cell) / grid, (row + y_in_cell) / grid), width and height as "
                         "fractions of the image; score = objectness * max class probability; then greedy "
                         "non-max suppression",
               "backbone": BACKBONE, "feature_layer": FEATURE_LAYER},
    )


# --------------------------------------------------------------------------- the whole loop


@dataclass
class ToyRun:
    """Everything one run of the toy loop made, with its numbers."""

    train_records: Path
    test_records: Path
    train: DetectionSet
    test: DetectionSet
    result: TrainResult
    metrics: ToyMetrics
    export_dir: Path | None


def run_toy_loop(workdir: str | Path, n_train: int = 300, n_test: int = 100, epochs: int = 15, seed: int = 0,
                 export: bool = True, on_epoch: Callable[[int, float], Any] | None = None) -> ToyRun:
    """Data -> TFRecord -> training -> evaluation -> TF.js export, at toy scale, in ``workdir``.

    Training and evaluation read the TFRecords back (not the arrays that wrote them),
    as the Object Detection API's input pipeline does.
    """
    workdir = Path(workdir)
    full = make_toy_set(n_train + n_test, seed)
    train_path = write_tfrecord(full.subset(range(n_train)), workdir / "toy_train.tfrecord")
    test_path = write_tfrecord(full.subset(range(n_train, n_train + n_test)), workdir / "toy_test.tfrecord")
    train = load_tfrecord(train_path, full.description)
    test = load_tfrecord(test_path, full.description)
    result = train_toy_detector(train, epochs=epochs, seed=seed, on_epoch=on_epoch)
    metrics = evaluate(result.detector, test)
    out = export_toy_detector(result.detector, workdir / "toy_hand_detector", test.images[:2]) if export else None
    return ToyRun(train_path, test_path, train, test, result, metrics, out)


__all__ = [
    "ORIGINAL",
    "TOY_CLASSES",
    "TOY_LABEL",
    "DetectionSet",
    "Detections",
    "ToyDataError",
    "ToyDetector",
    "ToyMetrics",
    "ToyRun",
    "TrainResult",
    "average_precision",
    "box_iou",
    "build_toy_detector",
    "class_average_precision",
    "decode_grid",
    "detection_loss",
    "encode_grid",
    "encode_png",
    "evaluate",
    "evaluate_detections",
    "export_toy_detector",
    "hand_mask",
    "load_tfrecord",
    "make_toy_set",
    "non_max_suppression",
    "parse_example",
    "predict",
    "read_tfrecord",
    "run_toy_loop",
    "to_tf_example",
    "train_toy_detector",
    "write_tfrecord",
]
