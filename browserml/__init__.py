"""browserml: the lessons' logic behind the "ML in the Browser" notebooks.

Importing the package selects the Keras that TF.js can read. TensorFlow 2.19 ships
Keras 3 as ``tf.keras``, and a Keras 3 model saved for TF.js is rejected by
``@tensorflow/tfjs`` 4.22 ``loadLayersModel``. Setting ``TF_USE_LEGACY_KERAS=1``
before TensorFlow is first imported makes ``tf.keras`` the ``tf_keras`` 2.x package
that the converter and TF.js agree on. Modules that build Keras models import
``tf_keras`` directly, so they are right even when TensorFlow was imported first.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

__all__ = ["__version__"]
