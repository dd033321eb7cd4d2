"""Re-convert handtrack.js's detector with today's converter, and prove nothing changed.

The shipped models were made by TF.js converter 3.5.0 from TF 2.4.1. Loading one into
TensorFlow (:mod:`browserml.handtrack.graph`) and converting it back with
``tensorflowjs`` 4.22 closes the loop: the lesson shows that the float32 result is
the shipped ``base`` model to the last bit in TF.js, and what float16 and uint8
weights cost in size and in accuracy.

The export is a SavedModel whose only signature takes ``input_tensor`` (int32
``[1, h, w, 3]``, RGB 0..255) and returns ``boxes`` ``[1, N, 1, 4]`` and ``scores``
``[1, N, 7]``: the raw tensors handtrack.js fetches, in the same shapes, so its
post-processing (max score per box, NMS on the CPU) works unchanged, with the
Object Detection API's NMS stage (7 ``NonMaxSuppressionV5`` and a while loop) gone.
Clients select the outputs by these names (``executeAsync(x, ['boxes', 'scores'])``),
never by position: the order differs between conversion routes.

One converter setting matters: ``tensorflowjs`` 4.22 runs grappler's ``arithmetic``
pass, which rewrites the FPN's nearest-neighbour upsampling (a ``Pack`` of copies)
into ``Tile``; the wasm backend runs that 10-20 % slower. The converter has no option
for it, so :func:`grappler_without` drops the pass for the duration of a conversion by
wrapping the converter's ``_run_grappler`` (the one function every grappler run of
``optimize_graph`` goes through).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.atomic import atomic_directory
from browserml.compat import import_tensorflowjs, tensorflow_log_filter
from browserml.errors import BadInput
from browserml.export import (
    FLOAT32_TOLERANCE,
    export_graph_model,
    list_shards,
    model_card,
    read_manifest,
)
from browserml.handtrack.graph import (
    INPUT_NAME,
    RAW_OUTPUTS,
    HandGraph,
    load_graph,
    load_graph_dir,
    run_tfjs_raw,
    sample_pixels,
)
from browserml.handtrack.models import DEFAULT_MODEL_TYPE, LABELS, PACKAGE, VERSION, size_folder
from browserml.memory import release
from browserml.tfjs_check import has_node

TASK = "hand-detection-raw"
VARIANTS: tuple[str, ...] = ("base", "float16", "uint8")
QUANTIZATION: dict[str, str | None] = {"base": None, "float16": "float16", "uint8": "uint8"}
# The shipped model (handtrack.js modelSize) each variant corresponds to.
COUNTERPART: dict[str, str] = {"base": "large", "float16": "medium", "uint8": "small"}
SKIPPED_GRAPPLER_PASSES: tuple[str, ...] = ("arithmetic",)
OUTPUT_NAMES: tuple[str, ...] = ("boxes", "scores")
# The parity sample is a small frame: the graph resizes any input to its own size, and a
# 60x80 frame keeps browserml.json's input short (the outputs are 12,804 x 11 numbers).
PARITY_SHAPE = (60, 80)


class ConversionError(BadInput):
    """A re-conversion was asked for with arguments that cannot work."""


@dataclass(frozen=True)
class ConversionRow:
    """One re-converted variant: its download, its speed, and how far it is from the shipped model."""

    variant: str
    quantization: str | None
    bytes: int  # the weight shards
    shards: int
    python_ms: float  # median TF (Python) latency of the re-converted model, loaded back
    tfjs_ms: float  # median TF.js latency under Node (wasm); NaN where there is no Node
    max_diff_vs_shipped: float  # max |Δ| of boxes and scores vs the shipped base model, both in TF.js
    max_diff_vs_counterpart: float  # the same vs the shipped model of the same precision (fp16, int8)
    folder: Path
    compared_in: str = "TF.js (Node, wasm)"  # or Python TensorFlow, where there is no Node (Colab)

    @property
    def mib(self) -> float:
        return self.bytes / 2**20


@contextlib.contextmanager
def grappler_without(passes: Sequence[str] = SKIPPED_GRAPPLER_PASSES) -> Iterator[None]:
    """Within the block, ``tensorflowjs``'s converter runs grappler without ``passes`` (none
    removed with ``passes=()``), and its C++ start-up lines stay out of the output.

    ``optimize_graph`` hard-codes its optimizer list ('pruning', 'constfold',
    'arithmetic', 'dependency', then 'remap', ...) and calls ``_run_grappler`` for each
    round; the wrapper removes the named passes from the config it is given. Not
    thread-safe (it swaps a module attribute), like the converter itself.
    """
    import_tensorflowjs()
    from tensorflowjs.converters import tf_saved_model_conversion_v2 as conversion

    original = conversion._run_grappler

    def run_without(config: Any, graph_def: Any, graph: Any, signature_def: Any) -> Any:
        optimizers = config.graph_options.rewrite_options.optimizers
        optimizers[:] = [name for name in optimizers if name not in passes]
        return original(config, graph_def, graph, signature_def)

    conversion._run_grappler = run_without
    try:
        with tensorflow_log_filter():  # grappler's C++ "Starting new session" lines, before abseil's settings
            yield
    finally:
        conversion._run_grappler = original


@contextlib.contextmanager
def _without_info_logs() -> Iterator[None]:
    """TensorFlow's Python logger at WARNING for a block: in a notebook (an interactive
    session) TensorFlow logs at INFO, and every SavedModel it writes prints "Assets written
    to: /tmp/..." twice. Warnings and errors still show."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def write_saved_model(hand: HandGraph, folder: str | Path) -> Path:
    """Save ``hand`` as the SavedModel handtrack.js's author converted: one signature,
    ``serving_default``, taking ``input_tensor`` (int32 ``[1, h, w, 3]``) and returning the raw
    ``boxes`` and ``scores``, with the Object Detection API's NMS stage already cut away.

    ``tensorflowjs_converter --input_format tf_saved_model`` keeps exactly the signature's
    outputs, so the cut is made here, in the SavedModel. ``folder`` must not exist yet."""
    import tensorflow as tf

    folder = Path(folder)
    if folder.exists():
        raise ConversionError(f"{folder} already exists; give a new folder for the SavedModel")
    with _without_info_logs():
        tf.saved_model.save(tf.Module(), str(folder), signatures={"serving_default": hand.concrete})
    return folder


