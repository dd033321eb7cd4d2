"""Lesson 4's exercises: every check passes its solution (notebooks/solutions/) and fails
plausible wrong answers and untouched blanks. The TF.js exercise runs its cell under Node on a
fresh float32 re-conversion, through the same evalCell the page runs."""

from __future__ import annotations

import numpy as np
import pytest

from browserml.exercises import solutions
from browserml.handtrack import exercises
from browserml.handtrack.boxes import box_iou
from browserml.inbrowser.cell import CellRequest, node_available, run_cell_in_node

NOTEBOOK = "04_handtrack_conversion.ipynb"
needs_node = pytest.mark.skipif(not node_available(), reason="Node and node_modules are needed (make setup)")

# The notebook's starting cell for exercise 4: right counts, seven tensors left behind a frame.
LEAKY_LOOP = """
const model = await tf.loadGraphModel(MODEL_URL);
const counts = [];
for (const frame of frames) {
  const input = tf.tensor(frame, undefined, 'int32');
  const [boxes, scores] = model.execute(input, ['boxes', 'scores']);
  const best = scores.max(2).reshape([-1]);
  const keep = await tf.image.nonMaxSuppressionAsync(boxes.reshape([-1, 4]), best, 20, 0.2, 0.6);
  counts.push(keep.size);
}
model.dispose();
return counts;"""
# The first fix everyone tries: the whole step inside tf.tidy. TF.js refuses an async function there.
ASYNC_TIDY = """
const model = await tf.loadGraphModel(MODEL_URL);
const counts = [];
for (const frame of frames) {
  counts.push(await tf.tidy(async () => {
    const [boxes, scores] = model.execute(tf.tensor(frame, undefined, 'int32'), ['boxes', 'scores']);
    const keep = await tf.image.nonMaxSuppressionAsync(boxes.reshape([-1, 4]), scores.max(2).reshape([-1]),
                                                       20, 0.2, 0.6);
    return keep.size;
  }));
}
model.dispose();
return counts;"""
# No leak, but the score threshold forgotten: NMS keeps up to 20 boxes of any score.
NO_THRESHOLD = """
const model = await tf.loadGraphModel(MODEL_URL);
const counts = [];
for (const frame of frames) {
  const input = tf.tensor(frame, undefined, 'int32');
  const [boxes, scores] = model.execute(input, ['boxes', 'scores']);
  const [flat, best] = tf.tidy(() => [boxes.reshape([-1, 4]), scores.max(2).reshape([-1])]);
  const keep = await tf.image.nonMaxSuppressionAsync(flat, best, 20, 0.2);
  counts.push(keep.size);
  tf.dispose([input, boxes, scores, flat, best, keep]);
}
model.dispose();
return counts;"""


def _solution(name: str) -> dict:
    namespace: dict = {"np": np, "box_iou": box_iou}
    exec(solutions(NOTEBOOK)[name], namespace)  # the teacher's own file
    return namespace


def test_the_solutions_file_has_every_exercise():
    assert set(solutions(NOTEBOOK)) == {f"Exercise {i}" for i in range(1, 6)}


def test_exercises_1_to_3_pass_the_solutions_and_fail_wrong_answers_and_blanks(capsys):
    assert exercises.check_valid_resolution(_solution("Exercise 1")["my_height"], 240)
    assert not exercises.check_valid_resolution(240, 240)
    assert not exercises.check_valid_resolution(224, 240)  # rounded down, the + 1 forgotten
    assert not exercises.check_valid_resolution(..., 240)
    assert exercises.check_bbox(_solution("Exercise 2")["my_bbox"], (0.1, 0.2, 0.5, 0.6), 640, 480)
    assert not exercises.check_bbox([48, 128, 192, 256], (0.1, 0.2, 0.5, 0.6), 640, 480)  # y and x swapped
    assert not exercises.check_bbox([128, 48, 384, 240], (0.1, 0.2, 0.5, 0.6), 640, 480)  # corners, not sizes
    assert not exercises.check_bbox(..., (0.1, 0.2, 0.5, 0.6), 640, 480)
    namespace = _solution("Exercise 3")
    assert exercises.check_default_model(namespace["my_folder"], namespace["my_ratio"])
    assert not exercises.check_default_model("base", 4)
    assert not exercises.check_default_model("int8", 2)  # float16's ratio
    assert not exercises.check_default_model(..., ...)
    out = capsys.readouterr().out
    assert out.count("✓") == 3 and out.count("replace the ...") == 3 and "which handtrack.js's folder calls int8" in out


def _greedy(boxes, scores, max_boxes, iou_threshold, score_threshold, strict=False, cut=True, order=True):
    """Greedy NMS with one of TF.js's rules changed: the look-alikes a learner writes."""
    candidates = [i for i in (np.argsort(-scores, kind="stable") if order else range(len(scores)))
                  if not cut or scores[i] > score_threshold]
    kept: list[int] = []
    for i in candidates:
        if len(kept) == max_boxes:
            break
        overlap = box_iou(boxes[kept], boxes[i]).max() if kept else 0.0
        if (overlap <= iou_threshold) if strict else (overlap < iou_threshold):
            kept.append(int(i))
    return kept


