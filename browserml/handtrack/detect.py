"""handtrack.js's ``detect()`` in Python: the same numbers, for the same pixels.

``handTrack.load(params)`` then ``model.detect(video)`` in the browser does five
things, all reproduced here step by step (``node_modules/handtrackjs/src/index.js``):

1. **Resize.** ``getValidResolution`` shrinks each side to ``k * outputStride + 1``
   (320x240 becomes 305x225), and ``resizeBilinear`` (TF.js's legacy bilinear: no
   align-corners, no half-pixel centres) resamples the frame, mirrored first when
   ``flipHorizontal`` is set; ``toInt()`` then truncates to int32. The resize is
   written in NumPy the way TF.js's ``cpu`` kernel computes it (float64 maths, float32
   storage, then truncation), so the integers fed to the graph equal the library's.
2. **Raw outputs.** The graph model gives 12,804 anchor boxes (normalised
   ``ymin, xmin, ymax, xmax``) and 7 sigmoid class scores each
   (:meth:`browserml.handtrack.graph.HandGraph.raw`).
3. **Best class per box.** ``calculateMaxScores``: the highest score and its column;
   the class is ``column + 1`` (``LABELS``).
4. **NMS** (:func:`non_max_suppression`): greedy, IoU on the normalised boxes, a box is
   dropped when its IoU with a kept one is ``>= iouThreshold``, only scores
   ``> scoreThreshold`` compete, at most ``maxNumBoxes`` are kept, best first. This is
   TF.js's ``tf.image.nonMaxSuppression`` (handtrack.js calls the synchronous one, on
   the ``cpu`` backend). TensorFlow's ``tf.image.non_max_suppression`` gives the same
   indices except when an IoU *equals* the threshold: it suppresses only ``>``.
5. **Boxes in pixels.** ``buildDetectedObjects`` multiplies by the *input frame's*
   width and height (not the resized ones) and returns ``[x, y, width, height]``.
   With ``flipHorizontal`` the boxes stay in the **mirrored** frame's coordinates, as
   in handtrack.js, whose ``renderPredictions`` draws the mirrored video under them.
   Boxes are not clipped: SSD boxes may overshoot the frame by a few pixels there too.

One deliberate difference: handtrack.js returns ``score`` as a *string*,
``score.toFixed(2)`` (``"0.87"``). Here ``score`` is the float itself (``0.8712...``);
round it for display. Comparisons with the library allow 0.02.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.handtrack.boxes import non_max_suppression as boxes_nms
from browserml.handtrack.models import DEFAULT_MODEL_TYPE, DEFAULT_SIZE, LABELS, MODEL_SIZES, MODEL_TYPES

# handtrack.js's defaultParams that change what detect() returns (the rest only style
# the drawing). Keys keep handtrack.js's camelCase, so a JS params object works as is.
DEFAULT_PARAMS: dict[str, Any] = {
    "flipHorizontal": False,
    "outputStride": 16,
    "imageScaleFactor": 1,
    "maxNumBoxes": 20,
    "iouThreshold": 0.2,
    "scoreThreshold": 0.6,
    "modelType": DEFAULT_MODEL_TYPE,
    "modelSize": DEFAULT_SIZE,
}
# handtrack.js options that only style renderPredictions(); named so the error can say so.
RENDER_PARAMS = frozenset({"bboxLineWidth", "fontSize", "basePath", "labelMap", "renderThresholds"})


class HandDetectError(BadInput):
    """A detector parameter or an input image that handtrack.js's detect() cannot take."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


_ALIASES = {_snake(k): k for k in DEFAULT_PARAMS}  # flip_horizontal -> flipHorizontal


