"""Lesson 4's app: handtrack.js's detector, live, on your photo, a webcam snapshot or a sample.

``HandtrackState`` holds the picture and handtrack.js's settings (model type, model
size, score threshold, IoU threshold, max boxes, flip) and computes what the app shows,
with no widgets: tests set values and call methods. The network's raw outputs (12,804
boxes x 7 scores) are memoised per picture, model and flip, so moving a threshold or
the box cap only re-runs the cheap post-processing (best class per box + NMS), as in
:mod:`browserml.handtrack.detect`, which splits ``detect()`` into exactly those steps.

``HandtrackApp`` is the thin view: an upload, a webcam snapshot button
(:class:`WebcamSnapshot`, where the front end allows a camera), sample buttons, the
model pickers and sliders, the annotated picture, a table of detections, latency and
FPS. Loading a model and the first run take seconds, so they run in a
:class:`BackgroundJob` while the controls are disabled.

Two things a learner would otherwise misread are said in words. Timing: the first call
on a picture includes TensorFlow's one-time set-up for that input size, so the app shows
it apart from the steady state (the median of :data:`STEADY_RUNS` more calls), which is
what an FPS figure means. And an empty result: :meth:`HandtrackState.nothing_found`
gives the best box the model did score, and why a picture can be outside what this
model learned (the ``hand_closeup`` sample finds nothing at the default threshold).
"""

from __future__ import annotations

import base64
import collections
import html
import io
import re
import statistics
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import anywidget
import ipywidgets as W
import numpy as np
import traitlets

from browserml.data.images import ImageDataError, read_image
from browserml.handtrack import detect as ht
from browserml.handtrack import images as samples
from browserml.handtrack.draw import draw_detections
from browserml.handtrack.models import LABELS, MODEL_SIZES, MODEL_TYPES
from widgets.common import (
    ERROR_INK,
    INK_SOFT,
    PHOTO_CLASS,
    BackgroundJob,
    clear_upload,
    explain_labels,
    guarded,
    html_table,
    on_change,
    set_tooltip,
    slow_slider,
    uploaded_files,
    wrap,
    wrapping_row,
)

#: State setting -> handtrack.js parameter (what :func:`browserml.handtrack.detect.check_params` checks).
PARAMETERS: dict[str, str] = {
    "model_type": "modelType",
    "size": "modelSize",
    "score_threshold": "scoreThreshold",
    "iou_threshold": "iouThreshold",
    "max_boxes": "maxNumBoxes",
    "flip_horizontal": "flipHorizontal",
}
RAW_MEMO_SIZE = 8  # raw outputs kept (pictures x models x flips): 12,804 x 11 floats each
WARMUP_SHAPE = (300, 300, 3)  # handtrack.js's load() runs one zero frame this size before the first detect()
DEFAULT_SAMPLE = "two_open_hands"
SIZE_NAMES = {"large": "float32", "medium": "float16", "small": "int8"}
STEADY_RUNS = 5  # timed calls after the first on a picture; their median is the steady-state latency
RUNS_PER_PICTURE = 1 + STEADY_RUNS  # network runs per new picture (or model, or flip)
#: Samples the default model finds nothing in, and why: shown last, with this note as their tooltip.
HARD_SAMPLES: dict[str, str] = {
    "hand_closeup": "A palm filling the whole frame: the model finds nothing here (its training pictures show "
                    "hands a fraction of a webcam frame). The app says what it did see.",
}
#: What handtrack.js's README says its model was trained on (node_modules/handtrackjs/README.md).
TRAINING_DATA = ("handtrack.js's model was trained on about 2,000 pictures, mostly of a person facing a webcam "
                 "with hands a fraction of the frame")


