"""Lesson 0's pictures: the tensor count of a loop that leaks against one that tidies, and
the page's frame gaps while TF.js blocks the thread against while it awaits.

The numbers come from ``%%tfjs`` cells (the learner's page, or Node without one); these
functions only read and draw them, so a test can feed them numbers made by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: One frame at 60 Hz: a gap much longer than this is a frame the learner saw freeze.
FRAME_MS = 1000 / 60
#: A gap this long is a visible stall (the RAIL model's 50 ms budget for a response).
STALL_MS = 50.0


@dataclass(frozen=True)
class FrameStats:
    """What one run's frame gaps mean: the longest gap, how many stalled, and the work's time."""

    longest_ms: float
    stalls: int
    frames: int
    work_ms: float

    def __str__(self) -> str:
        return (f"{self.frames} frames, longest gap {self.longest_ms:.0f} ms, {self.stalls} over {STALL_MS:.0f} ms, "
                f"work took {self.work_ms:.0f} ms")


def frame_stats(run: Mapping[str, Any]) -> FrameStats:
    """Summarise ``{"gaps": [ms, ...], "ms": work}`` as a ``%%tfjs`` cell returns it."""
    gaps = np.asarray(run.get("gaps") or [0.0], dtype=float)
    return FrameStats(float(gaps.max()), int(np.sum(gaps > STALL_MS)), int(gaps.size), float(run.get("ms") or 0))


def plot_frames(runs: Mapping[str, Mapping[str, Any]], title: str = "") -> Figure:
    """Each run's frame gaps against time: flat near 16.7 ms is a page that stays smooth,
    one tall spike is a page that froze while TF.js held the thread."""
    from browserml.figures import new_figure

    fig = new_figure(9, 3.2)
    ax = fig.subplots()
    for (name, run), colour in zip(runs.items(), ("tab:red", "tab:green", "tab:blue"), strict=False):
        gaps = np.asarray(run.get("gaps") or [], dtype=float)
        ax.step(np.cumsum(gaps), gaps, where="post", color=colour, lw=1.5, label=f"{name}: {frame_stats(run)}")
    ax.axhline(FRAME_MS, color="gray", ls="--", lw=1)
    ax.text(0, FRAME_MS * 1.15, "one frame at 60 Hz", color="gray", fontsize=8)
    ax.set_yscale("log")
    ax.set(xlabel="time since the first frame (ms)", ylabel="gap between frames (ms)",
           title=title or "frames while TF.js works")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_tensor_counts(counts: Mapping[str, Sequence[float]], title: str = "") -> Figure:
    """``tf.memory().numTensors`` after each step of each loop: a ramp is a leak."""
    from browserml.figures import new_figure

    fig = new_figure(6.5, 3.0)
    ax = fig.subplots()
    for (name, values), colour in zip(counts.items(), ("tab:red", "tab:green", "tab:blue"), strict=False):
        ax.plot(np.arange(1, len(values) + 1), values, color=colour, lw=2, label=name)
    ax.set(xlabel="loop step", ylabel="tensors alive (more than at the start)",
           title=title or "tf.memory().numTensors")
    ax.legend(loc="upper left", fontsize=8)
    return fig


__all__ = ["FRAME_MS", "STALL_MS", "FrameStats", "frame_stats", "plot_frames", "plot_tensor_counts"]
