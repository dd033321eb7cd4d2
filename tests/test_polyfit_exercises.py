"""Lesson 1's teaching material: the notebook's own training loops (its cells, run here)
take the same steps as ``pf.fit``, and every exercise check passes its solution
(notebooks/solutions/) and fails plausible wrong answers. The TF.js exercise runs its cell
under Node, through the same evalCell the page runs."""

from __future__ import annotations

import numpy as np
import pytest
from tools import cells as tools_cells

from browserml import polyfit as pf
from browserml.exercises import solutions
from browserml.inbrowser.cell import CellRequest, node_available, run_cell_in_node

NOTEBOOK = "01_ops_api_polynomial.ipynb"
needs_node = pytest.mark.skipif(not node_available(), reason="Node and node_modules are needed (make setup)")


def code_cells() -> tuple[str, ...]:
    return tools_cells.code_cells(NOTEBOOK)


def cell_with(text: str) -> str:
    return tools_cells.code_cell(NOTEBOOK, text)


@pytest.fixture(scope="module")
def data() -> pf.PolyData:
    return pf.data_for(pf.QUADRATIC)


def solution_namespace(exercise: str) -> dict:
    namespace: dict = {"np": np}
    exec(solutions(NOTEBOOK)[exercise], namespace)  # the teacher's own file
    return namespace


# --------------------------------------------------------------------------- the notebook's loops


