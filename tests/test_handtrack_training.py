"""Lesson 4's toy training loop: data -> TFRecord -> training -> evaluation -> TF.js.

The data's boxes are checked against the pixels, the TFRecords byte for byte against
what was written, the metrics against independent re-implementations (IoU by counting
pixels, AP by its definition), and the export in TF.js under Node.
"""

from __future__ import annotations

import numpy as np
import pytest

from browserml.handtrack import toy_data
from browserml.handtrack import training as tr

N_TRAIN, N_TEST, EPOCHS = 240, 60, 15  # small: features ~2 s, head ~3 s on two cores (toy mAP@0.5 ~0.7)


@pytest.fixture(scope="module")
def toy() -> tr.DetectionSet:
    return tr.make_toy_set(N_TRAIN + N_TEST, seed=3)


@pytest.fixture(scope="module")
def trained(toy: tr.DetectionSet) -> tr.TrainResult:
    return tr.train_toy_detector(toy.subset(range(N_TRAIN)), epochs=EPOCHS, seed=0)


@pytest.fixture(scope="module")
def test_split(toy: tr.DetectionSet) -> tr.DetectionSet:
    return toy.subset(range(N_TRAIN, N_TRAIN + N_TEST))


# --------------------------------------------------------------------------- the toy set


def test_boxes_are_the_tight_boxes_of_the_pasted_shapes(monkeypatch) -> None:
    """On a pure blue background every non-blue pixel is a pasted shape: its bounding box,
    found by scanning pixels, must be the box the set records."""
    blue = np.array([0, 0, 255], np.uint8)
    monkeypatch.setattr(toy_data, "_backgrounds", lambda n, size, rng: np.broadcast_to(blue, (n, size, size, 3)).copy())
    data = tr.make_toy_set(30, seed=1, max_objects=1)
    for image, boxes, name in zip(data.images, data.boxes, data.names):
        ys, xs = np.nonzero(np.any(image != blue, axis=-1))
        size = image.shape[0]
        found = np.array([[ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]], np.float64) / size
        np.testing.assert_allclose(boxes, found, atol=1e-7, err_msg=name)


def test_toy_set_is_seeded_labelled_and_says_it_is_a_toy(toy: tr.DetectionSet) -> None:
    again = tr.make_toy_set(N_TRAIN + N_TEST, seed=3)
    assert np.array_equal(again.images, toy.images)
    assert all(np.array_equal(a, b) for a, b in zip(again.boxes, toy.boxes))
    counts = np.bincount(np.concatenate(toy.classes), minlength=3)
    assert counts[0] == 0 and counts[1] > 0.3 * toy.n_objects and counts[2] > 0.3 * toy.n_objects
    assert all(1 <= len(b) <= 2 for b in toy.boxes)
    assert "TOY" in toy.description and "synthetic" in toy.description
    sides = np.concatenate([np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) for b in toy.boxes]) * tr.IMAGE_SIZE
    assert sides.min() >= tr.MIN_OBJECT - 1 and sides.max() <= tr.MAX_OBJECT + 1
    for boxes in toy.boxes:  # shapes never overlap
        if len(boxes) == 2:
            assert tr.box_iou(boxes[:1], boxes[1:])[0, 0] == 0


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 5, "size": 100}, {"n": 5, "max_objects": 0}])
def test_bad_toy_set_arguments_raise(kwargs) -> None:
    with pytest.raises(tr.ToyDataError):
        tr.make_toy_set(**kwargs)


def test_detection_set_refuses_boxes_outside_the_image() -> None:
    images = np.zeros((1, 64, 64, 3), np.uint8)
    with pytest.raises(tr.ToyDataError, match="inside 0..1"):
        tr.DetectionSet(images, (np.array([[0.1, 0.1, 1.2, 0.5]], np.float32),), (np.array([1]),), ("a.png",))
    with pytest.raises(tr.ToyDataError, match="do not match"):
        tr.DetectionSet(images, (np.zeros((1, 4), np.float32),), (np.array([1, 2]),), ("a.png",))


# --------------------------------------------------------------------------- TFRecords


def test_tfrecord_round_trip_is_exact(toy: tr.DetectionSet, tmp_path) -> None:
    import tensorflow as tf

    part = toy.subset(range(12))
    path = tr.write_tfrecord(part, tmp_path / "part.tfrecord")
    back = tr.load_tfrecord(path)
    assert back.names == part.names
    assert back.images.dtype == np.uint8 and np.array_equal(back.images, part.images)
    for a, b, ca, cb in zip(back.boxes, part.boxes, back.classes, part.classes):
        assert a.dtype == np.float32 and np.array_equal(a, b)
        assert np.array_equal(ca, cb)
    # the Object Detection API's keys, read with plain protobuf
    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(str(path)))).numpy())
    feature = example.features.feature
    assert {"image/encoded", "image/height", "image/width", "image/format", "image/filename", "image/source_id",
            "image/object/bbox/xmin", "image/object/bbox/xmax", "image/object/bbox/ymin", "image/object/bbox/ymax",
            "image/object/class/label", "image/object/class/text"} == set(feature)
    assert feature["image/format"].bytes_list.value == [b"png"]
    assert feature["image/height"].int64_list.value == [tr.IMAGE_SIZE]
    labels = list(feature["image/object/class/label"].int64_list.value)
    assert [t.decode() for t in feature["image/object/class/text"].bytes_list.value] == [tr.TOY_CLASSES[c] for c in labels]
    np.testing.assert_array_equal(feature["image/object/bbox/xmin"].float_list.value, part.boxes[0][:, 1])


