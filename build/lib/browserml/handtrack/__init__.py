"""Lesson 4: Handtrack.js, the real hand detector from npm, in Python and back.

``models`` finds the shipped TF.js graph models (light: no TensorFlow import),
``graph`` loads one into TensorFlow, ``convert`` re-converts it with today's
``tensorflowjs`` converter, and ``detect`` reproduces handtrack.js's ``detect()``.
Import the submodule you need; this package file stays light on purpose.
"""
