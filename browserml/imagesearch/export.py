"""Ship image search to the browser: a TF.js feature extractor plus a feature index.

``exports/imagesearch/`` is one self-contained folder a static server can host:

- the float32 feature extractor (EfficientNet-Lite up to the chosen layer, then
  pooling) as a TF.js layers model at the top, with ``float16/`` and ``uint8/``
  variants beside it — the same network at 1/2 and 1/4 of the download;
- ``gallery.json`` + ``gallery.bin``: the searchable index (every gallery image's
  features, little-endian float32, computed by the very same extractor), with labels,
  class names and a thumbnail sprite ``gallery.jpg``;
- ``queries/*.png``: sample query images at full resolution (PNG, so the browser sees
  the exact pixels Python saw);
- ``index.html``: pick or drop an image, compute its features in TF.js, search, show
  the top 15.

``browserml.json`` gives ``"preprocessing": {"kind": "affine", "size": [H, W],
"scale": s, "offset": o}``: model input = resize(RGB 0–255) × s + o. The whole folder
is staged and renamed into place, so a failed export never leaves half a gallery.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.atomic import atomic_directory
from browserml.data.images import ImageSet, load_image_set
from browserml.export import clone_with_weights, export_layers_model, list_shards, read_weights
from browserml.imagesearch.applications import resolve_layer
from browserml.imagesearch.backbones import DEFAULT_BACKBONE, load_backbone
from browserml.imagesearch.features import Progress, cached_features, extract_features, feature_model
from browserml.imagesearch.search import evaluate
from browserml.memory import release
from browserml.pages import page_files
from browserml.png import encode_png

DEFAULT_LAYER = "head_relu"
DEFAULT_DATASET = "FASHION200"
VARIANTS: tuple[str, ...] = ("float16", "uint8")
# The bar: TF.js features equal Python's to 1e-4 (a 100-layer float32 CNN sums
# in a different order per kernel; 1e-5 is below that noise).
PARITY_TOLERANCE = 1e-4
THUMB = 64
SPRITE_COLUMNS = 20


@dataclass
class VariantRow:
    """One line of the size / parity / score table."""

    variant: str
    bytes: int
    shards: int
    max_feature_error: float  # vs the float32 extractor, on the whole gallery (Python, exported weights)
    mean_score: float  # ConvNet Playground's weighted score with this variant's features
    tfjs_parity: float | None = None  # filled in by a TF.js check


def _sprite(images: np.ndarray) -> bytes:
    """All gallery images as one JPEG of THUMB-pixel tiles (one request, not 200)."""
    from PIL import Image

    rows = -(-len(images) // SPRITE_COLUMNS)
    sheet = Image.new("RGB", (SPRITE_COLUMNS * THUMB, rows * THUMB), "white")
    for i, img in enumerate(images):
        tile = Image.fromarray(np.asarray(img, dtype=np.uint8)).resize((THUMB, THUMB), Image.Resampling.BILINEAR)
        sheet.paste(tile, ((i % SPRITE_COLUMNS) * THUMB, (i // SPRITE_COLUMNS) * THUMB))
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


@contextlib.contextmanager
def _quiet_tensorflow() -> Iterator[None]:
    """Hide TF's Python-side warnings (retracing, "compiled metrics") for a block."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def sample_queries(labels: np.ndarray) -> list[int]:
    """One gallery image per class (the first of each), the page's sample queries."""
    return [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]


def _folder_bytes(folder: Path) -> tuple[int, int]:
    shards = list_shards(folder)
    return sum(p.stat().st_size for p in shards) + (folder / "model.json").stat().st_size, len(shards)


