"""Draw detections the way handtrack.js's ``renderPredictions`` does: a box per hand in
its label's colour, with the label and score above it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from browserml.handtrack.boxes import bbox_iou
from browserml.handtrack.models import COLORS


def draw_detections(image: np.ndarray, detections: Sequence[Mapping[str, Any]], line_width: int = 2) -> np.ndarray:
    """A copy of ``image`` (uint8 RGB) with every detection's box and ``label score``."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    pen = ImageDraw.Draw(canvas)
    for d in detections:
        x, y, w, h = (float(v) for v in d["bbox"])
        colour = COLORS.get(str(d["label"]), "#E11D48")
        pen.rectangle([x, y, x + w, y + h], outline=colour, width=line_width)
        text = f"{d['label']} {float(d['score']):.2f}"
        left, top, right, bottom = pen.textbbox((x, max(0.0, y - 12)), text)
        pen.rectangle([left - 1, top - 1, right + 1, bottom + 1], fill=colour)
        pen.text((x, max(0.0, y - 12)), text, fill="white")
    return np.asarray(canvas)


def agreement(python: Sequence[Mapping[str, Any]], javascript: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How two detection lists agree: counts, and per pair (by score order) the class
    match, box IoU and score difference — the lesson's bar is IoU ≥ 0.9, |Δscore| ≤ 0.02."""
    a = sorted(python, key=lambda d: -float(d["score"]))
    b = sorted(javascript, key=lambda d: -float(d["score"]))
    pairs = [{"label": p["label"], "same_class": p["class"] == q["class"], "iou": bbox_iou(p["bbox"], q["bbox"]),
              "score_diff": abs(float(p["score"]) - float(q["score"]))} for p, q in zip(a, b)]
    return {"python": len(a), "javascript": len(b), "pairs": pairs,
            "ok": len(a) == len(b) and all(x["same_class"] and x["iou"] >= 0.9 and x["score_diff"] <= 0.02
                                           for x in pairs)}