class _Memo:
    """A small thread-safe LRU dict (the background job and the kernel both read it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self.lock:
            if key not in self.data:
                return None
            self.data.move_to_end(key)
            return self.data[key]

    def put(self, key: Hashable, value: Any) -> Any:
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


class HandtrackState:
    """The picture, handtrack.js's settings and the detections, with no widgets.

    Settings (change them with :meth:`configure`; a bad value raises
    :class:`~browserml.handtrack.detect.HandDetectError`, a ``ValueError``, and changes
    nothing): ``model_type`` (``"ssd320fpnlite"`` or ``"ssd640fpnlite"``), ``size``
    (handtrack.js's ``modelSize``: ``"small"`` int8, ``"medium"`` float16,
    ``"large"`` float32), ``score_threshold``, ``iou_threshold``, ``max_boxes`` and
    ``flip_horizontal``; the defaults are handtrack.js's. The picture is set with
    :meth:`set_image`, :meth:`set_image_bytes` or :meth:`use_sample`.
    """

    def __init__(self, image: np.ndarray | None = None, name: str = "", *,
                 loader: Callable[..., ht.HandDetector] = ht.load, **settings: Any) -> None:
        defaults = ht.DEFAULT_PARAMS
        self.model_type: str = defaults["modelType"]
        self.size: str = defaults["modelSize"]
        self.score_threshold: float = defaults["scoreThreshold"]
        self.iou_threshold: float = defaults["iouThreshold"]
        self.max_boxes: int = defaults["maxNumBoxes"]
        self.flip_horizontal: bool = defaults["flipHorizontal"]
        self.image: np.ndarray | None = None
        self.image_name = ""
        self.is_sample = False  # image_name is then a sample's key (shown with spaces)
        self.first_call_ms: float | None = None  # the first full detect() on the picture: includes set-up
        self.latency_ms: float | None = None  # steady state: median of STEADY_RUNS more full detect() calls
        self.network_size: tuple[int, int] | None = None  # (width, height) the network ran at
        self.postprocess_ms: float | None = None  # the last best-class + NMS alone
        self._loader = loader
        self._version = 0  # bumped per picture: the memo key, cheaper than hashing pixels
        self._detectors = _Memo(len(MODEL_TYPES) * len(MODEL_SIZES))
        self._raw = _Memo(RAW_MEMO_SIZE)
        self._detections = _Memo(64)
        self.configure(**settings)
        if image is not None:
            self.set_image(image, name)

    # ---- settings
    def params(self, **changes: Any) -> dict[str, Any]:
        """handtrack.js's parameter object for the current settings (plus ``changes``), checked."""
        unknown = set(changes) - set(PARAMETERS)
        if unknown:
            raise ht.HandDetectError(f"unknown setting(s) {sorted(unknown)}; known: {list(PARAMETERS)}")
        values = {name: getattr(self, name) for name in PARAMETERS} | changes
        return ht.check_params({PARAMETERS[name]: value for name, value in values.items()})

    def configure(self, **changes: Any) -> None:
        """Change settings by name; all are checked before any is applied."""
        checked = self.params(**changes)
        for name in changes:
            value = checked[PARAMETERS[name]]
            setattr(self, name, bool(value) if name == "flip_horizontal" else value)

    # ---- the picture
    def set_image(self, image: np.ndarray, name: str = "image") -> None:
        """Use ``image`` (uint8 RGB ``(H, W, 3)``; RGBA loses its alpha); a copy is kept, read-only."""
        rgb = np.array(ht.check_image(image), dtype=np.uint8, copy=True)
        rgb.flags.writeable = False
        self.image, self.image_name, self.is_sample = rgb, str(name), False
        self._version += 1

    def set_image_bytes(self, content: bytes, name: str) -> None:
        """Use an image file's bytes (an upload, a webcam JPEG); a file that is not an image,
        or is corrupt, raises :class:`~browserml.data.images.ImageDataError` naming it and
        leaves the current picture alone."""
        self.set_image(read_image(bytes(content), name), name)

    def use_sample(self, name: str) -> None:
        """Use one of the lesson's test scenes (:data:`browserml.handtrack.images.SCENES`)."""
        self.set_image(samples.scene(name), name)
        self.is_sample = True

    @property
    def image_label(self) -> str:
        """The picture's name as a learner reads it: a sample's key with spaces."""
        return self.image_name.replace("_", " ") if self.is_sample else self.image_name

    def _require_image(self) -> np.ndarray:
        if self.image is None:
            raise RuntimeError("no picture yet: upload one, take a webcam photo or pick a sample")
        return self.image

    # ---- running
    def detector(self) -> ht.HandDetector:
        """The current model, loaded once per type and size and warmed up the way
        handtrack.js's ``load()`` does (one zero frame), so the first latency is honest."""
        key = (self.model_type, self.size)
        found = self._detectors.get(key)
        if found is None:
            found = self._loader(model_type=self.model_type, size=self.size)
            found.raw(np.zeros(WARMUP_SHAPE, np.uint8))
            self._detectors.put(key, found)
        return found

    def _raw_key(self) -> tuple[Any, ...]:
        return (self._version, self.model_type, self.size, self.flip_horizontal)

    def ready(self) -> bool:
        """Whether :meth:`detections` can answer without running the network."""
        return self.image is not None and self._raw.get(self._raw_key()) is not None

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        """The network's ``(boxes (N, 4), scores (N, 7))`` for the picture as the current model
        and flip see it; memoised. When it really runs it is timed twice over: the first
        call (:attr:`first_call_ms`; at a new input size it includes TensorFlow's set-up)
        and the median of :data:`STEADY_RUNS` more (:attr:`latency_ms`, what :attr:`fps` uses)."""
        image = self._require_image()
        key = self._raw_key()
        found = self._raw.get(key)
        if found is None:
            det = self.detector()
            params = self.params()
            times = []
            for _ in range(RUNS_PER_PICTURE):
                start = time.perf_counter()
                pixels = ht.model_input(image, params)
                found = det.graph.raw(pixels)
                self._postprocess(found)  # timed with the rest: handtrack.js's FPS covers its whole detect()
                times.append((time.perf_counter() - start) * 1000.0)
            self._raw.put(key, found)
            self.network_size = (int(pixels.shape[2]), int(pixels.shape[1]))
            self.first_call_ms, self.latency_ms = times[0], statistics.median(times[1:])
        return found

    def _postprocess(self, raw: tuple[np.ndarray, np.ndarray]) -> list[dict[str, Any]]:
        """handtrack.js's steps after the network: best class per box, NMS, boxes in pixels."""
        image = self._require_image()
        start = time.perf_counter()
        boxes, scores = raw
        best, columns = ht.max_scores(scores)
        keep = ht.non_max_suppression(boxes, best, self.max_boxes, self.iou_threshold, self.score_threshold)
        found = ht.build_detections(boxes, best, columns, keep, image.shape[1], image.shape[0])
        self.postprocess_ms = (time.perf_counter() - start) * 1000.0
        return found

    def detections(self) -> list[dict[str, Any]]:
        """What handtrack.js's ``detect()`` returns for the picture and settings, best first
        (``score`` a float): memoised per picture and settings."""
        key = (*self._raw_key(), float(self.score_threshold), float(self.iou_threshold), int(self.max_boxes))
        found = self._detections.get(key)
        if found is None:
            found = self._detections.put(key, self._postprocess(self.raw()))
        return found

    @property
    def fps(self) -> float | None:
        """Frames per second at the steady-state :attr:`latency_ms` (handtrack.js's ``getFPS()``, unrounded)."""
        return None if not self.latency_ms else 1000.0 / self.latency_ms

    def best_box(self) -> dict[str, Any] | None:
        """The single highest-scoring box whatever the thresholds (a detection dict), or None
        when no box scores above zero: what the model saw, even when nothing passes."""
        image = self._require_image()
        boxes, scores = self.raw()
        best, columns = ht.max_scores(scores)
        top = int(np.argmax(best))
        if best[top] <= 0:
            return None
        return ht.build_detections(boxes, best, columns, np.array([top]), image.shape[1], image.shape[0])[0]

    def nothing_found(self) -> str | None:
        """Why there is no detection, in words (None when there are some): the best score the
        model gave and to which class, what the model was trained on, and what to try."""
        if self.detections():
            return None
        if self.max_boxes == 0:
            return "Nothing found: max boxes is 0, so every box is dropped. Allow at least one box."
        best = self.best_box()
        if best is None:
            return f"Nothing found: no box scored above 0 for any of the classes {', '.join(LABELS.values())}."
        x, y, w, h = best["bbox"]
        return (f"Nothing found: no detection above the score threshold {self.score_threshold:.2f}. The best box "
                f"scored only {best['score']:.2f}, as “{best['label']}” (at x {x:.0f}, y {y:.0f}, {w:.0f}×{h:.0f} px). "
                f"{TRAINING_DATA}; hands much bigger or smaller than that, unusual poses or lighting score low. "
                f"Try a picture where the hand fills a fraction of the frame (the “{DEFAULT_SAMPLE.replace('_', ' ')}” "
                f"sample), or lower the threshold below {best['score']:.2f} to see the model's weak guesses.")

    # ---- what the app shows
    def shown_image(self) -> np.ndarray:
        """The picture the boxes refer to: mirrored when ``flip_horizontal`` is on (handtrack.js
        draws the mirrored video under boxes it reports in the mirrored frame)."""
        image = self._require_image()
        return np.ascontiguousarray(image[:, ::-1]) if self.flip_horizontal else image

    def annotated(self) -> np.ndarray:
        """The shown picture with each detection's box and ``label score``, in handtrack.js's colours."""
        return draw_detections(self.shown_image(), self.detections())

    def rows(self) -> list[dict[str, Any]]:
        """One table row per detection: label, class, score and the ``[x, y, w, h]`` box in pixels."""
        return [{"#": k + 1, "label": d["label"], "class": d["class"], "score": round(d["score"], 3),
                 "x": round(d["bbox"][0], 1), "y": round(d["bbox"][1], 1),
                 "width": round(d["bbox"][2], 1), "height": round(d["bbox"][3], 1)}
                for k, d in enumerate(self.detections())]

    def describe(self) -> str:
        """One line: model, weights, picture, its size and the number of detections."""
        image = self._require_image()
        n = len(self.detections())
        return (f"{self.model_type} · {self.size} ({SIZE_NAMES[self.size]} weights) · "
                f"{self.image_label} {image.shape[1]}×{image.shape[0]} · {n} detection{'s' * (n != 1)}")

    def timing(self) -> str:
        """One line: the first call and the steady state, apart (one number would mislead),
        at what network input size, and the cost of re-applying the thresholds."""
        if self.latency_ms is None or self.first_call_ms is None or self.network_size is None:
            return ""
        width, height = self.network_size
        return (f"detect() in Python TensorFlow on this machine: first call {self.first_call_ms:.0f} ms "
                f"(at a new picture size it includes TensorFlow's one-time set-up); steady state {self.latency_ms:.0f} ms "
                f"≈ {self.fps:.1f} FPS (median of the next {STEADY_RUNS} calls), network input {width}×{height} · "
                f"thresholds re-applied in {self.postprocess_ms:.1f} ms")


