"""Automatic checks for lesson 4's exercises (see :mod:`browserml.exercises`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from browserml.exercises import check
from browserml.handtrack.detect import build_detections, valid_resolution
from browserml.handtrack.models import DEFAULT_SIZE, MODEL_SIZES, model_dir


def check_valid_resolution(answer: int, dimension: int) -> bool:
    """handtrack.js's getValidResolution, worked out by hand."""
    expected = valid_resolution(dimension)
    return check(answer == expected, f"{dimension} px becomes {expected}: a multiple of the stride 16, plus one",
                 f"got {answer!r}. Subtract 1, round down to a multiple of 16, add 1.")


def check_bbox(answer: Sequence[float], box: Sequence[float], width: int, height: int) -> bool:
    """A normalised (ymin, xmin, ymax, xmax) box as handtrack.js's [x, y, w, h] in pixels."""
    boxes = np.asarray([box], dtype=np.float32)
    expected = build_detections(boxes, np.array([1.0]), np.array([0]), np.array([0]), width, height)[0]["bbox"]
    ok = len(answer) == 4 and np.allclose(answer, expected, atol=1e-3)
    return check(ok, f"bbox = {[round(v, 1) for v in expected]}: x from xmin, y from ymin, then width and height",
                 f"got {list(answer)!r}. Multiply x by the width and y by the height; w = xmax - xmin.")


def check_default_model(folder: str, ratio: float) -> bool:
    """The default modelSize's folder, and how much smaller it is than float32."""
    def size_of(name: str) -> int:
        return sum(p.stat().st_size for p in model_dir("ssd320fpnlite", name).glob("*.bin"))

    expected = MODEL_SIZES[DEFAULT_SIZE]
    real = size_of("large") / size_of(DEFAULT_SIZE)
    return check(folder == expected and abs(ratio - real) < 0.6,
                 f"modelSize 'small' loads {expected}/, {real:.1f}x smaller than base: one byte per weight, not four",
                 f"got {folder!r} and {ratio!r}. Look at the table in section 1.")
