"""Lesson 3's app state: the choices of ConvNet Playground rebuilt live, and everything it shows.

:class:`ImageSearchState` holds the choices (dataset, model, weights, layer, pooling,
metric, k, class filter, query, UMAP settings) and computes everything the app shows,
with no widgets: tests set values and call methods. Settings change instantly; the
slow things (loading a set or a model, extracting features, fitting UMAP) happen on
first use and are memoised per what they depend on, so switching the metric reuses the
features and switching back to a layer is instant. Features also go to the on-disk
cache of :mod:`browserml.imagesearch.features`, which survives a kernel restart.

The view, ``widgets.imagesearch.ImageSearchApp``, only links controls to this object.
Importing this module does not import TensorFlow: a backbone loads on first use.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from browserml.data import images as imgs
from browserml.errors import BadInput
from browserml.imagesearch import applications as apps
from browserml.imagesearch import backbones as bbs
from browserml.imagesearch import features as fx
from browserml.imagesearch import search
from browserml.imagesearch.embedding import UmapParams, nearest_point, umap_embedding
from browserml.memo import LruMemo

Progress = Callable[[int, int], None]
Report = Callable[[str, int, int], None]  # (stage, done, total): "features" or "umap"

WEIGHTS: tuple[str | None, ...] = ("imagenet", None)
#: What a failed prepare puts back: the settings whose results the app shows. The metric
#: and minkowski p are left alone: they never fail, and a learner may have changed them meanwhile.
REVERTED = ("dataset", "backbone", "weights", "layer", "pooling", "k", "class_filter", "query")
#: The settings :meth:`ImageSearchState.configure` takes (the query and UMAP's have their own methods).
SETTINGS = ("dataset", "backbone", "weights", "layer", "pooling", "metric", "p", "k", "class_filter")
LITE_DEFAULT_LAYER = "head_relu"  # the last feature map: the most semantic layer Lite has before pooling
FEATURE_MEMO_SIZE = 6  # feature matrices kept in memory (the disk cache keeps them all)
EMBEDDING_MEMO_SIZE = 12
_STAGE = re.compile(r"block(\d+)[a-z]+_")


@dataclass(frozen=True, eq=False)
class UploadedImage:
    """A learner's own image used as the query: it has no class, so no score."""

    name: str
    image: np.ndarray  # uint8 RGB (H, W, 3), any size: the backbone's preprocessing resizes it


def lite_layer_picks(layer_names: list[str]) -> list[str]:
    """The EfficientNet-Lite layers worth offering: the stem, each stage's last layer
    (that block's output, ``_add`` or ``_project_bn``) and ``head_relu``.

    Read from the model's own layer names, so it follows Lite0/1/2's different depths.
    """
    last_of_stage: dict[str, str] = {}
    for name in layer_names:
        match = _STAGE.match(name)
        if match:
            last_of_stage[match.group(1)] = name  # later layers of a stage overwrite earlier ones
    picks = [n for n in layer_names if n == "stem_relu"]
    picks += [last_of_stage[s] for s in sorted(last_of_stage, key=int)]
    return picks + [n for n in layer_names if n == "head_relu"]


class SettingsRevertedError(BadInput):
    """New settings could not be prepared (weights unavailable, a set that cannot download),
    so the state went back to the settings whose results are shown.

    ``wanted`` holds the refused settings (for an offer such as "this model with random
    weights"); ``__cause__`` is the original error.
    """

    def __init__(self, message: str, wanted: dict[str, Any]) -> None:
        super().__init__(message)
        self.wanted = wanted


def _first_sentence(err: BaseException) -> str:
    """An error message's first sentence: the *why*, short enough for one line."""
    text = " ".join(str(err).split()) or type(err).__name__
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def _shape_text(shape: tuple[Any, ...]) -> str:
    return "×".join(str(d) for d in shape[1:])


