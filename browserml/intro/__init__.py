"""Lesson 0: why ML in the browser, shown live in the learner's own notebook page.

The talk opens with the reasons to run a model in the browser. This lesson shows three
of them with one small app (``widgets/intro.py``) and numbers the learner measures:

- **privacy**: a drawing is classified in the page; the app logs every message the
  kernel receives from it, and the log shows that its pixels never reach the kernel;
- **latency**: an in-page prediction against a round trip to the kernel, both timed in
  the page;
- **interactivity**: the prediction updates as the learner draws, stroke by stroke.

The lesson lives in one module per role: :mod:`~browserml.intro.model` (a tiny
Fashion-MNIST classifier, its NumPy forward pass and the drawing's preprocessing),
:mod:`~browserml.intro.export` (the TF.js layers model, and its weights read back with
NumPy), :mod:`~browserml.intro.state` (the app's state: the message log, the page's
predictions and the latency samples, no widgets), :mod:`~browserml.intro.plots` (the
tensor-count and frame-gap pictures), :mod:`~browserml.intro.practices` (the talk's good
practices mapped to the lessons) and :mod:`~browserml.intro.exercises`. The lesson's
TF.js cells run through ``%%tfjs`` (:mod:`widgets.tfjs_magic`). Every public name is also here
(``intro.train_classifier``, ``intro.IntroState``): importing this package is light (no
TensorFlow), and each name loads its module on first use (PEP 562).
"""

from __future__ import annotations

from browserml.lazy import lazy_names

_LAZY = {
    "model": ("CLASS_NAMES", "DEFAULT_CONFIG", "IMAGE_SIZE", "INPUT_NAME", "LAYER_NAMES", "PREPROCESSING",
              "ClassifierConfig", "FashionData", "TrainedClassifier", "build_classifier", "check_images",
              "fit_drawing", "load_data", "predict_numpy", "top_k", "train_classifier"),
    "export": ("PARITY_IMAGES", "TASK", "export_classifier", "read_classifier_weights", "weights_from_parts"),
    "plots": ("FRAME_MS", "STALL_MS", "FrameStats", "frame_stats", "plot_frames", "plot_tensor_counts"),
    "practices": ("PRACTICES", "REASONS", "Practice", "Where", "notebook_headings", "practices_markdown"),
    "exercises": ("check_no_leak", "check_non_blocking", "check_separable_params"),
    "state": ("KERNEL_TO_PAGE", "MAX_COMPARE", "PAGE_TO_KERNEL", "PIXEL_BYTES", "IntroState", "MessageRecord",
              "Prediction", "comm_message_size"),
}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [name for names in _LAZY.values() for name in names]
