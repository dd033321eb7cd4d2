"""EfficientNet-Lite's forward pass in plain NumPy, straight from the PyTorch state dict.

This is the witness for :func:`browserml.imagesearch.lite.build_efficientnet_lite`:
a Keras model with a transposed kernel, a symmetric pad where TF pads asymmetrically,
or a BN epsilon off by 10x still classifies plausibly, so "the cat is a cat" proves
little. Here nothing comes from Keras: weights stay in PyTorch's layouts (``(out, in,
kh, kw)`` convs, ``(C, 1, kh, kw)`` depthwise, un-fused BN statistics), TF ``'SAME'``
padding is computed by hand, and convolutions are explicit window sums. Only the
architecture *description* (block list, widths) is shared with ``lite``. Everything is
computed in float64, so differences from the float32 Keras model are Keras's rounding.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from browserml.imagesearch.lite import (
    BN_EPSILON,
    RELU6_MAX,
    VariantLike,
    block_specs,
    check_state_dict,
    get_variant,
)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF ``'SAME'``: output ``ceil(size / stride)``; the pad is split with the extra pixel *after*.

    Returns ``(pad_before, pad_after, output_size)``.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def _pad_same(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, int, int]:
    top, bottom, out_h = same_padding(x.shape[1], kernel, stride)
    left, right, out_w = same_padding(x.shape[2], kernel, stride)
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))), out_h, out_w


def conv2d(x: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """NHWC ``x`` convolved with a PyTorch ``(out, in, kh, kw)`` kernel, TF 'SAME' padding, no bias."""
    out_c, in_c, kh, kw = weight.shape
    if kh == kw == 1 and stride == 1:
        # one (N*H*W, C) x (C, out) product: a 4-D ``@`` would loop over small per-row products
        return (x.reshape(-1, in_c) @ weight[:, :, 0, 0].T).reshape(*x.shape[:3], out_c)
    padded, out_h, out_w = _pad_same(x, kh, stride)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))
    windows = windows[:, : (out_h - 1) * stride + 1 : stride, : (out_w - 1) * stride + 1 : stride]
    return np.einsum("nhwcij,ocij->nhwo", windows, weight, optimize=True)


def depthwise_conv2d(x: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """NHWC ``x`` convolved channel by channel with a PyTorch ``(C, 1, kh, kw)`` kernel, TF 'SAME'."""
    _, _, kh, kw = weight.shape
    padded, out_h, out_w = _pad_same(x, kh, stride)
    out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]), dtype=x.dtype)
    span_h, span_w = (out_h - 1) * stride + 1, (out_w - 1) * stride + 1
    for i in range(kh):
        for j in range(kw):
            out += padded[:, i : i + span_h : stride, j : j + span_w : stride] * weight[:, 0, i, j]
    return out


def batch_norm(x: np.ndarray, state: Mapping[str, np.ndarray], prefix: str) -> np.ndarray:
    """Inference BN from the running statistics, as PyTorch stores them (not folded)."""
    mean, var = state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"]
    gamma, beta = state[f"{prefix}.weight"], state[f"{prefix}.bias"]
    return (x - mean) / np.sqrt(var + BN_EPSILON) * gamma + beta


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, RELU6_MAX)


def forward(state: Mapping[str, np.ndarray], images: np.ndarray, variant: VariantLike) -> np.ndarray:
    """ImageNet logits ``(N, 1000)`` (float64) for preprocessed NHWC ``images``.

    ``images`` are the model's inputs (after :func:`browserml.imagesearch.lite.preprocess`).
    The state dict is checked against the variant first, so a mismatch is a clear
    error rather than a broadcasting failure halfway through.
    """
    spec = get_variant(variant)
    check_state_dict(state, spec)
    s = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4 or x.shape[3] != 3:
        raise ValueError(f"images must be a preprocessed (N, H, W, 3) batch, got shape {x.shape}")
    x = relu6(batch_norm(conv2d(x, s["_conv_stem.weight"], 2), s, "_bn0"))
    for block in block_specs(spec):
        t = f"_blocks.{block.index}"
        inputs = x
        if block.has_expand:
            x = relu6(batch_norm(conv2d(x, s[f"{t}._expand_conv.weight"], 1), s, f"{t}._bn0"))
        x = depthwise_conv2d(x, s[f"{t}._depthwise_conv.weight"], block.stride)
        x = relu6(batch_norm(x, s, f"{t}._bn1"))
        x = batch_norm(conv2d(x, s[f"{t}._project_conv.weight"], 1), s, f"{t}._bn2")
        if block.has_residual:
            x = x + inputs
    x = relu6(batch_norm(conv2d(x, s["_conv_head.weight"], 1), s, "_bn1"))
    pooled = x.mean(axis=(1, 2))
    return pooled @ s["_fc.weight"].T + s["_fc.bias"]
