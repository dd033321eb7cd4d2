"""Lesson 3, "ConvNet Playground": layer-wise CNN image search on real ImageNet weights.

The pieces live in submodules so that importing this package stays cheap (no
TensorFlow): :mod:`browserml.imagesearch.torch_weights` reads PyTorch checkpoints
without running pickle code, :mod:`browserml.imagesearch.lite` builds EfficientNet-Lite
in ``tf_keras`` from them, :mod:`browserml.imagesearch.numpy_reference` is the
independent NumPy forward pass that proves the Keras model right, and
:mod:`browserml.imagesearch.imagenet_classes` names the 1000 ImageNet classes.
"""
