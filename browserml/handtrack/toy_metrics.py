"""The toy detector's output grid (:func:`encode_grid`, :func:`decode_grid`, which a page
reimplements in a few lines of JS) and the detection metrics (:func:`average_precision`,
:func:`class_average_precision`, :class:`ToyMetrics`) of :mod:`browserml.handtrack.training`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)
from browserml.handtrack.boxes import box_iou, non_max_suppression
from browserml.handtrack.toy_data import CHANNELS, GRID, ORIGINAL, TOY_CLASSES, TOY_LABEL, DetectionSet, ToyDataError

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
