"""Lesson 2 in TF.js: scoring and fine-tuning the export in Node and in the learner's page.

The hybrid flow: Python trains, the export scores beats in TF.js (:func:`tfjs_scores`),
keeps training there (:func:`fit_in_tfjs` under Node, :func:`finetune_in_browser` in
the notebook's own page), and Python judges the weights that come back
(:func:`score_returned_weights`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from browserml.anomaly.data import AnomalyInputError, _check_beats, _checked_scores
from browserml.anomaly.export import export_scaler
from browserml.anomaly.metrics import roc_auc
from browserml.anomaly.model import Trainer, reconstruction_errors
from browserml.data import ecg5000 as ecg
from browserml.inbrowser import BrowserRequest, BrowserRunLike, FitRuntime


def tfjs_scores(export_dir: str | Path, x_raw: np.ndarray, backend: str = "wasm") -> np.ndarray:
    """Score raw beats with the export in TF.js under Node, using only what the export
    itself says: its ``browserml.json`` preprocessing, model and ``score``."""
    from browserml.tfjs_check import run_in_node

    x_raw = _check_beats(x_raw, export_scaler(export_dir).max_abs)
    result = run_in_node(export_dir, backend, inputs={"beat": x_raw}, raw=True)
    if result.scores is None:
        raise AnomalyInputError(f"{export_dir} does not declare a score in browserml.json")
    return _checked_scores(result.scores, f"TF.js ({backend})")


def fit_in_tfjs(export_dir: str | Path, x_raw: np.ndarray, epochs: int = 20, batch_size: int = 512,
                learning_rate: float = 0.01, backend: str = "wasm", infer_rows: int = 500) -> dict[str, Any]:
    """Keep training the exported autoencoder in TF.js under Node on raw beats, scaled
    with the export's own preprocessing; returns losses, timings and the new weights."""
    from browserml.tfjs_check import run_node_script

    scaler = export_scaler(export_dir)
    config = {"x": scaler.transform(x_raw).astype(float).tolist(), "epochs": int(epochs),
              "batch_size": int(batch_size), "learning_rate": float(learning_rate), "infer_rows": int(infer_rows)}
    return run_node_script("layers_fit.cjs", ["--dir", Path(export_dir).resolve(), "--backend", backend],
                           timeout_s=600, payload=config)


def browser_request(export_dir: str | Path, model: Any, x_raw: np.ndarray) -> BrowserRequest:
    """Score raw beats in the learner's page: the beats scaled with the export's own
    preprocessing (its input contract), and ``model`` (the Python autoencoder) on those
    very scaled beats as the reference, so the table compares reconstructions."""
    from browserml.export import read_manifest
    from browserml.inbrowser import compiled_forward

    manifest = read_manifest(export_dir)
    (inp,), (out,) = manifest.inputs, manifest.outputs
    x = export_scaler(export_dir).transform(x_raw)
    forward = compiled_forward(model)
    return {"inputs": {inp.name: x}, "reference": lambda d: {out.name: forward(d[inp.name])}}


def browser_scores(run: BrowserRunLike, backend: str | None = None) -> np.ndarray:
    """Anomaly scores from the page's reconstructions: the mean squared error between
    each scaled beat sent and what that backend gave back (``score: "mse"``)."""
    from browserml.inbrowser import backend_outputs

    _, outputs = backend_outputs(run, backend)
    (x,), (recon,) = run.inputs.values(), outputs.values()
    with np.errstate(over="ignore", invalid="ignore"):  # refused just below, with a message
        scores = np.mean((np.asarray(recon, np.float64) - np.asarray(x, np.float64)) ** 2, axis=1)
    return _checked_scores(scores, f"the page's ({backend or 'first backend'})")


def pick_beats(beats: ecg.Beats, classes: Sequence[int] | None = None, indices: Sequence[int] | None = None,
               n: int | None = None, seed: int = 0) -> ecg.Beats:
    """The beats a learner hands to the browser for fine-tuning: by class (ECG5000
    labels 1-5, see ``ecg.CLASS_NAMES``), by index, or both (indices first, then the
    class filter), optionally ``n`` of them drawn at random (seeded)."""
    picked = beats if indices is None else beats.subset(np.asarray(list(indices), dtype=np.intp))
    if classes is not None:
        wanted = [int(c) for c in classes]
        unknown = [c for c in wanted if c not in ecg.CLASS_NAMES]
        if unknown:
            raise AnomalyInputError(f"unknown class(es) {unknown}; ECG5000 classes are {ecg.CLASS_NAMES}")
        picked = picked.subset(np.isin(picked.y, wanted))
    if n is not None:
        if n < 1:
            raise AnomalyInputError(f"n must be at least 1, got {n}")
        if n < picked.n:
            picked = picked.subset(np.sort(np.random.default_rng(seed).choice(picked.n, size=n, replace=False)))
    if picked.n == 0:
        raise AnomalyInputError("no beats match that choice: pick other classes or indices")
    return picked


