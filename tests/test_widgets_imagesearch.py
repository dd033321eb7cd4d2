"""Lesson 3's app: every control at state level (against NumPy/SciPy references), and
the view driven like a learner would — clicks on the anywidgets included."""

from __future__ import annotations

import io
import re
import sys
import threading
import types

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import cdist

from browserml.data.images import ImageDataError, ImageSet, load_image_set
from browserml.errors import BadInput
from browserml.imagesearch import applications as apps
from browserml.imagesearch import features as fx
from browserml.imagesearch import search
from browserml.imagesearch.backbones import load_backbone
from browserml.imagesearch.state import ImageSearchState, SettingsRevertedError, lite_layer_picks
from widgets.common import send_files
from widgets.imagesearch import ImageSearchApp
from widgets.thumbgrid import ThumbGrid, sprite_data_url

PER_CLASS = 4  # 40 images: extraction through all of EfficientNet-Lite0 takes a few seconds


@pytest.fixture(scope="module")
def gallery():
    full = load_image_set("FASHION200")
    return full.subset(np.concatenate([full.by_class(c)[:PER_CLASS] for c in range(len(full.class_names))]))


@pytest.fixture(scope="module")
def cache(tmp_path_factory, gallery) -> fx.FeatureCache:
    """A feature cache warmed once at the two layers the tests use (later states read it)."""
    store = fx.FeatureCache(tmp_path_factory.mktemp("features"))
    state = ImageSearchState(gallery, cache=store)
    state.features()
    state.configure(layer="stem_relu")
    state.features()
    return store


@pytest.fixture
def state(gallery, cache) -> ImageSearchState:
    return ImageSearchState(gallery, cache=cache)


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def reference_top(features: np.ndarray, query: int, k: int, metric: str, p: float = 3.0) -> np.ndarray:
    """The k nearest other rows by SciPy's distances (stable sort: ties by index)."""
    name = {"squared": "sqeuclidean"}.get(metric, metric)
    kwargs = {"p": p} if metric == "minkowski" else {}
    dist = cdist(features[query:query + 1].astype(np.float64), features.astype(np.float64), name, **kwargs)[0]
    order = [i for i in np.argsort(dist, kind="stable") if i != query]
    return np.asarray(order[:k])


def weighted(retrieved: np.ndarray, label: int, k: int) -> float:
    w = np.arange(k, 0, -1) / k  # rank 1 weighs k/k, rank k weighs 1/k
    return float(np.sum(w * (retrieved[:k] == label)) / w.sum())


def mobilenet_offline(monkeypatch) -> None:
    """MobileNet's ImageNet weights are unavailable (as offline), whatever Keras' cache holds;
    every other model builds as usual. Patched where every loader ends: build_application."""
    real = apps.build_application

    def build(name: str, weights: str | None = "imagenet", **kwargs):
        if name == "MobileNet" and weights == "imagenet":
            raise apps.WeightsUnavailableError(
                "ImageNet weights for MobileNet are downloaded by Keras on first use, and this machine is "
                "offline (stand-in). Use weights=None for random weights.")
        return real(name, weights, **kwargs)

    monkeypatch.setattr(apps, "build_application", build)


