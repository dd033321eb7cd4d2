"""Lesson 1: fitting a polynomial with TensorFlow's Ops API, the way the talk does in TF.js.

The talk's first demo is TF.js at its lowest level: three ``tf.variable`` scalars a, b,
c, a function ``f(x) = a·x² + b·x + c`` written with ops, a mean-squared-error loss,
and ``optimizer.minimize`` in a loop. This package is that program in Python
TensorFlow, for any degree, with two interchangeable training loops
(``optimizer.minimize`` and an explicit ``GradientTape``) and the closed-form
least-squares answer to check both against. The fitted polynomial is exported as a
TF.js graph model with a standalone page that plots it.

Coefficients are always ordered highest power first (``a, b, c`` for ``a·x²+b·x+c``),
the same order as ``numpy.polyfit``.

The lesson lives in one module per role: :mod:`~browserml.polyfit.model` (the data,
the polynomial, both training loops, the coefficient table),
:mod:`~browserml.polyfit.state` (the app's state, no widgets),
:mod:`~browserml.polyfit.plots`, :mod:`~browserml.polyfit.export` (the TF.js graph
model and its page), :mod:`~browserml.polyfit.browser` (the export in the learner's
page, the training loop in TF.js under Node) and :mod:`~browserml.polyfit.exercises`.
Every public name is also here (``pf.fit``, ``pf.PolyfitState``): importing this
package is light (no TensorFlow, no matplotlib), and each name loads its module on
first use (PEP 562).
"""

from __future__ import annotations

from browserml.lazy import lazy_names

_LAZY = {
    "model": ("TrainMethod", "METHODS", "MAX_DEGREE", "DivergedError", "Setting", "QUADRATIC", "CUBIC", "SETTINGS",
              "coefficient_names", "PolyData", "make_data", "data_for", "unique_fit", "least_squares", "Polynomial",
              "mse", "TrainStep", "train_steps", "FitResult", "fit", "gradient", "coefficient_table"),
    "state": ("DATA_FIELDS", "TRAIN_FIELDS", "power_name", "Frame", "PolyfitState"),
    "plots": ("plot_fit",),
    "export": ("serving_module", "export_polynomial", "grid_predictions"),
    "browser": ("browser_request", "fit_in_tfjs"),
    "exercises": ("OPS_CASES", "OperatorUsed", "TfjsStyleTensor", "check_fast_learning_rate", "check_leak_free_fit",
                  "check_normal_equations", "check_ops_function", "slide_coeffs"),
}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [name for names in _LAZY.values() for name in names]