def test_tf_data_pipeline_yields_decoded_records(toy: tr.DetectionSet, tmp_path) -> None:
    path = tr.write_tfrecord(toy.subset(range(3)), tmp_path / "three.tfrecord")
    records = list(tr.read_tfrecord(path).as_numpy_iterator())
    assert len(records) == 3
    assert records[1]["image"].shape == (tr.IMAGE_SIZE, tr.IMAGE_SIZE, 3) and records[1]["format"] == b"png"
    assert records[1]["boxes"].shape == (len(toy.boxes[1]), 4)


def test_missing_tfrecord_is_named(tmp_path) -> None:
    with pytest.raises(tr.ToyDataError, match="nope.tfrecord"):
        tr.read_tfrecord(tmp_path / "nope.tfrecord")


# --------------------------------------------------------------------------- grid and metrics


def test_a_perfect_grid_decodes_to_the_boxes(toy: tr.DetectionSet) -> None:
    for boxes, classes in zip(toy.boxes[:40], toy.classes[:40]):
        found = tr.decode_grid(tr.encode_grid(boxes, classes), score_threshold=0.5)
        order = np.lexsort((found.boxes[:, 1], found.boxes[:, 0]))
        truth = np.lexsort((boxes[:, 1], boxes[:, 0]))
        np.testing.assert_allclose(found.boxes[order], boxes[truth], atol=1e-6)
        assert found.classes[order].tolist() == classes[truth].tolist()
        assert np.all(found.scores == 1)


def test_two_boxes_in_one_cell_are_refused() -> None:
    boxes = np.array([[0.1, 0.1, 0.2, 0.2], [0.11, 0.11, 0.19, 0.19]], np.float32)
    with pytest.raises(tr.ToyDataError, match="one box per cell"):
        tr.encode_grid(boxes, np.array([1, 2]))


def raster_iou(a: np.ndarray, b: np.ndarray, size: int) -> float:
    """IoU by counting pixels of two boxes drawn as masks (boxes on the pixel grid)."""
    masks = []
    for box in (a, b):
        y0, x0, y1, x1 = np.rint(np.asarray(box) * size).astype(int)
        mask = np.zeros((size, size), bool)
        mask[y0:y1, x0:x1] = True
        masks.append(mask)
    union = np.sum(masks[0] | masks[1])
    return float(np.sum(masks[0] & masks[1]) / union) if union else 0.0


def test_box_iou_matches_pixel_counting() -> None:
    rng = np.random.default_rng(0)
    size = 64
    corners = np.sort(rng.integers(0, size + 1, (200, 2, 2)), axis=1)  # [n, (low, high), (y, x)]
    boxes = np.concatenate([corners[:, 0], corners[:, 1]], axis=1).astype(np.float64) / size
    ours = tr.box_iou(boxes[:100], boxes[100:])
    for i in range(0, 100, 7):
        for j in range(0, 100, 3):
            assert ours[i, j] == pytest.approx(raster_iou(boxes[i], boxes[100 + j], size), abs=1e-12)
    assert (ours > 0).mean() > 0.2  # the sample exercises overlaps, not just disjoint boxes


def test_average_precision_by_hand() -> None:
    """3 ground truths; ranked detections hit, miss, hit, miss: recall 1/3, 1/3, 2/3, 2/3 and
    precision 1, 1/2, 2/3, 1/2. Monotone precision: 1 up to recall 1/3, 2/3 up to 2/3."""
    det = tr.Detections(np.array([[0, 0, .2, .2], [.5, .5, .6, .6], [.3, .3, .4, .4], [.7, .7, .8, .8]], np.float32),
                        np.array([.9, .8, .7, .6], np.float32), np.array([1, 1, 1, 1]))
    truth = np.array([[0, 0, .2, .2], [.3, .3, .4, .4], [.85, .85, .95, .95]], np.float32)
    ap = tr.class_average_precision([det], [truth], [np.array([1, 1, 1])], cls=1)
    assert ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    # a duplicate of a claimed box is a false positive, and the wrong class finds nothing
    dup = tr.Detections(det.boxes[[0, 0]], np.array([.9, .8], np.float32), np.array([1, 1]))
    assert tr.class_average_precision([dup], [truth[:1]], [np.array([1])], cls=1) == pytest.approx(1.0)
    assert tr.class_average_precision([det], [truth], [np.array([2, 2, 2])], cls=2) == 0.0