def export_imagesearch(
    out_dir: str | Path,
    backbone: str = DEFAULT_BACKBONE,
    layer: int | str = DEFAULT_LAYER,
    pooling: str = "avg",
    dataset: str | ImageSet = DEFAULT_DATASET,
    metric: str = "cosine",
    variants: Sequence[str] = VARIANTS,
    progress: Progress | None = None,
) -> list[VariantRow]:
    """Export extractor (+ quantized variants), gallery index and page; return the table.

    Each variant's row measures, in Python with the weights exactly as exported, the
    largest feature difference from float32 over the whole gallery and the search
    score those features give — what quantization costs, in the lesson's own metric.
    """
    bb = load_backbone(backbone, "imagenet")
    if bb.preprocessing_json is None:
        raise ValueError(f"{backbone} has no affine preprocessing a browser client can reproduce; "
                         "export an EfficientNet-Lite backbone")
    model = feature_model(bb, layer, pooling)
    layer_name = resolve_layer(bb.model, layer).name
    images = dataset if isinstance(dataset, ImageSet) else load_image_set(dataset)
    features = cached_features(images, bb, layer, pooling, progress=progress)
    score = evaluate(features, images.labels, metric=metric).mean_score
    queries = sample_queries(images.labels)
    parity_image = bb.preprocess(images.images[queries[0]:queries[0] + 1])

    gallery = {
        "dataset": images.name, "description": images.description, "source": images.source,
        "class_names": list(images.class_names), "labels": [int(v) for v in images.labels],
        "count": len(features), "dim": int(features.shape[1]), "dtype": "float32",
        "byte_order": "little", "metric": metric, "k": 15,
        "thumb": THUMB, "sprite_columns": SPRITE_COLUMNS,
        "queries": [{"index": q, "file": f"queries/{q:03d}.png"} for q in queries],
        "backbone": bb.name, "layer": layer_name, "pooling": pooling,
        "python_mean_score": float(score),
    }
    common: dict[str, Any] = {
        "task": "image-features",
        "title": f"{bb.name} features ({layer_name}, {pooling} pooling)",
        "description": (f"ImageNet-trained {bb.name} cut at layer {layer_name} with {pooling} pooling: an image "
                        "goes in, a feature vector comes out. Search compares it with gallery.bin by "
                        f"{metric} distance."),
        "preprocessing": bb.preprocessing_json,
        "parity_tolerance": PARITY_TOLERANCE,
        "extra": {"backbone": bb.name, "layer": layer_name, "pooling": pooling, "metric": metric,
                  "dataset": images.name},
    }
    rows: list[VariantRow] = []
    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as staging:
        top = staging / "_float32"
        export_layers_model(
            model, top, parity_inputs=parity_image,
            extra_files={
                **page_files("imagesearch"),
                "gallery.json": json.dumps(gallery, indent=1),
                "gallery.bin": np.ascontiguousarray(features, dtype="<f4").tobytes(),
                "gallery.jpg": _sprite(images.images),
            },
            **common,
        )
        for item in top.iterdir():
            shutil.move(str(item), staging / item.name)
        top.rmdir()
        (staging / "queries").mkdir()
        for q in queries:
            (staging / "queries" / f"{q:03d}.png").write_bytes(encode_png(images.images[q]))
        size, shards = _folder_bytes(staging)
        rows.append(VariantRow("float32", size, shards, 0.0, float(score)))
        release()  # the HDF5 copy and the predict graph of the float32 export
        for variant in variants:
            folder = staging / variant
            export_layers_model(model, folder, parity_inputs=parity_image, quantization=variant, **common)
            clone = clone_with_weights(model, read_weights(folder))
            with _quiet_tensorflow():  # a fresh clone retraces its predict function: expected, not news
                # batches of 2: the im2col buffers of 224 x 224 convolutions dominate this step's memory
                vfeat = extract_features(bb, layer_name, pooling, images.images, batch_size=2, progress=progress,
                                         model=clone)
            del clone  # each variant's model goes before the next is built: Binder's memory is small
            release()
            size, shards = _folder_bytes(folder)
            rows.append(VariantRow(variant, size, shards, float(np.max(np.abs(vfeat - features))),
                                   float(evaluate(vfeat, images.labels, metric=metric).mean_score)))
        (staging / "variants.json").write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")
    return rows


def read_variant_table(export_dir: str | Path) -> list[VariantRow]:
    """The table an export recorded when it was written."""
    data = json.loads((Path(export_dir) / "variants.json").read_text(encoding="utf-8"))
    return [VariantRow(**row) for row in data]


def variant_dirs(export_dir: str | Path) -> dict[str, Path]:
    """float32 (the folder itself) and each quantized sub-folder that exists."""
    root = Path(export_dir)
    found = {"float32": root}
    found.update({v: root / v for v in VARIANTS if (root / v / "model.json").is_file()})
    return found


def read_gallery(export_dir: str | Path) -> tuple[dict[str, Any], np.ndarray]:
    """``gallery.json`` and the feature matrix from ``gallery.bin``, size-checked."""
    root = Path(export_dir)
    meta = json.loads((root / "gallery.json").read_text(encoding="utf-8"))
    raw = (root / "gallery.bin").read_bytes()
    expected = meta["count"] * meta["dim"] * 4
    if len(raw) != expected:
        raise ValueError(f"{root / 'gallery.bin'} holds {len(raw)} bytes, gallery.json promises {expected}")
    return meta, np.frombuffer(raw, dtype="<f4").reshape(meta["count"], meta["dim"])
