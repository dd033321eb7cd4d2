"""Lesson 4 in the learner's own page: the graph model in TF.js, ``detect()``'s last steps in Python.

handtrack.js asks its graph model for two raw tensors (boxes and per-class scores)
and does the rest on the CPU. Here the learner's page runs the graph (TF.js, any
backend) and sends the raw tensors back; Python finishes the job (best class per box,
NMS, pixel boxes: :mod:`browserml.handtrack.detect`) and compares the detections with
its own ``detect()`` on the same image.

Two kinds of folder work: a browserml re-conversion (``exports/handtrack/<variant>``,
outputs named ``boxes``/``scores``), and the shipped npm model itself, wrapped by
:func:`shipped_export` with a ``browserml.json`` that names the two nodes
handtrack.js fetches, so the page runs exactly the file handtrack.js loads.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.handtrack.graph import INPUT_NAME, RAW_OUTPUTS
from browserml.handtrack.models import DEFAULT_MODEL_TYPE, DEFAULT_SIZE, LABELS, PACKAGE, VERSION, size_folder
from browserml.inbrowser import BrowserRequest, BrowserRunLike, backend_outputs

#: Tolerance for the shipped models' parity sample: TF.js and Python's TensorFlow import
#: of the same graph and dequantised weights agree to about 1e-6 (lesson 4, section 2).
SHIPPED_TOLERANCE = 1e-5


def _node(name: str) -> str:
    return name.split(":")[0]


def _our_name(output: str) -> str:
    """``boxes``/``scores`` for an export's output name (ours or handtrack.js's node)."""
    if output in RAW_OUTPUTS:
        return output
    for ours, node in RAW_OUTPUTS.items():
        if _node(output) == node:
            return ours
    raise ValueError(f"output {output!r} is neither boxes/scores nor one of handtrack.js's nodes {RAW_OUTPUTS}")


@functools.lru_cache(maxsize=4)
def _graph(folder: str) -> Any:
    from browserml.handtrack.graph import load_graph_dir

    return load_graph_dir(folder)


def python_graph(export_dir: str | Path) -> Any:
    """The folder's graph imported into TensorFlow (cached; loading takes seconds)."""
    return _graph(str(Path(export_dir).resolve()))


def shipped_export(out_dir: str | Path, model_type: str = DEFAULT_MODEL_TYPE, size: str = DEFAULT_SIZE) -> Path:
    """Copy handtrack.js's shipped graph model (npm, ``modelSize`` ``size``) into
    ``out_dir`` with a ``browserml.json``: input ``input_tensor`` int32 ``[1, h, w, 3]``,
    outputs the two nodes handtrack.js fetches (:data:`RAW_OUTPUTS`), and a parity
    sample computed by Python's import of the same graph. ``model.json`` and the weight
    shards are copied byte for byte, so the page runs the very file handtrack.js loads."""
    from browserml.atomic import atomic_directory
    from browserml.export import Manifest, TensorSpec, list_shards, model_card, read_model_json
    from browserml.handtrack.convert import PARITY_SHAPE, TASK, _float32_lists
    from browserml.handtrack.graph import sample_pixels
    from browserml.handtrack.models import model_dir

    source = model_dir(model_type, size)
    folder = size_folder(size)
    graph = python_graph(source)
    pixels = sample_pixels(*PARITY_SHAPE)
    raw = graph.run(pixels)
    n_boxes, n_classes = raw["scores"].shape[1], raw["scores"].shape[2]
    manifest = Manifest(
        task=TASK, model_format="graph",
        inputs=[TensorSpec(INPUT_NAME, (1, None, None, 3), "int32")],
        outputs=[TensorSpec(RAW_OUTPUTS["boxes"], (1, n_boxes, 1, 4)),
                 TensorSpec(RAW_OUTPUTS["scores"], (1, n_boxes, n_classes))],
        parity={"inputs": {INPUT_NAME: pixels.tolist()},
                "outputs": {RAW_OUTPUTS[k]: _float32_lists(raw[k]) for k in ("boxes", "scores")},
                "tolerance": SHIPPED_TOLERANCE},
        title=f"handtrack.js {model_type} ({folder}), as shipped",
        description=(f"{PACKAGE}@{VERSION}'s own {model_type}/{folder} graph model, unchanged. Feed RGB 0..255 "
                     "as int32 [1, h, w, 3] and fetch the two nodes handtrack.js's detect() asks for, with "
                     "executeAsync (the graph still holds its preprocessing loop and NMS)."),
        labels=[LABELS[k] for k in sorted(LABELS)],
        quantization={"int8": "uint8", "fp16": "float16"}.get(folder),
        extra={"model_type": model_type, "source": f"{PACKAGE}@{VERSION}/{folder}",
               "shipped_output_nodes": RAW_OUTPUTS, "box_format": "ymin,xmin,ymax,xmax (normalised)",
               "class_index": "column j is class j + 1"},
    )
    out_dir = Path(out_dir)
    with atomic_directory(out_dir) as staging:
        shutil.copyfile(source / "model.json", staging / "model.json")
        for shard in list_shards(source):
            shutil.copyfile(shard, staging / shard.name)
        read_model_json(staging)
        (staging / "browserml.json").write_text(json.dumps(manifest.to_json(), separators=(",", ":")) + "\n",
                                                encoding="utf-8")
        (staging / "README.md").write_text(model_card(manifest), encoding="utf-8")
    return out_dir