def reference_ap(detections, data, cls: int) -> float:
    """AP@0.5 by its definition: rank by score, greedy matching, then the integral of the
    precision envelope max_{r' >= r} p(r') over recall, written as a sum over hits."""
    ranked = sorted(((float(s), k, b) for k, d in enumerate(detections)
                     for b, s, c in zip(d.boxes, d.scores, d.classes) if c == cls), key=lambda t: (-t[0], t[1]))
    used: set[tuple[int, int]] = set()
    hits = []
    for _, k, box in ranked:
        best, best_j = 0.0, -1
        for j, (truth, c) in enumerate(zip(data.boxes[k], data.classes[k])):
            if c == cls:
                iou = tr_iou_plain(box, truth)
                if iou > best:
                    best, best_j = iou, j
        ok = best >= 0.5 and (k, best_j) not in used
        if ok:
            used.add((k, best_j))
        hits.append(ok)
    n_truth = sum(int(np.sum(c == cls)) for c in data.classes)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(sum(precision[i:].max() for i, h in enumerate(hits) if h) / n_truth)


def tr_iou_plain(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (ymin, xmin, ymax, xmax) boxes in plain Python floats."""
    ymin, xmin, ymax, xmax = (max(float(a[0]), float(b[0])), max(float(a[1]), float(b[1])),
                              min(float(a[2]), float(b[2])), min(float(a[3]), float(b[3])))
    inter = max(0.0, ymax - ymin) * max(0.0, xmax - xmin)
    area = lambda x: (float(x[2]) - float(x[0])) * (float(x[3]) - float(x[1]))
    return inter / (area(a) + area(b) - inter)


# --------------------------------------------------------------------------- training


@pytest.mark.slow
def test_loss_goes_down(trained: tr.TrainResult) -> None:
    loss = trained.loss
    assert len(loss) == EPOCHS and all(np.isfinite(loss))
    assert loss[-1] < 0.25 * loss[0]
    assert np.mean(loss[-3:]) < np.mean(loss[3:6])


@pytest.mark.slow
def test_only_the_head_trains_and_the_views_agree(trained: tr.TrainResult, test_split: tr.DetectionSet) -> None:
    det = trained.detector
    fresh = tr.build_toy_detector()
    for a, b in zip(det.backbone.weights, fresh.backbone.weights):
        assert np.array_equal(a.numpy(), b.numpy()), a.name
    images = test_split.images[:4]
    np.testing.assert_allclose(det.predict_grid(images), det.head.predict(det.features(images), verbose=0),
                               atol=1e-6)


@pytest.mark.slow
def test_toy_metrics_are_what_they_claim(trained: tr.TrainResult, test_split: tr.DetectionSet) -> None:
    metrics = tr.evaluate(trained.detector, test_split)
    found = tr.predict(trained.detector, test_split.images, score_threshold=0.05)
    best = [max((tr_iou_plain(d, t) for d in f.boxes), default=0.0) for f, boxes in zip(found, test_split.boxes)
            for t in boxes]
    assert metrics.mean_iou == pytest.approx(np.mean(best), abs=1e-9)
    for cid, name in tr.TOY_CLASSES.items():
        assert metrics.ap50[name] == pytest.approx(reference_ap(found, test_split, cid), abs=1e-9)
    assert metrics.map50 == pytest.approx(np.mean(list(metrics.ap50.values())))
    assert (metrics.n_images, metrics.n_objects) == (N_TEST, test_split.n_objects)
    assert "TOY" in str(metrics) and "not comparable" in str(metrics)
    # it learned something: far above what boxes placed by chance would score
    assert metrics.map50 > 0.45 and metrics.mean_iou > 0.5


@pytest.mark.slow
@pytest.mark.tfjs
def test_export_runs_in_tfjs_node(trained: tr.TrainResult, test_split: tr.DetectionSet, tmp_path) -> None:
    from browserml.export import read_manifest
    from browserml.tfjs_check import check_parity

    out = tr.export_toy_detector(trained.detector, tmp_path / "toy", test_split.images[:2])
    manifest = read_manifest(out)
    assert manifest.extra["toy"] is True and manifest.labels == ["open", "closed"]
    assert "TOY" in manifest.title and manifest.preprocessing["size"] == [tr.IMAGE_SIZE, tr.IMAGE_SIZE]
    (report,) = check_parity(out, [("node", "wasm")])
    assert report.ok, str(report)


def test_run_toy_loop_reads_its_tfrecords(tmp_path, monkeypatch) -> None:
    """The loop trains on what it read back from the TFRecords (training itself stubbed)."""
    seen = {}

    def fake_train(train, **kwargs):
        seen["train"] = train
        raise RuntimeError("stop here")

    monkeypatch.setattr(tr, "train_toy_detector", fake_train)
    with pytest.raises(RuntimeError, match="stop here"):
        tr.run_toy_loop(tmp_path, n_train=6, n_test=3, seed=5)
    written = tr.make_toy_set(9, seed=5)
    assert (tmp_path / "toy_train.tfrecord").is_file() and (tmp_path / "toy_test.tfrecord").is_file()
    assert np.array_equal(seen["train"].images, written.images[:6])
    assert seen["train"].names == written.names[:6]
