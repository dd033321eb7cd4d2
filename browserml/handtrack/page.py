"""Lesson 4's export folder: our re-converted detector plus a page that runs it.

``exports/handtrack/`` holds one TF.js graph model per variant (``base/``,
``float16/``, ``uint8/``, from :func:`browserml.handtrack.convert.reconvert`), the
test scenes as PNG (exact pixels), ``page.json`` (labels, colours, sample names) and
``index.html``, which repeats handtrack.js's ``detect()`` step by step on our model and
draws the boxes. The whole folder is staged and renamed into place.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from browserml.atomic import atomic_directory
from browserml.handtrack.convert import VARIANTS, ConversionRow, reconvert
from browserml.handtrack.models import COLORS, DEFAULT_MODEL_TYPE, LABELS
from browserml.pages import write_page
from browserml.png import encode_png

DEFAULT_SAMPLE = "two_open_hands"  # the page opens on a scene with something to find


def export_handtrack(
    out_dir: str | Path,
    model_type: str = DEFAULT_MODEL_TYPE,
    variants: Sequence[str] = VARIANTS,
) -> list[ConversionRow]:
    """Re-convert, add the page and its sample scenes; return the conversion table."""
    from browserml.handtrack.images import scenes

    out_dir = Path(out_dir)
    samples = scenes()
    with atomic_directory(out_dir) as staging:
        rows = reconvert(staging, model_type, variants=variants)  # replaces ``staging`` in place
        (staging / "samples").mkdir()
        for name, image in samples.items():
            (staging / "samples" / f"{name}.png").write_bytes(encode_png(image))
        page = {"model_type": model_type, "labels": {str(k): v for k, v in LABELS.items()}, "colors": COLORS,
                "samples": [f"{name}.png" for name in samples],
                "default": f"{DEFAULT_SAMPLE}.png" if DEFAULT_SAMPLE in samples else f"{next(iter(samples))}.png"}
        (staging / "page.json").write_text(json.dumps(page, indent=1), encoding="utf-8")
        write_page(staging, "handtrack")
    return [dataclasses.replace(r, folder=out_dir / r.variant) for r in rows]
