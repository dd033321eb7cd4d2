"""Lesson 4's app state: a picture, handtrack.js's settings, and the detections, with no widgets.

:class:`HandtrackState` holds the picture and handtrack.js's settings (model type, model
size, score threshold, IoU threshold, max boxes, flip) and computes what the app shows:
tests set values and call methods. The network's raw outputs (12,804 boxes x 7 scores)
are memoised per picture, model and flip, so moving a threshold or the box cap only
re-runs the cheap post-processing (best class per box + NMS), as in
:mod:`browserml.handtrack.detect`, which splits ``detect()`` into exactly those steps.

Two things a learner would otherwise misread are said in words. Timing
(:meth:`HandtrackState.timing`): the first call on a picture includes TensorFlow's
one-time set-up for that input size, so it is shown apart from the steady state (the
median of :data:`STEADY_RUNS` more calls), which is what an FPS figure means. And an
empty result: :meth:`HandtrackState.nothing_found` gives the best box the model did
score, and why a picture can be outside what this model learned (the ``hand_closeup``
sample finds nothing at the default threshold).

The view, ``widgets.handtrack.HandtrackApp``, only links controls to this object.
Importing this module does not import TensorFlow: a model loads on first use.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from browserml.data.images import read_image
from browserml.handtrack import detect as ht
from browserml.handtrack import images as samples
from browserml.handtrack.draw import draw_detections
from browserml.handtrack.models import LABELS, MODEL_SIZES, MODEL_TYPES
from browserml.memo import LruMemo

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
        self._detectors = LruMemo(len(MODEL_TYPES) * len(MODEL_SIZES))
        self._raw = LruMemo(RAW_MEMO_SIZE)
        self._detections = LruMemo(64)
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

    def view_key(self) -> tuple[Any, ...]:
        """Everything the app's picture depends on: the picture (its version) and every
        setting. Equal keys, equal pictures: the app's background worker memoises on it, so
        a change that alters nothing redraws nothing."""
        return (self._version, *(getattr(self, name) for name in PARAMETERS))

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
                f"(at a new picture size it includes TensorFlow's one-time set-up); "
                f"steady state {self.latency_ms:.0f} ms "
                f"≈ {self.fps:.1f} FPS (median of the next {STEADY_RUNS} calls), network input {width}×{height} · "
                f"thresholds re-applied in {self.postprocess_ms:.1f} ms")


__all__ = ["DEFAULT_SAMPLE", "HARD_SAMPLES", "SIZE_NAMES", "STEADY_RUNS", "HandtrackState"]
