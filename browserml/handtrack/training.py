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

The module is the loop (steps 3 and 4 and :func:`run_toy_loop`); the data and its TFRecords
live in :mod:`browserml.handtrack.toy_data`, the grid decoding and the metrics in
:mod:`browserml.handtrack.toy_metrics`, and every name is importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)
from browserml.handtrack.boxes import box_iou, non_max_suppression
from browserml.handtrack.toy_data import (
    BACKBONE,
    BACKGROUND_SIDE,
    CHANNELS,
    FEATURE_LAYER,
    GRID,
    HEAD_FILTERS,
    IMAGE_SIZE,
    MAX_OBJECT,
    MIN_OBJECT,
    ORIGINAL,
    SKIN_TONES,
    STRIDE,
    TOY_CLASSES,
    TOY_LABEL,
    DetectionSet,
    ToyDataError,
    hand_mask,
    load_tfrecord,
    make_toy_set,
    parse_example,
    read_tfrecord,
    to_tf_example,
    write_tfrecord,
)
from browserml.handtrack.toy_metrics import (
    Detections,
    ToyMetrics,
    average_precision,
    class_average_precision,
    decode_grid,
    encode_grid,
    evaluate_detections,
)
from browserml.png import encode_png

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
    "BACKBONE",
    "BACKGROUND_SIDE",
    "CHANNELS",
    "FEATURE_LAYER",
    "GRID",
    "HEAD_FILTERS",
    "IMAGE_SIZE",
    "MAX_OBJECT",
    "MIN_OBJECT",
    "ORIGINAL",
    "SKIN_TONES",
    "STRIDE",
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