@dataclass(frozen=True)
class ConversionComparison:
    """Two TF.js graph model folders, compared file by file: the graph, the weights manifest,
    and the bytes of the weights (the shards, concatenated, as TF.js reads them)."""

    same_graph: bool
    same_manifest: bool
    same_weights: bool
    ops_only_in_first: tuple[str, ...]
    ops_only_in_second: tuple[str, ...]
    nodes: tuple[int, int]
    weight_bytes: tuple[int, int]

    @property
    def identical(self) -> bool:
        return self.same_graph and self.same_manifest and self.same_weights

    def __str__(self) -> str:
        if self.identical:
            return (f"identical: the same graph ({self.nodes[0]} nodes), the same weights manifest and the same "
                    f"{self.weight_bytes[0]:,} bytes of weights")
        parts = [f"graph {'the same' if self.same_graph else 'differs'} ({self.nodes[0]} vs {self.nodes[1]} nodes)",
                 f"weights {'the same' if self.same_weights else 'differ'} "
                 f"({self.weight_bytes[0]:,} vs {self.weight_bytes[1]:,} bytes)"]
        if self.ops_only_in_first or self.ops_only_in_second:
            parts.append(f"ops only in the first: {list(self.ops_only_in_first)}, "
                         f"only in the second: {list(self.ops_only_in_second)}")
        return "; ".join(parts)


def compare_conversions(first: str | Path, second: str | Path) -> ConversionComparison:
    """Compare two converted graph models (``model.json`` + shards) for equality.

    ``generatedBy``/``convertedBy`` are ignored (the same converter writes the same strings);
    the graph is compared node by node, the weights byte for byte."""
    import hashlib

    from browserml.manifest import read_model_json

    models = [read_model_json(first), read_model_json(second)]
    topologies = [m.get("modelTopology", {}) for m in models]
    manifests = [m.get("weightsManifest", []) for m in models]
    blobs = [b"".join((Path(folder) / path).read_bytes() for group in manifest for path in group["paths"])
             for folder, manifest in zip((first, second), manifests)]
    ops = [{n["op"] for n in t.get("node", [])} for t in topologies]
    return ConversionComparison(
        same_graph=topologies[0] == topologies[1] and models[0].get("signature") == models[1].get("signature"),
        same_manifest=[g["weights"] for g in manifests[0]] == [g["weights"] for g in manifests[1]],
        same_weights=hashlib.sha256(blobs[0]).digest() == hashlib.sha256(blobs[1]).digest(),
        ops_only_in_first=tuple(sorted(ops[0] - ops[1])), ops_only_in_second=tuple(sorted(ops[1] - ops[0])),
        nodes=(len(topologies[0].get("node", [])), len(topologies[1].get("node", []))),
        weight_bytes=(len(blobs[0]), len(blobs[1])),
    )