def widget_tree(widget: W.Widget) -> list[W.Widget]:
    """``widget`` and every widget inside it, depth first."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += widget_tree(child)
    return found


def assert_buttons_fit_and_explain(root: W.Widget) -> int:
    """Every button is as wide as its label (auto width, not shrunk by flex) and has a real
    tooltip: ipywidgets shows a None tooltip as the word "null". Returns how many it checked."""
    checked, layouts = 0, set()
    for w in widget_tree(root):
        if isinstance(w, (W.Button, W.ToggleButton, W.FileUpload)):
            assert w.layout.width == "auto" and w.layout.flex == "0 0 auto", w.description
            assert isinstance(w.tooltip, str) and w.tooltip.strip() and w.tooltip != "null", w.description
            assert id(w.layout) not in layouts, f"{w.description}: a Layout shared with another button"
            layouts.add(id(w.layout))
            checked += 1
        elif isinstance(w, W.ToggleButtons):
            assert len(w.tooltips) == len(w.options) and all(t.strip() and t != "null" for t in w.tooltips)
            checked += 1
    return checked


SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


class Spy:
    """Counts calls of a module function, passing them through."""

    def __init__(self, monkeypatch, module, name: str) -> None:
        self.calls = 0
        real = getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


# ---------------------------------------------------------------- layers and features


def test_lite_layer_picks_follow_the_model_names(state):
    names = load_backbone("efficientnet-lite0").layer_names
    last = {}
    for name in names:
        if name.startswith("block"):
            last[name[5]] = name
    assert state.layer_choices() == ["stem_relu", *[last[s] for s in sorted(last)], "head_relu"]
    assert state.layer_choices()[1:4] == ["block1a_project_bn", "block2b_add", "block3b_add"]
    assert ("head_relu (7×7×1280)", "head_relu") in state.layer_options()
    assert lite_layer_picks(["image", "stem_relu", "block1a_x", "block10a_y", "block10b_add", "block2a_z",
                             "head_relu", "logits"]) == ["stem_relu", "block1a_x", "block2a_z", "block10b_add",
                                                         "head_relu"]


def test_features_shapes_and_the_one_line_description(state):
    assert state.layer_name() == "head_relu" and state.features().shape == (40, 1280)
    assert state.describe() == ("FASHION200 · efficientnet-lite0 (ImageNet weights) · layer head_relu 7×7×1280 "
                                "· avg pooling → 1280 dims")
    state.configure(layer="stem_relu", pooling="max")
    pooled = state.features()
    assert pooled.shape == (40, 32) and "stem_relu 112×112×32 · max pooling → 32 dims" in state.describe()
    state.configure(pooling="avg")
    assert not np.allclose(state.features(), pooled), "max and avg pooling give different features"


# ---------------------------------------------------------------- search controls


@pytest.mark.parametrize("metric", search.METRICS)
def test_results_and_score_match_scipy_and_the_closed_form(state, metric):
    state.configure(metric=metric, p=1.5)
    state.select(9)
    found, score = state.results()
    feats, labels = state.features(), state.image_set.labels
    np.testing.assert_array_equal(found.indices, reference_top(feats, 9, 15, metric, p=1.5))
    assert score == pytest.approx(weighted(labels[found.indices], labels[9], 15))
    assert state.random_baseline() == pytest.approx(3 / 39), "4 per class: (4-1)/(40-1) of the others share it"


def test_metric_switch_reorders_without_recomputing_features(state, monkeypatch):
    state.features()
    spy_cached, spy_extract = Spy(monkeypatch, fx, "cached_features"), Spy(monkeypatch, fx, "extract_features")
    rankings = {}
    for metric in ("cosine", "euclidean"):
        state.configure(metric=metric)
        rankings[metric] = [state.select(q) or state.results()[0].indices.tolist() for q in range(40)]
    assert rankings["cosine"] != rankings["euclidean"], "the metric changes some rankings"
    assert spy_cached.calls == 0 and spy_extract.calls == 0, "a new metric reuses the features"
    state.configure(layer="stem_relu")
    state.features()
    state.configure(layer="head_relu")
    state.features()
    assert spy_cached.calls == 1, "a new layer needs its features (from the disk cache); going back is free"
    assert spy_extract.calls == 0, "the disk cache answered: nothing was extracted"


def test_k_and_minkowski_p(state):
    state.select(4)
    top15 = state.results()[0].indices
    state.configure(k=5)
    found, score = state.results()
    np.testing.assert_array_equal(found.indices, top15[:5])
    assert score == pytest.approx(weighted(state.image_set.labels[top15], state.image_set.labels[4], 5))
    with pytest.raises(ValueError, match="more than the 39 other images"):
        state.configure(k=40)
    assert state.k == 5, "a refused change changes nothing"
    state.configure(k=15, metric="cosine", p=1.0)
    assert state.results()[0].indices.tolist() == top15.tolist(), "p only matters for minkowski"
    state.configure(metric="minkowski")
    by_p = {}
    for p in (1.0, 8.0):
        state.configure(p=p)
        by_p[p] = state.results()[0].distances
    assert by_p[1.0][0] > by_p[8.0][0], "an L1 distance exceeds the L8 distance of the same pair"
    with pytest.raises(ValueError, match="p must be >= 1"):
        state.configure(p=0.5)


def test_class_filter_selects_the_gallery_not_the_search(state):
    before = state.results()[0].indices
    state.configure(class_filter=3)
    assert state.gallery_indices().tolist() == [12, 13, 14, 15]
    np.testing.assert_array_equal(state.results()[0].indices, before)
    state.configure(class_filter=None)
    assert len(state.gallery_indices()) == 40
    state.configure(class_filter=3)
    with pytest.raises(ValueError, match="class filter"):
        state.configure(class_filter=10)
    assert state.class_filter == 3, "a refused change changes nothing"


def test_select_changes_the_query(state):
    state.select(17)
    found, _ = state.results()
    assert found.query == 17 and 17 not in found.indices
    with pytest.raises(IndexError, match="0..39"):
        state.select(40)
    assert state.query == 17


def test_upload_searches_with_an_image_of_yours(state, gallery):
    uploaded = state.upload(png_bytes(gallery.images[21]), "copy.png")
    assert uploaded.image.shape == (28, 28, 3)
    found, score = state.results()
    assert score is None, "an upload has no class, so no score"
    assert found.indices[0] == 21 and found.distances[0] == pytest.approx(0, abs=1e-5)
    np.testing.assert_allclose(state.query_vector(), state.features()[21], rtol=1e-4, atol=1e-4)
    state.configure(layer="stem_relu")
    assert state.results()[0].indices[0] == 21, "the upload follows the layer"
    with pytest.raises(ImageDataError, match="notes.png"):
        state.upload(b"certainly not a PNG", "notes.png")
    assert state.query is uploaded, "a bad file leaves the query alone"


def test_dataset_change_resets_query_and_filter(state, gallery):
    state.select(5)
    state.configure(class_filter=2)
    first = gallery.subset(np.arange(20))  # another set, so another fingerprint
    state.configure(dataset=ImageSet("FIRST20", first.images, first.labels, first.class_names, "test", "test"))
    assert state.dataset == "FIRST20" and state.query == 0 and state.class_filter is None
    assert not state.ready(), "new data needs new features"
    with pytest.raises(ValueError, match="unknown image set"):
        state.configure(dataset="MNIST")


# ---------------------------------------------------------------- the map


@pytest.mark.slow  # UMAP's numba code compiles on the first fit in a process (tens of seconds)
def test_umap_embedding_is_finite_memoised_and_clickable(state, monkeypatch):
    import umap

    points = state.embedding()
    assert points.shape == (40, 2) and np.all(np.isfinite(points))
    fits = Spy(monkeypatch, umap.UMAP, "fit_transform")
    assert state.embedding() is points and fits.calls == 0, "memoised"
    assert all(state.point_to_index(*points[i] + 1e-9) == i for i in range(40))
    state.configure(metric="euclidean", k=5)
    assert state.embedding() is points, "search settings do not touch the map"
    state.configure_umap(min_dist=0.5)
    moved = state.embedding()
    assert fits.calls == 1 and moved.shape == (40, 2)
    state.configure_umap(n_neighbors=500)
    assert state._umap_key()[5] == 39, "n_neighbors is capped below the number of images"
    with pytest.raises(ValueError, match="n_neighbors"):
        state.configure_umap(n_neighbors=1)

    app = ImageSearchApp(state, show_umap=True, background=False)
    assert len(app.scatter.x) == 40 and app.scatter.query == state.query
    app.scatter.clicked = 33
    assert state.query == 33 and app.scatter.query == 33 and "#33" in app.query_title.value
    assert app.scatter.highlighted == state.results()[0].indices.tolist()
    app.min_dist.value = 0.2
    assert state.umap.min_dist == 0.2 and app.scatter.x != moved[:, 0].tolist()


# ---------------------------------------------------------------- the view


def test_thumbgrid_sprite_holds_every_tile():
    images = np.zeros((7, 10, 10, 3), np.uint8)
    images[3] = 255
    url = sprite_data_url(images, tile=4, columns=3)
    import base64

    sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert sheet.shape == (12, 12, 3)  # 3 rows of 3 tiles of 4 px
    assert sheet[4:8, 0:4].min() == 255 and sheet[0:4, 0:12].max() == 0, "tile 3 is row 1, column 0"
    grid = ThumbGrid()
    with pytest.raises(ValueError, match="colours"):
        grid.highlight([1], ["red", "blue"])


def test_the_view_drives_the_state(gallery, cache):
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False, background=False)
    st = app.state
    assert app.errors.value == "" and app.output.outputs == ()
    assert re.search(r"score <b>\d+%</b> \(random ≈ 7\.7%\)", app.score.value)
    assert app.results.count == 15 and len(app.results.captions) == 15 and app.gallery.count == 40
    labels = st.image_set.labels
    assert app.results.colors == ["#2ca02c" if labels[i] == labels[0] else "#d62728" for i in app._result_ids]
    assert app.layer.value == "head_relu" and len(app.layer.options) == 9
    # advanced options
    assert app.advanced.layout.display == "none"
    app.advanced_button.value = True
    assert app.advanced.layout.display == ""
    # class filter, then a click on the gallery
    app.class_filter.value = 5
    assert st.class_filter == 5 and app.gallery.count == 4
    app.gallery.clicked = 2
    assert st.query == 22 and app.gallery.highlighted == [2] and app.query_title.value.endswith("#22</b> · Sandal")
    # a click on a result searches from it
    target = app._result_ids[3]
    app.results.clicked = 3
    assert st.query == target
    # metric, p, k, layer
    app.metric.value = "euclidean"
    assert st.metric == "euclidean" and "by euclidean" in app.score.value and app.p.disabled
    app.metric.value = "minkowski"
    assert not app.p.disabled
    app.p.value = 2.0
    assert st.p == 2.0
    app.k.value = 7
    assert st.k == 7 and app.results.count == 7
    app.layer.value = "stem_relu"
    assert "stem_relu" in app.description.value and st.features().shape == (40, 32)
    app.k.value = 45
    assert st.k == 39, "the slider stops at the number of other images"
    assert app.errors.value == "" and app.output.outputs == ()


def test_the_view_takes_uploads_and_names_bad_files(gallery, cache):
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False, background=False)
    send_files(app.upload, [("mine.png", png_bytes(gallery.images[30]))])
    assert "your image" in app.query_title.value and "mine.png" in app.query_title.value
    assert app._result_ids[0] == 30 and "no class" in app.score.value and app.results.colors == []
    assert not app.upload.value, "cleared, so the same file can be sent again"
    send_files(app.upload, [("broken.png", b"\x89PNG\r\n\x1a\n broken")])
    assert "broken.png" in app.errors.value and "⚠" in app.errors.value
    assert app.state.query.name == "mine.png"


def test_a_new_backbone_loads_imagenet_weights_unless_told_otherwise(state):
    """Random weights are a per-model baseline: a new model comes with its ImageNet weights."""
    state.configure(weights=None)
    assert "(random weights)" in state.describe()
    state.configure(backbone="efficientnet-lite1")
    assert state.weights == "imagenet" and state.layer is None
    state.configure(backbone="MobileNet", weights=None)
    assert (state.backbone, state.weights) == ("MobileNet", None)
    state.configure(metric="euclidean")
    assert state.weights is None, "only a new backbone resets the weights"


def test_a_failed_switch_puts_the_state_back_to_what_is_shown(state, monkeypatch):
    mobilenet_offline(monkeypatch)
    shown, _ = state.results()
    state.configure(backbone="MobileNet", k=5)
    with pytest.raises(SettingsRevertedError) as caught:
        state.prepare()
    err = caught.value
    assert isinstance(err, BadInput) and isinstance(err.__cause__, apps.WeightsUnavailableError)
    assert err.wanted["backbone"] == "MobileNet" and err.wanted["weights"] == "imagenet"
    assert "\n" not in str(err) and str(err).startswith("Could not switch to MobileNet: ImageNet weights for MobileNet")
    assert str(err).endswith("Still showing FASHION200 with efficientnet-lite0 (ImageNet weights).")
    assert (state.backbone, state.weights, state.layer, state.k) == ("efficientnet-lite0", "imagenet", None, 15)
    assert state.ready() and state.results()[0].indices.tolist() == shown.indices.tolist()


def test_a_failed_model_switch_rolls_the_pickers_back_and_offers_random_weights(gallery, cache, monkeypatch):
    mobilenet_offline(monkeypatch)
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False, background=False)
    before, header = list(app._result_ids), app.description.value
    app.model.value = "MobileNet"
    assert app.model.value == "efficientnet-lite0" and app.weights.value == "imagenet", "rolled back"
    assert app.state.backbone == "efficientnet-lite0" and app.description.value == header
    assert app._result_ids == before and app.layer.value == "head_relu"
    assert "Could not switch to MobileNet" in app.errors.value and "offline" in app.errors.value
    assert "Still showing FASHION200 with efficientnet-lite0" in app.errors.value and "\n" not in app.errors.value
    assert app.random_weights_button.layout.display == ""
    assert app.random_weights_button.description == "Use MobileNet with random weights instead"
    assert "MobileNet" in app.random_weights_button.tooltip

    app.random_weights_button.click()
    assert (app.state.backbone, app.state.weights) == ("MobileNet", None)
    assert app.model.value == "MobileNet" and app.weights.value == "random", "the picker shows what is loaded"
    assert app.weights.value in [v for _, v in app.weights.options] and app.weights.index is not None
    assert "MobileNet (random weights)" in app.description.value and app.results.count == 15
    assert app.errors.value == "" and app.random_weights_button.layout.display == "none"

    app.model.value = "efficientnet-lite0"
    assert app.state.weights == "imagenet" and app.weights.value == "imagenet"
    assert app.description.value == header and app._result_ids == before, "ImageNet weights really loaded"


def test_a_failed_switch_in_the_background_is_one_line_not_a_traceback(gallery, cache, monkeypatch):
    mobilenet_offline(monkeypatch)
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False)
    app.wait(120)
    app.model.value = "MobileNet"
    app.wait(120)
    assert app.model.value == "efficientnet-lite0" and not app.model.disabled
    assert "⚠ Could not switch to MobileNet: ImageNet weights for MobileNet" in app.errors.value
    assert "offline (stand-in). Still showing FASHION200" in app.errors.value, "the first sentence: why"
    assert "Error" not in app.errors.value and app.job_errors.value == "", "an expected failure, not a bug"
    assert app.random_weights_button.layout.display == ""


def test_the_weights_picker_never_goes_blank(gallery, cache):
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False, background=False)
    app.layer.value = "stem_relu"  # cheap: the stem only
    app.weights.value = "random"
    assert app.state.weights is None and app.weights.value == "random" and app.weights.label == "random (a baseline)"
    assert "efficientnet-lite0 (random weights)" in app.description.value
    app.weights.value = "imagenet"
    assert app.state.weights == "imagenet" and "(ImageNet weights)" in app.description.value


def test_buttons_are_labelled_in_full_with_tooltips_and_the_progress_bar_says_what_it_counts(gallery, cache):
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False, background=False)
    assert assert_buttons_fit_and_explain(app.widget) >= 5  # advanced, upload, random weights, UMAP, class filter
    assert app.class_filter.tooltips[3] == f"Show only {gallery.class_names[2]}"
    assert app.progress.description == "features" and "features extracted" in app.progress.tooltip
    descriptions = [w.description for w in widget_tree(app.widget) if getattr(w, "description", "")]
    assert not [d for d in descriptions if SNAKE.search(d)], "labels a learner reads are words, not identifiers"


def test_the_gallery_box_is_exactly_as_wide_as_its_canvas(gallery, cache):
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False, background=False)
    width, height = app.gallery.pixel_size()
    assert (width, height) == (14 * (40 + 6) + 6, 3 * (40 + 6) + 6), "40 images, 14 a row: 3 rows"
    assert app.gallery.layout.width == app.gallery_box.layout.width == f"{width}px"
    assert app.gallery.layout.margin == "0", "a widget margin would push the canvas past the box"
    app.gallery.columns = 10
    assert app.gallery.layout.width == f"{10 * 46 + 6}px"
    assert app.results.pixel_size() == (5 * 70 + 6, 3 * (64 + 6 + 14) + 6), "15 results with captions"


def test_background_job_disables_controls_and_keeps_changes_made_meanwhile(gallery, cache, monkeypatch):
    gate, entered = threading.Event(), threading.Event()
    real = fx.cached_features

    def slow(*args, **kwargs):
        entered.set()
        assert gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(fx, "cached_features", slow)
    app = ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False)
    assert entered.wait(60) and app.job.running
    assert app.metric.disabled and app.layer.disabled and app.upload.disabled
    assert app.progress_label.value == "working…"
    app.metric.value = "squared"  # changes during the job ...
    app.scatter.clicked = 11
    gate.set()
    app.wait(120)
    assert not app.job.running and app.job_errors.value == ""
    assert app.state.metric == "squared" and app.state.query == 11  # ... are all applied
    assert "#11" in app.query_title.value and "by squared" in app.score.value
    assert app._result_ids == app.state.results()[0].indices.tolist()
    assert not app.metric.disabled and app.p.disabled


def test_results_show_while_the_map_computes_then_the_map_follows(gallery, cache, monkeypatch):
    gate, fitting, made = threading.Event(), threading.Event(), []

    class StandInUMAP:  # the real one compiles for tens of seconds; the view only needs (N, 2) points
        def __init__(self, **kwargs):
            made.append(kwargs)

        def fit_transform(self, x):
            fitting.set()
            assert gate.wait(60)
            return x[:, :2]

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=StandInUMAP))
    state = ImageSearchState(gallery, cache=cache)
    state.features()
    app = ImageSearchApp(state)
    assert fitting.wait(60)
    assert app.results.count == 15 and "score <b>" in app.score.value, "results do not wait for the map"
    assert app.scatter.x == [] and "computing" in app.scatter.message and app.metric.disabled
    assert app.progress.description == "UMAP fit"
    gate.set()
    app.wait(60)
    assert made == [{"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "random_state": 0}]
    np.testing.assert_allclose(app.scatter.x, state.features()[:, 0], rtol=1e-6)
    assert app.scatter.query == 0 and app.scatter.highlighted == app._result_ids and not app.metric.disabled
    assert app.scatter.class_names == list(gallery.class_names) and app.scatter.labels == gallery.labels.tolist()
    app.n_neighbors.value = 7
    app.umap_metric.value = "euclidean"
    app.wait(60)
    assert made[-1] == {"n_neighbors": 7, "min_dist": 0.1, "metric": "euclidean", "random_state": 0}
    app.umap_toggle.value = False
    assert app.umap_box.layout.display == "none"


# ---------------------------------------------------------------- the front ends, in a real browser

_FRONT_END = r"""
async ({ esm, css, state, click, boxWidth }) => {
  const handlers = {}, sent = [];
  const model = {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
    save_changes: () => sent.push(state.clicked),
    on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
    off: (ev, f) => { handlers[ev] = (handlers[ev] || []).filter((g) => g !== f); },
  };
  const style = document.createElement("style");  // the widget's _css, as anywidget adds it to the page
  style.textContent = css;
  document.head.replaceChildren(style);
  const mod = await import(URL.createObjectURL(new Blob([esm], { type: "text/javascript" })));
  // like an ipywidgets Box (border-box, overflow auto) holding the widget's element
  const outer = document.createElement("div"), el = document.createElement("div");
  Object.assign(outer.style, { boxSizing: "border-box", overflow: "auto", display: "flex", flexDirection: "column",
                               width: boxWidth ? boxWidth + "px" : "auto" });
  if (boxWidth) el.style.width = boxWidth + "px";
  outer.appendChild(el);
  document.body.replaceChildren(outer);
  mod.default.render({ model, el });
  await new Promise((r) => setTimeout(r, 300));  // the sprite decodes asynchronously
  const canvas = el.querySelector("canvas"), box = canvas.getBoundingClientRect();
  const pixel = Array.from(canvas.getContext("2d").getImageData(click[0], click[1], 1, 1).data);
  canvas.dispatchEvent(new MouseEvent("click", { clientX: box.left + click[0], clientY: box.top + click[1] }));
  return { sent, pixel, size: [canvas.width, canvas.height], legend: el.innerText,
           shown: [box.width, box.height], overflow: [outer.scrollWidth - outer.clientWidth,
                                                   outer.scrollHeight - outer.clientHeight] };
}
"""


def _run_front_ends(runs: list[tuple[str, str, dict, tuple[float, float], int | None]]) -> list[dict]:
    """Render each (esm, css, model state) with a stand-in model in one headless Chromium, in a
    box ``box`` px wide (None: unsized), and click once."""
    from playwright.sync_api import sync_playwright

    from browserml.tfjs_check import launch_chromium

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.set_content("<html><body></body></html>")
            return [page.evaluate(_FRONT_END, {"esm": esm, "css": css, "state": state, "click": list(click),
                                               "boxWidth": box})
                    for esm, css, state, click, box in runs]
        finally:
            browser.close()


@pytest.mark.chromium
def test_front_ends_draw_and_report_clicks_in_chromium():
    from browserml.tfjs_check import in_worker_thread
    from widgets.scatter import Scatter

    images = np.zeros((5, 8, 8, 3), np.uint8)
    images[4] = (255, 0, 0)
    grid = ThumbGrid(tile=20, columns=3)
    grid.show(images, captions=["a"] * 5, highlighted=[4], colors=["#00ff00"])
    scatter = Scatter(width=100, height=100)
    scatter.plot(np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]]), [0, 1, 1], ["cats", "dogs"])
    grid_out, scatter_out = in_worker_thread(_run_front_ends, [
        # tile 4 is row 1, column 1: x = 6 + 26, y = 6 + (20 + 6 + 14), plus half a tile
        (ThumbGrid._esm, str(ThumbGrid._css), {n: getattr(grid, n) for n in ThumbGrid.class_own_traits()}, (6 + 26 + 10, 6 + 40 + 10),
         grid.pixel_size()[0]),
        # point 1 (1, 1) is drawn at the top right corner inside the 12-pixel margin: (88, 12)
        (Scatter._esm, str(Scatter._css), {n: getattr(scatter, n) for n in Scatter.class_own_traits()}, (88 - 3, 12 + 2), None),
    ])
    assert grid_out["sent"] == [-1, 4], "a click reports -1, then the tile"
    assert grid_out["pixel"][:3] == [255, 0, 0], "the sprite's red tile is drawn where tile 4 belongs"
    assert grid_out["size"] == [3 * 26 + 6, 2 * 40 + 6] == list(grid.pixel_size())
    assert grid_out["shown"] == grid_out["size"], "drawn at 1:1 in a box of the Python-computed width"
    assert grid_out["overflow"] == [0, 0], "no clipped column, no scrollbar"
    assert scatter_out["sent"] == [-1, 1] and "cats" in scatter_out["legend"] and "dogs" in scatter_out["legend"]