# --------------------------------------------------------------------------- the webcam


_WEBCAM_ESM = r"""
export default {
  render({ model, el }) {
    const button = document.createElement("button");
    button.textContent = "Take a webcam photo";
    button.title = "Take one photo with your webcam (the browser asks for permission first)";
    const status = document.createElement("span");
    status.style.marginLeft = "8px"; status.style.color = "var(--jp-ui-font-color2, #555)";
    const say = (text) => { status.textContent = text; model.set("status", text); model.save_changes(); };
    const timeout = (ms, why) => new Promise((_, reject) => setTimeout(() => reject(new Error(why)), ms));
    button.addEventListener("click", async () => {
      const media = navigator.mediaDevices;
      if (!media || !media.getUserMedia) {
        say("No camera: this front end gives no camera access (it needs a browser page served over https " +
            "or localhost). Upload a photo instead.");
        return;
      }
      button.disabled = true;
      say("asking for the camera…");
      let stream = null, late = false;
      try {
        const asked = media.getUserMedia({ video: { facingMode: "user" }, audio: false });
        asked.then((s) => { if (late) s.getTracks().forEach((t) => t.stop()); }, () => {});
        stream = await Promise.race([asked, timeout(model.get("timeout_ms"),
          "no answer from the camera (is the permission prompt still open?)")]);
        const video = document.createElement("video");
        video.muted = true; video.playsInline = true; video.srcObject = stream;
        await Promise.race([video.play(), timeout(5000, "the camera sent no picture")]);
        await new Promise((r) => setTimeout(r, 400));  // let exposure settle
        const canvas = document.createElement("canvas");
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        if (!canvas.width || !canvas.height) throw new Error("the camera sent an empty frame");
        canvas.getContext("2d").drawImage(video, 0, 0);
        model.set("data_url", canvas.toDataURL("image/jpeg", 0.9));
        model.set("shots", model.get("shots") + 1);
        say(`photo taken (${canvas.width}×${canvas.height})`);
      } catch (err) {
        late = true;
        const name = err && err.name;
        const why = name === "NotAllowedError" ? "camera permission denied"
          : name === "NotFoundError" ? "no camera found"
          : name === "NotReadableError" ? "the camera is in use by another program"
          : String((err && err.message) || err);
        say(`No photo: ${why}. Upload a photo instead.`);
      } finally {
        if (stream) stream.getTracks().forEach((t) => t.stop());
        button.disabled = false;
      }
    });
    el.appendChild(button); el.appendChild(status);
  }
};
"""