def _float32_lists(value: Any) -> Any:
    """Nested lists of float32's shortest decimal digits: the values TF.js computes in,
    written in ~10 characters instead of float64's ~20 (the change is under 1e-7)."""
    arr = np.asarray(value, dtype=np.float32)
    return np.asarray([float(x) for x in arr.ravel().astype(str)]).reshape(arr.shape).tolist()


def _finish_manifest(folder: Path, dequantized: dict[str, np.ndarray] | None) -> None:
    """Rewrite an export's ``browserml.json`` (and model card) for this detector.

    - A quantized export's parity outputs become what its *dequantized* weights
      compute (the model loaded back from the folder), so TF.js must still match them
      to 1e-5; the quantization error is kept beside them.
    - The parity outputs are 12,804 x 11 numbers: written compactly with float32
      digits, browserml.json is ~1.9 MB instead of ~6 MB (indented float64).
    """
    manifest = read_manifest(folder)
    outputs = manifest.parity_arrays("outputs")
    if dequantized is not None:
        manifest.parity["quantization_error"] = max(
            float(np.max(np.abs(outputs[k] - dequantized[k]))) for k in outputs
        )
        manifest.parity["tolerance"] = FLOAT32_TOLERANCE
        outputs = dequantized
    manifest.parity["outputs"] = {k: _float32_lists(outputs[k]) for k in manifest.parity["outputs"]}
    (folder / "browserml.json").write_text(json.dumps(manifest.to_json(), separators=(",", ":")) + "\n",
                                           encoding="utf-8")
    (folder / "README.md").write_text(model_card(manifest), encoding="utf-8")


def export_variant(hand: HandGraph, folder: str | Path, variant: str, parity_pixels: np.ndarray) -> Path:
    """Export ``hand`` to ``folder`` as one TF.js graph model variant (4 MiB shards)."""
    if variant not in QUANTIZATION:
        raise ConversionError(f"unknown variant {variant!r}; choose from {VARIANTS}")
    quantization = QUANTIZATION[variant]
    folder = Path(folder)
    labels = [LABELS[k] for k in sorted(LABELS)]
    with grappler_without(), _without_info_logs():
        export_graph_model(
            hand.function, folder, task=TASK, parity_inputs={INPUT_NAME: parity_pixels},
            title=f"handtrack.js {hand.model_type} raw detector ({variant})",
            description=(
                f"{PACKAGE}@{VERSION}'s {hand.model_type} hand detector ({size_folder(hand.size)} weights), "
                "re-converted by browserml without its NMS post-processing. Feed RGB 0..255 as int32 "
                f"[1, h, w, 3] (any size; the graph resizes to {hand.input_size}x{hand.input_size}); "
                "`scores[0, i, j]` is the sigmoid score of class j + 1 for box i, "
                "`boxes[0, i, 0]` its normalised (ymin, xmin, ymax, xmax). "
                "Then do as handtrack.js: max score per box, NMS (20 boxes, IoU 0.2, score 0.6)."
            ),
            labels=labels, quantization=quantization,
            # A quantized export's tolerance is set below, once its dequantized outputs are known.
            parity_tolerance=None if quantization is None else 1.0,
            extra={
                "model_type": hand.model_type, "source": f"{PACKAGE}@{VERSION}/{size_folder(hand.size)}",
                "input_size": hand.input_size, "shipped_output_nodes": RAW_OUTPUTS,
                "box_format": "ymin,xmin,ymax,xmax (normalised)", "class_index": "column j is class j + 1",
                "grappler_passes_skipped": list(SKIPPED_GRAPPLER_PASSES),
            },
        )
    dequantized = None
    if quantization is not None:
        dequantized = load_graph_dir(folder, hand.model_type, variant).run(parity_pixels)
    _finish_manifest(folder, dequantized)
    return folder


