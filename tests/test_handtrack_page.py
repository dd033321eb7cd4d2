"""Lesson 4's page: our re-converted detector in headless Chromium finds what Python finds.

The page repeats handtrack.js's detect() (valid resolution, resizeBilinear, toInt, raw
outputs, per-box max, NMS) with TF.js on our re-converted graph model; Python runs the
same contract on the shipped model of the same precision.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from browserml.handtrack.detect import load
from browserml.handtrack.draw import agreement
from browserml.handtrack.images import scenes
from browserml.handtrack.page import export_handtrack
from browserml.tfjs_check import run_export_page

pytestmark = [pytest.mark.tfjs, pytest.mark.chromium, pytest.mark.slow]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "handtrack"
    export_handtrack(out, variants=("base", "uint8"))
    return out


def assert_same_detections(page, python):
    report = agreement(python, page)
    assert report["ok"], report


@pytest.mark.parametrize("variant,size", [("base", "large"), ("uint8", "small")])
def test_the_page_finds_what_python_finds(exported, variant, size):
    page_info = json.loads((exported / "page.json").read_text())
    detector = load(size=size)
    found_any = 0
    for name, image in scenes().items():
        page = run_export_page(exported, backend="wasm", params={"variant": variant, "sample": f"{name}.png"})
        assert page["variant"] == variant and page["numTensors"] == page["numTensorsAfterLoad"]
        assert_same_detections(page["detections"], detector.detect(image))
        found_any += len(page["detections"])
    assert found_any >= 4  # the scenes hold hands and faces to find, not just empty frames
    assert page_info["default"] in page_info["samples"]


def test_the_page_flips_like_handtrack(exported):
    image = scenes()["two_open_hands"]
    page = run_export_page(exported, backend="wasm", params={"sample": "two_open_hands.png", "flip": 1})
    python = load(size="large", flipHorizontal=True).detect(image)
    assert_same_detections(page["detections"], python)
    unflipped = load(size="large").detect(image)
    xs = sorted(d["bbox"][0] for d in python)
    assert not np.allclose(xs, sorted(d["bbox"][0] for d in unflipped), atol=5)
