"""Lesson 4's exercise checks. Each prints ✓, ✗ with a hint, or "replace the ..." for an
untouched blank, and returns whether the answer is right; none raises, so the notebook runs
top to bottom with its blanks (and with exercise 4's leaking loop, wrong on purpose). The
solutions are in ``notebooks/solutions/04_handtrack_conversion.md``;
``tests/test_handtrack_exercises.py`` runs every check on its solution (must pass) and on
plausible wrong answers (must fail).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from browserml.exercises import blank, is_blank, verdict
from browserml.handtrack.boxes import box_iou, non_max_suppression
from browserml.handtrack.detect import build_detections, valid_resolution
from browserml.handtrack.models import DEFAULT_SIZE, MODEL_SIZES, model_dir
from browserml.inbrowser.cell import CellResult


def check_valid_resolution(answer: int | Any, dimension: int) -> bool:
    """Exercise 1: handtrack.js's getValidResolution, worked out by hand."""
    if is_blank(answer):
        return blank("give the height")
    expected = valid_resolution(dimension)
    return verdict(answer == expected, f"{dimension} px becomes {expected}: a multiple of the stride 16, plus one",
                   f"you gave {answer!r}. Subtract 1, round down to a multiple of 16, add 1.")


def check_bbox(answer: Sequence[float] | Any, box: Sequence[float], width: int, height: int) -> bool:
    """Exercise 2: a normalised (ymin, xmin, ymax, xmax) box as handtrack.js's [x, y, w, h] in pixels."""
    if is_blank(answer) or (isinstance(answer, Sequence) and any(is_blank(v) for v in answer)):
        return blank("give the bbox")
    boxes = np.asarray([box], dtype=np.float32)
    expected = build_detections(boxes, np.array([1.0]), np.array([0]), np.array([0]), width, height)[0]["bbox"]
    try:
        ok = len(answer) == 4 and bool(np.allclose(np.asarray(answer, dtype=np.float64), expected, atol=1e-3))
    except (TypeError, ValueError):
        ok = False
    return verdict(ok, f"bbox = {[round(v, 1) for v in expected]}: x from xmin, y from ymin, then width and height",
                   f"you gave {answer!r}. Multiply x by the width and y by the height; w = xmax - xmin.")


def check_default_model(folder: str | Any, ratio: float | Any) -> bool:
    """Exercise 3: the default modelSize's folder, and how much smaller it is than float32."""
    if is_blank(folder) or is_blank(ratio):
        return blank("give the folder and the ratio")

    def size_of(name: str) -> int:
        return sum(p.stat().st_size for p in model_dir("ssd320fpnlite", name).glob("*.bin"))

    expected = MODEL_SIZES[DEFAULT_SIZE]
    real = size_of("large") / size_of(DEFAULT_SIZE)
    try:
        close = abs(float(ratio) - real) < 0.6
    except (TypeError, ValueError):
        close = False
    return verdict(folder == expected and close,
                   f"modelSize 'small' loads {expected}/, {real:.1f}x smaller than base: one byte per weight, not "
                   "four (stored as uint8, which handtrack.js's folder calls int8)",
                   f"you gave {folder!r} and {ratio!r}. Look at the table in section 1.")


def check_detect_loop(result: CellResult | None, expected_counts: Sequence[int]) -> bool:
    """Exercise 4: the detect loop still finds, frame by frame, what Python's ``detect()``
    finds, and leaves no tensor behind."""
    if result is None or is_blank(result):
        return blank("run your %%tfjs cell first")
    async_tidy = any("Promise inside of tidy" in line for line in [result.error or "", *result.logs])
    no_await = ("tf.tidy was given an async function (TF.js says \"Cannot return a Promise inside of tidy\"): "
                "tf.tidy cannot hold an await; tidy the synchronous steps, dispose() what the awaits return")
    if not result.ok:
        return verdict(False, "", f"the cell did not run to the end ({result.summary()})"
                       + (f"; {no_await}" if async_tidy else ""))
    expected = [int(n) for n in expected_counts]
    try:
        found = [int(n) for n in np.asarray(result.value).ravel()]
    except (TypeError, ValueError):
        found = None
    if found != expected:
        return verdict(False, "", f"the loop should still find {expected} boxes in the frames, "
                       f"it found {result.value!r}")
    leaked = result.leaked or 0
    frames = max(len(expected), 1)
    if leaked and async_tidy:
        return verdict(False, "", f"{leaked} tensors were left behind: {no_await}")
    return verdict(leaked == 0,
                   f"the same {expected} boxes as Python's detect(), and tf.memory() back where it started",
                   f"{leaked} tensors were left behind ({leaked / frames:.0f} a frame): make the synchronous "
                   "steps inside tf.tidy; it cannot hold the await of nonMaxSuppressionAsync, so dispose() by hand "
                   "what is left once its answer is read")


