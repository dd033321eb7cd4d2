"""Drawing and comparing detections."""

import numpy as np
import pytest

from browserml.handtrack.draw import agreement, bbox_iou, draw_detections


def test_bbox_iou_by_hand():
    assert bbox_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert bbox_iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert bbox_iou([0, 0, 10, 10], [20, 20, 5, 5]) == 0.0


def test_boxes_are_drawn_in_the_labels_colour():
    image = np.full((60, 80, 3), 255, np.uint8)
    out = draw_detections(image, [{"bbox": [20, 20, 30, 30], "class": 1, "label": "open", "score": 0.9}])
    assert out.shape == image.shape and not np.shares_memory(out, image)
    assert tuple(out[35, 20]) == (0x37, 0x41, 0x51)  # handtrack.js's colour for "open", on the left edge
    assert tuple(out[35, 35]) == (255, 255, 255)  # inside the box: untouched


def test_agreement_applies_the_lessons_bar():
    a = [{"bbox": [0, 0, 10, 10], "class": 1, "label": "open", "score": 0.9}]
    assert agreement(a, [dict(a[0], score=0.91)])["ok"]
    assert not agreement(a, [dict(a[0], score=0.95)])["ok"]
    assert not agreement(a, [dict(a[0], bbox=[3, 0, 10, 10])])["ok"]
    assert not agreement(a, a + a)["ok"]


def test_the_two_nms_rules_differ_exactly_at_the_threshold():
    """TF.js drops a box whose IoU with a kept one equals the threshold; TensorFlow keeps it."""
    import numpy as np

    from browserml.handtrack.boxes import box_iou, non_max_suppression

    boxes = np.array([[0, 0, 10, 10], [0, 5, 10, 15]], np.float64)  # IoU 50 / 150 = 1/3
    scores = np.array([0.9, 0.8])
    iou = float(box_iou(boxes[:1], boxes[1:])[0, 0])
    assert iou == pytest.approx(1 / 3, abs=1e-15)
    assert non_max_suppression(boxes, scores, 10, iou, 0.5, drop_at_threshold=True).tolist() == [0]
    assert non_max_suppression(boxes, scores, 10, iou, 0.5, drop_at_threshold=False).tolist() == [0, 1]
    swapped = boxes[:, [2, 3, 0, 1]]  # the same boxes, corners given the other way round
    assert np.array_equal(box_iou(swapped, boxes), box_iou(boxes, boxes))