def test_exercise_5_passes_the_solution_and_fails_each_look_alike(capsys):
    assert exercises.check_nms(_solution("Exercise 5")["nms"])
    assert exercises.check_nms(_greedy)  # the look-alikes' common part is right
    assert not exercises.check_nms(lambda *a: _greedy(*a, strict=True))  # TensorFlow's rule: drop only at >
    assert not exercises.check_nms(lambda *a: _greedy(*a, cut=False))  # every score competes
    assert not exercises.check_nms(lambda b, s, m, i, t: _greedy(b, s, len(s), i, t))  # max_boxes ignored
    assert not exercises.check_nms(lambda *a: _greedy(*a, order=False))  # candidates in index order
    assert not exercises.check_nms(lambda *a: sorted(_greedy(*a)))  # the kept boxes, but not best first
    assert not exercises.check_nms(lambda *a: ...)
    assert not exercises.check_nms(lambda *a: 1 / 0)
    out = capsys.readouterr().out
    assert out.count("✓") == 2 and ">= iou_threshold, not only >" in out and "strictly more than" in out
    assert "keep at most max_boxes" in out and "wrong order" in out and "replace the ..." in out
    assert "ZeroDivisionError" in out


@pytest.fixture(scope="module")
def base_export(tmp_path_factory):
    """The float32 re-conversion the notebook's exercise 4 loads (exports/handtrack/base)."""
    from browserml.handtrack.convert import PARITY_SHAPE, export_variant
    from browserml.handtrack.graph import load_graph, sample_pixels

    folder = tmp_path_factory.mktemp("handtrack") / "base"
    return export_variant(load_graph("ssd320fpnlite", "large"), folder, "base", sample_pixels(*PARITY_SHAPE))


@pytest.fixture(scope="module")
def frames_and_counts():
    """The notebook's three frames, as detect() feeds them, and what Python's detect() finds."""
    from PIL import Image

    from browserml.handtrack import detect as hd
    from browserml.handtrack.images import scenes

    shown = scenes()
    small = [np.asarray(Image.fromarray(shown[n]).resize((320, 240), Image.BILINEAR))
             for n in ("two_open_hands", "astronaut_waving", "raised_hand_small")]
    large = hd.load(size="large")
    return [hd.model_input(image) for image in small], [len(large.detect(image)) for image in small]


def _loop(code: str, folder, frames):
    request = CellRequest.parse(f"--model {folder} --in frames --timeout 120", code)
    return run_cell_in_node(request, request.scope({"frames": frames}))


@needs_node
@pytest.mark.tfjs
@pytest.mark.slow
def test_exercise_4_passes_the_disposing_loop_and_fails_the_leak_async_tidy_and_a_lost_threshold(
        base_export, frames_and_counts, capsys):
    frames, counts = frames_and_counts
    assert counts == [2, 2, 1]  # every frame has something to find, and one frame differs
    right = _loop(solutions(NOTEBOOK)["Exercise 4"], base_export, frames)
    assert right.ok, right.text()
    assert exercises.check_detect_loop(right, counts)
    leaky = _loop(LEAKY_LOOP, base_export, frames)
    assert leaky.ok and leaky.value == counts and leaky.leaked == 7 * len(frames)
    assert not exercises.check_detect_loop(leaky, counts)
    assert not exercises.check_detect_loop(_loop(ASYNC_TIDY, base_export, frames), counts)
    assert not exercises.check_detect_loop(_loop(NO_THRESHOLD, base_export, frames), counts)
    assert not exercises.check_detect_loop(None, counts)
    out = capsys.readouterr().out
    assert out.count("✓") == 1 and "21 tensors were left behind (7 a frame)" in out
    assert "tf.tidy cannot hold an await" in out and f"should still find {counts}" in out


@pytest.mark.slow
def test_exercise_5_on_the_detectors_raw_output_as_the_notebook_runs_it():
    from browserml.handtrack import detect as hd
    from browserml.handtrack.images import scenes

    raw_boxes, raw_scores = hd.load().raw(scenes()["two_open_hands"])
    best = raw_scores.max(axis=1)
    assert exercises.check_nms(_solution("Exercise 5")["nms"], raw_boxes, best)
    assert not exercises.check_nms(lambda *a: _greedy(*a, cut=False), raw_boxes, best)
    # the real case alone also tells them apart: with no score cut, 20 boxes survive instead of 2
    from browserml.handtrack.boxes import non_max_suppression

    assert len(non_max_suppression(raw_boxes, best, 20, 0.2, 0.6, drop_at_threshold=True)) == 2
    assert len(_greedy(raw_boxes, best, 20, 0.2, 0.6, cut=False)) == 20
