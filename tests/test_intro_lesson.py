"""Lesson 0's teaching material: the good-practices checklist points at real sections, the
pictures read the numbers the cells return, and every exercise check passes its solution
(notebooks/solutions/) and fails a plausible wrong answer. The TF.js exercises run their
cells under Node, through the same evalCell the page runs."""

from __future__ import annotations

import pytest

from browserml.exercises import solutions
from browserml.inbrowser.cell import CellRequest, node_available, run_cell_in_node
from browserml.intro import exercises, plots, practices

NOTEBOOK = "00_why_ml_in_the_browser.ipynb"
needs_node = pytest.mark.skipif(not node_available(), reason="Node and node_modules are needed (make setup)")

WRONG_LEAK = """
let total = 0;
for (let i = 0; i < 100; i++) { total += tf.fill([100], i / 100).square().mean().dataSync()[0]; }
return total;"""
WRONG_LEAK_SUM = """
let total = 0;
for (let i = 0; i < 100; i++) { total += tf.tidy(() => tf.fill([100], i / 100).mean().dataSync()[0]); }
return total;"""
BLOCKING = """
const a = tf.randomNormal([200, 200]);
const run = await measureFrames(async () => {
  for (let i = 0; i < 20; i++) { const y = tf.matMul(a, a); y.dataSync(); y.dispose(); }
});
a.dispose();
return run;"""


def _node(code: str, line: str = ""):
    return run_cell_in_node(CellRequest.parse(line, code), {})


def test_every_checklist_link_points_at_a_real_heading():
    headings: dict[str, list[str]] = {}
    for p in practices.PRACTICES:
        for where in p.where:
            found = headings.setdefault(where.notebook, practices.notebook_headings(where.notebook))
            assert where.heading in found, f"{where.notebook} has no heading {where.heading!r}"
    for reason, heading in practices.REASONS.items():
        assert heading in practices.notebook_headings(NOTEBOOK), reason
    table = practices.practices_markdown()
    assert table.count("\n") == len(practices.PRACTICES) + 1 and "**not yet**" in table
    assert "(04_handtrack_conversion.ipynb#5.-The-conversion,-rebuilt)" in table


def test_frame_stats_and_the_pictures_read_the_cells_numbers():
    blocking = {"gaps": [16.7, 16.6, 420.0, 16.7], "ms": 410.0}
    stats = plots.frame_stats(blocking)
    assert (stats.longest_ms, stats.stalls, stats.frames, stats.work_ms) == (420.0, 1, 4, 410.0)
    assert "longest gap 420 ms" in str(stats)
    fig = plots.plot_frames({"blocking": blocking, "yielding": {"gaps": [16.7] * 30, "ms": 500}})
    assert len(fig.axes[0].lines) == 3  # two runs and the 60 Hz line
    fig = plots.plot_tensor_counts({"leak": [3, 6, 9], "tidy": [0, 0, 0]})
    assert fig.axes[0].lines[0].get_ydata().tolist() == [3, 6, 9]


def test_the_solutions_file_has_every_exercise():
    assert set(solutions(NOTEBOOK)) == {"Exercise 1", "Exercise 2", "Exercise 3"}


def test_exercise_3_passes_the_solution_and_fails_a_full_convolution(capsys):
    namespace: dict = {}
    exec(solutions(NOTEBOOK)["Exercise 3"], namespace)  # noqa: S102 (the teacher's own file)
    assert exercises.check_separable_params(namespace["separable_params"])
    assert not exercises.check_separable_params(lambda k, c_in, c_out: k * k * c_in * c_out + c_out)
    assert not exercises.check_separable_params(lambda k, c_in, c_out: k * k * c_in + c_in * c_out)  # no biases
    assert not exercises.check_separable_params(...)
    out = capsys.readouterr().out
    assert "✓" in out and "that is a full convolution's count" in out and "replace the ..." in out


@needs_node
@pytest.mark.tfjs
def test_exercise_1_passes_tidy_and_fails_the_leak_or_a_wrong_sum(capsys):
    assert exercises.check_no_leak(_node(solutions(NOTEBOOK)["Exercise 1"]))
    leaky = _node(WRONG_LEAK)
    assert leaky.leaked == 300 and not exercises.check_no_leak(leaky)
    assert not exercises.check_no_leak(_node(WRONG_LEAK_SUM))
    assert not exercises.check_no_leak(None)
    out = capsys.readouterr().out
    assert "300 tensors were left behind" in out and "should still return" in out


@needs_node
@pytest.mark.tfjs
def test_exercise_2_passes_the_yielding_loop_and_fails_the_blocking_one():
    blocking = _node(BLOCKING, "--backend cpu --timeout 60")
    assert blocking.ok, blocking.text()
    assert exercises.check_non_blocking(_node(solutions(NOTEBOOK)["Exercise 2"], "--backend cpu --timeout 60"),
                                        blocking.value)
    again = _node(BLOCKING, "--backend cpu --timeout 60")
    assert not exercises.check_non_blocking(again, blocking.value)