def _python_ms(hand: HandGraph, pixels: np.ndarray, repeats: int) -> float:
    hand.raw(pixels)  # warm-up: the first call optimises the graph
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        hand.raw(pixels)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _shipped_outputs(model_type: str, size: str, pixels: np.ndarray, in_tfjs: bool) -> dict[str, np.ndarray]:
    """A shipped model's raw outputs, keyed boxes/scores: in TF.js (Node, wasm), or where
    there is no Node, in Python TensorFlow (the same graph, loaded from its model.json)."""
    from browserml.handtrack.models import model_dir

    if not in_tfjs:
        return dict(zip(OUTPUT_NAMES, load_graph(model_type, size).raw(pixels)))
    result = run_tfjs_raw(model_dir(model_type, size), pixels, [RAW_OUTPUTS[k] for k in OUTPUT_NAMES])
    return {k: result.outputs[RAW_OUTPUTS[k]] for k in OUTPUT_NAMES}


def _max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)))) for k in a)


def reconvert(
    out_dir: str | Path,
    model_type: str = DEFAULT_MODEL_TYPE,
    source_size: str = "large",
    variants: Sequence[str] = VARIANTS,
    pixels: np.ndarray | None = None,
    repeats: int = 5,
) -> list[ConversionRow]:
    """Re-convert a shipped model into ``out_dir/<variant>/`` and measure each variant.

    Every variant is a browserml export (``browserml.json`` with a parity sample that
    :func:`browserml.tfjs_check.check_parity` checks at 1e-5, model card, 4 MiB shards);
    ``out_dir`` is written all at once. Each row compares the variant with the shipped
    ``base`` model, both run in TF.js (Node, wasm) on the same int32 ``pixels``
    (default :func:`~browserml.handtrack.graph.sample_pixels`).
    """
    unknown = [v for v in variants if v not in QUANTIZATION]
    if unknown or not variants:
        raise ConversionError(f"variants must be a non-empty subset of {VARIANTS}, got {list(variants)}")
    pixels = sample_pixels() if pixels is None else pixels
    hand = load_graph(model_type, source_size)
    parity_pixels = sample_pixels(*PARITY_SHAPE)
    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as staging:
        for variant in variants:
            export_variant(hand, staging / variant, variant, parity_pixels)
            release()  # each SavedModel + conversion's scratch: Binder gives a kernel little memory
    in_tfjs = has_node()
    shipped = {size: _shipped_outputs(model_type, size, pixels, in_tfjs)
               for size in {"large", *(COUNTERPART[v] for v in variants)}}
    rows = []
    for variant in variants:
        folder = out_dir / variant
        reloaded = load_graph_dir(folder, model_type, variant)
        if in_tfjs:
            tfjs = run_tfjs_raw(folder, pixels, OUTPUT_NAMES, repeats=repeats)
            outputs, tfjs_ms = tfjs.outputs, tfjs.latency_ms
        else:
            outputs, tfjs_ms = dict(zip(OUTPUT_NAMES, reloaded.raw(pixels))), float("nan")
        shards = list_shards(folder)
        rows.append(ConversionRow(
            variant=variant, quantization=QUANTIZATION[variant],
            bytes=sum(p.stat().st_size for p in shards), shards=len(shards),
            python_ms=_python_ms(reloaded, pixels, repeats),
            tfjs_ms=tfjs_ms, max_diff_vs_shipped=_max_diff(shipped["large"], outputs),
            max_diff_vs_counterpart=_max_diff(shipped[COUNTERPART[variant]], outputs), folder=folder,
            compared_in="TF.js (Node, wasm)" if in_tfjs else "Python TensorFlow (no Node here)",
        ))
        del reloaded
        release()
    return rows


def format_rows(rows: Sequence[ConversionRow]) -> str:
    """The rows as a small text table for a notebook or the CLI."""
    head = (f"{'variant':8s} {'MiB':>6s} {'shards':>6s} {'Python ms':>9s} {'TF.js ms':>8s} "
            f"{'max|Δ| vs base':>14s} {'vs same size':>12s}")
    return "\n".join([head] + [
        f"{r.variant:8s} {r.mib:6.2f} {r.shards:6d} {r.python_ms:9.1f} {r.tfjs_ms:8.1f} "
        f"{r.max_diff_vs_shipped:14.2e} {r.max_diff_vs_counterpart:12.2e}"
        for r in rows
    ] + [f"(outputs compared in {rows[0].compared_in})"] * bool(rows))
