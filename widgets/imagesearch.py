"""Lesson 3's app: ConvNet Playground rebuilt live — click an image, see its 15 nearest.

``ImageSearchState`` holds the choices (dataset, model, weights, layer, pooling,
metric, k, class filter, query, UMAP settings) and computes everything the app shows,
with no widgets: tests set values and call methods. Settings change instantly; the
slow things (loading a set or a model, extracting features, fitting UMAP) happen on
first use and are memoised per what they depend on, so switching the metric reuses the
features and switching back to a layer is instant. Features also go to the on-disk
cache of :mod:`browserml.imagesearch.features`, which survives a kernel restart.

``ImageSearchApp`` is the thin view: a clickable gallery (:class:`ThumbGrid`), the
query and its results with ConvNet Playground's search result score beside the score
of a random ranking, a clickable UMAP (:class:`Scatter`), an upload, and the advanced
options. Slow work runs in a :class:`BackgroundJob`, so the notebook never freezes.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import html
import io
import re
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np

import browserml  # noqa: F401  (selects tf_keras before TensorFlow loads)
from browserml.data import images as imgs
from browserml.errors import BadInput
from browserml.imagesearch import applications as apps
from browserml.imagesearch import backbones as bbs
from browserml.imagesearch import features as fx
from browserml.imagesearch import search
from browserml.imagesearch.embedding import UMAP_METRICS, UmapParams, nearest_point, umap_embedding
from widgets.common import (
    ERROR_INK,
    INK_SOFT,
    PHOTO_CLASS,
    BackgroundJob,
    clear_upload,
    error_html,
    explain_labels,
    guarded,
    on_change,
    set_tooltip,
    slow_slider,
    uploaded_files,
    wrap,
    wrapping_row,
)
from widgets.scatter import Scatter
from widgets.thumbgrid import ThumbGrid

Progress = Callable[[int, int], None]
Report = Callable[[str, int, int], None]  # (stage, done, total): "features" or "umap"

WEIGHTS: tuple[str | None, ...] = ("imagenet", None)
#: The weights picker's options: a string value for random weights too, because ipywidgets
#: reads a ``None`` value as "nothing selected" and shows a blank picker.
WEIGHT_OPTIONS: tuple[tuple[str, str], ...] = (("ImageNet", "imagenet"), ("random (a baseline)", "random"))
#: What a failed prepare puts back: the settings whose results the app shows. The metric
#: and minkowski p are left alone: they never fail, and a learner may have changed them meanwhile.
REVERTED = ("dataset", "backbone", "weights", "layer", "pooling", "k", "class_filter", "query")
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


class _Memo:
    """A small LRU dict: the newest ``size`` entries stay (big matrices must not pile up)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key: Hashable, value: Any) -> Any:
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self.lock:
            return key in self.data


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
        self._features = _Memo(FEATURE_MEMO_SIZE)
        self._embeddings = _Memo(EMBEDDING_MEMO_SIZE)
        self._extractors = _Memo(4)
        self._upload_vectors = _Memo(4)
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
        allowed = {"dataset", "backbone", "weights", "layer", "pooling", "metric", "p", "k", "class_filter"}
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
            self._defaults[self.backbone] = LITE_DEFAULT_LAYER if is_lite else apps.seed_layer_table(self.backbone)[-1].name
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


# --------------------------------------------------------------------------- view


SAME, OTHER, QUERY = "#2ca02c", "#d62728", "#ff7f0e"  # result borders: same class, other class; the query


def _fit_label(**more: str) -> W.Layout:
    """A button's layout: as wide as its label, never squeezed by its row (ipywidgets' fixed
    default width truncates longer labels). One per widget: a shared Layout is shared state."""
    return W.Layout(width="auto", flex="0 0 auto", **more)


def _weights_option(weights: str | None) -> str:
    """The weights picker's value for the state's weights (None: random)."""
    return "random" if weights is None else weights


