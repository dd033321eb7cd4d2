"""Lesson 2: Anomagram in Python: an autoencoder that flags abnormal ECG beats.

Anomagram trains a dense autoencoder in the browser on normal heartbeats only; a beat
it cannot reconstruct well (high mean squared error) is flagged as abnormal. This
package is that pipeline with every control of Anomagram's composer, plus what the
browser demo leaves out: a threshold chosen on validation data (never the test set),
a full set of metrics with per-class detection rates, and two scikit-learn baselines
(PCA reconstruction and IsolationForest) on the same split.

The model is built with the Layers API of ``tf_keras``, layer by layer, mirroring the
talk's ``tf.layers.dense({units, activation}).apply(x)``, so it exports as a TF.js
layers model that a browser can run *and re-train*.

The lesson lives in one module per role: :mod:`~browserml.anomaly.model` (the
composer's settings, the autoencoder, training), :mod:`~browserml.anomaly.data` (the
training beats, the scaler, the checks on a beat), :mod:`~browserml.anomaly.metrics`
(thresholds, metrics, baselines), :mod:`~browserml.anomaly.state` (the app's state, no
widgets), :mod:`~browserml.anomaly.plots`, :mod:`~browserml.anomaly.export` (the TF.js
layers model and its page), :mod:`~browserml.anomaly.browser` (scoring and fine-tuning
the export in TF.js, under Node and in the learner's page) and
:mod:`~browserml.anomaly.exercises`. Every public name is also here (``an.Trainer``,
``an.ANOMAGRAM_DEFAULT``): importing this package is light (no TensorFlow, no
matplotlib), and each name loads its module on first use (PEP 562).
"""

from __future__ import annotations

from browserml.lazy import lazy_names

_LAZY = {
    "model": ("OPTIMIZERS", "ACTIVATIONS", "REGULARIZERS", "THRESHOLD_RULES", "SPLITS", "MAX_HIDDEN_LAYERS",
              "MAX_UNITS", "MAX_SEED", "TrainingDiverged", "AutoencoderConfig", "ANOMAGRAM_DEFAULT", "make_optimizer",
              "build_autoencoder", "encoder_of", "hidden_outputs", "History", "Trainer", "reconstruction_errors"),
    "data": ("AnomalyInputError", "MinMaxScaler", "LessonData", "prepare_data", "beat_from_drawing"),
    "metrics": ("threshold_best_f1", "check_threshold_rule", "threshold_mean_k_sigma", "Evaluation", "evaluate",
                "choose_threshold", "baseline_scores", "Report", "compare", "roc_auc"),
    "state": ("RULES_USING_K", "Verdict", "AnomalyState"),
    "plots": ("CLASS_COLOURS", "loss_curves", "error_histogram", "roc_curve", "latent_scatter", "class_label",
              "beat_plot", "example_beats"),
    "export": ("page_beats", "export_anomaly", "export_scaler"),
    "browser": ("tfjs_scores", "fit_in_tfjs", "browser_request", "browser_scores", "pick_beats",
                "finetune_in_browser", "FineTuneReport", "score_returned_weights"),
    "exercises": ("check_contamination_answer", "check_recall", "check_dead_units", "check_js_scores",
                  "check_best_f1_threshold"),
}
__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [name for names in _LAZY.values() for name in names]