def test_the_notebooks_loops_take_the_same_steps_as_pf_fit():
    """§2–§5's cells, as written (variables, f, loss, the minimize loop, the tape loop),
    run here in order; their coefficients must be pf.fit's from the same start (0.1).
    Same float32 ops in the same order: equal to within a few ulps of values ~0.6."""
    import matplotlib

    matplotlib.use("Agg")
    import tensorflow as tf

    first, last = cell_with("data = pf.data_for(pf.QUADRATIC)"), cell_with("fitted = pf.fit(")
    cells = code_cells()
    namespace: dict = {"np": np, "tf": tf, "pf": pf}
    for source in cells[cells.index(first): cells.index(last) + 1]:
        exec(source, namespace)  # the lesson's own cells
    assert namespace["a"].dtype == tf.float32, "the slide's variables are float32"
    by_minimize = pf.fit(namespace["data"], 2, pf.QUADRATIC.learning_rate, pf.QUADRATIC.iterations,
                         method="minimize", init=[0.1, 0.1, 0.1])
    by_tape = pf.fit(namespace["data"], 2, pf.QUADRATIC.learning_rate, pf.QUADRATIC.iterations,
                     method="tape", init=[0.1, 0.1, 0.1])
    np.testing.assert_allclose(namespace["by_minimize"], by_minimize.coeffs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(namespace["by_tape"], by_tape.coeffs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(namespace["fitted"].coeffs, by_minimize.coeffs, rtol=0, atol=0)
    assert by_minimize.losses[-1] < by_minimize.losses[0] / 50, "the loops really trained"


def test_the_underdetermined_cell_shows_zero_loss_fits_that_differ():
    """§6's 5-point cell: rank 5 for 6 coefficients, and three different fits of ~zero loss."""
    namespace: dict = {"np": np, "pf": pf}
    exec(cell_with("five = pf.make_data("), namespace)  # the lesson's own cell
    five, unseen = namespace["five"], namespace["unseen"]
    assert not pf.unique_fit(five, 5) and np.linalg.matrix_rank(namespace["V"]) == 5
    for t in (0.0, 1.0, 10.0):
        coeffs = pf.least_squares(five, 5) + t * unseen
        # float32 ys of order 1 against float64 predictions: the residual is float32 rounding
        assert np.mean((np.polyval(coeffs, five.x) - five.y) ** 2) < 1e-12


# --------------------------------------------------------------------------- the exercises


def test_the_solutions_file_has_every_exercise():
    assert set(solutions(NOTEBOOK)) == {"Exercise 1", "Exercise 2", "Exercise 3", "Exercise 4"}


def test_the_notebooks_exercise_cells_are_blank_and_their_checks_say_so(capsys, data):
    assert "my_learning_rate = ..." in cell_with("check_fast_learning_rate")
    assert "return ..." in cell_with("check_ops_function") and "return ..." in cell_with("check_normal_equations")
    assert not pf.check_fast_learning_rate(..., data)
    assert not pf.check_ops_function(...)
    assert not pf.check_ops_function(lambda x, a, b, c, d: ...)
    assert not pf.check_normal_equations(...)
    assert not pf.check_normal_equations(lambda x, y, degree: ...)
    assert not pf.check_leak_free_fit(None, data)
    assert capsys.readouterr().out.count("replace the ... with your answer") == 6


def test_exercise_1_passes_the_solution_and_fails_too_slow_too_fast_and_diverging(capsys, data):
    assert pf.check_fast_learning_rate(solution_namespace("Exercise 1")["my_learning_rate"], data)
    assert not pf.check_fast_learning_rate(0.1, data)
    assert "try a larger rate" in capsys.readouterr().out
    assert not pf.check_fast_learning_rate(0.84, data)  # below 2/λmax = 0.85, but bouncing
    assert "try a smaller rate" in capsys.readouterr().out
    assert not pf.check_fast_learning_rate(1.5, data)
    assert not pf.check_fast_learning_rate(3.0, data)  # NaN within 30 steps: DivergedError, caught
    assert capsys.readouterr().out.count("diverges") == 2
    assert not pf.check_fast_learning_rate(-0.5, data) and not pf.check_fast_learning_rate("0.7", data)


def test_exercise_2_passes_method_chains_and_refuses_python_operators(capsys):
    assert pf.check_ops_function(solution_namespace("Exercise 2")["my_cubic"])
    assert pf.check_ops_function(lambda x, a, b, c, d: a.mul(x).add(b).mul(x).add(c).mul(x).add(d))  # Horner
    capsys.readouterr()
    assert not pf.check_ops_function(lambda x, a, b, c, d: a * x**3 + b * x**2 + c * x + d)
    assert "no operator overloading" in capsys.readouterr().out
    assert not pf.check_ops_function(lambda x, a, b, c, d: a.mul(x.pow(3)) + d)
    assert "write a.add(x)" in capsys.readouterr().out
    assert not pf.check_ops_function(lambda x, a, b, c, d: np.multiply(a, x))
    assert not pf.check_ops_function(lambda x, a, b, c, d: d.mul(x.pow(3)).add(c.mul(x.square())).add(b.mul(x)).add(a))
    assert "which coefficient goes with which power" in capsys.readouterr().out
    assert not pf.check_ops_function(lambda x, a, b, c, d: a.mul(x.pow(3)).add(c.mul(x)).add(d))  # no b·x²
    assert not pf.check_ops_function(lambda x, a, b, c, d: a)  # a scalar, not one value per x


def test_the_stand_in_tensor_has_methods_and_no_operators():
    x = pf.TfjsStyleTensor([1.0, 2.0])
    np.testing.assert_allclose(x.pow(3).sub(1).div(x).neg().numpy(), [0.0, -3.5])
    for use in (lambda: x * 2, lambda: 2 + x, lambda: x ** 2, lambda: -x, lambda: x / x, lambda: x @ x):
        with pytest.raises(pf.OperatorUsed, match="no operator overloading"):
            use()
    with pytest.raises(TypeError, match="a tensor or a number"):
        x.mul("2")


def test_exercise_4_passes_the_solution_and_fails_what_ignores_rank_or_order(capsys):
    assert pf.check_normal_equations(solution_namespace("Exercise 4")["normal_equations"])
    capsys.readouterr()

    def no_rank_check(x, y, degree):
        v = np.vander(x, degree + 1)
        return np.linalg.solve(v.T @ v, v.T @ y)

    def lowest_first(x, y, degree):
        v = np.vander(x, degree + 1, increasing=True)
        return None if np.linalg.matrix_rank(v) <= degree else np.linalg.solve(v.T @ v, v.T @ y)

    def counts_points_not_distinct_ones(x, y, degree):
        return None if len(x) <= degree else np.linalg.lstsq(np.vander(x, degree + 1), y, rcond=None)[0]

    def one_column_short(x, y, degree):
        v = np.vander(x, degree)
        return np.linalg.solve(v.T @ v, v.T @ y)

    assert not pf.check_normal_equations(no_rank_check)
    out = capsys.readouterr().out
    assert "not unique" in out or "singular" in out  # garbage from a near-singular solve, or LinAlgError
    assert not pf.check_normal_equations(lowest_first)
    assert "highest power first" in capsys.readouterr().out
    assert not pf.check_normal_equations(counts_points_not_distinct_ones)
    assert "3 distinct x values" in capsys.readouterr().out
    assert not pf.check_normal_equations(one_column_short)
    assert not pf.check_normal_equations(lambda x, y, degree: None)
    assert "returned None" in capsys.readouterr().out


@needs_node
@pytest.mark.tfjs
def test_exercise_3_passes_the_tidy_loop_and_fails_the_slides_leak_or_a_shorter_loop(capsys, data):
    scope = {"xy": {"xs": data.x.tolist(), "ys": data.y.tolist()},
             "learningRate": pf.QUADRATIC.learning_rate, "EPOCHS": pf.QUADRATIC.iterations}
    line = "--in xy learningRate EPOCHS --out my_coeffs"
    start = cell_with("%%tfjs --in xy learningRate EPOCHS --out my_coeffs")
    assert start.startswith(f"%%tfjs {line}\n")
    solved = run_cell_in_node(CellRequest.parse(line, solutions(NOTEBOOK)["Exercise 3"]), scope)
    assert solved.ok and solved.leaked == 0, solved.text()
    assert pf.check_leak_free_fit(solved, data)
    leaky = run_cell_in_node(CellRequest.parse(line, start.split("\n", 1)[1]), scope)
    assert leaky.leaked == 3 and not pf.check_leak_free_fit(leaky, data)
    assert "3 tensors were left behind" in capsys.readouterr().out
    shorter = solutions(NOTEBOOK)["Exercise 3"].replace("i < EPOCHS", "i < 20")
    short = run_cell_in_node(CellRequest.parse(line, shorter), scope)
    assert short.ok and short.leaked == 0 and not pf.check_leak_free_fit(short, data)
    assert "should still reach" in capsys.readouterr().out