def browser_request(export_dir: str | Path, image: np.ndarray,
                    params: Mapping[str, Any] | None = None) -> BrowserRequest:
    """Raw outputs for ``image`` (uint8 RGB ``(H, W, 3)``) in the page: the int32 frame
    handtrack.js would feed (:func:`browserml.handtrack.detect.model_input`: mirrored if
    asked, resized, truncated), and Python's import of the same graph as the reference."""
    from browserml.export import read_manifest
    from browserml.handtrack.detect import check_params, model_input

    manifest = read_manifest(export_dir)
    (inp,) = manifest.inputs
    names = {o.name: _our_name(o.name) for o in manifest.outputs}
    graph = python_graph(export_dir)
    pixels = model_input(image, check_params(params or {}))

    def reference(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raw = graph.run(np.asarray(d[inp.name], dtype=np.int32))
        return {name: raw[ours] for name, ours in names.items()}

    return {"inputs": {inp.name: pixels}, "reference": reference}


def detections_from_outputs(outputs: Mapping[str, np.ndarray], image_shape: tuple[int, ...],
                            params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """handtrack.js's post-processing on raw outputs (keyed by either naming): best
    class per box, NMS, boxes in the input frame's pixels."""
    from browserml.handtrack.detect import build_detections, check_params, max_scores, non_max_suppression

    p = check_params(params or {})
    raw = {_our_name(k): np.asarray(v, dtype=np.float32) for k, v in outputs.items()}
    boxes = raw["boxes"].reshape(-1, 4)
    scores = raw["scores"].reshape(boxes.shape[0], -1)
    best, columns = max_scores(scores)
    keep = non_max_suppression(boxes, best, p["maxNumBoxes"], p["iouThreshold"], p["scoreThreshold"])
    return build_detections(boxes, best, columns, keep, int(image_shape[1]), int(image_shape[0]))


@dataclass
class DetectionComparison:
    """Detections decoded from the browser's raw outputs beside Python's ``detect()``."""

    backend: str
    browser: list[dict[str, Any]]
    python: list[dict[str, Any]]
    max_box_diff_px: float  # largest |Δ| of any bbox coordinate, detection by detection
    max_score_diff: float

    @property
    def same(self) -> bool:
        """The same detections (count, classes, order) within a pixel and 0.01 in score."""
        return (len(self.browser) == len(self.python)
                and [d["class"] for d in self.browser] == [d["class"] for d in self.python]
                and self.max_box_diff_px <= 1.0 and self.max_score_diff <= 0.01)

    def summary(self) -> str:
        found = ", ".join(f"{d['label']} {d['score']:.2f}" for d in self.browser) or "nothing"
        verdict = "the same as" if self.same else "DIFFERENT from"
        return (f"{self.backend}: {len(self.browser)} detection(s) ({found}), {verdict} Python's detect() "
                f"(max |Δbox| {self.max_box_diff_px:.2g} px, max |Δscore| {self.max_score_diff:.1e})")


def compare_detections(run: BrowserRunLike, export_dir: str | Path, image: np.ndarray,
                       params: Mapping[str, Any] | None = None, backend: str | None = None) -> DetectionComparison:
    """Decode ``backend``'s raw outputs from the page in Python and compare them with
    Python's own ``detect()`` (the same graph, in TensorFlow) on ``image``."""
    from browserml.handtrack.detect import HandDetector, check_params

    name, outputs = backend_outputs(run, backend)
    p = check_params(params or {})
    image = np.asarray(image)
    browser = detections_from_outputs(outputs, image.shape, p)
    python = HandDetector(python_graph(export_dir), p).detect(image)
    pairs = list(zip(browser, python))
    box = max((float(np.max(np.abs(np.subtract(a["bbox"], b["bbox"])))) for a, b in pairs), default=0.0)
    score = max((abs(a["score"] - b["score"]) for a, b in pairs), default=0.0)
    return DetectionComparison(name, browser, python, box, score)
