"""Lesson 3 in the learner's own page: the query's features from TF.js, the search in Python.

The export's page computes a query's features in TF.js and searches ``gallery.bin``
itself. Here the split is the hybrid one: the notebook page runs the feature
extractor (the export's input contract: ``resize(RGB 0-255) * scale + offset`` from
``browserml.json``), and Python searches the gallery with the features the browser
sent back. The top ``k`` must be the same images, in the same order, as a search with
Python's own features.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.inbrowser import BrowserRequest, BrowserRunLike, backend_outputs


def export_preprocess(export_dir: str | Path, images: np.ndarray) -> np.ndarray:
    """Images as the export's model takes them, by its ``browserml.json`` alone:
    half-pixel bilinear resize to ``size`` (TF.js's ``resizeBilinear(x, size, false,
    true)``), then ``x * scale + offset``, float32 ``[N, H, W, 3]``."""
    from browserml.export import read_manifest
    from browserml.imagesearch.backbones import resize_images

    pre = read_manifest(export_dir).preprocessing or {}
    if pre.get("kind") != "affine":
        raise ValueError(f"{export_dir} declares no affine preprocessing (got {pre.get('kind')!r}); "
                         "is it a lesson-3 image-search export?")
    size = (int(pre["size"][0]), int(pre["size"][1]))
    x = resize_images(np.asarray(images), size)
    return (x * np.float32(pre["scale"]) + np.float32(pre["offset"])).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _feature_model(backbone: str, layer: str, pooling: str) -> Any:
    from browserml.imagesearch.backbones import load_backbone
    from browserml.imagesearch.features import feature_model

    return feature_model(load_backbone(backbone), layer, pooling)


def python_feature_model(export_dir: str | Path) -> Any:
    """Python's own extractor for an export: the backbone, layer and pooling its
    ``browserml.json`` names, built from the lesson's weights (not read from the
    export), so the comparison is Python against TF.js rather than TF.js against itself."""
    from browserml.export import read_manifest

    extra = read_manifest(export_dir).extra
    missing = [k for k in ("backbone", "layer", "pooling") if k not in extra]
    if missing:
        raise ValueError(f"{export_dir}: browserml.json's extra lacks {missing}; is it a lesson-3 export?")
    return _feature_model(str(extra["backbone"]), str(extra["layer"]), str(extra["pooling"]))


def browser_request(export_dir: str | Path, image: np.ndarray, model: Any = None) -> BrowserRequest:
    """Features of one query image (uint8 RGB ``(H, W, 3)``) in the page: the image
    preprocessed by the export's contract, and Python's extractor (``model``, default
    :func:`python_feature_model`) on the same input as the reference."""
    from browserml.export import read_manifest
    from browserml.inbrowser import compiled_forward

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"the query must be one uint8 RGB image (H, W, 3), got {image.dtype} {image.shape}")
    manifest = read_manifest(export_dir)
    (inp,), (out,) = manifest.inputs, manifest.outputs
    forward = compiled_forward(model if model is not None else python_feature_model(export_dir))
    return {"inputs": {inp.name: export_preprocess(export_dir, image[None])},
            "reference": lambda d: {out.name: forward(d[inp.name])}}


@dataclass
class SearchComparison:
    """The gallery searched with the browser's query features and with Python's."""

    backend: str
    browser_top: list[int]
    python_top: list[int]
    max_feature_diff: float  # |browser features - Python features|, largest
    max_distance_diff: float  # between the two searches' distances, rank by rank
    metric: str

    @property
    def same(self) -> bool:
        """The same gallery images, in the same order."""
        return self.browser_top == self.python_top

    def summary(self) -> str:
        verdict = "the same" if self.same else "DIFFERENT"
        return (f"features from {self.backend}: max |Δ| {self.max_feature_diff:.1e} vs Python; "
                f"top {len(self.python_top)} by {self.metric}: {verdict} ({self.browser_top[:5]}…)")


def search_with_browser_features(run: BrowserRunLike, export_dir: str | Path, k: int = 15,
                                 backend: str | None = None, exclude: list[int] | None = None) -> SearchComparison:
    """Search the export's gallery (``gallery.bin``, by its own metric) with the query
    features ``backend`` computed in the page, and with Python's (the run's reference)."""
    from browserml.imagesearch.export import read_gallery
    from browserml.imagesearch.search import top_k

    if run.expected is None:
        raise ValueError("this run has no Python reference features; make it with browser_request(...)")
    name, outputs = backend_outputs(run, backend)
    meta, gallery = read_gallery(export_dir)
    (mine,), (theirs,) = outputs.values(), run.expected.values()
    mine = np.asarray(mine, np.float32).reshape(-1)
    theirs = np.asarray(theirs, np.float32).reshape(-1)
    metric = str(meta.get("metric", "cosine"))
    found = top_k(gallery, mine, k=k, metric=metric, exclude=exclude)
    wanted = top_k(gallery, theirs, k=k, metric=metric, exclude=exclude)
    return SearchComparison(name, found.indices.tolist(), wanted.indices.tolist(),
                            float(np.max(np.abs(mine - theirs))),
                            float(np.max(np.abs(found.distances - wanted.distances))), metric)
