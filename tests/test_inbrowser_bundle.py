"""browserml/inbrowser/bundle.py: the in-page TF.js bundle (found, or missing in words)
and how a model travels to the page (with the request, or by the /files/ route)."""

from __future__ import annotations

import pytest
from inbrowser_answers import POLY

from browserml.inbrowser import bundle
from browserml.inbrowser.bundle import BrowserRuntimeError, check_dist, model_payload


def test_model_payload_embeds_small_models_and_routes_large_ones():
    small = model_payload(POLY)
    shards = sorted(POLY.glob("*.bin"))
    assert small.how == "embed" and small.weights == b"".join(s.read_bytes() for s in shards)
    assert small.nbytes == (POLY / "model.json").stat().st_size + sum(s.stat().st_size for s in shards)
    large = model_payload(POLY, max_embed_bytes=small.nbytes - 1)
    assert large.how == "files" and large.weights == b""
    assert large.path == str((POLY / "model.json").resolve())


def test_missing_bundle_names_the_fix(tmp_path):
    with pytest.raises(BrowserRuntimeError, match="make setup"):
        check_dist(tmp_path)


def test_the_bundle_id_follows_its_content(tmp_path):
    (tmp_path / bundle.BUNDLE_NAME).write_text("export const a = 1;")
    first = bundle.bundle_id(tmp_path)
    assert first == bundle.bundle_id(tmp_path) and len(first) == 16
    (tmp_path / bundle.BUNDLE_NAME).write_text("export const a = 22;")  # rebuilt: another size
    assert bundle.bundle_id(tmp_path) != first


def test_the_environment_switches_the_runtime_off_and_moves_the_bundle(monkeypatch, tmp_path):
    for word, off in (("off", True), ("0", True), ("False", True), (" no ", True), ("on", False), ("", False)):
        monkeypatch.setenv(bundle.OFF_ENV, word)
        assert bundle.browser_runtime_off() is off, word
    monkeypatch.delenv("BROWSERML_TFJS_DIST", raising=False)
    assert bundle.dist_dir() == bundle.DIST_DIR
    monkeypatch.setenv("BROWSERML_TFJS_DIST", str(tmp_path))
    assert bundle.dist_dir() == tmp_path.resolve()
