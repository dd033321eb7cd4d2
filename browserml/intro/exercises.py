"""Lesson 0's exercise checks. Each prints ✓ or ✗ with a hint and returns whether the
answer is right; none raises, because two of the starting cells are wrong on purpose
("fix the leak", "unblock the loop") and the notebook must still run top to bottom.
The solutions are in ``notebooks/solutions/00_why_ml_in_the_browser.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from browserml.exercises import blank, cell_ran, is_blank, verdict
from browserml.inbrowser.cell import CellResult
from browserml.intro.plots import frame_stats

#: What exercise 1's loop computes: the sum over 100 steps of mean((i/100)²·ones(100)).
LEAK_EXPECTED = float(sum((i / 100) ** 2 for i in range(100)))



def check_no_leak(result: CellResult | None) -> bool:
    """Exercise 1: the loop still returns its sum, and leaves no tensor behind."""
    if not cell_ran(result, "run your %%tfjs cell first"):
        return False
    assert result is not None
    value = float(np.asarray(result.value))
    if not np.isclose(value, LEAK_EXPECTED, rtol=1e-4):  # float32 sums of 100 terms
        return verdict(False, "", f"the loop should still return {LEAK_EXPECTED:.4f}, it returned {value:.4f}")
    return verdict(result.leaked == 0, f"the sum is right and tf.memory().numTensors stayed at "
                   f"{result.num_tensors_before}",
                   f"{result.leaked} tensors were left behind: wrap each step in tf.tidy(() => ...), "
                   "or dispose() what you create")


def check_non_blocking(result: CellResult | None, blocking: Mapping[str, Any], steps: int = 20) -> bool:
    """Exercise 2: the same work, but the page keeps drawing while it runs: at least one
    frame for every other step more than the blocking loop drew (which draws none while
    it works). Frames, not the longest gap, decide: on a busy machine any loop can lose
    the CPU for a moment, but only a loop that yields lets frames in between its steps."""
    if not cell_ran(result, "run your %%tfjs cell first"):
        return False
    assert result is not None
    if not isinstance(result.value, Mapping) or "gaps" not in result.value:
        return verdict(False, "", "return measure's answer, {gaps, ms}, as the demo does")
    mine, theirs = frame_stats(result.value), frame_stats(blocking)
    extra = mine.frames - theirs.frames
    return verdict(extra >= steps // 2,
                   f"{extra} more frames than the blocking loop; longest gap {mine.longest_ms:.0f} ms "
                   f"against {theirs.longest_ms:.0f} ms",
                   f"the page drew {extra} more frames than while blocking (longest gap {mine.longest_ms:.0f} ms); "
                   "read results with `await y.data()` and let a frame through with `await nextFrame()`")


def keras_separable_params(kernel: int, c_in: int, c_out: int) -> int:
    """The parameter count of a tf_keras ``SeparableConv2D`` (with bias), built for real."""
    import tf_keras

    layer = tf_keras.layers.SeparableConv2D(c_out, kernel)
    layer.build((None, 32, 32, c_in))
    return int(layer.count_params())


CASES = ((3, 32, 64), (5, 16, 16), (3, 3, 8), (1, 8, 4))


def check_separable_params(fn: Callable[[int, int, int], int] | Any) -> bool:
    """Exercise 3: ``fn(kernel, c_in, c_out)`` counts a depthwise separable convolution's
    parameters (depthwise k·k·c_in, pointwise c_in·c_out, and c_out biases), as Keras does."""
    if is_blank(fn):
        return blank("write separable_params")
    for k, c_in, c_out in CASES:
        want = keras_separable_params(k, c_in, c_out)
        got = fn(k, c_in, c_out)
        if got != want:
            full = k * k * c_in * c_out + c_out
            hint = " (that is a full convolution's count)" if got == full else ""
            return verdict(False, "", f"for a {k}×{k} kernel, {c_in} → {c_out} channels Keras counts {want}, "
                           f"you gave {got}{hint}")
    k, c_in, c_out = CASES[0]
    saving = (k * k * c_in * c_out + c_out) / keras_separable_params(k, c_in, c_out)
    return verdict(True, f"right for all {len(CASES)} shapes; a 3×3 32→64 layer needs {saving:.1f}× fewer "
                   "parameters than a full convolution", "")


__all__ = ["CASES", "LEAK_EXPECTED", "check_no_leak", "check_non_blocking", "check_separable_params",
           "keras_separable_params"]
