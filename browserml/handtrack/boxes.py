"""Box overlap and greedy non-max suppression, once, for the detector and the toy trainer.

Boxes are ``(ymin, xmin, ymax, xmax)`` rows (TensorFlow's order; corners in any order),
except :func:`bbox_iou`, which takes handtrack.js's ``[x, y, w, h]``. IoU is computed in
float64, as TF.js does, and is 0 where either box has no area.

The two NMS rules differ by one comparison, on purpose: TF.js's ``tf.image.nonMaxSuppression``
drops a box whose IoU with a kept one is ``>= iou_threshold`` (handtrack.js's detector
runs it), TensorFlow's ``tf.image.non_max_suppression`` only when it is ``>`` (the toy
detector's reference). :func:`non_max_suppression` takes the rule as ``drop_at_threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU ``[len(a), len(b)]`` of two sets of ``(ymin, xmin, ymax, xmax)`` boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)

    def ordered(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.minimum(x[:, :2], x[:, 2:]), np.maximum(x[:, :2], x[:, 2:])], axis=1)

    a, b = ordered(a), ordered(b)
    inter = np.prod(np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]),
                            0, None), axis=-1)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=-1), np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    solid = (area_a[:, None] > 0) & (area_b[None, :] > 0) & (union > 0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=solid)


def bbox_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes (handtrack.js's bbox format)."""
    (ax, ay, aw, ah), (bx, by, bw, bh) = (tuple(float(v) for v in box) for box in (a, b))
    return float(box_iou(np.array([ay, ax, ay + ah, ax + aw]), np.array([by, bx, by + bh, bx + bw]))[0, 0])


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_boxes: int, iou_threshold: float,
                        score_threshold: float, *, drop_at_threshold: bool) -> np.ndarray:
    """Indices kept by greedy NMS, best first.

    Candidates are the boxes with ``score > score_threshold``, by descending score (ties:
    lower index first). A candidate is dropped when its IoU with a kept box is
    ``>= iou_threshold`` (``drop_at_threshold=True``, TF.js) or ``> iou_threshold``
    (``False``, TensorFlow). At most ``max_boxes`` are kept.
    """
    boxes = np.asarray(boxes).reshape(-1, 4)
    scores = np.asarray(scores).reshape(-1)
    candidates = np.flatnonzero(scores > score_threshold)
    candidates = candidates[np.lexsort((candidates, -scores[candidates]))]
    kept: list[int] = []
    for index in candidates:
        if len(kept) >= max_boxes:
            break
        overlap = box_iou(boxes[kept], boxes[index])[:, 0] if kept else np.zeros(0)
        clash = overlap >= iou_threshold if drop_at_threshold else overlap > iou_threshold
        if not clash.any():
            kept.append(int(index))
    return np.asarray(kept, dtype=np.int64)
