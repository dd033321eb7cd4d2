"""Features from any layer of a backbone, pooled, batched, and cached on disk.

ConvNet Playground's central lesson is that *where* you cut a CNN changes what
"similar" means: early layers match colour and texture, deep layers match objects.
This module cuts a :class:`~browserml.imagesearch.backbones.Backbone` at any layer,
pools the feature map the way the learner picks, and remembers the result:

- ``flatten`` keeps every position (the original demo; huge for early layers, and
  sensitive to where things are in the frame),
- ``avg`` / ``max`` global pooling keep one number per channel (position-free).

Extraction of 200 images through EfficientNet-Lite0 takes tens of seconds on two
cores, so features are cached in files keyed by dataset fingerprint, backbone,
weights, layer and pooling. The cache survives a kernel restart and is written
atomically (a half-written file is never read back as features). Each entry's note
records the sha256 of its ``.npy`` bytes, checked on every read: an entry that is
unreadable, altered or inconsistent (even one whose header still looks right) is
recomputed with a one-line :class:`CacheEntryRecomputed` warning, never trusted and
never an error that repeats until someone deletes the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.imagesearch.applications import resolve_layer
from browserml.imagesearch.backbones import Backbone, load_backbone
from browserml.memory import release

POOLINGS = ("flatten", "avg", "max")
CACHE_FORMAT = 1
Progress = Callable[[int, int], None]


class FeatureError(BadInput):
    """A layer, pooling or image batch that cannot give features."""


class CacheEntryRecomputed(UserWarning):
    """A cached feature file could not be trusted, so its features are computed again."""


def _pooled(out: Any, pooling: str, name: str) -> Any:
    """One vector per image from a layer's output, by the chosen pooling."""
    import tf_keras

    if isinstance(out, (list, tuple)):
        raise FeatureError(f"layer {name!r} has several outputs; pick a layer with one")
    rank = len(out.shape)
    if rank == 4 and pooling == "avg":
        return tf_keras.layers.GlobalAveragePooling2D(name=f"{name}_features")(out)
    if rank == 4 and pooling == "max":
        return tf_keras.layers.GlobalMaxPooling2D(name=f"{name}_features")(out)
    if rank > 2:
        return tf_keras.layers.Flatten(name=f"{name}_features")(out)
    # already a vector per image (e.g. the logits): pooling has nothing to pool
    return tf_keras.layers.Activation("linear", name=f"{name}_features")(out)


def _check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise FeatureError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")


def feature_model(backbone: Backbone, layer: int | str, pooling: str = "avg") -> Any:
    """A ``tf_keras`` model from the backbone's input to ``layer``, then pooling.

    Its single output is named ``features``; it is the model the lesson exports to
    TF.js, so the browser computes exactly these features.
    """
    import tf_keras

    _check_pooling(pooling)
    target = resolve_layer(backbone.model, layer)
    pooled = _pooled(target.output, pooling, target.name)
    out = tf_keras.layers.Activation("linear", name="features")(pooled)
    return tf_keras.Model(backbone.model.inputs, out, name=f"{backbone.name}-{target.name}-{pooling}")


def multi_feature_model(backbone: Backbone, layers: Sequence[int | str], pooling: str = "avg") -> Any:
    """One model whose outputs are several layers' pooled features: one pass over the
    images serves a whole layer-comparison table instead of one pass per layer."""
    import tf_keras

    _check_pooling(pooling)
    targets = [resolve_layer(backbone.model, layer) for layer in layers]
    outputs = [_pooled(t.output, pooling, t.name) for t in targets]
    return tf_keras.Model(backbone.model.inputs, outputs, name=f"{backbone.name}-{len(targets)}-layers-{pooling}")


def extract_features(
    backbone: Backbone,
    layer: int | str,
    pooling: str,
    images: np.ndarray,
    batch_size: int = 8,
    progress: Progress | None = None,
    model: Any = None,
) -> np.ndarray:
    """Features (N, D) float32 for uint8 RGB images, in batches, reporting progress.

    ``progress(done, total)`` is called after every batch (a widget's progress bar, a
    tqdm bar, or nothing). ``model`` reuses a :func:`feature_model` already built.
    """
    if batch_size < 1:
        raise FeatureError(f"batch_size must be at least 1, got {batch_size}")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise FeatureError(f"expected a non-empty batch of RGB images (N, H, W, 3), got shape {images.shape}")
    model = model if model is not None else feature_model(backbone, layer, pooling)
    return _run_batches(backbone, model, images, batch_size, progress)[0]


