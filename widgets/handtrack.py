"""Lesson 4's app: handtrack.js's detector, live, on your photo, a webcam snapshot or a sample.

:class:`HandtrackApp` is the thin view over :class:`browserml.handtrack.state.HandtrackState`
(the picture, handtrack.js's settings and the detections, with no widgets): an upload, a
webcam snapshot button (:class:`WebcamSnapshot`, where the front end allows a camera),
sample buttons, the model pickers and sliders, the annotated picture, a table of
detections, latency and FPS. Loading a model and the first run take seconds, so they run
in a :class:`~widgets.common.LatestWins` worker while the controls are disabled.
``app.widget`` is its one root widget, and ``app`` as a cell's last line shows it.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets as W
import traitlets

from browserml.data.images import ImageDataError
from browserml.handtrack import images as samples
from browserml.handtrack.models import MODEL_SIZES, MODEL_TYPES
from browserml.handtrack.state import DEFAULT_SAMPLE, HARD_SAMPLES, SIZE_NAMES, HandtrackState
from browserml.png import encode_png
from widgets.common import (
    ERROR_INK,
    INK_SOFT,
    JS_DIR,
    PHOTO_CLASS,
    LatestWins,
    clear_upload,
    explain_labels,
    front_end,
    guarded,
    html_table,
    on_change,
    set_tooltip,
    slow_slider,
    uploaded_files,
    wrapping_row,
)

# --------------------------------------------------------------------------- the webcam


_DATA_URL = re.compile(r"^data:image/(png|jpeg|webp|gif);base64,([A-Za-z0-9+/=\s]+)$")


class WebcamSnapshot(anywidget.AnyWidget):
    """A button that takes one webcam photo in the browser and sends it to Python.

    The page asks ``navigator.mediaDevices.getUserMedia`` for the camera, draws one
    frame on a canvas and sets ``data_url`` to a JPEG ``data:`` URL. Where there is no
    camera API (no browser page, plain http), no camera, or no permission, ``status``
    says so in words; every wait has a timeout (``timeout_ms`` for the permission
    prompt), so the button never hangs. Its front end is ``widgets/js/webcam.js``, its
    styles ``webcam.css``.
    """

    _esm = front_end("webcam")
    _css = JS_DIR / "webcam.css"
    data_url = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    shots = traitlets.Int(0).tag(sync=True)
    timeout_ms = traitlets.Int(20_000).tag(sync=True)


def decode_data_url(url: str, name: str = "webcam photo") -> bytes:
    """The image bytes of a ``data:image/...;base64,...`` URL; anything else raises
    :class:`ImageDataError` naming ``name``."""
    match = _DATA_URL.match(url or "")
    if match is None:
        raise ImageDataError(f"{name}: not an image data URL (expected data:image/jpeg;base64,...)")
    try:
        return base64.b64decode(re.sub(r"\s", "", match.group(2)), validate=True)
    except ValueError as err:
        raise ImageDataError(f"{name}: the data URL's base64 is corrupt ({err})") from err


# --------------------------------------------------------------------------- view


def _fit_label() -> W.Layout:
    """A button's layout: as wide as its label, never squeezed by its row (ipywidgets' fixed
    default width truncates longer labels). One per widget: a shared Layout is shared state."""
    return W.Layout(width="auto", flex="0 0 auto")


class HandtrackApp:
    """Picture sources | model and settings | annotated picture, detections, latency.

    ``background=False`` runs the slow work (loading a model, the network) inline, for
    tests and scripts; by default it runs in a :class:`~widgets.common.LatestWins` worker
    with the controls disabled, and the newest change made meanwhile is applied when the
    job ends. Threshold and box-cap changes never wait: they only re-run NMS on the
    memoised raw outputs. ``widget`` is the app's root widget.
    """

    def __init__(self, state: HandtrackState | None = None, sample: str | None = DEFAULT_SAMPLE,
                 background: bool = True) -> None:
        self.state = state or HandtrackState()
        if self.state.image is None and sample is not None:
            self.state.use_sample(sample)
        self.background = background
        self.output = W.Output()
        self.errors = W.HTML()
        self.job_errors = W.HTML()
        self.job = LatestWins(self._update, errors=self.job_errors, on_busy=self._set_busy, on_error=self._failed,
                              background=background)
        st = self.state
        wide = {"description_width": "initial"}

        self.upload = set_tooltip(W.FileUpload(accept="image/*", multiple=False, description="Upload a photo",
                                               layout=_fit_label()),
                                  "Upload a photo of your own (JPEG, PNG, ...) to find hands in it")
        try:
            self.webcam: WebcamSnapshot | None = WebcamSnapshot()
            webcam_view: W.Widget = self.webcam
        except Exception as err:  # noqa: BLE001  (no anywidget front end: say so, the rest still works)
            self.webcam = None
            webcam_view = W.HTML(f"Webcam photos need anywidget ({err}); upload a photo instead.")
        order = sorted(samples.SCENES, key=lambda name: name in HARD_SAMPLES)  # ones the model finds first
        self.sample_names = order
        self.sample_buttons = [W.Button(description=name.replace("_", " "),
                                        tooltip=HARD_SAMPLES.get(name, samples.SCENES[name].shows),
                                        layout=_fit_label())
                               for name in order]
        self.model_type = W.Dropdown(options=list(MODEL_TYPES), value=st.model_type, description="model type",
                                     style=wide)
        self.size = W.Dropdown(options=[(f"{s} ({SIZE_NAMES[s]}, folder {f})", s) for s, f in MODEL_SIZES.items()],
                               value=st.size, description="model size", style=wide)
        self.score = slow_slider(W.FloatSlider, value=st.score_threshold, min=0.0, max=1.0, step=0.01,
                                 description="score threshold")
        self.iou = slow_slider(W.FloatSlider, value=st.iou_threshold, min=0.0, max=1.0, step=0.01,
                               description="IoU threshold (NMS)")
        self.max_boxes = slow_slider(W.IntSlider, value=st.max_boxes, min=1, max=100, description="max boxes")
        self.flip = W.Checkbox(value=st.flip_horizontal, description="flip horizontally (selfie view)")
        self.picture = W.Image(format="png", layout=W.Layout(max_width="640px"))
        self.picture.add_class(PHOTO_CLASS)  # a photo, opaque on any theme
        self.table = W.HTML()
        self.stats = W.HTML()
        self.progress_label = W.HTML()
        self.controls: list[W.DOMWidget] = [self.upload, self.model_type, self.size, self.score, self.iou,
                                            self.max_boxes, self.flip, *self.sample_buttons]
        self._wire()
        self.widget = W.VBox([
            W.HTML("<b>Handtrack.js, live</b>: the npm package's own model finds hands (and faces) in a picture. "
                   "Boxes below the score threshold, or overlapping a better box by more than the IoU threshold, "
                   "are dropped."),
            W.HBox([self.upload, webcam_view]),
            W.HBox([W.HTML("samples:"), *self.sample_buttons]),
            W.HBox([self.model_type, self.size]),
            W.HBox([self.score, self.iou]),
            W.HBox([self.max_boxes, self.flip]),
            self.progress_label, self.errors, self.job_errors,
            # the table beside the picture while both fit, under it otherwise; its text wraps
            wrapping_row([self.picture, W.VBox([self.stats, self.table],
                                                layout=W.Layout(flex="1 1 320px", min_width="min-content"))]),
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
                st.configure(**{name: value})
                self.refresh()
            return apply

        for widget, name in ((self.model_type, "model_type"), (self.size, "size"), (self.score, "score_threshold"),
                             (self.iou, "iou_threshold"), (self.max_boxes, "max_boxes"),
                             (self.flip, "flip_horizontal")):
            on_change(widget, setting(name), out, err)
        on_change(self.upload, self._on_upload, out, err)
        for button, name in zip(self.sample_buttons, self.sample_names):
            button.on_click(guarded(lambda _b, name=name: (st.use_sample(name), self.refresh()), out, err))
        if self.webcam is not None:
            self.webcam.observe(guarded(lambda change: self._on_webcam(change["new"]), out, err), names="data_url")

    def _on_upload(self, value: Any) -> None:
        files = uploaded_files(value)  # ipywidgets 7 and 8 shape it differently
        if not files:
            return
        name, content = files[0]
        try:
            self.state.set_image_bytes(content, name)
        finally:
            clear_upload(self.upload)  # so the same file can be uploaded again
        self.refresh()

    def _on_webcam(self, url: str) -> None:
        if not url:
            return
        self.state.set_image_bytes(decode_data_url(url), "webcam photo")
        self.refresh()

    # ---- running
    def refresh(self) -> None:
        """Show the state: at once when the raw outputs are memoised, else after running the
        network (in the background unless ``background=False``). During a job, the newest
        state is shown when it ends; a change that alters nothing redraws nothing."""
        st = self.state
        self.job.submit(st.view_key(), quick=st.image is None or st.ready())

    def wait(self, timeout: float | None = 300) -> None:
        """Block until the background work is done (for tests and scripts)."""
        self.job.join(timeout)

    def _update(self, _wanted: Any) -> None:
        """The worker's job: run the network if the picture, model or flip is new, then draw."""
        if self.state.image is not None and not self.state.ready():
            self.state.raw()
        self._render()

    def _failed(self, failure: BaseException) -> None:
        """Report a failure of the slow work (the newest settings' only: older ones were dropped)."""
        self.progress_label.value = f"<span style='color:{ERROR_INK}'>stopped: see the message below</span>"
        raise failure

    def _set_busy(self, busy: bool) -> None:
        for control in self.controls:
            control.disabled = busy
        self.progress_label.value = (f"loading {self.state.model_type} ({self.state.size}) and running it…"
                                     if busy else "")

    def _render(self) -> None:
        st = self.state
        if st.image is None:
            self.stats.value = "Upload a photo, take a webcam photo or pick a sample."
            self.table.value, self.picture.value = "", b""
            return
        self.picture.value = encode_png(st.annotated(), compress_level=1)
        self.stats.value = (f"<span style='color:{INK_SOFT}'>{html.escape(st.describe())}<br>"
                            f"{html.escape(st.timing())}</span>")
        rows = st.rows()
        self.table.value = (html_table(rows, fmt="{:.3f}") if rows
                            else f"<div style='max-width:360px'>{html.escape(st.nothing_found() or '')}</div>")


__all__ = ["HandtrackApp", "WebcamSnapshot", "decode_data_url"]