def _png(image: np.ndarray, side: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).resize((side, side), Image.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


class ImageSearchApp:
    """Gallery | query, top-k and score | UMAP, with advanced options and an upload.

    ``background=False`` runs the slow work inline (tests, scripts); by default it runs
    in a :class:`BackgroundJob` while the controls are disabled, and any change made
    meanwhile (a click on the gallery or the map) is applied when the job ends.
    """

    def __init__(self, state: ImageSearchState | None = None, show_umap: bool = True,
                 background: bool = True) -> None:
        self.state = state or ImageSearchState()
        self.background = background
        self.output = W.Output()
        self.errors = W.HTML()
        self.job_errors = W.HTML()
        self.job = BackgroundJob(self.job_errors)
        self._lock = threading.Lock()
        self._working = self._pending = False
        self._syncing: int | None = None  # the thread rewriting controls itself (its changes are not the learner's)
        self._gallery_key: tuple[Any, ...] | None = None
        self._gallery_ids: list[int] = []
        self._result_ids: list[int] = []
        self._scatter_key: tuple[Any, ...] | None = None
        self._random_offer: str | None = None  # the backbone whose ImageNet weights were unavailable
        st = self.state
        wide = {"description_width": "initial"}

        self.description = W.HTML()
        self.advanced_button = W.ToggleButton(value=False, description="Advanced options", icon="sliders",
                                              tooltip="Show or hide the dataset, model, layer, pooling and "
                                                      "metric pickers", layout=_fit_label())
        self.upload = set_tooltip(
            W.FileUpload(accept="image/*", multiple=False, description="Search with your image",
                         layout=_fit_label()),
            "Upload an image of your own: the app finds its nearest gallery images at the chosen layer")
        self.progress = set_tooltip(
            W.IntProgress(min=0, max=1, value=0, description="features", style=wide, layout=W.Layout(width="260px")),
            "How many gallery images have their features extracted (then: whether the UMAP fit is done)")
        self.progress_label = W.HTML()
        # advanced options
        sets = list(dict.fromkeys([st.dataset, *imgs.IMAGE_SETS]))
        self.dataset = W.Dropdown(options=[(n if n in imgs.OFFLINE_SETS or n == st.dataset else f"{n} (downloads)", n)
                                           for n in sets], value=st.dataset, description="dataset")
        self.model = W.Dropdown(options=list(bbs.backbone_names()), value=st.backbone, description="model")
        self.weights = W.Dropdown(options=list(WEIGHT_OPTIONS), value=_weights_option(st.weights),
                                  description="weights")
        self.layer = W.Dropdown(options=[], description="layer", layout=W.Layout(width="340px"))
        self.pooling = W.Dropdown(options=list(fx.POOLINGS), value=st.pooling, description="pooling")
        self.metric = W.Dropdown(options=list(search.METRICS), value=st.metric, description="metric")
        self.p = slow_slider(W.FloatSlider, value=st.p, min=1.0, max=8.0, step=0.5, description="minkowski p",
                             disabled=st.metric != "minkowski")
        self.k = slow_slider(W.IntSlider, value=st.k, min=1, max=50, description="k (results)")
        self.random_weights_button = W.Button(description="Use random weights instead", icon="random",
                                              tooltip="Load the same architecture with random weights: "
                                                      "a baseline that needs no download",
                                              layout=_fit_label(display="none"))
        self.advanced = W.VBox([W.HBox([self.dataset, self.model, self.weights]),
                                W.HBox([self.layer, self.pooling]), W.HBox([self.metric, self.p, self.k]),
                                self.random_weights_button], layout=W.Layout(display="none"))
        # gallery
        self.class_filter = W.ToggleButtons(options=[("All", -1)], value=-1, tooltips=["Show every image"],
                                            style={"button_width": "auto"})
        self.gallery = ThumbGrid(tile=40, columns=14)
        # exactly the canvas's width: a narrower box clips the last column and scrolls
        self.gallery_box = W.VBox([self.class_filter, self.gallery],
                                  layout=W.Layout(width=self.gallery.layout.width, flex="0 0 auto"))
        # results
        self.query_title = W.HTML()
        self.query_image = W.Image(format="png", width=96, height=96)
        self.query_image.add_class(PHOTO_CLASS)
        self.score = W.HTML()
        self.results = ThumbGrid(tile=64, columns=5)
        # map
        self.umap_toggle = W.ToggleButton(value=show_umap, description="UMAP of the layer", icon="map",
                                          tooltip="Show or hide a 2-D map (UMAP) of every image's features at "
                                                  "this layer: click a point to search from it",
                                          layout=_fit_label())
        self.n_neighbors = set_tooltip(
            slow_slider(W.IntSlider, value=st.umap.n_neighbors, min=2, max=100, description="UMAP neighbours"),
            "UMAP's n_neighbors: how many neighbours shape each point's place")
        self.min_dist = set_tooltip(
            slow_slider(W.FloatSlider, value=st.umap.min_dist, min=0.0, max=0.99, step=0.01,
                        description="UMAP minimum distance"),
            "UMAP's min_dist: how tightly points may pack together")
        self.umap_metric = W.Dropdown(options=list(UMAP_METRICS), value=st.umap.metric, description="UMAP metric",
                                      style=wide)
        self.scatter = Scatter(width=420, height=360)
        self.umap_box = W.VBox([wrapping_row([self.n_neighbors, self.min_dist]), self.umap_metric, self.scatter],
                               layout=W.Layout(display="" if show_umap else "none"))

        self.controls: list[W.DOMWidget] = [self.dataset, self.model, self.weights, self.layer, self.pooling,
                                            self.metric, self.p, self.k, self.upload, self.n_neighbors,
                                            self.min_dist, self.umap_metric, self.random_weights_button]
        self._wire()
        self.app = W.VBox([
            W.HTML("<b>ConvNet Playground, live</b>: click an image to see the images whose features at the "
                   "chosen layer are nearest to its own."),
            self.description,
            W.HBox([self.advanced_button, self.upload, self.progress, self.progress_label]),
            self.advanced, self.errors, self.job_errors,
            W.HBox([
                self.gallery_box,
                W.VBox([W.HBox([self.query_image, W.VBox([self.query_title, self.score])]), self.results,
                        self.umap_toggle, self.umap_box]),
            ]),
            self.output,
        ])
        explain_labels(self.app)
        guarded(self.refresh, self.output, self.errors)()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.app)

    # ---- wiring
    def _wire(self) -> None:
        out, err, st = self.output, self.errors, self.state

        def setting(name: str) -> Callable[[Any], None]:
            def apply(value: Any) -> None:
                if self._syncing != threading.get_ident():
                    st.configure(**{name: value})
                    self.refresh()
            return apply

        for widget, name in ((self.dataset, "dataset"), (self.model, "backbone"),
                             (self.pooling, "pooling"), (self.metric, "metric"), (self.p, "p"), (self.k, "k")):
            on_change(widget, setting(name), out, err)
        on_change(self.weights, lambda v: setting("weights")(None if v == "random" else v), out, err)
        on_change(self.layer, lambda v: setting("layer")(v) if v is not None else None, out, err)
        on_change(self.class_filter, lambda v: setting("class_filter")(None if v == -1 else v), out, err)
        for widget, name in ((self.n_neighbors, "n_neighbors"), (self.min_dist, "min_dist"),
                             (self.umap_metric, "metric")):
            on_change(widget, lambda v, name=name: (st.configure_umap(**{name: v}), self.refresh()), out, err)
        on_change(self.advanced_button, lambda v: setattr(self.advanced.layout, "display", "" if v else "none"),
                  out, err)
        on_change(self.umap_toggle, lambda v: (setattr(self.umap_box.layout, "display", "" if v else "none"),
                                               self.refresh()), out, err)
        on_change(self.upload, self._on_upload, out, err)
        self.random_weights_button.on_click(wrap(self._use_random_weights, out, err))
        self.gallery.observe(guarded(lambda c: self._clicked(self._gallery_ids, c["new"]), out, err), names="clicked")
        self.results.observe(guarded(lambda c: self._clicked(self._result_ids, c["new"]), out, err), names="clicked")
        self.scatter.observe(guarded(lambda c: self._clicked(None, c["new"]), out, err), names="clicked")

    def _use_random_weights(self, _button: Any = None) -> None:
        """The offer made when ImageNet weights were unavailable: that model, random weights."""
        self.state.configure(backbone=self._random_offer or self.state.backbone, weights=None)
        self.refresh()

    def _clicked(self, ids: list[int] | None, tile: int) -> None:
        """A click on a thumbnail (``ids`` maps tiles to images) or on a map point."""
        if tile < 0:
            return
        self.state.select(ids[tile] if ids is not None else tile)
        self.refresh()

    def _on_upload(self, value: Any) -> None:
        files = uploaded_files(value)  # ipywidgets 7 and 8 shape it differently
        if not files:
            return
        name, content = files[0]
        try:
            self.state.upload(content, name, compute=False)
        finally:
            clear_upload(self.upload)  # so the same file can be uploaded again
        self.refresh()

    # ---- running
    @property
    def show_umap(self) -> bool:
        return bool(self.umap_toggle.value)

    def refresh(self) -> None:
        """Show the state: at once when nothing slow is needed, else after the slow work
        (in the background unless ``background=False``). During a job, remember to
        refresh again when it ends, so no change is lost."""
        with self._lock:
            if self._working:
                self._pending = True
                return
            slow = not self.state.ready(self.show_umap)
            self._working = slow
        if not slow:
            self._render()
            return
        self._set_busy(True)
        if not self.background:
            self._work()
        elif not self.job.start(self._work):
            self.job.join()  # the previous job is past its last step; wait for its thread to end
            self.job.start(self._work)

    def wait(self, timeout: float | None = 300) -> None:
        """Block until the background work is done (for tests and scripts)."""
        self.job.join(timeout)

    def _work(self) -> None:
        """Bring everything up to date; loop while changes arrive, then report a failure."""
        while True:
            with self._lock:
                self._pending = False
            failure: BaseException | None = None
            try:
                self._sync_layer_options()
                self.state.prepare(self._report)
                self._render()  # the results show now; the map (slow the first time) follows
                if self.show_umap and not self.state.ready(embedding=True):
                    self.state.embedding(lambda done, total: self._report("umap", done, total))
                    self._render()
            except Exception as err:  # noqa: BLE001  (reported below, once no newer settings are waiting)
                failure = err
            with self._lock:
                if self._pending:
                    continue
                self._working = False
                self._set_busy(False)
            break
        self._offer_random_weights(failure)
        if failure is None:
            return
        if isinstance(failure, SettingsRevertedError) and self.state.ready():
            self._render()  # the pickers go back to the model whose results are shown
        else:
            self._sync_pickers()  # not the layer list: building it may be what failed
            self.progress_label.value = f"<span style='color:{ERROR_INK}'>stopped: see the message below</span>"
        if isinstance(failure, BadInput) and threading.current_thread() is not threading.main_thread():
            self.errors.value = error_html(failure)  # one line, like guarded() shows it in the foreground
            return
        raise failure

    def _offer_random_weights(self, failure: BaseException | None) -> None:
        """Show "Use <model> with random weights" when that model's ImageNet weights were
        unavailable (the state has gone back to the model in use, so name the refused one)."""
        cause = failure.__cause__ if isinstance(failure, SettingsRevertedError) else failure
        if isinstance(cause, apps.WeightsUnavailableError):
            wanted = failure.wanted["backbone"] if isinstance(failure, SettingsRevertedError) else self.state.backbone
            self._random_offer = wanted
            self.random_weights_button.description = f"Use {wanted} with random weights instead"
            self.random_weights_button.tooltip = (f"Load {wanted}'s architecture with random weights (no download): "
                                                  "a baseline, not a trained model")
            self.random_weights_button.layout.display = ""
        else:
            self._random_offer = None
            self.random_weights_button.layout.display = "none"

    def _report(self, stage: str, done: int, total: int) -> None:
        self.progress.max, self.progress.value = max(total, 1), done
        self.progress.description = "features" if stage == "features" else "UMAP fit"
        if stage == "features":
            self.progress_label.value = (f"features of {done}/{total} images "
                                         f"({self.state.backbone} · {self.state.layer_name()})")
        else:
            self.progress_label.value = ("fitting UMAP (the first fit compiles UMAP: tens of seconds)" if done < total
                                         else "UMAP done")

    def _set_busy(self, busy: bool) -> None:
        for control in self.controls:
            control.disabled = busy
        self.p.disabled = busy or self.state.metric != "minkowski"
        if busy:
            self.progress_label.value = "working…"

    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        """Rewrite controls to match the state without their observers changing the state.

        Per thread: a learner's change arriving meanwhile from another thread still counts.
        """
        outer, self._syncing = self._syncing, threading.get_ident()
        try:
            yield
        finally:
            self._syncing = outer

    def _sync_pickers(self) -> None:
        """Show the state's model and weights in their pickers: the state decides, so a picker
        never shows a model that is not loaded, nor goes blank."""
        with self._quietly():
            self.model.value = self.state.backbone
            self.weights.value = _weights_option(self.state.weights)

    def _sync_layer_options(self) -> None:
        """Offer the current backbone's layers, with the state's layer selected."""
        st = self.state
        options = st.layer_options()
        if st.layer_name() not in st.layer_choices():  # a layer set by name, outside the curated picks
            options = [*options, (st.layer_name(), st.layer_name())]
        with self._quietly():
            if list(self.layer.options) != options:
                self.layer.options = options
            self.layer.value = st.layer_name()

    # ---- drawing
    def _render(self) -> None:
        """Draw everything from the state (all of it memoised by now: no slow work)."""
        st = self.state
        self._sync_pickers()
        self._sync_layer_options()
        self.description.value = f"<span style='color:{INK_SOFT}'>{st.describe()}</span>"
        self._draw_gallery()
        found, score = st.results()
        self._draw_query()
        self._draw_results(found)
        baseline = st.random_baseline()
        if score is None:
            labels = st.image_set.labels[found.indices]
            top = int(np.bincount(labels).argmax())
            self.score.value = (f"search result score: — (your image has no class)<br>"
                                f"{int(np.sum(labels == top))} of {len(found)} results are "
                                f"<b>{st.image_set.class_names[top]}</b>")
        else:
            self.score.value = (f"search result score <b>{score:.0%}</b> (random ≈ {baseline:.1%})"
                                f"<br><span style='color:{INK_SOFT}'>top {st.k} by {st.metric}</span>")
        self.p.disabled = self._working or st.metric != "minkowski"
        self.progress_label.value = ""
        self.progress.description = "features"
        self.progress.value = self.progress.max
        if self.show_umap and st.ready(embedding=True):
            self._draw_map(found)
        elif self.show_umap:
            self._scatter_key = None
            self.scatter.clear("computing the UMAP of these features…")

    def _draw_gallery(self) -> None:
        st = self.state
        images = st.image_set
        names = images.class_names
        options = [("All", -1)] + [(name, i) for i, name in enumerate(names)]
        with self._quietly():
            if list(self.class_filter.options) != options:
                self.class_filter.options = options
                self.class_filter.tooltips = ["Show every image"] + [f"Show only {name}" for name in names]
            self.class_filter.value = -1 if st.class_filter is None else st.class_filter
            self.k.max = min(50, len(images) - 1)  # top_k needs k below the number of other images
            if self.dataset.value != st.dataset:
                if st.dataset not in [v for _, v in self.dataset.options]:
                    self.dataset.options = [(st.dataset, st.dataset), *self.dataset.options]
                self.dataset.value = st.dataset
        key = (images.fingerprint(), st.class_filter)
        if key != self._gallery_key:
            ids = st.gallery_indices().tolist()
            self.gallery.show(images.images[ids], tooltips=[f"#{i} · {names[images.labels[i]]}" for i in ids])
            self._gallery_ids, self._gallery_key = ids, key
        query = st.query if isinstance(st.query, int) and st.query in self._gallery_ids else None
        if query is None:
            self.gallery.highlight([])
        else:
            self.gallery.highlight([self._gallery_ids.index(query)], [QUERY])

    def _draw_query(self) -> None:
        st = self.state
        if isinstance(st.query, UploadedImage):
            self.query_image.value = _png(st.query.image, 96)
            self.query_title.value = f"<b>your image</b> {html.escape(st.query.name)}"
        else:
            label = st.image_set.labels[st.query]
            self.query_image.value = _png(st.image_set.images[st.query], 96)
            self.query_title.value = f"<b>query #{st.query}</b> · {st.image_set.class_names[label]}"

    def _draw_results(self, found: search.SearchResult) -> None:
        st = self.state
        labels, names = st.image_set.labels, st.image_set.class_names
        ids = found.indices.tolist()
        if isinstance(st.query, UploadedImage):
            colors: list[str] = []
        else:
            colors = [SAME if labels[i] == labels[st.query] else OTHER for i in ids]
        self.results.show(st.image_set.images[ids], captions=[f"{d:.3g}" for d in found.distances],
                          tooltips=[f"#{i} · {names[labels[i]]} · distance {d:.4g}" for i, d in zip(ids, found.distances)],
                          highlighted=range(len(ids)) if colors else [], colors=colors)
        self._result_ids = ids

    def _draw_map(self, found: search.SearchResult) -> None:
        st = self.state
        key = st._umap_key()
        if key != self._scatter_key:
            images = st.image_set
            self.scatter.plot(st.embedding(), images.labels.tolist(), list(images.class_names),
                              [f"#{i} · {images.class_names[c]}" for i, c in enumerate(images.labels)])
            self._scatter_key = key
        with self.scatter.hold_sync():
            self.scatter.query = st.query if isinstance(st.query, int) else -1
            self.scatter.highlighted = found.indices.tolist()


__all__ = ["ImageSearchApp", "ImageSearchState", "SettingsRevertedError", "UmapParams", "UploadedImage",
           "lite_layer_picks"]
