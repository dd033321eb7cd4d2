"""The lessons' data: small, offline, and checked against a recorded sha256.

Every data file browserml reads lives under ``datasets/`` with a ``PROVENANCE.json``
(source, license note, hashes). Loaders verify the hashes before parsing, so a
lesson's numbers always come from the exact bytes its provenance describes, and a
learner who edits or corrupts a file is told which one rather than seeing odd results.
"""
