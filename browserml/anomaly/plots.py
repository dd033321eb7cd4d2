"""Lesson 2's pictures: loss curves, error histogram, ROC, latent space, one beat.

Each function returns a matplotlib ``Figure`` built without pyplot, so the widget can
draw from its training thread and the notebook can display it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from browserml.data import ecg5000 as ecg

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLASS_COLOURS = {1: "tab:blue", 2: "tab:red", 3: "tab:orange", 4: "tab:purple", 5: "tab:brown"}


def _figure(width: float = 5.0, height: float = 3.2, cols: int = 1) -> tuple[Figure, Any]:
    """A figure and its axes: one ``Axes``, or an array of ``cols`` of them."""
    from browserml.figures import new_figure

    fig = new_figure(width, height)
    return fig, fig.subplots(1, cols)


def loss_curves(loss: Sequence[float], val_loss: Sequence[float]) -> Figure:
    """Training and validation loss per epoch."""
    fig, ax = _figure()
    if loss:
        ax.plot(np.arange(1, len(loss) + 1), loss, label="train (normal beats)")
    if val_loss:
        ax.plot(np.arange(1, len(val_loss) + 1), val_loss, label="validation (normal beats)")
    ax.set(xlabel="epoch", ylabel="MSE", title="reconstruction loss", yscale="log" if loss else "linear")
    if loss:
        ax.legend(fontsize=8)
    return fig


def error_histogram(scores: np.ndarray, labels: np.ndarray, threshold: float) -> Figure:
    """Reconstruction errors of normal vs abnormal beats, with the threshold line."""
    fig, ax = _figure()
    abnormal = labels != ecg.NORMAL
    bins = np.histogram_bin_edges(scores, bins=60)
    ax.hist(scores[~abnormal], bins=bins, alpha=0.6, label="normal", color="tab:blue")
    ax.hist(scores[abnormal], bins=bins, alpha=0.6, label="abnormal", color="tab:red")
    ax.axvline(threshold, color="black", ls="--", label=f"threshold {threshold:.4f}")
    ax.set(xlabel="reconstruction error (MSE)", ylabel="beats", title="test beats")
    ax.legend(fontsize=8)
    return fig


def roc_curve(scores_by_name: dict[str, np.ndarray], labels: np.ndarray,
              point: tuple[float, float] | None = None) -> Figure:
    """ROC curves of one or more detectors; ``point`` marks (FPR, TPR) at the threshold."""
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as sk_roc

    fig, ax = _figure(4.2, 3.6)
    truth = labels != ecg.NORMAL
    for name, scores in scores_by_name.items():
        fpr, tpr, _ = sk_roc(truth, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(truth, scores):.3f})")
    if point is not None:
        ax.plot(*point, "ko", label="at threshold")
    ax.plot([0, 1], [0, 1], color="gray", lw=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def latent_scatter(latent: np.ndarray, labels: np.ndarray) -> Figure:
    """The bottleneck codes by class; larger latents are projected to 2-D with PCA.

    The legend sits beside the plot, outside it, with every class's full name (the
    longest, "Supraventricular premature or ectopic beat", wrapped): inside the axes
    it either covered the points or had to cut the names short.
    """
    fig, ax = _figure(7.2, 3.6)
    coords, note = latent, ""
    if latent.shape[1] > 2:
        from sklearn.decomposition import PCA

        coords, note = PCA(2, random_state=0).fit_transform(latent), " (PCA projection)"
    elif latent.shape[1] == 1:
        coords = np.column_stack([latent[:, 0], np.zeros(len(latent))])
    for c in sorted(np.unique(labels)):
        sel = labels == c
        ax.scatter(coords[sel, 0], coords[sel, 1], s=6, alpha=0.5, color=CLASS_COLOURS.get(int(c), "gray"),
                   label=class_label(int(c)))
    ax.set(title="latent space" + note, xlabel="z₁", ylabel="z₂")
    fig.legend(loc="outside right center", fontsize=8, markerscale=2, title="class", title_fontsize=8)
    return fig


def class_label(cls: int, width: int = 24, numbered: bool = False) -> str:
    """A class's full name (after its number if ``numbered``), wrapped to lines of at
    most ``width`` characters: never cut short."""
    import textwrap

    name = ecg.CLASS_NAMES.get(cls, str(cls))
    return textwrap.fill(f"{cls}: {name}" if numbered else name, width)


def beat_plot(scaled: np.ndarray, reconstruction: np.ndarray, title: str) -> Figure:
    """One beat (scaled) against its reconstruction, the gap shaded."""
    fig, ax = _figure(5.0, 2.8)
    t = np.arange(len(scaled))
    ax.plot(t, scaled, label="input (scaled)", color="tab:blue")
    ax.plot(t, reconstruction, label="reconstruction", color="tab:orange")
    ax.fill_between(t, scaled, reconstruction, color="tab:red", alpha=0.2)
    ax.set(xlabel="time step", ylim=(-0.25, 1.25), title=title)
    ax.legend(fontsize=8)
    return fig


def example_beats(beats: ecg.Beats, per_class: int = 3, seed: int = 0) -> Figure:
    """A few raw beats of each class, one panel per class."""
    from browserml.figures import new_figure

    classes = sorted(np.unique(beats.y))
    fig = new_figure(2.3 * len(classes), 2.3)
    axes = fig.subplots(1, len(classes), sharey=True)
    rng = np.random.default_rng(seed)
    for ax, c in zip(np.atleast_1d(axes), classes):
        idx = np.flatnonzero(beats.y == c)
        for i in rng.choice(idx, size=min(per_class, len(idx)), replace=False):
            ax.plot(beats.x[i], color=CLASS_COLOURS.get(int(c), "gray"), lw=1)
        ax.set_title(class_label(int(c), numbered=True), fontsize=8)
        ax.set_xlabel("time step", fontsize=8)
    return fig
