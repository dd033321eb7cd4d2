"""Lesson 3's pictures: the model x layer score heatmap, class confusion, one search.

Each function returns a matplotlib ``Figure`` built without pyplot (so widgets can
redraw from callbacks and nothing piles up in pyplot's global state), and marks the
random-ranking baseline wherever a score is shown: a score means little until you
know that chance alone gets ~9.5% on ten classes of 20.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import SupportsInt

import numpy as np
from matplotlib.axes import Axes

from browserml.figures import NotebookFigure, new_figure
from browserml.imagesearch.search import (
    Evaluation,
    SearchInputError,
    SearchResult,
    score_grid,
    weighted_score,
)

SAME_CLASS = "tab:green"
OTHER_CLASS = "tab:red"
_FIELD_TITLES = {
    "mean_score": "weighted search score",
    "precision_at_k": "precision@k",
    "mean_average_precision": "mean average precision",
    "random_expectation": "random-ranking score",
}


def _figure(width: float, height: float) -> NotebookFigure:
    return new_figure(width, height)


def _annotate(ax: Axes, matrix: np.ndarray, fmt: str = "{:.0%}") -> None:
    """Write each finite cell's value, dark on light cells and light on dark."""
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7,
                    color="black" if value > 0.5 else "white")


def plot_score_heatmap(
    evaluations: Mapping[tuple[str, str], Evaluation], field: str = "mean_score", title: str | None = None
) -> NotebookFigure:
    """A model (rows) x layer (columns) heatmap of one score, from :func:`score_grid`.

    The random baseline is drawn on the colour bar when every evaluation shares it (the
    same images and labels) and the field has it as its chance level (the weighted
    score and precision@k do; mean average precision does not).
    """
    rows, cols, matrix = score_grid(evaluations, field)
    fig = _figure(max(4.0, 0.9 * len(cols) + 2.0), max(2.2, 0.45 * len(rows) + 1.4))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(matrix), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    _annotate(ax, matrix)
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set(xlabel="layer", ylabel="model", title=title or _FIELD_TITLES[field])
    bar = fig.colorbar(image, ax=ax)
    baselines = {round(ev.random_expectation, 12) for ev in evaluations.values()}
    if field in ("mean_score", "precision_at_k") and len(baselines) == 1:
        baseline = baselines.pop()
        bar.ax.axhline(baseline, color="red", lw=2)
        bar.ax.text(0.5, baseline, f" random {baseline:.1%}", transform=bar.ax.get_yaxis_transform(),
                    va="bottom", ha="center", fontsize=7, color="red")
    return fig


def plot_confusion(
    evaluation: Evaluation, class_names: Sequence[str] | Mapping[object, str] | None = None
) -> NotebookFigure:
    """Where each class's searches land: row = query class, column = class of the results.

    Cells are the weighted share of top-k results (rows sum to 1); a perfect search
    is the identity. ``class_names`` is a sequence in ``evaluation.classes`` order or a
    mapping from label to name.
    """
    classes = evaluation.classes
    if class_names is None:
        names = [str(c) for c in classes]
    elif isinstance(class_names, Mapping):
        names = [str(class_names.get(c.item() if hasattr(c, "item") else c, c)) for c in classes]
    else:
        if len(class_names) != classes.size:
            raise SearchInputError(f"got {len(class_names)} class names for {classes.size} classes")
        names = list(class_names)
    size = max(3.5, 0.45 * classes.size + 1.8)
    fig = _figure(size + 0.8, size)
    ax = fig.subplots()
    image = ax.imshow(evaluation.confusion, vmin=0.0, vmax=1.0, cmap="Blues")
    if classes.size <= 15:
        _annotate(ax, evaluation.confusion)
    ax.set_xticks(range(classes.size), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(classes.size), names, fontsize=8)
    ax.set(xlabel="class of retrieved images", ylabel="query class",
           title=f"{evaluation.metric}: score {evaluation.mean_score:.1%} "
                 f"(random {evaluation.random_expectation:.1%})")
    fig.colorbar(image, ax=ax, label="weighted share of top-k")
    return fig


def plot_results(
    images: np.ndarray,
    query_index: int,
    result: SearchResult,
    labels: np.ndarray,
    class_names: Sequence[str] | Mapping[object, str] | None = None,
) -> NotebookFigure:
    """The demo's result row: the query, then each result titled with its distance.

    Results of the query's class get a green border, others red; the figure's title
    gives the weighted score of this row against a random ranking's expected score for
    the query's class. ``images`` is
    ``(N, H, W)`` grey or ``(N, H, W, 3)`` colour, uint8 or floats in [0, 1].
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim not in (3, 4) or images.shape[0] != labels.shape[0]:
        raise SearchInputError(
            "need images (N, H, W[, 3]) with one label each; "
            f"got images {images.shape}, labels {labels.shape}"
        )

    def name(label: SupportsInt | str) -> str:
        if class_names is None:
            return str(label)
        if isinstance(class_names, Mapping):
            return str(class_names.get(label, label))
        return str(class_names[int(label)])

    k = len(result)
    fig = _figure(1.15 * (k + 1), 1.9)
    axes = fig.subplots(1, k + 1)
    grey = {"cmap": "gray"} if images.ndim == 3 else {}
    query_label = labels[query_index].item()
    shown = [(query_index, f"query\n{name(query_label)}", "black")]
    for i, d in zip(result.indices, result.distances):
        colour = SAME_CLASS if labels[i] == query_label else OTHER_CLASS
        shown.append((int(i), f"{d:.3g}\n{name(labels[i].item())}", colour))
    for ax, (i, text, colour) in zip(axes, shown):
        ax.imshow(images[i], **grey)
        ax.set_title(text, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(colour)
            spine.set_linewidth(3)
    score = weighted_score(labels[result.indices], query_label, k)
    # a random ranking puts a classmate at each position with probability (n_c - 1) / (N - 1)
    chance = (np.sum(labels == query_label) - 1) / (labels.shape[0] - 1)
    fig.suptitle(f"{result.metric} search: weighted score {score:.0%} (random {chance:.1%})", fontsize=9)
    return fig


def plot_gallery(
    images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], per_class: int = 6
) -> NotebookFigure:
    """The first ``per_class`` images of every class, one row per class: what the data is."""
    images, labels = np.asarray(images), np.asarray(labels)
    classes = np.unique(labels)
    fig = _figure(0.9 * per_class + 1.6, 0.8 * len(classes))
    axes = np.atleast_2d(fig.subplots(len(classes), per_class))
    for row, c in enumerate(classes):
        picks = np.flatnonzero(labels == c)[:per_class]
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(picks):
                ax.imshow(images[picks[col]])
            if col == 0:
                ax.set_ylabel(str(class_names[int(c)]), rotation=0, ha="right", va="center", fontsize=7)
    return fig


def plot_embedding(
    points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str = ""
) -> NotebookFigure:
    """A 2-D map (e.g. UMAP) coloured by class, with a legend: do classes form islands?"""
    points, labels = np.asarray(points), np.asarray(labels)
    fig = _figure(5.6, 4.2)
    ax = fig.subplots()
    for c in np.unique(labels):
        mask = labels == c
        ax.scatter(points[mask, 0], points[mask, 1], s=12, label=str(class_names[int(c)]))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return fig
