"""Lesson 1's picture: the data, the true polynomial and the current fit, beside the loss curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from browserml.polyfit.model import Coefficients, PolyData

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_fit(data: PolyData, coeffs: Coefficients | None = None, losses: Sequence[float] | None = None,
             title: str = "") -> Figure:
    """Data and the current fit, beside the loss curve (a matplotlib ``Figure``, no pyplot,
    so it is safe to draw from a widget's training thread)."""
    from browserml.figures import new_figure

    fig = new_figure(9, 3.4)
    ax, ax_loss = fig.subplots(1, 2, width_ratios=[3, 2])
    ax.scatter(data.x, data.y, s=10, alpha=0.6, label="data", color="tab:blue")
    grid = np.linspace(float(data.x.min()), float(data.x.max()), 200)
    ax.plot(grid, np.polyval(data.target_coeffs, grid), "--", color="gray", label="true polynomial")
    if coeffs is not None:
        ax.plot(grid, np.polyval(coeffs, grid), color="tab:orange", lw=2, label="current fit")
    ax.set(xlabel="x", ylabel="y", title=title or "data and fit")
    ax.legend(loc="best", fontsize=8)
    if losses:
        ax_loss.plot(np.arange(1, len(losses) + 1), losses, color="tab:red")
        ax_loss.set_yscale("log")
    ax_loss.set(xlabel="iteration", ylabel="MSE loss", title="loss")
    return fig
