"""Lesson 5's notebook pictures: the datasets, a decision boundary, and what neurons learned.

Drawn with Playground's colours (orange for −1, blue for +1, white at 0) so that the
notebook's figures read like the widget and the exported page beside them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap

from browserml.figures import NEUTRAL, NotebookFigure, new_figure
from browserml.playground.data import make_points
from browserml.playground.model import DATASETS, DOMAIN, task_of
from browserml.playground.state import PlaygroundState

ORANGE, BLUE = "#f59322", "#0877bd"
PLAYGROUND_CMAP = LinearSegmentedColormap.from_list("playground", [ORANGE, "#e8eaeb", BLUE])
EXTENT = (-DOMAIN, DOMAIN, -DOMAIN, DOMAIN)


def _points(ax: Axes, xy: np.ndarray, y: np.ndarray, edge: str = "white", size: float = 12) -> None:
    ax.scatter(xy[:, 0], xy[:, 1], c=np.clip(y, -1, 1), cmap=PLAYGROUND_CMAP, vmin=-1, vmax=1, s=size,
               edgecolors=edge, linewidths=0.6)


def _square(ax: Axes, title: str) -> None:
    ax.set(xlim=EXTENT[:2], ylim=EXTENT[2:], title=title, xticks=[-6, 0, 6], yticks=[-6, 0, 6])
    ax.set_aspect("equal")


def plot_datasets(noise: float = 0.0, n: int = 300, seed: int = 0) -> NotebookFigure:
    """The six datasets side by side (classes or regression targets coloured)."""
    fig = new_figure(12, 2.3)
    for ax, name in zip(fig.subplots(1, len(DATASETS)), DATASETS):
        xy, y = make_points(name, n, noise, seed)
        _points(ax, xy, y, size=8)
        _square(ax, f"{name} ({task_of(name)[:5]}.)")
    return fig


def plot_boundary(state: PlaygroundState, title: str | None = None) -> NotebookFigure:
    """The output heatmap with the train (white edge) and test (black edge) points, and
    the two loss curves, as Playground's OUTPUT panel shows them."""
    fig = new_figure(8, 3.6)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    left.imshow(state.grid(), extent=EXTENT, cmap=PLAYGROUND_CMAP, vmin=-1, vmax=1, alpha=0.8)
    _points(left, state.data.train_xy, state.data.train_y)
    if state.show_test_data:
        _points(left, state.data.test_xy, state.data.test_y, edge="black")
    _square(left, title or f"{state.config.dataset}, epoch {state.epoch}")
    epochs = [h.epoch for h in state.history]
    # Both in the figures' neutral ink (it reads on light and dark pages), told apart by line style.
    right.plot(epochs, [h.train_loss for h in state.history], label="training loss", color=NEUTRAL, ls="--")
    right.plot(epochs, [h.test_loss for h in state.history], label="test loss", color=NEUTRAL, lw=2)
    right.set(xlabel="epoch", ylabel="½·squared error", yscale="log")
    right.legend()
    return fig


def plot_neurons(state: PlaygroundState, resolution: int = 40) -> NotebookFigure:
    """Every neuron's output over the square, one column of the network per row."""
    grids = state.neuron_grids(resolution)
    names = ["inputs"] + [f"hidden {i}" for i in range(1, len(grids) - 1)] + ["output"]
    width = max(len(g) for g in grids)
    fig = new_figure(1.2 * width + 1, 1.25 * len(grids))
    axes = np.atleast_2d(fig.subplots(len(grids), width, squeeze=False))
    for row, (grid, name) in enumerate(zip(grids, names)):
        for col, ax in enumerate(axes[row]):
            ax.set_axis_off()
            if col < len(grid):
                scale = max(1e-6, float(np.abs(grid[col]).max())) if row == 0 else 1.0  # inputs: own range
                ax.imshow(grid[col] / scale, extent=EXTENT, cmap=PLAYGROUND_CMAP, vmin=-1, vmax=1)
                label = state.config.features[col] if row == 0 else f"{name} #{col + 1}"
                ax.set_title(label, fontsize=8)
    return fig


def plot_weights(state: PlaygroundState, labels: Sequence[str] | None = None) -> NotebookFigure:
    """A histogram of every kernel weight: L1 piles them at 0, L2 only shrinks them."""
    weights = np.concatenate([k.ravel() for k, _ in state.network.weights()])
    fig = new_figure(4.5, 2.6)
    ax = fig.subplots()
    ax.hist(weights, bins=40, color=BLUE)
    ax.set(xlabel="weight", ylabel="count", title=" ".join(labels) if labels else f"{len(weights)} weights")
    return fig
