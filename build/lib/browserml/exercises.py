"""Automatic checks for the notebooks' exercises.

A check prints a friendly ✓ when the answer is right and raises ``AssertionError``
with a hint when it is not, so a learner sees what to try next and CI (which runs
every notebook on its reference answers) fails if a reference answer ever stops
being right.
"""

from __future__ import annotations


def check(passed: bool, success: str, hint: str) -> bool:
    """Print ``✓ success`` or raise ``AssertionError(hint)``."""
    if not passed:
        raise AssertionError(f"Not yet: {hint}")
    print(f"✓ {success}")
    return True