def check_params(params: Mapping[str, Any], base: Mapping[str, Any] = DEFAULT_PARAMS) -> dict[str, Any]:
    """``base`` updated with ``params`` (camelCase or snake_case keys), every value checked.

    Unknown names raise instead of being ignored (handtrack.js ignores them): a typo
    like ``scoreThreshhold`` would otherwise silently keep the default.
    """
    out = dict(base)
    for key, value in params.items():
        name = _ALIASES.get(key, key)
        if name not in DEFAULT_PARAMS:
            why = " (it only styles renderPredictions, which Python does not have)" if name in RENDER_PARAMS else ""
            raise HandDetectError(f"unknown handtrack.js parameter {key!r}{why}; known: {sorted(DEFAULT_PARAMS)}")
        out[name] = value
    if not isinstance(out["flipHorizontal"], (bool, np.bool_)):
        raise HandDetectError(f"flipHorizontal must be True or False, got {out['flipHorizontal']!r}")
    for name, low in (("maxNumBoxes", 0), ("outputStride", 1)):
        value = out[name]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
            raise HandDetectError(f"{name} must be an integer >= {low}, got {value!r}")
    for name in ("iouThreshold", "scoreThreshold", "imageScaleFactor"):
        if isinstance(out[name], (bool, np.bool_)) or not isinstance(out[name], (int, float, np.number)) \
                or not math.isfinite(out[name]):
            raise HandDetectError(f"{name} must be a finite number, got {out[name]!r}")
    if not 0 <= out["iouThreshold"] <= 1:  # tf.image.nonMaxSuppression asserts the same
        raise HandDetectError(f"iouThreshold must be in [0, 1], got {out['iouThreshold']!r}")
    if out["imageScaleFactor"] <= 0:
        raise HandDetectError(f"imageScaleFactor must be > 0, got {out['imageScaleFactor']!r}")
    if out["modelType"] not in MODEL_TYPES:
        raise HandDetectError(f"modelType must be one of {MODEL_TYPES}, got {out['modelType']!r}")
    if out["modelSize"] not in MODEL_SIZES:
        raise HandDetectError(f"modelSize must be one of {tuple(MODEL_SIZES)}, got {out['modelSize']!r}")
    return out


# --------------------------------------------------------------------------- the steps


def valid_resolution(dimension: int, image_scale_factor: float = 1, output_stride: int = 16) -> int:
    """handtrack.js's ``getValidResolution``: ``d * scale - 1`` rounded down to a multiple of
    the stride, plus one (``320 -> 305``, ``240 -> 225``). ``math.fmod`` keeps JS's ``%``."""
    even = dimension * image_scale_factor - 1
    return int(even - math.fmod(even, output_stride) + 1)


def check_image(image: Any) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array (``(H, W, 4)`` loses its alpha, as ``fromPixels`` does)."""
    if not isinstance(image, np.ndarray):
        hint = " (for a PIL image use np.asarray(img.convert('RGB')))" if hasattr(image, "convert") else ""
        raise HandDetectError(f"image must be a numpy array (H, W, 3) uint8 RGB, got {type(image).__name__}{hint}")
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise HandDetectError(
            f"image must have shape (H, W, 3) RGB (or (H, W, 4) RGBA), got {image.shape}; "
            "a grayscale (H, W) image needs np.repeat(img[..., None], 3, axis=-1)"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise HandDetectError(f"image is empty: shape {image.shape}")
    if image.dtype != np.uint8:
        raise HandDetectError(
            f"image must be uint8 (0..255, what a video frame or PIL gives), got {image.dtype}; "
            "scale floats in 0..1 with (img * 255).round().astype(np.uint8)"
        )
    return image[..., :3]


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """TF.js's ``resizeBilinear`` (alignCorners and halfPixelCenters false) as its ``cpu``
    kernel computes it: source position ``r * in/out``, lerp in float64, float32 result."""
    in_h, in_w = image.shape[:2]

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frac = (n_in / n_out) * np.arange(n_out, dtype=np.float64)
        lo = np.floor(frac)
        return lo.astype(np.intp), np.minimum(n_in - 1, np.ceil(frac)).astype(np.intp), (frac - lo)

    r0, r1, rf = axis(height, in_h)
    c0, c1, cf = axis(width, in_w)
    cf = cf[None, :, None]

    def lerp_row(rows: np.ndarray) -> np.ndarray:
        picked = image[rows]  # gather in the input dtype, widen only what is used
        left = picked[:, c0].astype(np.float64)
        return left + (picked[:, c1] - left) * cf

    top, bottom = lerp_row(r0), lerp_row(r1)
    return (top + (bottom - top) * rf[:, None, None]).astype(np.float32)


def model_input(image: np.ndarray, params: Mapping[str, Any] = DEFAULT_PARAMS) -> np.ndarray:
    """The int32 ``[1, h, w, 3]`` tensor handtrack.js feeds its graph for ``image``:
    mirrored if ``flipHorizontal``, resized to the valid resolution, truncated (``toInt``)."""
    image = check_image(image)
    scale, stride = params["imageScaleFactor"], params["outputStride"]
    h = valid_resolution(image.shape[0], scale, stride)
    w = valid_resolution(image.shape[1], scale, stride)
    if h < 1 or w < 1:
        raise HandDetectError(f"image {image.shape[:2]} resizes to {h}x{w} with imageScaleFactor {scale}")
    if params["flipHorizontal"]:
        image = image[:, ::-1]
    return np.trunc(resize_bilinear(image, h, w)).astype(np.int32)[None]


def max_scores(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``calculateMaxScores``: per box the best score and its column, ``-1`` when no score
    is above zero (JS starts from ``Number.MIN_VALUE``, which is 0 once stored as float32)."""
    scores = np.asarray(scores, dtype=np.float32)
    best = scores.max(axis=1)
    column = np.where(best > 0, scores.argmax(axis=1), -1)
    return np.where(best > 0, best, np.float32(0)), column