class ImageSearchState:
    """Everything the image-search app shows, with no widgets.

    Fields (read them; change them with :meth:`configure`, :meth:`configure_umap`,
    :meth:`select` and :meth:`upload`): ``dataset`` (a set's name), ``backbone``,
    ``weights`` ("imagenet" or None: random weights, a baseline), ``layer`` (a layer
    name, or None for the backbone's default), ``pooling``, ``metric``, ``p``
    (minkowski only), ``k``, ``class_filter`` (a label or None: which gallery images to
    show; the search always covers the whole set), ``query`` (a gallery index or an
    :class:`UploadedImage`) and ``umap`` (:class:`UmapParams`).
    """

    def __init__(
        self,
        dataset: str | imgs.ImageSet = "FASHION200",
        backbone: str = bbs.DEFAULT_BACKBONE,
        weights: str | None = "imagenet",
        layer: str | None = None,
        pooling: str = "avg",
        metric: str = "cosine",
        p: float = 3.0,
        k: int = search.DEFAULT_K,
        cache: fx.FeatureCache | None = None,
    ) -> None:
        self.cache = cache
        self._sets: dict[str, imgs.ImageSet] = {}
        self._defaults: dict[str, str] = {}
        self._layer_rows: dict[str, list[tuple[str, tuple[Any, ...]]]] = {}
        self._features = LruMemo(FEATURE_MEMO_SIZE)
        self._embeddings = LruMemo(EMBEDDING_MEMO_SIZE)
        self._extractors = LruMemo(4)
        self._upload_vectors = LruMemo(4)
        self.dataset, self.backbone, self.weights, self.layer = "", bbs.DEFAULT_BACKBONE, "imagenet", None
        self.pooling, self.metric, self.p, self.k = "avg", "cosine", 3.0, search.DEFAULT_K
        self.class_filter: int | None = None
        self.query: int | UploadedImage = 0
        self.umap = UmapParams()
        self._shown: dict[str, Any] | None = None  # the settings of the last results computed
        self.configure(dataset=dataset, backbone=backbone, weights=weights, layer=layer, pooling=pooling,
                       metric=metric, p=p, k=k)

    # ---- settings
    def configure(self, **changes: Any) -> None:
        """Change settings by name; a bad value raises ``ValueError`` and changes nothing.

        Nothing is computed here: what depends on a setting is keyed by it, so a new
        dataset/backbone/weights/layer/pooling simply asks for other features, and a
        new metric, ``p`` or ``k`` reuses them. A new dataset resets the class filter
        and (unless the query is an upload) selects its first image; a new backbone
        resets the layer to that backbone's default and the weights to ImageNet unless
        ``layer`` or ``weights`` are given too (random weights are a per-model baseline:
        carried silently to the next model, they would look like a broken model).
        """
        allowed = set(SETTINGS)
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(allowed)}")
        new = {name: getattr(self, name) for name in allowed}
        new.update(changes)
        dataset, given = new["dataset"], None
        if isinstance(dataset, imgs.ImageSet):
            given, dataset = dataset, dataset.name
            new["dataset"] = dataset
        elif dataset not in self._sets:
            if str(dataset).upper() not in imgs.IMAGE_SETS:
                raise ValueError(f"unknown image set {dataset!r}; choose one of {', '.join(imgs.IMAGE_SETS)}")
            new["dataset"] = dataset = str(dataset).upper()  # the registry's spelling, as the picker shows it
        if new["backbone"] not in bbs.backbone_names():
            raise ValueError(f"unknown backbone {new['backbone']!r}; choose one of {', '.join(bbs.backbone_names())}")
        if new["weights"] not in WEIGHTS:
            raise ValueError(f"weights must be 'imagenet' or None (random weights), got {new['weights']!r}")
        if "backbone" in changes and changes["backbone"] != self.backbone:
            if "layer" not in changes:
                new["layer"] = None
            if "weights" not in changes:
                new["weights"] = "imagenet"
        if new["layer"] is not None and not isinstance(new["layer"], str):
            raise ValueError(f"layer must be a layer name (or None for the default), got {new['layer']!r}")
        if new["pooling"] not in fx.POOLINGS:
            raise ValueError(f"unknown pooling {new['pooling']!r}; choose one of {', '.join(fx.POOLINGS)}")
        if new["metric"] not in search.METRICS:
            raise ValueError(f"unknown metric {new['metric']!r}; choose one of {', '.join(search.METRICS)}")
        new["p"] = float(new["p"])
        if not new["p"] >= 1:
            raise ValueError(f"minkowski p must be >= 1 (p < 1 is not a metric), got {new['p']}")
        if isinstance(new["k"], bool) or not isinstance(new["k"], (int, np.integer)) or new["k"] < 1:
            raise ValueError(f"k must be a positive int, got {new['k']!r}")
        new["k"] = int(new["k"])
        loaded = given if given is not None else self._sets.get(dataset)
        if loaded is not None and new["k"] > len(loaded) - 1:
            raise ValueError(f"k={new['k']} is more than the {len(loaded) - 1} other images of {dataset}")
        dataset_changed = dataset != self.dataset
        if dataset_changed:
            new["class_filter"] = changes.get("class_filter")
        label = new["class_filter"]
        if "class_filter" in changes and label is not None:
            n_classes = len((loaded or self._load_set(dataset)).class_names)
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < n_classes:
                raise ValueError(f"class filter must be a label in 0..{n_classes - 1} or None, got {label!r}")
            new["class_filter"] = int(label)
        if given is not None:
            self._sets[dataset] = given  # a set given as such is what its name means from now on
        for name, value in new.items():
            setattr(self, name, value)
        if dataset_changed and not isinstance(self.query, UploadedImage):
            self.query = 0

    def configure_umap(self, **changes: Any) -> None:
        """Change UMAP's ``n_neighbors``, ``min_dist``, ``metric`` or ``random_state``."""
        self.umap = dataclasses.replace(self.umap, **changes)  # validates; unknown names raise TypeError

    # ---- data and model
    @property
    def image_set(self) -> imgs.ImageSet:
        """The current set, loaded on first use (the online sets download then)."""
        return self._load_set(self.dataset)

    def _load_set(self, name: str) -> imgs.ImageSet:
        found = self._sets.get(name)
        if found is None:
            found = self._sets.setdefault(name, imgs.load_image_set(name))
        return found

    def load_backbone(self) -> bbs.Backbone:
        """The backbone with the chosen weights (built once per process; may raise
        :class:`~browserml.imagesearch.applications.WeightsUnavailableError` offline)."""
        return bbs.load_backbone(self.backbone, self.weights)

    def default_layer(self) -> str:
        """Lite: ``head_relu``; a Keras application: the deepest of the seed's picks."""
        if self.backbone not in self._defaults:
            is_lite = self.backbone not in apps.APPLICATIONS
            self._defaults[self.backbone] = (LITE_DEFAULT_LAYER if is_lite
                                             else apps.seed_layer_table(self.backbone)[-1].name)
        return self._defaults[self.backbone]

    def layer_name(self) -> str:
        return self.layer if self.layer is not None else self.default_layer()

    def _rows(self) -> list[tuple[str, tuple[Any, ...]]]:
        """(layer name, output shape) of the layers the picker offers, shallow to deep.

        Keras applications offer the seed's eight picks (known without weights, so even
        when ImageNet weights are unavailable); EfficientNet-Lite offers
        :func:`lite_layer_picks` of its model (the same names and shapes for any weights).
        """
        if self.backbone not in self._layer_rows:
            if self.backbone in apps.APPLICATIONS:
                rows = [(r.name, tuple(r.output_shape)) for r in apps.seed_layer_table(self.backbone)]
            else:
                model = self.load_backbone().model
                shapes = {layer.name: tuple(layer.output.shape) for layer in model.layers}
                rows = [(name, shapes[name]) for name in lite_layer_picks(list(shapes))]
            self._layer_rows[self.backbone] = rows
        return self._layer_rows[self.backbone]

    def layer_choices(self) -> list[str]:
        """The layer names the picker offers for the current backbone, shallow to deep."""
        return [name for name, _ in self._rows()]

    def layer_options(self) -> list[tuple[str, str]]:
        """``(label, layer name)`` pairs for a picker; labels carry the output shape."""
        return [(f"{name} ({_shape_text(shape)})", name) for name, shape in self._rows()]

    def layer_shape(self) -> tuple[Any, ...]:
        """The chosen layer's output shape, batch dimension first (None)."""
        shapes = dict(self._rows())
        name = self.layer_name()
        if name in shapes:
            return shapes[name]
        return tuple(apps.resolve_layer(self.load_backbone().model, name).output.shape)

    def gallery_indices(self) -> np.ndarray:
        """The gallery images shown: all, or those of ``class_filter``."""
        labels = self.image_set.labels
        return np.arange(len(labels)) if self.class_filter is None else self.image_set.by_class(self.class_filter)

    # ---- features
    def features_key(self) -> tuple[str, str, str | None, str, str]:
        """What the features depend on: (dataset fingerprint, backbone, weights, layer, pooling)."""
        return (self.image_set.fingerprint(), self.backbone, self.weights, self.layer_name(), self.pooling)

    def features(self, progress: Progress | None = None) -> np.ndarray:
        """The (N, D) features of the current set, layer and pooling (memoised per key)."""
        key = self.features_key()
        found = self._features.get(key)
        if found is None:
            found = fx.cached_features(self.image_set, self.backbone, key[3], self.pooling, self.weights,
                                       cache=self.cache, progress=progress)
            self._features.put(key, found)
        elif progress is not None:
            progress(len(found), len(found))
        return found

    def _extractor(self) -> Any:
        key = (self.backbone, self.weights, self.layer_name(), self.pooling)
        found = self._extractors.get(key)
        if found is None:
            found = self._extractors.put(key, fx.feature_model(self.load_backbone(), key[2], self.pooling))
        return found

    def query_vector(self) -> np.ndarray:
        """The query's feature vector (D,): a gallery row, or the upload through the same extractor."""
        if not isinstance(self.query, UploadedImage):
            return self.features()[self.query]
        key = (*self.features_key()[1:], self.query)  # the upload itself: hashed by identity, kept alive
        found = self._upload_vectors.get(key)
        if found is None:
            found = fx.extract_features(self.load_backbone(), key[2], self.pooling, self.query.image[None],
                                        model=self._extractor())[0]
            self._upload_vectors.put(key, found)
        return found

    # ---- the query
    def select(self, index: int) -> None:
        """Make gallery image ``index`` the query (what clicking a thumbnail does)."""
        n = len(self.image_set)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise IndexError(f"image index must be an int in 0..{n - 1}, got {index!r}")
        self.query = int(index)

    def upload(self, content: bytes, name: str, compute: bool = True) -> UploadedImage:
        """Make an image file's bytes the query; a bad file raises :class:`ImageDataError`
        naming it. ``compute=False`` leaves its features to the next :meth:`prepare`
        (the app computes them in the background)."""
        uploaded = UploadedImage(name, imgs.read_image(bytes(content), name))
        self.query = uploaded
        if compute:
            self.query_vector()
        return uploaded

    # ---- results
    def results(self) -> tuple[search.SearchResult, float | None]:
        """The ``k`` nearest gallery images to the query and the demo's weighted score
        (None for an upload, which has no class)."""
        features = self.features()
        if isinstance(self.query, UploadedImage):
            answer: tuple[search.SearchResult, float | None] = (
                search.top_k(features, self.query_vector(), self.k, self.metric, self.p), None)
        else:
            found = search.top_k(features, self.query, self.k, self.metric, self.p)
            labels = self.image_set.labels
            answer = found, search.weighted_score(labels[found.indices], labels[self.query], self.k)
        self._shown = self._settings()  # what a failed prepare goes back to
        return answer

    def random_baseline(self) -> float:
        """The score a random ranking gets on average: the bar a layer must clear."""
        return search.random_score_expectation(self.image_set.labels)

    # ---- the map
    def _umap_key(self) -> tuple[Any, ...]:
        n = len(self.image_set)
        neighbours = min(self.umap.n_neighbors, n - 1)  # UMAP needs fewer neighbours than points
        return (*self.features_key(), neighbours, float(self.umap.min_dist), self.umap.metric, self.umap.random_state)

    def embedding(self, progress: Progress | None = None) -> np.ndarray:
        """A 2-D UMAP (N, 2) of the features, memoised per features and UMAP settings.

        The first fit in a process compiles UMAP's numba code (tens of seconds on two
        cores); later fits of a few hundred points take about a second.
        """
        key = self._umap_key()
        found = self._embeddings.get(key)
        if found is not None:
            return found
        features = self.features()
        if progress is not None:
            progress(0, 1)
        points = umap_embedding(features, self.umap)
        if progress is not None:
            progress(1, 1)
        return self._embeddings.put(key, points)

    def point_to_index(self, x: float, y: float) -> int:
        """The image whose embedded point is nearest ``(x, y)`` (click-to-search on the map)."""
        return nearest_point(self.embedding(), x, y)

    # ---- all at once
    def ready(self, embedding: bool = False) -> bool:
        """Whether :meth:`results` (and :meth:`embedding`) can answer without slow work."""
        if self.dataset not in self._sets or (self.layer is None and self.backbone not in self._defaults):
            return False
        key = self.features_key()
        if key not in self._features:
            return False
        if isinstance(self.query, UploadedImage) and (*key[1:], self.query) not in self._upload_vectors:
            return False
        return not embedding or self._umap_key() in self._embeddings

    def view_key(self, embedding: bool = False) -> tuple[Any, ...]:
        """Everything the app's picture depends on (every setting, the query, the set in
        use and UMAP's settings when the map is shown): equal keys, equal pictures. The app's
        background worker memoises on it, so a change that alters nothing redraws nothing."""
        return (*(getattr(self, name) for name in SETTINGS), self.query, id(self._sets.get(self.dataset)),
                self.umap if embedding else None, embedding)

    def _settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in REVERTED}

    def model_text(self) -> str:
        """The model in use, in words: ``efficientnet-lite0 (ImageNet weights)``."""
        return f"{self.backbone} ({'ImageNet' if self.weights == 'imagenet' else 'random'} weights)"

    def prepare(self, report: Report | None = None, embedding: bool = False) -> None:
        """Do every slow step the current settings need: set, model, features, query, map.

        If a step fails after results were shown, the state goes back to the settings of
        those results, so it never claims a model (or set) that is not the one whose
        results are on screen. An expected failure (:class:`BadInput`, e.g. ImageNet
        weights unavailable offline) then raises :class:`SettingsRevertedError`, one line
        saying what was refused, why, and what is still shown; anything else is a bug and
        is re-raised as it is, after the same revert.
        """
        try:
            self.image_set  # noqa: B018  (loads)
            self.layer_options()
            self.features(None if report is None else lambda done, total: report("features", done, total))
            self.query_vector()
            if embedding:
                self.embedding(None if report is None else lambda done, total: report("umap", done, total))
        except Exception as err:
            wanted, shown = self._settings(), self._shown
            if shown is None or all(wanted[n] is shown[n] or wanted[n] == shown[n] for n in REVERTED):
                raise  # nothing shown yet to go back to
            for name, value in shown.items():
                setattr(self, name, value)
            if not isinstance(err, BadInput):
                raise
            what = wanted["backbone"] if wanted["backbone"] != shown["backbone"] else (
                wanted["dataset"] if wanted["dataset"] != shown["dataset"] else "these settings")
            raise SettingsRevertedError(
                f"Could not switch to {what}: {_first_sentence(err)} Still showing {self.dataset} with "
                f"{self.model_text()}.", wanted) from err

    def describe(self) -> str:
        """One line: dataset, model, weights, layer, its output shape, pooling, dims."""
        shape = self.layer_shape()
        key = self.features_key() if self.dataset in self._sets else None
        found = self._features.get(key) if key is not None else None
        if found is not None:
            dims = found.shape[1]
        elif len(shape) == 4 and self.pooling in ("avg", "max"):
            dims = shape[-1]
        else:
            dims = int(np.prod(shape[1:]))
        pooling = f"{self.pooling} pooling" if len(shape) == 4 else "no pooling (already a vector)"
        return (f"{self.dataset} · {self.model_text()} · layer {self.layer_name()} "
                f"{_shape_text(shape)} · {pooling} → {dims} dims")


__all__ = ["ImageSearchState", "SettingsRevertedError", "UmapParams", "UploadedImage", "lite_layer_picks"]
