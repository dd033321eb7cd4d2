"""browserml: the lessons' logic behind the "ML in the Browser" notebooks.

Importing the package selects the Keras that TF.js can read and quiets TensorFlow's C++
logs (:func:`browserml.compat.configure_tensorflow_env`): TensorFlow 2.21 ships Keras 3
as ``tf.keras``, and a Keras 3 model saved for TF.js is rejected by ``@tensorflow/tfjs``
4.22 ``loadLayersModel``. Setting ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is first
imported makes ``tf.keras`` the ``tf_keras`` 2.x package that the converter and TF.js agree
on. Modules that build Keras models import ``tf_keras`` directly, so they are right even
when TensorFlow was imported first. Importing browserml imports no TensorFlow.

Inside a Jupyter kernel it also mends ipykernel 7.4's routing of widget messages to a
subshell that no longer exists (:func:`browserml.compat.patch_comm_routing`), which left
every app deaf after a page reload.
"""

from __future__ import annotations

from browserml.compat import configure_tensorflow_env, patch_comm_routing

configure_tensorflow_env()
patch_comm_routing()  # inside a Jupyter kernel only: see its docstring

__version__ = "0.1.0"

__all__ = ["__version__"]