def _nms_cases() -> list[tuple[str, np.ndarray, np.ndarray, int, float, float]]:
    """(what, boxes, scores, max_boxes, iou_threshold, score_threshold): cases that tell TF.js's
    greedy NMS from its look-alikes (TensorFlow's ``>`` rule, no score cut, no box limit,
    candidates taken in index order)."""
    rng = np.random.default_rng(4)
    corner = rng.uniform(0, 0.8, size=(40, 2))
    boxes = np.hstack([corner, corner + rng.uniform(0.05, 0.3, size=(40, 2))]).astype(np.float32)
    scores = rng.uniform(0, 1, size=40).astype(np.float32)
    pair = np.array([[0, 0, 10, 10], [0, 5, 10, 15]], np.float32)  # IoU exactly 1/3
    third = float(box_iou(pair[:1], pair[1:])[0, 0])
    return [
        ("40 random boxes, handtrack.js's settings", boxes, scores, 20, 0.2, 0.6),
        ("the same boxes, at most 5 kept", boxes, scores, 5, 0.5, 0.1),
        ("two boxes whose IoU equals the threshold", pair, np.array([0.9, 0.8], np.float32), 10, third, 0.5),
        ("a score equal to the threshold", boxes[:2], np.array([0.5, 0.7], np.float32), 10, 0.9, 0.5),
    ]


def check_nms(fn: Callable[..., Sequence[int]] | Any, boxes: np.ndarray | None = None,
              scores: np.ndarray | None = None) -> bool:
    """Exercise 5: ``fn(boxes, scores, max_boxes, iou_threshold, score_threshold)`` returns the
    indices TF.js's ``tf.image.nonMaxSuppression`` keeps, best first. ``boxes`` (N, 4) and
    ``scores`` (N,) add a real case (the detector's raw output) to the built-in ones."""
    cases = _nms_cases()
    if boxes is not None and scores is not None:
        cases.append(("the detector's raw boxes", np.asarray(boxes, np.float32).reshape(-1, 4),
                      np.asarray(scores, np.float32).ravel(), 20, 0.2, 0.6))
    if is_blank(fn) or not callable(fn):
        return blank("write nms")
    for what, b, s, max_boxes, iou, score in cases:
        want = non_max_suppression(b, s, max_boxes, iou, score, drop_at_threshold=True).tolist()
        try:
            got = fn(b.copy(), s.copy(), max_boxes, iou, score)
        except Exception as err:  # noqa: BLE001 - a learner's function may fail any way; say how, in one line
            return verdict(False, "", f"{what}: nms raised {type(err).__name__}: {err}")
        if is_blank(got):
            return blank("write nms")
        try:
            got_list = [int(i) for i in np.asarray(got).ravel()]
        except (TypeError, ValueError):
            return verdict(False, "", f"{what}: return a list of box indices, you returned {got!r}")
        if got_list != want:
            hint = ""
            if any(not 0 <= i < len(s) for i in got_list):
                hint = f" (indices are rows of boxes, 0..{len(s) - 1})"
            elif set(got_list) == set(want):
                hint = " (the right boxes in the wrong order: best score first)"
            elif len(got_list) > max_boxes:
                hint = f" (keep at most max_boxes = {max_boxes})"
            elif any(s[i] <= score for i in got_list):
                hint = " (only boxes scoring strictly more than score_threshold compete)"
            elif set(want) < set(got_list):
                hint = " (TF.js drops a box whose IoU with a kept one is >= iou_threshold, not only >)"
            return verdict(False, "", f"{what}: TF.js keeps {want}, you kept {got_list}{hint}")
    return verdict(True, f"the same boxes as tf.image.nonMaxSuppression in all {len(cases)} cases", "")


__all__ = ["check_bbox", "check_default_model", "check_detect_loop", "check_nms", "check_valid_resolution"]
