"""The ipywidgets apps of the browserml lessons, one module per lesson.

Each app is a pure *state* object (no widgets: set values, call methods, assert on
results) and a thin *view* that links controls to it. The lesson logic itself lives
in :mod:`browserml`.
"""
