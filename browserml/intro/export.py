"""Lesson 0's export: the drawing classifier as a TF.js layers model, and its weights read back.

The export goes through :func:`browserml.export.export_layers_model`, the one way out to
TF.js, as lesson 2's does: an atomic folder (staged, checked, then swapped in) with
``model.json`` and its shard, and ``browserml.json`` (the contract: the ``image`` input,
:data:`~browserml.intro.model.PREPROCESSING`, the ten class names, and a parity sample
of real test images with Keras's probabilities), so :func:`browserml.tfjs_check.check_parity`
proves it in Node and Chromium and the app can send it to the learner's page.

:func:`read_classifier_weights` reads the weights back from the folder with NumPy only,
which is how the kernel answers the page's pings with :func:`~browserml.intro.model.predict_numpy`
without importing TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.intro.model import CLASS_NAMES, INPUT_NAME, PREPROCESSING, TrainedClassifier
from browserml.manifest import list_shards, read_manifest, read_model_json

#: The task name in ``browserml.json``: what :func:`read_classifier_weights` insists on.
TASK = "fashion-drawing-classifier"
#: Test images in the parity sample (one of each of the first classes the sample meets).
PARITY_IMAGES = 4


def export_classifier(classifier: TrainedClassifier, out_dir: str | Path) -> Path:
    """Export the trained classifier as a TF.js layers model (``tf.loadLayersModel``).

    ``browserml.json`` carries the preprocessing a drawing needs, the class names, the
    training settings and test accuracy, and a parity sample of ``PARITY_IMAGES`` test
    images. Returns the folder, written atomically (a kill leaves the old one or the new).
    """
    from browserml.export import export_layers_model

    data = classifier.data
    return export_layers_model(
        classifier.model, out_dir, task=TASK,
        parity_inputs={INPUT_NAME: data.x_test[:PARITY_IMAGES]},
        title="Fashion-MNIST drawing classifier",
        description=("A 784 → 64 → 10 dense network trained on a sample of Fashion-MNIST. Feed it one "
                     "28 × 28 drawing in [0, 1], light ink on black, fitted to its bounding box as "
                     "`preprocessing` says; it answers ten class probabilities in `labels` order."),
        preprocessing=PREPROCESSING,
        labels=list(CLASS_NAMES),
        extra={"config": asdict(classifier.config), "test_accuracy": classifier.test_accuracy,
               "train_seconds": round(classifier.train_seconds, 3)},
    )


def read_classifier_weights(export_dir: str | Path) -> dict[str, np.ndarray]:
    """The export's float32 weights by name (``hidden/kernel`` ...), read with NumPy only.

    ``model.json`` goes through the project's safe reader (shard paths stay in the
    folder); each weight is sliced from the concatenated shards in manifest order, as
    TF.js reads them. A quantized export is refused: the app's NumPy forward pass must
    compute with the very float32 weights the page runs.
    """
    export_dir = Path(export_dir)
    manifest = read_manifest(export_dir)
    if manifest.task != TASK:
        raise BadInput(f"{export_dir} is a {manifest.task!r} export, not lesson 0's {TASK!r}")
    data = b"".join(path.read_bytes() for path in list_shards(export_dir))
    return weights_from_parts(read_model_json(export_dir), data)


def weights_from_parts(model_json: dict[str, Any], data: bytes) -> dict[str, np.ndarray]:
    """Weights by name from ``model.json``'s ``weightsManifest`` and the shards' bytes
    (concatenated, little-endian float32): the same pair the page loads the model from."""
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for group in model_json.get("weightsManifest", []):
        for spec in group.get("weights", []):
            if spec.get("dtype") != "float32" or "quantization" in spec:
                raise BadInput(f"weight {spec.get('name')!r} is not plain float32; export without quantization")
            shape = tuple(int(d) for d in spec["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            if offset + 4 * count > len(data):
                raise BadInput(f"the shards hold {len(data)} bytes, too few for weight {spec['name']!r}")
            weights[spec["name"]] = np.frombuffer(data, dtype="<f4", count=count, offset=offset).reshape(shape)
            offset += 4 * count
    if offset != len(data):
        raise BadInput(f"the shards hold {len(data) - offset} bytes more than model.json's weights describe")
    return weights


__all__ = ["PARITY_IMAGES", "TASK", "export_classifier", "read_classifier_weights", "weights_from_parts"]
