"""Lesson 1's exercise checks. Each prints ✓, ✗ with a hint, or … for an untouched blank,
and returns whether the answer is right; none raises for a wrong or blank answer, because
the notebook must still run top to bottom (exercise 3 starts from the slide's leaking loop
on purpose). The solutions are in ``notebooks/solutions/01_ops_api_polynomial.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.exercises import blank, cell_ran, is_blank, verdict
from browserml.inbrowser.cell import CellResult
from browserml.polyfit.model import QUADRATIC, PolyData, _tf, fit, least_squares, make_data

# --------------------------------------------------------------------------- exercise 1


def check_fast_learning_rate(learning_rate: float | Any, data: PolyData, iterations: int = 30) -> bool:
    """Exercise 1: a learning rate with which ``iterations`` steps of gradient descent (from
    the default start) get the quadratic within 1% of the least-squares loss, without
    diverging."""
    if is_blank(learning_rate):
        return blank("pick a learning rate")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.number)):
        return verdict(False, "", f"a learning rate is a number, got {learning_rate!r}")
    rate = float(learning_rate)
    if not np.isfinite(rate) or rate <= 0:
        return verdict(False, "", f"a learning rate is a positive number, got {learning_rate!r}")
    best = float(np.mean((np.polyval(least_squares(data, 2), data.x) - data.y) ** 2))
    # The loss is a quadratic bowl whose curvatures are the eigenvalues of its Hessian
    # (2/N)·VᵀV: a step is stable below 2/λmax, and fastest overall near 2/(λmin + λmax).
    powers = np.vander(data.x.astype(np.float64), 3)
    curvatures = np.linalg.eigvalsh(2.0 * powers.T @ powers / len(data.x))
    stable, fastest = 2.0 / curvatures[-1], 2.0 / (curvatures[0] + curvatures[-1])
    diverges = (f"with learning rate {rate:g} the loss grows (diverges): each step overshoots the bottom of "
                f"the valley and lands higher up the other side (always, above {stable:.2f}); try a smaller one")
    try:
        losses = fit(data, 2, rate, iterations, method="tape").losses
    except BadInput:  # DivergedError: the loss became NaN or infinite
        return verdict(False, "", diverges)
    final = losses[-1]
    if final > losses[0]:
        return verdict(False, "", diverges)
    slow = (f"after {iterations} steps the loss is {final:.6f}, the best is {best:.6f}; "
            + ("the steps are so large that the coefficients bounce across the valley: try a smaller rate"
               if rate > fastest else "try a larger rate"))
    return verdict(final <= 1.01 * best, f"loss {final:.6f} is within 1% of the best possible {best:.6f}", slow)


# --------------------------------------------------------------------------- exercise 2


class OperatorUsed(TypeError):
    """A Python operator on a :class:`TfjsStyleTensor`: TF.js tensors have none."""


#: What JavaScript makes of each operator on two TF.js tensors (checked in Node with tfjs 4.22).
_JS_RESULT = {"+": "a string (the two tensors printed end to end)", "-": "NaN", "*": "NaN", "/": "NaN",
              "**": "NaN", "unary -": "NaN", "@": "a syntax error"}
_METHOD = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "unary -": "neg", "@": "matMul"}


def _operator(symbol: str) -> Callable[..., Any]:
    use, fix = ("-a", "a.neg()") if symbol == "unary -" else (f"a {symbol} x", f"a.{_METHOD[symbol]}(x)")

    def refuse(self: TfjsStyleTensor, *_: Any) -> Any:
        raise OperatorUsed(f"`{use}` on tensors: JavaScript has no operator overloading, so in TF.js "
                           f"`{use}` is {_JS_RESULT[symbol]}, not an op; write {fix}")

    return refuse


class TfjsStyleTensor:
    """A stand-in for a TF.js tensor, for exercise 2: the methods TF.js tensors have
    (``add``, ``sub``, ``mul``, ``div``, ``pow``, ``square``, ``neg``), each one TF op, and
    no Python operators (``*``, ``+``, ``**``… raise :class:`OperatorUsed` with the method
    to use). A method takes another stand-in or a number, as in TF.js (``x.pow(3)``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        tf = _tf()
        self.value = tf.cast(tf.convert_to_tensor(value), tf.float32)

    @staticmethod
    def _of(other: Any) -> Any:
        if isinstance(other, TfjsStyleTensor):
            return other.value
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return _tf().constant(float(other), _tf().float32)
        raise TypeError(f"a tensor method takes a tensor or a number, got {type(other).__name__}")

    def add(self, other: Any) -> TfjsStyleTensor:
        return TfjsStyleTensor(_tf().add(self.value, self._of(other)))

    def sub(self, other: Any) -> TfjsStyleTensor:
        return TfjsStyleTensor(_tf().subtract(self.value, self._of(other)))

    def mul(self, other: Any) -> TfjsStyleTensor:
        return TfjsStyleTensor(_tf().multiply(self.value, self._of(other)))

    def div(self, other: Any) -> TfjsStyleTensor:
        return TfjsStyleTensor(_tf().divide(self.value, self._of(other)))

    def pow(self, exponent: Any) -> TfjsStyleTensor:
        return TfjsStyleTensor(_tf().pow(self.value, self._of(exponent)))

    def square(self) -> TfjsStyleTensor:
        return TfjsStyleTensor(_tf().square(self.value))

    def neg(self) -> TfjsStyleTensor:
        return TfjsStyleTensor(_tf().negative(self.value))

    def numpy(self) -> np.ndarray:
        return np.asarray(self.value.numpy())

    __add__ = __radd__ = _operator("+")
    __sub__ = __rsub__ = _operator("-")
    __mul__ = __rmul__ = _operator("*")
    __truediv__ = __rtruediv__ = _operator("/")
    __pow__ = __rpow__ = _operator("**")
    __matmul__ = __rmatmul__ = _operator("@")
    __neg__ = _operator("unary -")
    __array_ufunc__ = None  # NumPy hands np.multiply(a, x) back to the operators above

    def __repr__(self) -> str:
        return f"TfjsStyleTensor({self.numpy()!r})"


#: Two cubics, so that an answer cannot pass by knowing one set of numbers.
OPS_CASES = ((-0.8, -0.2, 0.9, 0.5), (1.5, 0.0, -2.0, 0.25))


def check_ops_function(fn: Callable[..., Any] | Any, cases: Sequence[Sequence[float]] = OPS_CASES) -> bool:
    """Exercise 2: ``fn(x, a, b, c, d)`` computes a·x³ + b·x² + c·x + d with the tensors'
    methods only, as TF.js must (``a.mul(x.pow(3)).add(...)``): it is called with
    :class:`TfjsStyleTensor` stand-ins, which refuse Python's operators."""
    if is_blank(fn):
        return blank("write my_cubic")
    x = np.linspace(-1.5, 1.5, 13).astype(np.float32)
    for coeffs in cases:
        try:
            got = fn(TfjsStyleTensor(x), *[TfjsStyleTensor(c) for c in coeffs])
        except OperatorUsed as err:
            return verdict(False, "", str(err))
        except Exception as err:  # noqa: BLE001 (a learner's function may fail any way; say how, in one line)
            return verdict(False, "", f"your function raised {type(err).__name__}: {err}. Use only the "
                           "tensors' methods (.mul, .add, .sub, .pow, .square), as in TF.js")
        if got is None or is_blank(got):
            return blank("write my_cubic")
        if not isinstance(got, TfjsStyleTensor):
            return verdict(False, "", f"return the tensor your chain of ops makes, not a {type(got).__name__}")
        want = np.polyval(coeffs, x.astype(np.float64))
        values = got.numpy()
        if values.shape != x.shape:
            return verdict(False, "", f"x has shape {x.shape} and so should the answer, got {values.shape}: "
                           "each term is a coefficient times a power of x")
        # float32 ops on |x| <= 1.5 and coefficients <= 2: rounding stays below 1e-5
        if not np.allclose(values, want, rtol=0, atol=1e-5):
            worst = int(np.argmax(np.abs(values - want)))
            return verdict(False, "", f"with a, b, c, d = {tuple(coeffs)} at x = {x[worst]:.2f} your function "
                           f"gives {values[worst]:.4f}, the cubic {want[worst]:.4f}: which coefficient goes with "
                           "which power?")
    return verdict(True, "your ops compute the cubic, and would in TF.js too", "")


# --------------------------------------------------------------------------- exercise 3



@lru_cache(maxsize=8)
def _slide_fit(x: bytes, y: bytes, learning_rate: float, iterations: int) -> tuple[float, ...]:
    data = PolyData(np.frombuffer(x, np.float32), np.frombuffer(y, np.float32), (), 0.0)
    return tuple(fit(data, 2, learning_rate, iterations, init=(0.1, 0.1, 0.1)).coeffs)


def slide_coeffs(data: PolyData, learning_rate: float = QUADRATIC.learning_rate,
                 iterations: int = QUADRATIC.iterations) -> np.ndarray:
    """What the slide's loop reaches from its start (0.1 for a, b and c): Python's fit."""
    return np.array(_slide_fit(data.x.tobytes(), data.y.tobytes(), float(learning_rate), int(iterations)))


def check_leak_free_fit(result: CellResult | None, data: PolyData, learning_rate: float = QUADRATIC.learning_rate,
                        iterations: int = QUADRATIC.iterations) -> bool:
    """Exercise 3: the slide's loop, rewritten to leave no tensor behind (``_tfjs.leaked``
    is 0), still reaching the same coefficients as Python from the same start."""
    if not cell_ran(result, "run your %%tfjs cell first"):
        return False
    assert result is not None
    try:
        coeffs = np.asarray(result.value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        coeffs = np.array([])
    if coeffs.shape != (3,):
        return verdict(False, "", f"return the three coefficients [a, b, c] as the slide's cell does, got "
                       f"{result.value!r}")
    want = slide_coeffs(data, learning_rate, iterations)
    # 200 float32 steps on values of order 1, in TF.js and in TensorFlow: they agree to ~1e-6
    if not np.allclose(coeffs, want, rtol=0, atol=1e-5):
        return verdict(False, "", f"the loop should still reach {np.round(want, 4).tolist()} from the slide's "
                       f"start (0.1 each), it reached {np.round(coeffs, 4).tolist()}")
    return verdict(result.leaked == 0, f"same coefficients, and tf.memory().numTensors stayed at "
                   f"{result.num_tensors_before}",
                   f"{result.leaked} tensors were left behind: tf.tensor(0.1).variable() copies the scalar into "
                   "a variable and nobody disposes the scalar; create the variables inside tf.tidy, or keep the "
                   "scalars and dispose them")


# --------------------------------------------------------------------------- exercise 4


def _normal_cases() -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(what, x, y, degree): full-rank fits, and fits with too few distinct points."""
    from browserml.polyfit.model import CUBIC, data_for

    quad, cubic = data_for(QUADRATIC), data_for(CUBIC)
    five = make_data(QUADRATIC.true_coeffs, n_points=5, noise=0.05, seed=1)
    repeated = np.array([-0.5, -0.5, 0.25, 0.25, 0.75, 0.75])
    cases = [("the quadratic, degree 2", quad.x, quad.y, 2), ("the cubic, degree 3", cubic.x, cubic.y, 3),
             ("a line on the cubic", cubic.x, cubic.y, 1), ("5 points, degree 4", five.x, five.y, 4),
             ("5 points, degree 5", five.x, five.y, 5),
             ("6 points at 3 distinct x, degree 3", repeated, np.array([1.0, 1.2, 0.3, 0.1, -0.4, -0.2]), 3)]
    return [(what, np.asarray(x, np.float64), np.asarray(y, np.float64), d) for what, x, y, d in cases]


def check_normal_equations(fn: Callable[[np.ndarray, np.ndarray, int], Any] | Any) -> bool:
    """Exercise 4: ``fn(x, y, degree)`` solves the normal equations VᵀV c = Vᵀy for the
    coefficients (highest power first, as ``numpy.polyfit``), and returns ``None`` when
    they are not unique (no more distinct x values than the degree)."""
    if is_blank(fn):
        return blank("write normal_equations")
    cases = _normal_cases()
    for what, x, y, degree in cases:
        unique = len(np.unique(x)) > degree
        try:
            got = fn(x.copy(), y.copy(), degree)
        except Exception as err:  # noqa: BLE001 (a learner's function may fail any way; say how, in one line)
            hint = " (VᵀV is singular here: check for that first, and return None)" if not unique else ""
            return verdict(False, "", f"on {what} your function raised {type(err).__name__}: {err}{hint}")
        if is_blank(got):
            return blank("write normal_equations")
        if not unique:
            if got is not None:
                return verdict(False, "", f"on {what} the minimum is not unique ({len(np.unique(x))} distinct "
                               f"x values, {degree + 1} coefficients): return None, not one of the "
                               "infinitely many zero-loss fits")
            continue
        if got is None:
            return verdict(False, "", f"on {what} the answer is unique ({len(np.unique(x))} distinct x values, "
                           f"{degree + 1} coefficients), but your function returned None")
        want = np.linalg.lstsq(np.vander(x, degree + 1), y, rcond=None)[0]
        coeffs = np.asarray(got, dtype=np.float64).reshape(-1)
        if coeffs.shape != want.shape:
            return verdict(False, "", f"on {what} a degree-{degree} polynomial has {degree + 1} coefficients, "
                           f"you returned {coeffs.size}: np.vander(x, degree + 1)")
        # float64 normal equations square V's condition number (<= 1e4 here): 1e-6 is generous
        if not np.allclose(coeffs, want, rtol=1e-6, atol=1e-6):
            reversed_ = np.allclose(coeffs[::-1], want, rtol=1e-6, atol=1e-6)
            return verdict(False, "", f"on {what} the least-squares coefficients are {np.round(want, 4).tolist()}, "
                           f"yours {np.round(coeffs, 4).tolist()}"
                           + (": highest power first, as numpy.polyfit" if reversed_ else
                              "; solve (VᵀV) c = Vᵀy with V = np.vander(x, degree + 1)"))
    _, x, y, _ = cases[2]
    line = np.linalg.lstsq(np.vander(x, 2), y, rcond=None)[0]
    floor = float(np.mean((np.polyval(line, x) - y) ** 2))
    return verdict(True, f"exact least squares on all {len(cases)} cases, and None where no unique "
                   f"answer exists; the best any line does on the cubic is MSE {floor:.5f}", "")


__all__ = ["OPS_CASES", "OperatorUsed", "TfjsStyleTensor", "check_fast_learning_rate", "check_leak_free_fit",
           "check_normal_equations", "check_ops_function", "slide_coeffs"]