def _run_batches(backbone: Backbone, model: Any, images: np.ndarray, batch_size: int,
                 progress: Progress | None) -> list[np.ndarray]:
    """Every output of ``model`` over all images, batch by batch, checked finite."""
    total = len(images)
    chunks: list[list[np.ndarray]] = []
    for start in range(0, total, batch_size):
        batch = backbone.preprocess(images[start:start + batch_size])
        out = model.predict_on_batch(batch)  # a compiled graph: ~1.5x faster than an eager call
        out = out if isinstance(out, (list, tuple)) else [out]
        chunks.append([np.asarray(o, dtype=np.float32) for o in out])
        if progress is not None:
            progress(min(start + batch_size, total), total)
    features = [np.concatenate(parts) for parts in zip(*chunks)]
    for f, name in zip(features, model.output_names):
        if not np.all(np.isfinite(f)):
            raise FeatureError(f"{backbone.name} output {name!r} has NaN or infinite features")
    return features


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """``$BROWSERML_CACHE/features``, else ``~/.cache/browserml/features``."""
    root = os.environ.get("BROWSERML_CACHE") or Path.home() / ".cache" / "browserml"
    return Path(root) / "features"


@dataclass(frozen=True)
class FeatureKey:
    """What a cached feature matrix depends on; anything else may change freely."""

    dataset: str  # an ImageSet fingerprint (hash of pixels + labels)
    backbone: str
    weights: str | None
    layer: str  # the layer *name*, so index and name requests share one entry
    pooling: str

    def digest(self) -> str:
        text = json.dumps({"format": CACHE_FORMAT, **self.__dict__}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


class FeatureCache:
    """Feature matrices as ``.npy`` files (no pickles) plus a JSON note of the key, the
    shape and the sha256 of the ``.npy`` bytes."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def _paths(self, key: FeatureKey) -> tuple[Path, Path]:
        stem = self.root / key.digest()
        return stem.with_suffix(".npy"), stem.with_suffix(".json")

    def get(self, key: FeatureKey) -> np.ndarray | None:
        """The cached matrix, or ``None`` when absent or untrustworthy (then it is recomputed).

        An entry that exists but fails any check (see :meth:`_problem`) is reported in
        one line, a :class:`CacheEntryRecomputed` warning, and treated as absent; the
        next :meth:`put` overwrites it.
        """
        data_path, note_path = self._paths(key)
        if not data_path.exists() and not note_path.exists():
            return None
        features, problem = self._read(key, data_path, note_path)
        if problem is not None:
            warnings.warn(f"feature cache entry {data_path.name} {problem}; recomputing it",
                          CacheEntryRecomputed, stacklevel=3)
            return None
        return features

    @staticmethod
    def _read(key: FeatureKey, data_path: Path, note_path: Path) -> tuple[np.ndarray | None, str | None]:
        """``(features, None)`` for a trustworthy entry, else ``(None, what is wrong)``.

        The bytes are hashed before NumPy parses them, and only the ``.npy`` format is
        parsed (``allow_pickle=False``; a zip such as an ``.npz`` is refused, not opened).
        """
        try:
            note = json.loads(note_path.read_text(encoding="utf-8"))
            data = data_path.read_bytes()
        except FileNotFoundError as err:
            return None, f"is incomplete ({Path(err.filename).name} is missing)"
        except (OSError, UnicodeDecodeError, ValueError) as err:
            return None, f"is unreadable ({type(err).__name__}: {err})"
        if not isinstance(note, dict) or not isinstance(note.get("sha256"), str):
            return None, "has no content check in its note (damaged, or written by an older browserml)"
        if note.get("key") != key.__dict__:
            return None, "belongs to another key"
        if hashlib.sha256(data).hexdigest() != note["sha256"]:
            return None, "changed since it was written (its sha256 does not match the note)"
        if not data.startswith(b"\x93NUMPY"):
            return None, "is not a .npy file"
        try:
            features = np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            return None, f"is unreadable ({type(err).__name__}: {err})"
        if features.dtype != np.float32 or features.ndim != 2 or list(features.shape) != note.get("shape"):
            return None, f"holds {features.dtype} {list(features.shape)}, not the float32 {note.get('shape')} noted"
        if not np.all(np.isfinite(features)):
            return None, "holds NaN or infinite features"
        return features, None

    def put(self, key: FeatureKey, features: np.ndarray) -> None:
        """Store atomically: write a temporary file, then rename over the final name.

        The data goes first and the note (with the data's sha256) last, so an
        interrupted write leaves a note that does not match: recomputed, not trusted.
        Non-finite features are refused rather than stored.
        """
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or not np.all(np.isfinite(features)):
            raise FeatureError(f"refusing to cache features of shape {features.shape} with NaN or infinity")
        buffer = io.BytesIO()
        np.save(buffer, features, allow_pickle=False)
        data = buffer.getvalue()
        note = {"key": key.__dict__, "shape": list(features.shape), "sha256": hashlib.sha256(data).hexdigest()}
        self.root.mkdir(parents=True, exist_ok=True)
        data_path, note_path = self._paths(key)
        for path, payload in ((data_path, data), (note_path, json.dumps(note).encode())):
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
            try:
                with os.fdopen(fd, "wb") as stream:
                    stream.write(payload)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def clear(self) -> int:
        """Delete every cached matrix; returns how many files went."""
        count = 0
        for path in list(self.root.glob("*.npy")) + list(self.root.glob("*.json")):
            path.unlink()
            count += 1
        return count


def _as_backbone(backbone: str | Backbone, weights: str | None) -> Backbone:
    return backbone if isinstance(backbone, Backbone) else load_backbone(backbone, weights)


def cached_features(
    image_set: Any,
    backbone: str | Backbone,
    layer: int | str,
    pooling: str = "avg",
    weights: str | None = "imagenet",
    cache: FeatureCache | None = None,
    batch_size: int = 8,
    progress: Progress | None = None,
) -> np.ndarray:
    """Features of every image of an ``ImageSet``, from the cache when possible.

    The first call for a (dataset, backbone, weights, layer, pooling) computes and
    stores; later calls — in this kernel or after a restart — read the file.
    """
    bb = _as_backbone(backbone, weights)
    name = resolve_layer(bb.model, layer).name
    return layer_features(image_set, bb, [name], pooling, cache=cache, batch_size=batch_size,
                          progress=progress)[name]


def layer_features(
    image_set: Any,
    backbone: str | Backbone,
    layers: Sequence[int | str],
    pooling: str = "avg",
    weights: str | None = "imagenet",
    cache: FeatureCache | None = None,
    batch_size: int = 8,
    progress: Progress | None = None,
    keep_backbone: bool = True,
) -> dict[str, np.ndarray]:
    """Cached features for several layers, keyed by layer name; the missing ones are
    computed together in a single pass over the images.

    ``keep_backbone=False`` with a backbone given by name builds it for this call only
    and lets it go afterwards, instead of keeping it for the process (a model x layer
    table needs each model once; Binder's kernel cannot hold them all)."""
    _check_pooling(pooling)
    if keep_backbone or isinstance(backbone, Backbone):
        bb = _as_backbone(backbone, weights)
    else:
        bb = load_backbone.__wrapped__(backbone, weights)
    names = list(dict.fromkeys(resolve_layer(bb.model, layer).name for layer in layers))
    store = cache if cache is not None else FeatureCache()
    keys = {n: FeatureKey(image_set.fingerprint(), bb.name, bb.weights, n, pooling) for n in names}
    found = {n: store.get(k) for n, k in keys.items()}
    missing = [n for n, f in found.items() if f is None]
    if missing:
        model = multi_feature_model(bb, missing, pooling)
        for name, features in zip(missing, _run_batches(bb, model, image_set.images, batch_size, progress)):
            store.put(keys[name], features)
            found[name] = features
        del model
        release()  # the batches' activations: give them back before the next heavy cell
    elif progress is not None:
        progress(len(image_set), len(image_set))
    return {n: found[n] for n in names}  # type: ignore[misc]
