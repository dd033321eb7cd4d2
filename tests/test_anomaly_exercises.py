"""Lesson 2's exercises: every check passes its solution (notebooks/solutions/) and fails
plausible wrong answers and untouched blanks, without raising. The TF.js exercise runs its
cell under Node, through the same evalCell the page runs, and the notebook's own broken
starting cell must fail its check."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from browserml import anomaly as an
from browserml.anomaly import exercises
from browserml.exercises import solutions
from browserml.inbrowser.cell import CellRequest, node_available, run_cell_in_node

NOTEBOOK = "02_layers_api_autoencoder_ecg.ipynb"
NOTEBOOK_PATH = Path(__file__).parents[1] / "notebooks" / NOTEBOOK
needs_node = pytest.mark.skipif(not node_available(), reason="Node and node_modules are needed (make setup)")


@pytest.fixture(scope="module")
def lesson(tmp_path_factory) -> SimpleNamespace:
    """The default trained as in the notebook, its comparison, and its export."""
    trainer = an.Trainer(an.ANOMAGRAM_DEFAULT)
    trainer.train()
    report = an.compare(trainer)
    ae = report.rows["Autoencoder"]
    export = an.export_anomaly(trainer, ae.threshold, tmp_path_factory.mktemp("ae") / "anomaly")
    val = trainer.data.split.val
    return SimpleNamespace(trainer=trainer, ae=ae, export=export, val_scores=trainer.scores(val.x), val=val)


def _solution(name: str, **namespace):
    namespace = {"np": np, **namespace}
    exec(solutions(NOTEBOOK)[name], namespace)  # the teacher's own file
    return namespace


def test_the_solutions_file_has_every_exercise():
    assert set(solutions(NOTEBOOK)) == {f"Exercise {i}" for i in range(1, 6)}


def test_every_exercise_cell_starts_blank_or_broken_and_has_a_check():
    cells = json.loads(NOTEBOOK_PATH.read_text())["cells"]
    text = ["".join(c["source"]) for c in cells]
    start = next(i for i, t in enumerate(text) if t.startswith("## Exercises"))
    code = "\n".join(t for c, t in zip(cells[start:], text[start:]) if c["cell_type"] == "code")
    for blank in ("my_answer = ...", "my_recall = ...", "def dead_units(outputs):\n    return ...",
                  "def best_f1_threshold(scores, abnormal):\n    return ..."):
        assert blank in code
    for check in ("check_contamination_answer(", "check_recall(", "check_dead_units(", "check_js_scores(",
                  "check_best_f1_threshold("):
        assert f"an.{check}" in code


# ---------------------------------------------------------------- exercise 1


@pytest.mark.slow
def test_exercise_1_lower_is_right_because_contamination_really_lowers_the_auc(lesson, capsys):
    dirty = an.Trainer(an.ANOMAGRAM_DEFAULT.with_changes(abnormal_share=0.2))
    dirty.train()
    dirty_auc = an.compare(dirty).rows["Autoencoder"].metrics["roc_auc"]
    clean_auc = lesson.ae.metrics["roc_auc"]
    assert dirty_auc < clean_auc - 0.05, "measured: 0.984 -> 0.78"
    answer = _solution("Exercise 1")["my_answer"]
    assert exercises.check_contamination_answer(answer, clean_auc, dirty_auc)
    assert not exercises.check_contamination_answer("higher", clean_auc, dirty_auc)
    assert not exercises.check_contamination_answer("less", clean_auc, dirty_auc)
    assert not exercises.check_contamination_answer(..., clean_auc, dirty_auc)
    out = capsys.readouterr().out
    assert "✓" in out and "✗ Not yet: compare the two ROC-AUC" in out and "'higher' or 'lower', not 'less'" in out
    assert "replace the ..." in out


def test_exercise_1_follows_the_numbers_not_a_fixed_answer():
    assert exercises.check_contamination_answer(" Higher ", 0.90, 0.95)
    assert not exercises.check_contamination_answer("lower", 0.90, 0.95)


# ---------------------------------------------------------------- exercise 2


def test_exercise_2_passes_recall_and_names_precision(lesson, capsys):
    (tn, fp), (fn, tp) = lesson.ae.confusion
    answer = _solution("Exercise 2", tn=tn, fp=fp, fn=fn, tp=tp)["my_recall"]
    assert exercises.check_recall(answer, lesson.ae)
    assert not exercises.check_recall(tp / (tp + fp), lesson.ae)
    assert not exercises.check_recall((tp + tn) / (tn + fp + fn + tp), lesson.ae)
    assert not exercises.check_recall("most", lesson.ae)
    assert not exercises.check_recall(..., lesson.ae)
    out = capsys.readouterr().out
    assert "✓ recall = TP / (TP + FN)" in out and "that is the precision" in out and "that is the accuracy" in out
    assert "one number between 0 and 1" in out and "replace the ..." in out


# ---------------------------------------------------------------- exercise 3


def test_exercise_3_counts_units_dead_for_every_beat(lesson, capsys):
    dead_units = _solution("Exercise 3")["dead_units"]
    assert exercises.check_dead_units(dead_units, lesson.trainer)
    out = capsys.readouterr().out
    assert "✓ the trained model: encoder_0 " in out and "Anomagram's 7→3 with seed 3" in out
    assert "decoder_0 3 of 3" in out and "decoder_0 is dead as a whole" in out, "a whole layer dead from the start"
    wrong = {
        "zero for some beat": lambda outputs: {k: int(np.sum(np.any(v == 0, axis=0))) for k, v in outputs.items()},
        "every zero counted": lambda outputs: {k: int(np.sum(v == 0)) for k, v in outputs.items()},
        "all layers at once": lambda outputs: sum(int(np.sum(np.all(v == 0, axis=0))) for v in outputs.values()),
        "raises": lambda outputs: outputs.nope,
        "returns the blank": lambda outputs: ...,
    }
    for name, fn in wrong.items():
        assert not exercises.check_dead_units(fn, lesson.trainer), name
    assert not exercises.check_dead_units(..., lesson.trainer)
    out = capsys.readouterr().out
    assert "(you counted units that are 0 for at least one beat)" in out
    assert "dead_units raised AttributeError" in out and out.count("replace the ...") == 2


def test_the_composer_default_really_starts_with_its_decoder_dead():
    """What exercise 3 reveals, asserted here so the text stays true: Anomagram's 7→3 with
    seed 3, before training, has decoder_0 (3 units) and so decoder_1 (7 units) all dead."""
    counts = exercises.dead_units_reference(exercises._composer_outputs())
    assert counts["decoder_0"] == 3 and counts["decoder_1"] == 7


def test_hidden_outputs_are_the_relu_layers_in_order(lesson):
    x = lesson.trainer.data.scaler.transform(lesson.trainer.data.train.x[:10])
    outputs = an.hidden_outputs(lesson.trainer.model, x)
    assert list(outputs) == ["encoder_0", "encoder_1", "decoder_0", "decoder_1"]
    assert [o.shape for o in outputs.values()] == [(10, 15), (10, 7), (10, 7), (10, 15)]
    assert all(o.min() >= 0 for o in outputs.values()), "ReLU outputs"


# ---------------------------------------------------------------- exercise 4 (TF.js)

WRONG_MEAN = """
const model = await tf.loadLayersModel(MODEL_URL);
const scores = tf.tidy(() => { const x = tf.tensor(beats); return model.predict(x).sub(x).square().mean(); });
model.dispose();
return scores;"""
WRONG_LEAK = """
const model = await tf.loadLayersModel(MODEL_URL);
const x = tf.tensor(beats);
const scores = model.predict(x).sub(x).square().mean(1);
model.dispose();
return scores;"""


def _notebook_cell(prefix: str) -> str:
    cells = json.loads(NOTEBOOK_PATH.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith(prefix))


@needs_node
@pytest.mark.tfjs
def test_exercise_4_passes_the_tidy_solution_and_fails_the_starting_cell(lesson, capsys):
    sample = lesson.trainer.data.split.test.subset(np.arange(0, 4500, 15))
    beats = lesson.trainer.data.scaler.transform(sample.x)
    python = lesson.trainer.scores(sample.x)
    line = f'--model "{lesson.export}" --in beats --out js_scores'

    def node(code: str):
        request = CellRequest.parse(line, code)
        return run_cell_in_node(request, request.scope({"beats": beats}))

    solved = node(solutions(NOTEBOOK)["Exercise 4"])
    assert solved.ok, solved.text()
    assert exercises.check_js_scores(solved, python)
    starting = _notebook_cell("%%tfjs --model").split("\n", 1)[1]
    broken = node(starting)
    assert broken.ok and broken.leaked == 4 and not exercises.check_js_scores(broken, python)
    assert not exercises.check_js_scores(node(WRONG_MEAN), python)
    leaky = node(WRONG_LEAK)
    assert leaky.leaked and not exercises.check_js_scores(leaky, python)
    assert not exercises.check_js_scores(None, python)
    out = capsys.readouterr().out
    assert "✓ 300 scores equal to Python's" in out and ".mean(1)" in out and "tensors were left behind" in out
    assert "replace the ..." in out


# ---------------------------------------------------------------- exercise 5


def test_exercise_5_passes_the_best_f1_cut_off_and_fails_others(lesson, capsys):
    best_f1_threshold = _solution("Exercise 5")["best_f1_threshold"]
    assert exercises.check_best_f1_threshold(best_f1_threshold, lesson.val_scores, lesson.val.y)

    def mean_3_sigma(scores, abnormal):
        normal = scores[~abnormal]
        return normal.mean() + 3 * normal.std()

    def most_accurate(scores, abnormal):
        cuts = np.r_[-np.inf, np.unique(scores)]
        return cuts[int(np.argmax([np.mean((scores > t) == abnormal) for t in cuts]))]

    def flags_ties(scores, abnormal):  # best F1 of score >= t, returned as is
        cuts = np.unique(scores)
        f1 = [2 * np.sum((scores >= t) & abnormal) / (np.sum(scores >= t) + np.sum(abnormal)) for t in cuts]
        return cuts[int(np.argmax(f1))]

    for fn in (mean_3_sigma, most_accurate, flags_ties, lambda s, a: float("nan"), lambda s, a: "high",
               lambda s, a: ...):
        assert not exercises.check_best_f1_threshold(fn, lesson.val_scores, lesson.val.y), fn
    assert not exercises.check_best_f1_threshold(..., lesson.val_scores, lesson.val.y)
    out = capsys.readouterr().out
    assert "✓ your cut-off reaches the best F1" in out and "is not flagged (the rule is score > t)" in out
    assert "try every score as a cut-off" in out and "NaN" in out and "return one number" in out
    assert out.count("replace the ...") == 2


def test_exercise_5s_example_separates_accuracy_from_f1():
    """In the small case every most accurate cut-off (70%, flagging nothing among them) has an
    F1 of at most 0.4; the best F1, 12/23, flags 17 of the 20 beats."""
    scores, abnormal = exercises._F1_CASE
    best = an.threshold_best_f1(scores, abnormal)
    assert exercises._f1(scores, abnormal, best) == pytest.approx(12 / 23) and np.sum(scores > best) == 17
    cuts = np.r_[-np.inf, np.unique(scores)]
    accuracy = np.array([np.mean((scores > t) == abnormal) for t in cuts])
    most_accurate = cuts[accuracy == accuracy.max()]
    assert accuracy.max() == pytest.approx(0.7)
    assert max(exercises._f1(scores, abnormal, t) for t in most_accurate) <= 0.4


def test_exercise_4_waits_for_a_page_that_has_not_answered(capsys):
    """On Colab the page answers once the cell has ended: no verdict before that."""
    from browserml.inbrowser.cell import CellResult

    pending = CellResult(CellRequest.parse("--out js_scores", "return 1;"))
    assert not exercises.check_js_scores(pending, np.zeros(3))
    out = capsys.readouterr().out
    assert out.startswith("… no answer from TF.js yet") and "✗" not in out