_DATA_URL = re.compile(r"^data:image/(png|jpeg|webp|gif);base64,([A-Za-z0-9+/=\s]+)$")


class WebcamSnapshot(anywidget.AnyWidget):
    """A button that takes one webcam photo in the browser and sends it to Python.

    The page asks ``navigator.mediaDevices.getUserMedia`` for the camera, draws one
    frame on a canvas and sets ``data_url`` to a JPEG ``data:`` URL. Where there is no
    camera API (no browser page, plain http), no camera, or no permission, ``status``
    says so in words; every wait has a timeout (``timeout_ms`` for the permission
    prompt), so the button never hangs.
    """

    _esm = _WEBCAM_ESM
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


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class HandtrackApp:
    """Picture sources | model and settings | annotated picture, detections, latency.

    ``background=False`` runs the slow work (loading a model, the network) inline, for
    tests and scripts; by default it runs in a :class:`BackgroundJob` with the controls
    disabled, and a change made meanwhile is applied when the job ends. Threshold and
    box-cap changes never wait: they only re-run NMS on the memoised raw outputs.
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
        self.job = BackgroundJob(self.job_errors)
        self._lock = threading.Lock()
        self._working = self._pending = False
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
        self.app = W.VBox([
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
        explain_labels(self.app)
        guarded(self.refresh, self.output, self.errors)()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.app)

    # ---- wiring
    def _wire(self) -> None:
        out, err, st = self.output, self.errors, self.state
        for widget, name in ((self.model_type, "model_type"), (self.size, "size"), (self.score, "score_threshold"),
                             (self.iou, "iou_threshold"), (self.max_boxes, "max_boxes"),
                             (self.flip, "flip_horizontal")):
            on_change(widget, lambda v, name=name: (st.configure(**{name: v}), self.refresh()), out, err)
        on_change(self.upload, self._on_upload, out, err)
        for button, name in zip(self.sample_buttons, self.sample_names):
            button.on_click(wrap(lambda _b, name=name: (st.use_sample(name), self.refresh()), out, err))
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
        network (in the background unless ``background=False``)."""
        with self._lock:
            if self._working:
                self._pending = True
                return
            slow = self.state.image is not None and not self.state.ready()
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
        """Run the network for the current settings; loop while changes arrive, then report."""
        while True:
            with self._lock:
                self._pending = False
            failure: BaseException | None = None
            try:
                self.state.raw()
                self._render()
            except Exception as err:  # noqa: BLE001  (reported below, once no newer settings are waiting)
                failure = err
            with self._lock:
                if self._pending:
                    continue
                self._working = False
                self._set_busy(False)
            break
        if failure is not None:
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
        self.picture.value = _png(st.annotated())
        self.stats.value = (f"<span style='color:{INK_SOFT}'>{html.escape(st.describe())}<br>"
                            f"{html.escape(st.timing())}</span>")
        rows = st.rows()
        self.table.value = (html_table(rows, fmt="{:.3f}") if rows
                            else f"<div style='max-width:360px'>{html.escape(st.nothing_found() or '')}</div>")


__all__ = ["STEADY_RUNS", "HandtrackApp", "HandtrackState", "WebcamSnapshot", "decode_data_url"]
