"""Lesson 3's export: EfficientNet-Lite0 features + a gallery index, proven in real TF.js.

A 30-image slice of FASHION200 keeps it quick; everything else is the real thing: the
ImageNet weights, float32/float16/uint8 variants, Node and headless Chromium, the
page's own search against Python's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from browserml.data.images import load_image_set
from browserml.export import read_manifest
from browserml.imagesearch import search as se
from browserml.imagesearch.export import (
    PARITY_TOLERANCE,
    export_imagesearch,
    read_gallery,
    read_variant_table,
    variant_dirs,
)
from browserml.tfjs_check import check_parity, run_export_page, run_in_node

pytestmark = [pytest.mark.tfjs, pytest.mark.slow]


@pytest.fixture(scope="module")
def gallery_set():
    return load_image_set("FASHION200").subset(np.concatenate([np.arange(c * 20, c * 20 + 3) for c in range(10)]))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, gallery_set):
    import os

    cache = tmp_path_factory.mktemp("cache")
    os.environ["BROWSERML_CACHE"] = str(cache)
    try:
        out = tmp_path_factory.mktemp("exports") / "imagesearch"
        rows = export_imagesearch(out, dataset=gallery_set)
    finally:
        del os.environ["BROWSERML_CACHE"]
    return out, rows


def test_contract_gallery_and_table(exported, gallery_set):
    out, rows = exported
    manifest = read_manifest(out)
    assert manifest.preprocessing == {"kind": "affine", "size": [224, 224], "scale": 1 / 128, "offset": -127 / 128}
    assert manifest.parity["tolerance"] == PARITY_TOLERANCE
    assert manifest.outputs[0].shape == (None, 1280)
    meta, feats = read_gallery(out)
    assert feats.shape == (30, 1280) and meta["labels"] == [int(v) for v in gallery_set.labels]
    assert {q["index"] for q in meta["queries"]} == {c * 3 for c in range(10)}
    assert all((out / q["file"]).is_file() for q in meta["queries"])
    assert [r.variant for r in rows] == ["float32", "float16", "uint8"] == [r.variant for r in read_variant_table(out)]
    size = {r.variant: r.bytes for r in rows}
    assert 0.45 < size["float16"] / size["float32"] < 0.55 and 0.2 < size["uint8"] / size["float32"] < 0.3
    expected = se.evaluate(feats, gallery_set.labels).mean_score
    assert rows[0].mean_score == pytest.approx(expected)
    # 3 images a class caps the score at 0.24 (2 classmates in a top 15); chance is 0.069
    assert rows[0].mean_score > 2.5 * se.random_score_expectation(gallery_set.labels)
    assert 0 < rows[1].max_feature_error < rows[2].max_feature_error  # float16 loses less than uint8


def test_every_variant_matches_python_in_node(exported):
    out, _ = exported
    for variant, folder in variant_dirs(out).items():
        runtimes = [("node", "wasm"), ("node", "cpu")] if variant == "float32" else [("node", "wasm")]
        for report in check_parity(folder, runtimes):
            assert report.ok, f"{variant}: {report}"


def test_node_follows_the_preprocessing_contract_from_raw_pixels(exported, gallery_set):
    """A 28x28 uint8 image in: TF.js resizes and scales it as browserml.json says."""
    out, _ = exported
    _, feats = read_gallery(out)
    raw = gallery_set.images[4:6].astype(np.float32)
    result = run_in_node(out, "wasm", inputs={"image": raw}, raw=True)
    got = np.asarray(result.outputs["features"])
    assert np.max(np.abs(got - feats[4:6])) <= PARITY_TOLERANCE


@pytest.mark.chromium
def test_the_page_searches_like_python(exported):
    out, _ = exported
    meta, feats = read_gallery(out)
    query = meta["queries"][3]["index"]
    for variant in ("float32", "uint8"):
        page = run_export_page(out, backend="wasm", params={"query": query, "variant": variant})
        assert page["parity"] <= PARITY_TOLERANCE
        assert page["numTensors"] == page["numTensorsAfterLoad"]  # the search leaked nothing
        if variant == "float32":
            assert np.max(np.abs(np.asarray(page["features"]) - feats[query])) <= PARITY_TOLERANCE
            expected = se.top_k(feats, query, k=15, metric="cosine")
            assert page["top"] == [int(i) for i in expected.indices]
            np.testing.assert_allclose(page["distances"], expected.distances, atol=1e-4)
            labels = np.asarray(meta["labels"])
            assert page["score"] == pytest.approx(se.weighted_score(labels[expected.indices], labels[query]))


@pytest.mark.chromium
def test_the_page_reports_a_broken_gallery_instead_of_hanging(exported, tmp_path):
    import shutil

    out, _ = exported
    broken = tmp_path / "imagesearch"
    shutil.copytree(out, broken)
    (broken / "gallery.bin").write_bytes(b"\0" * 12)
    with pytest.raises(Exception, match="gallery.bin has the wrong size"):
        run_export_page(broken, backend="cpu")


def test_a_failed_export_leaves_the_previous_one_intact(exported, gallery_set, tmp_path, monkeypatch):
    import shutil

    import browserml.imagesearch.export as export_module

    out, _ = exported
    target = tmp_path / "imagesearch"
    shutil.copytree(out, target)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))

    def broken_converter(*args, **kwargs):
        raise RuntimeError("converter died half-way")

    monkeypatch.setattr(export_module, "export_layers_model", broken_converter)
    monkeypatch.setenv("BROWSERML_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="half-way"):
        export_imagesearch(target, dataset=gallery_set, variants=())
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert json.loads((target / "gallery.json").read_text())["count"] == 30
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".imagesearch")]
