"""Lesson 3's exercises: every check passes its solution (notebooks/solutions/) and fails
plausible wrong answers and untouched blanks. The TF.js exercise runs its cell under Node,
through the same evalCell the page runs."""

from __future__ import annotations

import numpy as np
import pytest

from browserml.exercises import solutions
from browserml.imagesearch import exercises, search
from browserml.inbrowser.cell import CellRequest, node_available, run_cell_in_node

NOTEBOOK = "03_convnet_image_search.ipynb"
needs_node = pytest.mark.skipif(not node_available(), reason="Node and node_modules are needed (make setup)")

# The notebook's starting cell for exercise 4, as the learner finds it.
BLANK_SEARCH = """
const top = tf.tidy(() => {
  const g = tf.tensor2d(gallery);
  const q = g.gather([query]);
  return null;
});
return top;"""
# Dot products instead of cosine: longer rows win whatever their direction.
DOT_SEARCH = """
return tf.tidy(() => {
  const g = tf.tensor2d(gallery);
  const sims = g.matMul(g.gather([query]), false, true).reshape([-1]);
  return tf.topk(sims.sub(tf.oneHot(query, g.shape[0]).mul(1e9)), 15).indices;
});"""
# The right ranking, but nothing is disposed.
LEAKY_SEARCH = """
const g = tf.tensor2d(gallery);
const unit = g.div(g.norm('euclidean', 1, true));
const sims = unit.matMul(unit.gather([query]), false, true).reshape([-1]);
return tf.topk(sims.sub(tf.oneHot(query, g.shape[0]).mul(3)), 15).indices;"""
# The query is not left out: it comes first, at distance 0.
SELF_SEARCH = """
return tf.tidy(() => {
  const g = tf.tensor2d(gallery);
  const unit = g.div(g.norm('euclidean', 1, true));
  return tf.topk(unit.matMul(unit.gather([query]), false, true).reshape([-1]), 15).indices;
});"""


def _solution(name: str) -> dict:
    namespace: dict = {"np": np}
    exec(solutions(NOTEBOOK)[name], namespace)  # the teacher's own file
    return namespace


@pytest.fixture(scope="module")
def gallery() -> np.ndarray:
    """ReLU-like features whose row lengths vary tenfold, so that dot products and cosine rank
    differently (as they do for real CNN features)."""
    rng = np.random.default_rng(3)
    rows = np.maximum(rng.normal(size=(60, 48)), 0) + 0.05
    return (rows * rng.uniform(0.3, 3.0, size=(60, 1))).astype(np.float32)


def test_the_solutions_file_has_every_exercise():
    assert set(solutions(NOTEBOOK)) == {"Exercise 1", "Exercise 2", "Exercise 3", "Exercise 4"}


def test_exercise_1_passes_the_weighted_score_and_fails_precision_or_reversed_weights(capsys):
    assert exercises.check_search_score(_solution("Exercise 1")["search_score"])
    assert not exercises.check_search_score(lambda found, q: search.precision_at_k(found, q))
    reversed_weights = (np.arange(15) + 1) / 15
    assert not exercises.check_search_score(
        lambda found, q: reversed_weights[np.asarray(found) == q].sum() / reversed_weights.sum())
    assert not exercises.check_search_score(lambda found, q: ...)
    assert not exercises.check_search_score(...)
    assert not exercises.check_search_score(lambda found, q: 1 / 0)
    out = capsys.readouterr().out
    assert out.count("✓") == 1 and "unweighted share" in out and "replace the ..." in out
    assert "ZeroDivisionError" in out


def test_exercise_2_passes_the_derivation_and_fails_the_usual_shortcuts(capsys):
    assert exercises.check_chance_score(_solution("Exercise 2")["chance_score"])
    assert not exercises.check_chance_score(lambda labels: 1 / len(np.unique(labels)))
    assert not exercises.check_chance_score(lambda labels: float(np.sum((np.bincount(labels) / len(labels)) ** 2)))
    assert not exercises.check_chance_score(lambda labels: 19 / 199)  # right for FASHION200 only
    assert not exercises.check_chance_score(lambda labels: ...)
    out = capsys.readouterr().out
    assert out.count("✓") == 1 and "its own classmate" in out and "equal classes, if the query" in out
    assert "sizes [5, 10, 50, 35]" in out


def test_exercise_3_passes_the_three_metrics_and_fails_a_wrong_set(gallery):
    assert exercises.check_identical_metrics(_solution("Exercise 3")["my_metrics"], gallery)
    assert not exercises.check_identical_metrics({"euclidean", "squared"}, gallery)
    assert not exercises.check_identical_metrics({"euclidean", "squared", "cosine", "minkowski"}, gallery)
    assert not exercises.check_identical_metrics(..., gallery)


def _node(code: str, gallery: np.ndarray, query: int):
    request = CellRequest.parse("--in gallery query", code)
    return run_cell_in_node(request, request.scope({"gallery": gallery, "query": query}))


@needs_node
@pytest.mark.tfjs
def test_exercise_4_passes_the_tidy_cosine_search_and_fails_dot_products_leaks_and_self(gallery, capsys):
    query = 7
    right = _node(solutions(NOTEBOOK)["Exercise 4"], gallery, query)
    assert right.ok, right.text()
    assert exercises.check_tfjs_search(right, gallery, query)
    # the same indices as Python's float64 search (no near-ties in this gallery)
    assert np.asarray(right.value).tolist() == search.top_k(gallery, query, 15, "cosine").indices.tolist()
    assert not exercises.check_tfjs_search(_node(BLANK_SEARCH, gallery, query), gallery, query)
    assert not exercises.check_tfjs_search(_node(DOT_SEARCH, gallery, query), gallery, query)
    leaky = _node(LEAKY_SEARCH, gallery, query)
    assert leaky.ok and leaky.leaked and leaky.leaked > 0
    assert not exercises.check_tfjs_search(leaky, gallery, query)
    assert not exercises.check_tfjs_search(_node(SELF_SEARCH, gallery, query), gallery, query)
    assert not exercises.check_tfjs_search(None, gallery, query)
    out = capsys.readouterr().out
    assert out.count("✓") == 1
    assert "return the indices of the 15 nearest" in out and "not the 15 nearest by cosine" in out
    assert "tensors were left behind" in out and "among its own results" in out


def test_exercise_4_accepts_float32_near_ties_in_either_order(gallery):
    """Two results whose distances differ below float32's rounding may come in either order."""
    from browserml.inbrowser.cell import CellResult

    query = 7
    want = search.top_k(gallery, query, 15, "cosine").indices
    tied = np.vstack([gallery, gallery[want[3]] * np.float32(1.0 + 1e-7)])  # a near-copy of the 4th result
    truth = search.top_k(tied, query, 15, "cosine").indices.tolist()
    assert set(truth[3:5]) == {int(want[3]), 60}
    for order in (truth, truth[:3] + truth[3:5][::-1] + truth[5:]):
        result = CellResult(CellRequest.parse("", "return 0;"))
        result.read({"value": order, "num_tensors_before": 0, "num_tensors_after": 0}, None)
        assert exercises.check_tfjs_search(result, tied, query)
