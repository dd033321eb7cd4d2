"""browserml/inbrowser/protocol.py: the messages between the kernel and the page. Requests
carry float32/int32 buffers and a slim manifest; the page's answers are read without
trusting them (a missing buffer or a wrong size is an error in words); the kernel
serves only the bundle's files; and the message kinds are the ones
widgets/browser_runtime.js uses. No widget, no comm."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from inbrowser_answers import POLY, page_reply

from browserml.inbrowser import protocol
from browserml.inbrowser.bundle import BUNDLE_NAME, BrowserRuntimeError, model_payload
from browserml.inbrowser.protocol import (
    decode_fit_reply,
    decode_run_reply,
    encode_fit_request,
    encode_run_request,
    files_reply,
    read_progress,
    read_result,
)
from browserml.inbrowser.results import FitResult, prepare_run
from browserml.paths import project_root

JS = project_root() / "widgets" / "browser_runtime.js"


def test_decoding_refuses_buffers_that_do_not_fit():
    with pytest.raises(BrowserRuntimeError, match="values for shape"):
        decode_run_reply({"results": [{"requested": "cpu", "outputs": {
            "y": {"shape": [3, 2], "dtype": "float32", "buffer": 0}}}]}, [np.zeros(5, np.float32).tobytes()])
    with pytest.raises(BrowserRuntimeError, match="missing buffer"):
        decode_run_reply({"results": [{"requested": "cpu", "outputs": {
            "y": {"shape": [1], "dtype": "float32", "buffer": 4}}}]}, [])


def test_bad_requests_are_refused_with_the_reason():
    with pytest.raises(BrowserRuntimeError, match="backends"):
        prepare_run(POLY, backends=("tpu",))
    with pytest.raises(BrowserRuntimeError, match="do not match"):
        prepare_run(POLY, inputs={"z": [1.0]})
    with pytest.raises(BrowserRuntimeError, match="layers model"):
        encode_fit_request(POLY, "j", model_payload(POLY), np.zeros((2, 1)), np.zeros((2, 1)), epochs=1,
                           batch_size=1, backend="cpu", optimizer="sgd", learning_rate=0.1,
                           loss="meanSquaredError", shuffle=False, timeout_s=5)


def test_run_request_carries_float32_inputs_and_a_slim_manifest():
    run = prepare_run(POLY)
    content, buffers = encode_run_request(run, "job", model_payload(POLY), samples=7, timeout_s=9)
    assert content["kind"] == "run" and content["backends"] == ["wasm", "cpu"] and content["samples"] == 7
    assert "parity" not in content["manifest"] and content["manifest"]["model_format"] == "graph"
    spec = content["inputs"]["x"]
    np.testing.assert_array_equal(np.frombuffer(buffers[spec["buffer"]], np.float32), run.inputs["x"])
    assert buffers[content["model"]["weights_buffer"]] == model_payload(POLY).weights
    # the whole per-run payload for lesson 1 is tiny: model + inputs + JSON
    size = len(json.dumps(content)) + sum(map(len, buffers))
    assert size < 8000, size


def test_fit_reply_decodes_weights_by_name():
    result = FitResult(POLY)
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    decode_fit_reply(result, {"backend": "cpu", "losses": [1.0, 0.5], "fit_ms": 12,
                              "weights": [{"name": "dense/kernel", "shape": [2, 3], "dtype": "float32",
                                           "buffer": 0}]}, [w.tobytes()])
    assert result.ok and result.losses == [1.0, 0.5]
    np.testing.assert_array_equal(result.weights["dense/kernel"], w)
    assert "1 → 0.5" in result.summary()


def test_python_and_the_page_name_the_same_message_kinds():
    """One table of kinds on each side: KIND in the JS, the constants in protocol.py."""
    js = JS.read_text(encoding="utf-8")
    table = re.search(r"const KIND = Object\.freeze\(\{(.*?)\}\);", js, re.DOTALL)
    assert table, "widgets/browser_runtime.js has no KIND table"
    in_js = dict(re.findall(r"(\w+): '([a-z]+)'", table.group(1)))
    in_python = {name: getattr(protocol, name) for name in ("HELLO", "NEED", "PROGRESS", "RESULT", "RUN", "FIT", "EVAL",
                                                            "FILES")}
    assert in_js == in_python
    assert set(protocol.PAGE_TO_KERNEL) | set(protocol.KERNEL_TO_PAGE) == set(in_python.values())
    assert not set(protocol.PAGE_TO_KERNEL) & set(protocol.KERNEL_TO_PAGE)
    # ... and the JS names a kind nowhere else
    rest = js[:table.start()] + js[table.end():]
    assert not re.findall(r"kind(?:\s*===\s*|:\s*)'", rest), "a message kind spelled outside KIND"
    assert f"'{BUNDLE_NAME}'" in js, "the page asks for the bundle by the name the kernel serves"


def test_the_kernel_serves_only_bundle_files(tmp_path):
    for name in ("tfjs-bundle.mjs", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm.wasm"):
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "secret.txt").write_text("no")
    reply, buffers = files_reply({"kind": "need", "request": "r1", "names": ["tfjs-backend-wasm-simd.wasm"]}, tmp_path)
    assert reply == {"kind": "files", "reply_to": "r1", "names": ["tfjs-backend-wasm-simd.wasm"], "error": None}
    assert buffers == [b"tfjs-backend-wasm-simd.wasm"]
    for names in (["../../pyproject.toml"], ["secret.txt"], ["tfjs-bundle.mjs", "/etc/passwd"]):
        reply, buffers = files_reply({"request": "r2", "names": names}, tmp_path)
        assert "not part of the bundle" in reply["error"] and buffers == [] and reply["reply_to"] == "r2"
    reply, buffers = files_reply({"request": "r3", "names": ["tfjs-bundle.mjs"]}, tmp_path / "gone")
    assert reply["error"] and buffers == []  # a missing file is an answer in words, not a hang


def test_an_answer_is_read_into_the_run_and_a_bad_one_becomes_words():
    run = prepare_run(POLY, backends=("cpu",))
    content, buffers = page_reply(run, "j", {"cpu": {"outputs": {"y": run.expected["y"]}}}, tfjs_load_ms=300,
                                  tfjs_version="4.22.0", user_agent="not kept")
    read_result(run, content, [memoryview(b) for b in buffers])  # ipykernel hands memoryviews
    assert run.status == "done" and run.error is None and run.ok
    assert run.info == {"delivery": "embed", "tfjs_load_ms": 300, "tfjs_version": "4.22.0"}

    bad = prepare_run(POLY, backends=("cpu",))
    read_result(bad, content, [])  # the buffers went missing
    assert bad.error.startswith("could not read the page's answer: ") and "missing buffer" in bad.error
    assert bad.status == f"error: {bad.error}" and not bad.ok

    refused = prepare_run(POLY, backends=("cpu",))
    read_result(refused, {"kind": "result", "id": "j", "job": "run", "error": "could not load TF.js: embed: x"}, [])
    assert refused.status == "error: could not load TF.js: embed: x" and refused.summary() == refused.error


def test_a_fine_tune_reports_progress_and_its_answer_in_words():
    fit = FitResult(POLY)
    read_progress(fit, {"kind": "progress", "id": "j", "epoch": 0, "loss": 0.75})
    read_progress(fit, {"kind": "progress", "id": "j", "epoch": 1, "loss": 0.5})
    assert fit.progress == [0.75, 0.5] and fit.status == "epoch 2: loss 0.5" and not fit.done
    run = prepare_run(POLY, backends=("cpu",))
    read_progress(run, {"kind": "progress", "id": "j", "epoch": 0, "loss": 1.0})  # a run has no epochs
    assert run.status == "not sent"
    w = np.ones((1, 1), np.float32)
    read_result(fit, {"kind": "result", "backend": "cpu", "losses": [0.75, 0.5], "fit_ms": 3,
                      "weights": [{"name": "dense/kernel", "shape": [1, 1], "dtype": "float32", "buffer": 0}]},
                [w.tobytes()])
    assert fit.status == "done" and fit.ok and fit.summary() == "2 epochs on cpu: loss 0.75 → 0.5"
    late = FitResult(POLY)
    read_result(late, {"kind": "result", "error": "timed out after 1 s fitting"}, [])
    assert late.status == "error: timed out after 1 s fitting" and late.summary() == "timed out after 1 s fitting"


def test_request_ids_are_fresh():
    ids = {protocol.new_request_id() for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
