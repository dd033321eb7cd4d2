"""A 2-D map of a layer's features with UMAP, as ConvNet Playground draws one per layer.

UMAP's picture depends on its settings and on the machine (thread count, numba), so
lessons and tests compare *what the map says* — whether classes separate — never its
coordinates. ``random_state`` is always set: the same features and settings give the
same picture on one machine (and UMAP then runs single-threaded).

The first fit in a process compiles UMAP's numba code: 20–40 s on two cores. Later
fits of a few hundred points take well under a second.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from browserml.memory import release

UMAP_METRICS: tuple[str, ...] = ("cosine", "euclidean", "manhattan", "correlation")


@dataclass(frozen=True)
class UmapParams:
    """What a UMAP layout depends on besides the features."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    random_state: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.n_neighbors, bool) or not isinstance(self.n_neighbors, (int, np.integer)) \
                or self.n_neighbors < 2:
            raise ValueError(f"UMAP n_neighbors must be an int >= 2, got {self.n_neighbors!r}")
        if not 0.0 <= float(self.min_dist) <= 1.0:
            raise ValueError(f"UMAP min_dist must be in [0, 1], got {self.min_dist!r}")
        if self.metric not in UMAP_METRICS:
            raise ValueError(f"UMAP metric must be one of {', '.join(UMAP_METRICS)}, got {self.metric!r}")

    def for_points(self, n: int) -> UmapParams:
        """The same settings with ``n_neighbors`` capped below the number of points."""
        if n < 3:
            raise ValueError(f"UMAP needs at least 3 points, got {n}")
        return UmapParams(min(self.n_neighbors, n - 1), self.min_dist, self.metric, self.random_state)


def umap_embedding(features: np.ndarray, params: UmapParams = UmapParams()) -> np.ndarray:
    """UMAP of ``features`` (N, D) to (N, 2) float64, checked finite."""
    import umap

    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or not np.all(np.isfinite(features)):
        raise ValueError(f"UMAP needs a finite (N, D) feature matrix, got shape {features.shape}")
    p = params.for_points(len(features))
    reducer = umap.UMAP(n_neighbors=p.n_neighbors, min_dist=p.min_dist, metric=p.metric, random_state=p.random_state)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*random_state.*", category=UserWarning)
        points = np.asarray(reducer.fit_transform(features), dtype=np.float64)
    del reducer
    release()  # UMAP's neighbour graph and numba's scratch: Binder's kernel is small
    if points.shape != (len(features), 2) or not np.all(np.isfinite(points)):
        raise RuntimeError(f"UMAP gave {points.shape} points with non-finite values; try other settings")
    return points


def nearest_point(points: np.ndarray, x: float, y: float) -> int:
    """Index of the embedded point nearest ``(x, y)``: a click on the map becomes a query."""
    points = np.asarray(points)
    return int(np.argmin((points[:, 0] - x) ** 2 + (points[:, 1] - y) ** 2))


def neighbourhood_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of each point's k nearest map neighbours that have its class: a number that
    says whether the map separates classes, stable where coordinates are not."""
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())