def non_max_suppression(
    boxes: np.ndarray, scores: np.ndarray, max_boxes: int, iou_threshold: float, score_threshold: float
) -> np.ndarray:
    """Indices kept by greedy NMS, best first: ``tf.image.nonMaxSuppression`` in NumPy.

    A box is dropped when its IoU with an already kept box is ``>= iou_threshold`` (TF.js;
    TensorFlow's op uses ``>``): :func:`browserml.handtrack.boxes.non_max_suppression`
    with ``drop_at_threshold=True``, on float32 boxes as the graph outputs them.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise HandDetectError(f"{boxes.shape[0]} boxes but {scores.shape[0]} scores")
    return boxes_nms(boxes, scores, max_boxes, iou_threshold, score_threshold, drop_at_threshold=True)


def build_detections(
    boxes: np.ndarray, scores: np.ndarray, columns: np.ndarray, indexes: np.ndarray, width: int, height: int
) -> list[dict[str, Any]]:
    """``buildDetectedObjects``: normalised boxes times the input frame's width/height,
    as ``{"bbox": [x, y, w, h], "class", "label", "score"}`` (see the module doc on score)."""
    out = []
    for i in indexes:
        ymin, xmin, ymax, xmax = (float(v) for v in boxes[i])
        x0, y0, x1, y1 = xmin * width, ymin * height, xmax * width, ymax * height
        cls = int(columns[i]) + 1
        out.append({"bbox": [x0, y0, x1 - x0, y1 - y0], "class": cls, "label": LABELS.get(cls),
                    "score": float(scores[i])})
    return out


# --------------------------------------------------------------------------- the detector


@dataclass
class HandDetector:
    """A loaded handtrack.js model plus its parameters: ``detect(image)`` like the library's.

    Make one with :func:`load`. ``params`` holds handtrack.js's detection parameters
    (:data:`DEFAULT_PARAMS`); change them with :meth:`set_params`
    (handtrack.js's ``setModelParameters``), not by editing the dict.
    """

    graph: Any  # browserml.handtrack.graph.HandGraph (TensorFlow imported lazily)
    params: dict[str, Any]

    def set_params(self, **params: Any) -> None:
        """Change detection parameters; switching model type or size needs a new :func:`load`."""
        new = check_params(params, self.params)
        if (new["modelType"], new["modelSize"]) != (self.params["modelType"], self.params["modelSize"]):
            raise HandDetectError("modelType/modelSize pick the model: call load() again to change them")
        self.params = new

    def get_params(self) -> dict[str, Any]:
        """A copy of the parameters (handtrack.js's ``getModelParameters``)."""
        return dict(self.params)

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The graph's raw ``(boxes (N, 4), scores (N, 7))`` for ``image`` (steps 1-2)."""
        return self.graph.raw(model_input(image, self.params))

    def detect(self, image: np.ndarray) -> list[dict[str, Any]]:
        """Detections in ``image`` (uint8 RGB ``(H, W, 3)``), exactly as handtrack.js's
        ``detect()`` returns them, except ``score`` is a float (module doc)."""
        image = check_image(image)
        boxes, scores = self.raw(image)
        best, columns = max_scores(scores)
        p = self.params
        keep = non_max_suppression(boxes, best, p["maxNumBoxes"], p["iouThreshold"], p["scoreThreshold"])
        return build_detections(boxes, best, columns, keep, image.shape[1], image.shape[0])

    def timed_detect(self, image: np.ndarray) -> tuple[list[dict[str, Any]], float]:
        """``(detections, milliseconds)`` for one call: what handtrack.js's ``getFPS()`` is made from."""
        start = time.perf_counter()
        found = self.detect(image)
        return found, (time.perf_counter() - start) * 1000.0

    def benchmark(self, image: np.ndarray, n: int = 30, warmup: int = 10) -> dict[str, float]:
        """Median latency of ``detect(image)`` over ``n`` calls after ``warmup`` (TensorFlow's
        first few dozen calls run slower): ``{"ms": median, "fps": 1000 / median, "n", "min_ms", "max_ms"}``."""
        if n < 1 or warmup < 0:
            raise HandDetectError(f"benchmark needs n >= 1 and warmup >= 0, got n={n}, warmup={warmup}")
        for _ in range(warmup):
            self.detect(image)
        times = [self.timed_detect(image)[1] for _ in range(n)]
        median = statistics.median(times)
        return {"ms": median, "fps": 1000.0 / median, "n": n, "min_ms": min(times), "max_ms": max(times)}


def load(model_type: str | None = None, size: str | None = None, **params: Any) -> HandDetector:
    """handtrack.js's ``load(params)``: a :class:`HandDetector` for one shipped model.

    ``model_type`` and ``size`` are the ``modelType``/``modelSize`` parameters
    (defaults ``"ssd320fpnlite"`` and ``"small"``, the int8 model, as in handtrack.js);
    either spelling works, and giving both differently is an error. Other keyword
    arguments are detection parameters (:data:`DEFAULT_PARAMS`), camelCase as in
    JS or snake_case (``flip_horizontal=True``). Nothing is downloaded: the model comes
    from the installed npm package.
    """
    for name, value in (("modelType", model_type), ("modelSize", size)):
        given = params.get(name, params.get(_snake(name)))
        if value is not None and given is not None and given != value:
            raise HandDetectError(f"{name} given twice, as {value!r} and {given!r}")
        if value is not None:
            params[name] = value
    checked = check_params(params)
    from browserml.handtrack.graph import load_graph

    return HandDetector(load_graph(checked["modelType"], checked["modelSize"]), checked)


# --------------------------------------------------------------------------- the JS reference


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Checked parameters as plain JSON values (NumPy scalars would not serialise)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, (bool, np.bool_)):
            out[key] = bool(value)
        elif isinstance(value, (int, np.integer)):
            out[key] = int(value)
        elif isinstance(value, (float, np.floating)):
            out[key] = float(value)
        else:
            out[key] = value
    return out


def input_sha256(image: np.ndarray, params: Mapping[str, Any] = DEFAULT_PARAMS) -> str:
    """sha256 of :func:`model_input`'s int32 bytes (little-endian): what the JS reference
    reports as ``input_sha256``, so the two inputs can be compared without shipping them."""
    import hashlib

    return hashlib.sha256(model_input(image, check_params(params)).astype("<i4").tobytes()).hexdigest()


def js_detect(images: Mapping[str, np.ndarray], timeout_s: float = 900, **params: Any) -> dict[str, Any]:
    """Run the original handtrack.js (``dist/handtrack.min.js`` with its bundled TF.js 3.3.0,
    pure-JS ``cpu`` backend) on ``images`` in Node; see ``browserml/js/handtrack_reference.cjs``.

    Returns ``{"library", "params", "results": {name: {"detections", "input_shape",
    "input_sha256", "ms"}}}``; detections are exactly what the library returned
    (``score`` a string). Slow: several seconds per image (no WebGL, no wasm in that build).
    """
    import base64

    from browserml.tfjs_check import run_node_script

    payload_images = []
    for name, image in images.items():
        rgb = np.ascontiguousarray(check_image(image))
        payload_images.append({"name": str(name), "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                               "rgb": base64.b64encode(rgb.tobytes()).decode("ascii")})
    payload = {"params": _json_params(check_params(params)), "images": payload_images}
    data = run_node_script("handtrack_reference.cjs", payload=payload, timeout_s=timeout_s)
    data["results"] = {r.pop("name"): r for r in data["results"]}
    return data
