"""One whole run of lesson 5 outside the notebook: train a network, export its page, check it.

What ``browserml playground`` does, as functions the command line only calls and prints:
:func:`train_and_export` seeds, builds the :class:`~browserml.playground.state.PlaygroundState`,
trains for a number of epochs (reporting a line about every fifth of them) and exports the
TF.js layers model with its decision-boundary page; :func:`check_pages` runs that page in
Chromium on each backend and says whether its grid matches Python's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from browserml.playground.model import GRID_RESOLUTION, PlaygroundConfig
from browserml.playground.state import PlaygroundState


def _epoch_line(state: PlaygroundState, seconds: float | None = None) -> str:
    config = state.config
    stats = state.history[-1]
    text = f"  epoch {stats.epoch:4d}: train loss {stats.train_loss:.4f}, test loss {stats.test_loss:.4f}"
    if config.task == "classification":
        text += f", test accuracy {state.accuracy('test'):.1%}"
    return text + ("" if seconds is None else f"  ({seconds:.1f} s)")


def train_and_export(
    config: PlaygroundConfig, epochs: int, out: str | Path, report: Callable[[str], object] = print
) -> tuple[PlaygroundState, Path]:
    """Seed, train ``config``'s network for ``epochs`` epochs, export it to ``out``.

    Each step is described to ``report`` as one line (the network, the loss every fifth
    of the epochs, the time taken, the accuracies, where the export went). Returns the
    trained state and the export folder. ``epochs`` below 0 is a ``ValueError``.
    """
    from browserml.seeding import seed_everything

    if epochs < 0:
        raise ValueError(f"--epochs must be 0 or more, got {epochs}")
    seed_everything(config.seed)
    state = PlaygroundState(config)
    hidden = f"hidden {list(config.hidden)} {config.activation}" if config.hidden else "no hidden layer"
    report(f"playground[{config.dataset}]: {', '.join(config.features)} -> {hidden} -> 1 "
           f"({'tanh' if config.task == 'classification' else 'linear'}); {len(state.data.train_xy)} training, "
           f"{len(state.data.test_xy)} test points; SGD lr {config.learning_rate}, batch {config.batch_size}")
    report(_epoch_line(state))
    start = time.perf_counter()
    chunk = max(1, epochs // 5)
    while state.epoch < epochs:
        state.step(min(chunk, epochs - state.epoch))
        report(_epoch_line(state, time.perf_counter() - start))
    if epochs:
        report(f"  {epochs} epochs in {time.perf_counter() - start:.1f} s "
               f"({(time.perf_counter() - start) / epochs * 1000:.1f} ms/epoch, losses included)")
    if config.task == "classification":
        report(f"  accuracy: train {state.accuracy('train'):.1%}, test {state.accuracy('test'):.1%}")
    folder = state.export(out)
    report(f"exported TF.js layers model and its decision-boundary page to {folder}")
    return state, folder


@dataclass(frozen=True)
class PageCheck:
    """The exported page's decision-boundary grid, run in Chromium on one backend."""

    backend: str
    max_abs_diff: float
    tolerance: float
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def line(self) -> str:
        grid = f"{GRID_RESOLUTION}x{GRID_RESOLUTION}"
        return (f"  page      {self.backend:6s} grid {grid} max|Δ|={self.max_abs_diff:.2e} "
                f"{self.latency_ms:8.3f} ms  {'ok' if self.ok else 'FAIL'}")


def check_pages(export_dir: Path, backends: Sequence[str], runs: int = 10) -> Iterator[PageCheck]:
    """Run the exported page in Chromium on each backend in turn, one :class:`PageCheck` each."""
    from browserml.tfjs_check import run_export_page

    for backend in backends:
        page = run_export_page(export_dir, backend=backend, params={"runs": runs})
        yield PageCheck(backend, page["maxAbsDiff"], page["tolerance"], page["latencyMs"])