def finetune_in_browser(runtime: FitRuntime, export_dir: str | Path, beats: ecg.Beats, epochs: int = 20,
                        batch_size: int = 32, learning_rate: float = 0.005, optimizer: str = "adam",
                        backend: str = "cpu", shuffle: bool = False) -> Any:
    """Keep training the exported autoencoder in the learner's page with ``model.fit``
    on ``beats`` (scaled by the export's own preprocessing; an autoencoder's target is
    its input). Returns the runtime's job: ``fit = await job`` in a cell gives the
    per-epoch losses and the updated weights by name (a ``FitResult``)."""
    x = export_scaler(export_dir).transform(beats.x)
    return runtime.fit(export_dir, x, x, epochs=epochs, batch_size=batch_size, backend=backend,
                       optimizer=optimizer, learning_rate=learning_rate, loss="meanSquaredError", shuffle=shuffle)


@dataclass
class FineTuneReport:
    """A fine-tune done in the browser, scored by Python with the weights it sent back."""

    losses: list[float]  # per epoch, as the page's model.fit reported them
    backend: str | None
    tuned_on: int  # how many beats the page trained on
    loss_before: float  # Python's MSE on those beats with the exported weights ...
    loss_after: float  # ... and with the returned ones
    scores_before: np.ndarray  # reconstruction errors of the evaluation beats
    scores_after: np.ndarray
    labels: np.ndarray
    auc_before: float
    auc_after: float
    model: Any = field(repr=False, default=None)  # the tf_keras clone carrying the returned weights

    def table(self) -> list[dict[str, Any]]:
        return [{"weights": "exported (Python)", "loss_on_picked_beats": self.loss_before, "roc_auc": self.auc_before},
                {"weights": "fine-tuned in the browser", "loss_on_picked_beats": self.loss_after,
                 "roc_auc": self.auc_after}]

    def summary(self) -> str:
        curve = f"browser loss {self.losses[0]:.5f} → {self.losses[-1]:.5f} over {len(self.losses)} epochs " \
                f"on {self.backend}; " if self.losses else ""
        return (f"{curve}Python, on the {self.tuned_on} picked beats: MSE {self.loss_before:.5f} → "
                f"{self.loss_after:.5f}; ROC-AUC on {len(self.labels)} beats "
                f"{self.auc_before:.4f} → {self.auc_after:.4f}")

    def figure(self) -> Any:
        """The page's loss curve beside Python's ROC-AUC before and after."""
        from browserml.figures import new_figure

        fig = new_figure(8, 2.8)
        ax, ax_auc = fig.subplots(1, 2, width_ratios=[3, 2])
        if self.losses:
            epochs = np.arange(1, len(self.losses) + 1)
            ax.plot(epochs, self.losses, marker="o", ms=3, color="tab:blue",
                    label=f"model.fit in the page ({self.backend})")
        ax.axhline(self.loss_before, color="gray", ls="--", lw=1, label="Python, exported weights")
        ax.axhline(self.loss_after, color="tab:orange", ls="--", lw=1, label="Python, returned weights")
        ax.set(xlabel="epoch", ylabel="MSE on the picked beats", title=f"fine-tune on {self.tuned_on} beats")
        ax.legend(fontsize=7)
        bars = ax_auc.bar(["before", "after"], [self.auc_before, self.auc_after], color=["gray", "tab:orange"])
        ax_auc.bar_label(bars, fmt="%.4f", fontsize=8)
        low = min(self.auc_before, self.auc_after)
        ax_auc.set(ylim=(max(0.0, low - 0.05) if np.isfinite(low) else 0.0, 1.0), ylabel="ROC-AUC (Python)",
                   title=f"{len(self.labels)} beats, scored in Python")
        return fig


def score_returned_weights(trainer: Trainer, weights: Any, beats: ecg.Beats,
                           tuned_on: ecg.Beats | None = None) -> FineTuneReport:
    """Python's verdict on weights fine-tuned in the browser.

    ``weights`` is the runtime's ``FitResult`` (its losses are kept for the curve) or a
    plain ``{weight name: array}``. The trainer's model is cloned with them
    (:func:`browserml.export.clone_with_weights`), and both models score ``beats`` (e.g.
    the test split) with the trainer's scaler, which is the export's. ``tuned_on`` (the
    beats the page trained on) adds Python's MSE on them before and after.
    """
    from browserml.export import clone_with_weights

    losses: list[float] = []
    backend = None
    if hasattr(weights, "weights") and not isinstance(weights, Mapping):
        if getattr(weights, "error", None) or weights.weights is None:
            raise AnomalyInputError(f"the browser fine-tune returned no weights: {getattr(weights, 'error', None)}")
        losses, backend, weights = [float(v) for v in weights.losses], weights.backend, weights.weights
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a FitResult or a {{name: array}} mapping, got {type(weights).__name__}")
    clone = clone_with_weights(trainer.model, weights)
    scaler = trainer.data.scaler
    before, after = reconstruction_errors(trainer.model, scaler, beats.x), reconstruction_errors(clone, scaler, beats.x)
    picked = tuned_on if tuned_on is not None else beats
    loss_before = float(np.mean(reconstruction_errors(trainer.model, scaler, picked.x)))
    loss_after = float(np.mean(reconstruction_errors(clone, scaler, picked.x)))
    return FineTuneReport(losses, backend, picked.n, loss_before, loss_after, before, after, beats.y.copy(),
                          roc_auc(before, beats.y), roc_auc(after, beats.y), clone)
