"""Lesson 3's app: ConvNet Playground rebuilt live — click an image, see its 15 nearest.

:class:`ImageSearchApp` is the thin view over
:class:`browserml.imagesearch.state.ImageSearchState` (the choices and everything they
compute, with no widgets): a clickable gallery (:class:`ThumbGrid`), the query and its
results with ConvNet Playground's search result score beside the score of a random
ranking, a clickable UMAP (:class:`Scatter`), an upload, and the advanced options. Slow
work runs in a :class:`~widgets.common.LatestWins` worker, so the notebook never freezes
and only the newest settings are computed. ``app.widget`` is its one root widget, and
``app`` as a cell's last line shows it.
"""

from __future__ import annotations

import contextlib
import html
import threading
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as W
import numpy as np

from browserml.data import images as imgs
from browserml.errors import BadInput
from browserml.imagesearch import applications as apps
from browserml.imagesearch import backbones as bbs
from browserml.imagesearch import features as fx
from browserml.imagesearch import search
from browserml.imagesearch.embedding import UMAP_METRICS
from browserml.imagesearch.state import ImageSearchState, SettingsRevertedError, UploadedImage
from browserml.png import encode_png
from widgets.common import (
    ERROR_INK,
    INK_SOFT,
    PHOTO_CLASS,
    LatestWins,
    clear_upload,
    error_html,
    explain_labels,
    guarded,
    on_change,
    set_tooltip,
    slow_slider,
    uploaded_files,
    wrapping_row,
)
from widgets.scatter import Scatter
from widgets.thumbgrid import ThumbGrid

#: The weights picker's options: a string value for random weights too, because ipywidgets
#: reads a ``None`` value as "nothing selected" and shows a blank picker.
WEIGHT_OPTIONS: tuple[tuple[str, str], ...] = (("ImageNet", "imagenet"), ("random (a baseline)", "random"))




SAME, OTHER, QUERY = "#2ca02c", "#d62728", "#ff7f0e"  # result borders: same class, other class; the query


def _fit_label(**more: str) -> W.Layout:
    """A button's layout: as wide as its label, never squeezed by its row (ipywidgets' fixed
    default width truncates longer labels). One per widget: a shared Layout is shared state."""
    return W.Layout(width="auto", flex="0 0 auto", **more)


def _weights_option(weights: str | None) -> str:
    """The weights picker's value for the state's weights (None: random)."""
    return "random" if weights is None else weights


class ImageSearchApp:
    """Gallery | query, top-k and score | UMAP, with advanced options and an upload.

    ``background=False`` runs the slow work inline (tests, scripts); by default it runs
    in a :class:`~widgets.common.LatestWins` worker while the controls are disabled, and
    the newest change made meanwhile (a click on the gallery or the map) is applied when
    the job ends. ``widget`` is the app's root widget.
    """

    def __init__(self, state: ImageSearchState | None = None, show_umap: bool = True,
                 background: bool = True) -> None:
        self.state = state or ImageSearchState()
        self.background = background
        self.output = W.Output()
        self.errors = W.HTML()
        self.job_errors = W.HTML()
        self.job = LatestWins(self._update, errors=self.job_errors, on_busy=self._set_busy, on_error=self._failed,
                              background=background)
        self._busy = False  # the controls are disabled while slow work runs
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
        self.widget = W.VBox([
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
        explain_labels(self.widget)
        guarded(self.refresh, self.output, self.errors)()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # ---- wiring
    def _wire(self) -> None:
        out, err, st = self.output, self.errors, self.state

        def setting(name: str) -> Callable[[Any], None]:
            def apply(value: Any) -> None:
                if self._syncing != threading.get_ident():
                    st.configure(**{name: value})
                    self.refresh()
            return apply

        def umap_setting(name: str) -> Callable[[Any], None]:
            def apply(value: Any) -> None:
                st.configure_umap(**{name: value})
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
            on_change(widget, umap_setting(name), out, err)
        on_change(self.advanced_button, lambda v: setattr(self.advanced.layout, "display", "" if v else "none"),
                  out, err)
        on_change(self.umap_toggle, lambda v: (setattr(self.umap_box.layout, "display", "" if v else "none"),
                                               self.refresh()), out, err)
        on_change(self.upload, self._on_upload, out, err)
        self.random_weights_button.on_click(guarded(self._use_random_weights, out, err))
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
        (in the background unless ``background=False``). During a job, the newest state is
        shown when it ends, so no change is lost; a change that alters nothing redraws nothing."""
        st = self.state
        self.job.submit(st.view_key(self.show_umap), quick=st.ready(self.show_umap))

    def wait(self, timeout: float | None = 300) -> None:
        """Block until the background work is done (for tests and scripts)."""
        self.job.join(timeout)

    def _update(self, _wanted: Any) -> None:
        """The worker's job: bring everything up to date with the state, then draw it."""
        if self.state.ready(self.show_umap):
            self._render()  # everything memoised: no slow work
            return
        self._sync_layer_options()
        self.state.prepare(self._report)
        self._render()  # the results show now; the map (slow the first time) follows
        if self.show_umap and not self.state.ready(embedding=True):
            self.state.embedding(lambda done, total: self._report("umap", done, total))
            self._render()
        self._offer_random_weights(None)

    def _failed(self, failure: BaseException) -> None:
        """Report a failure of the slow work (the newest settings' only: older ones were dropped)."""
        self._offer_random_weights(failure)
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
        self._busy = busy
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
        self.p.disabled = self._busy or st.metric != "minkowski"
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
            self.query_image.value = encode_png(st.query.image, side=96)
            self.query_title.value = f"<b>your image</b> {html.escape(st.query.name)}"
        else:
            label = st.image_set.labels[st.query]
            self.query_image.value = encode_png(st.image_set.images[st.query], side=96)
            self.query_title.value = f"<b>query #{st.query}</b> · {st.image_set.class_names[label]}"

    def _draw_results(self, found: search.SearchResult) -> None:
        st = self.state
        labels, names = st.image_set.labels, st.image_set.class_names
        ids = found.indices.tolist()
        if isinstance(st.query, UploadedImage):
            colors: list[str] = []
        else:
            colors = [SAME if labels[i] == labels[st.query] else OTHER for i in ids]
        tooltips = [f"#{i} · {names[labels[i]]} · distance {d:.4g}" for i, d in zip(ids, found.distances)]
        self.results.show(st.image_set.images[ids], captions=[f"{d:.3g}" for d in found.distances], tooltips=tooltips,
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


__all__ = ["ImageSearchApp"]
