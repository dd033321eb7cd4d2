"""browserml.handtrack.detect against the original handtrack.js and TensorFlow.

The reference detections in datasets/hands/expected.json come from the library itself
(dist/handtrack.min.js in Node, browserml/js/handtrack_reference.cjs); one slow test
re-runs it live. NMS is checked against tf.image.non_max_suppression.
"""

from __future__ import annotations

import numpy as np
import pytest

from browserml.handtrack import detect as ht
from browserml.handtrack import images
from browserml.handtrack.models import LABELS

IOU_MIN = 0.9
SCORE_TOL = 0.02  # handtrack.js rounds with toFixed(2) (<= 0.005), the rest is runtime noise


@pytest.fixture(scope="module")
def scenes() -> dict[str, np.ndarray]:
    return images.scenes()


@pytest.fixture(scope="module")
def expected() -> dict:
    return images.read_expected()


@pytest.fixture(scope="module")
def detector() -> ht.HandDetector:
    return ht.load()


def bbox_iou(a: list[float], b: list[float]) -> float:
    """IoU of two [x, y, w, h] boxes, written independently of detect.box_iou."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def assert_same_detections(ours: list[dict], theirs: list[dict], where: str) -> None:
    assert len(ours) == len(theirs), f"{where}: {len(ours)} detections, handtrack.js found {len(theirs)}"
    for k, (p, j) in enumerate(zip(ours, theirs)):
        assert p["class"] == j["class"] and p["label"] == j["label"], f"{where} #{k}: {p} vs {j}"
        assert bbox_iou(p["bbox"], j["bbox"]) >= IOU_MIN, f"{where} #{k}: {p['bbox']} vs {j['bbox']}"
        assert abs(p["score"] - float(j["score"])) <= SCORE_TOL, f"{where} #{k}: {p['score']} vs {j['score']}"


# --------------------------------------------------------------------------- NMS vs TensorFlow


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Boxes of many sizes and overlaps; some with swapped corners, as raw SSD output can be."""
    centre = rng.uniform(0, 1, (n, 2))
    size = rng.uniform(0.02, 0.4, (n, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    swap = rng.random(n) < 0.1
    boxes[swap] = boxes[swap][:, [2, 3, 0, 1]]
    return boxes.astype(np.float32)


@pytest.mark.parametrize("seed,n,max_boxes,iou,score", [
    (0, 300, 20, 0.2, 0.6), (1, 500, 50, 0.5, 0.1), (2, 200, 200, 0.05, 0.3), (3, 100, 5, 1.0, 0.0),
    (4, 400, 20, 0.2, 0.95),
])
def test_nms_matches_tensorflow(seed: int, n: int, max_boxes: int, iou: float, score: float) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, n)
    scores = rng.random(n).astype(np.float32)
    ours = ht.non_max_suppression(boxes, scores, max_boxes, iou, score)
    theirs = tf.image.non_max_suppression(boxes, scores, max_boxes, iou, score).numpy()
    assert ours.tolist() == theirs.tolist()
    assert len(ours) > 0


def test_nms_ties_and_degenerate_boxes_match_tensorflow() -> None:
    import tensorflow as tf

    rng = np.random.default_rng(7)
    boxes = random_boxes(rng, 200)
    boxes[:10, 2:] = boxes[:10, :2]  # zero-area boxes: IoU 0 with everything
    scores = np.round(rng.random(200), 1).astype(np.float32)  # many equal scores: lower index first
    ours = ht.non_max_suppression(boxes, scores, 40, 0.3, 0.15)
    theirs = tf.image.non_max_suppression(boxes, scores, 40, 0.3, 0.15).numpy()
    assert ours.tolist() == theirs.tolist()


def test_nms_suppresses_at_equal_iou_like_tfjs() -> None:
    """TF.js drops a box when IoU >= threshold, TensorFlow only when IoU > threshold: they
    differ exactly at equality, e.g. disjoint boxes (IoU 0) with iouThreshold 0."""
    import tensorflow as tf

    boxes = np.array([[0, 0, 0.1, 0.1], [0.5, 0.5, 0.6, 0.6]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert ht.non_max_suppression(boxes, scores, 10, 0.0, 0.5).tolist() == [0]
    assert tf.image.non_max_suppression(boxes, scores, 10, 0.0, 0.5).numpy().tolist() == [0, 1]


def test_resize_matches_tensorflow_legacy_bilinear() -> None:
    """The NumPy resize is TF.js's cpu kernel (float64 maths); TensorFlow's legacy kernel works in
    float32, so values agree to ~1e-3 and only a truncation at an integer boundary could differ."""
    import tensorflow as tf

    img = np.random.default_rng(3).integers(0, 256, (97, 131, 3), dtype=np.uint8)
    ours = ht.resize_bilinear(img, 81, 113)
    tf_out = tf.raw_ops.ResizeBilinear(images=img[None].astype(np.float32), size=[81, 113],
                                       align_corners=False, half_pixel_centers=False).numpy()[0]
    np.testing.assert_allclose(ours, tf_out, atol=5e-3)
    assert not np.array_equal(ours, tf_out)  # float32 vs float64: why the NumPy kernel is needed


@pytest.mark.parametrize("dim,expected", [(320, 305), (240, 225), (640, 625), (480, 465), (17, 17), (16, 1), (1, 1)])
def test_valid_resolution_is_handtracks(dim: int, expected: int) -> None:
    assert ht.valid_resolution(dim) == expected


# --------------------------------------------------------------------------- the contract


def test_default_params_mirror_handtrack() -> None:
    p = ht.DEFAULT_PARAMS
    assert (p["flipHorizontal"], p["maxNumBoxes"], p["iouThreshold"], p["scoreThreshold"]) == (False, 20, 0.2, 0.6)
    assert (p["modelType"], p["modelSize"], p["outputStride"], p["imageScaleFactor"]) == ("ssd320fpnlite", "small", 16, 1)


def test_detect_contract(detector: ht.HandDetector, scenes: dict[str, np.ndarray]) -> None:
    image = scenes["astronaut_waving"]
    found = detector.detect(image)
    assert detector.params == ht.DEFAULT_PARAMS and detector.graph.size == "small"
    assert {d["label"] for d in found} == {"face", "open"}
    h, w = image.shape[:2]
    for d in found:
        assert set(d) == {"bbox", "class", "label", "score"}
        assert isinstance(d["class"], int) and LABELS[d["class"]] == d["label"]
        assert isinstance(d["score"], float) and 0.6 < d["score"] <= 1
        x, y, bw, bh = d["bbox"]
        assert all(isinstance(v, float) for v in d["bbox"])
        assert -2 <= x and -2 <= y and bw > 0 and bh > 0 and x + bw <= w + 2 and y + bh <= h + 2
    assert [d["score"] for d in found] == sorted((d["score"] for d in found), reverse=True)


def test_bbox_is_normalised_box_times_input_size(detector: ht.HandDetector, scenes: dict[str, np.ndarray]) -> None:
    """buildDetectedObjects scales by the *input* frame's width/height, not the resized one."""
    image = scenes["raised_hand_small"]
    boxes, scores = detector.raw(image)
    best, _ = ht.max_scores(scores)
    (d,) = detector.detect(image)
    i = int(np.flatnonzero(best == np.float32(d["score"]))[0])
    ymin, xmin, ymax, xmax = boxes[i].astype(np.float64)
    np.testing.assert_allclose(d["bbox"], [xmin * 300, ymin * 230, (xmax - xmin) * 300, (ymax - ymin) * 230])


def test_params_thresholds_and_max_boxes(scenes: dict[str, np.ndarray]) -> None:
    det = ht.load(score_threshold=0.05, maxNumBoxes=3)
    assert len(det.detect(scenes["astronaut"])) == 3
    det.set_params(maxNumBoxes=20, scoreThreshold=0.99)
    assert det.detect(scenes["astronaut"]) == []
    det.set_params(scoreThreshold=0.6, iouThreshold=1.0)  # only identical boxes suppress each other
    assert len(det.detect(scenes["astronaut"])) > 1


@pytest.mark.parametrize("bad,message", [
    (np.zeros((10, 10), np.uint8), "shape"),
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    (np.zeros((10, 10, 3), np.int32), "uint8"),
    ([[[0, 0, 0]]], "numpy array"),
])
def test_bad_images_raise(detector: ht.HandDetector, bad: object, message: str) -> None:
    with pytest.raises(ht.HandDetectError, match=message):
        detector.detect(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("params,message", [
    ({"scoreThreshhold": 0.5}, "unknown handtrack.js parameter"),
    ({"fontSize": 17}, "renderPredictions"),
    ({"iouThreshold": 1.5}, r"\[0, 1\]"),
    ({"maxNumBoxes": 2.5}, "integer"),
    ({"flipHorizontal": "yes"}, "True or False"),
    ({"modelSize": "huge"}, "modelSize"),
    ({"modelType": "centernet512fpn"}, "modelType"),
])
def test_bad_params_raise(params: dict, message: str) -> None:
    with pytest.raises(ht.HandDetectError, match=message):
        ht.check_params(params)


def test_load_rejects_conflicting_model_size() -> None:
    with pytest.raises(ht.HandDetectError, match="given twice"):
        ht.load(size="large", modelSize="small")


def test_rgba_input_drops_alpha(detector: ht.HandDetector, scenes: dict[str, np.ndarray]) -> None:
    rgb = scenes["astronaut"]
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 7, np.uint8)], axis=-1)
    assert detector.detect(rgba) == detector.detect(rgb)


def test_benchmark_reports_latency(detector: ht.HandDetector, scenes: dict[str, np.ndarray]) -> None:
    stats = detector.benchmark(scenes["raised_hand_small"], n=3, warmup=1)
    assert stats["n"] == 3 and stats["min_ms"] <= stats["ms"] <= stats["max_ms"]
    assert stats["fps"] == pytest.approx(1000 / stats["ms"])


# --------------------------------------------------------------------------- vs the original library


def test_scenes_are_the_recorded_ones(scenes: dict[str, np.ndarray], expected: dict) -> None:
    assert list(scenes) == list(expected["images"])
    for name, image in scenes.items():
        assert images.pixels_sha256(image) == expected["images"][name]["pixels_sha256"], (
            f"scene {name} changed (decoder or composition): rerun images.record_expected()")
    assert expected["library"].startswith("handtrackjs@0.1.5")


def test_scenes_have_hands_faces_and_nothing(expected: dict) -> None:
    """The recorded handtrack.js results exercise 0, 1 and 2 detections, hands and faces."""
    default = next(r for r in expected["runs"] if r["params"] == {"modelSize": "small", "flipHorizontal": False})
    labels = {name: sorted(d["label"] for d in r["detections"]) for name, r in default["results"].items()}
    assert labels["hand_closeup"] == []
    assert labels["two_open_hands"] == ["open", "open"]
    assert labels["astronaut_waving"] == ["face", "open"]


@pytest.mark.parametrize("params", images.EXPECTED_RUNS,
                         ids=lambda p: f"{p['modelSize']}-flip{p['flipHorizontal']}")
def test_detect_matches_original_handtrack(params: dict, scenes: dict[str, np.ndarray], expected: dict) -> None:
    (run,) = [r for r in expected["runs"] if r["params"] == params]
    det = ht.load(**params)
    for name, image in scenes.items():
        reference = run["results"][name]
        # Same int32 graph input as the library's resizeBilinear + toInt (bit for bit) ...
        assert ht.input_sha256(image, det.params) == reference["input_sha256"], name
        assert list(ht.model_input(image, det.params).shape) == reference["input_shape"]
        # ... and the same detections.
        assert_same_detections(det.detect(image), reference["detections"], f"{run['params']} {name}")


def test_flip_horizontal_reports_boxes_in_the_mirrored_frame(scenes: dict[str, np.ndarray]) -> None:
    """handtrack.js does not un-mirror its boxes: flipping == detecting on the mirrored image."""
    image = scenes["two_open_hands"]
    flipped = ht.load(flipHorizontal=True).detect(image)
    assert flipped == ht.load().detect(np.ascontiguousarray(image[:, ::-1]))
    assert flipped[0]["bbox"][0] > image.shape[1] / 2  # the left hand is on the right now


@pytest.mark.slow
@pytest.mark.tfjs
def test_live_handtrack_in_node_matches(scenes: dict[str, np.ndarray], detector: ht.HandDetector) -> None:
    """The original library, run now in Node, on one scene: the recording is reproducible."""
    image = scenes["astronaut_waving"]
    live = ht.js_detect({"scene": image})["results"]["scene"]
    assert live["input_sha256"] == ht.input_sha256(image)
    assert_same_detections(detector.detect(image), live["detections"], "live astronaut_waving")
