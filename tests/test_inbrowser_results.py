"""browserml/inbrowser/results.py: a run in the page beside Python's numbers (parity per
backend, the table, its summary and HTML, the chart), read from page answers built by
hand exactly as widgets/browser_runtime.js builds them. No widget, no comm."""

from __future__ import annotations

import re

import numpy as np
import pytest
from inbrowser_answers import POLY, page_reply

from browserml.export import read_manifest
from browserml.inbrowser.protocol import decode_run_reply
from browserml.inbrowser.results import prepare_run


def test_prepare_run_defaults_to_the_exports_parity_sample():
    run = prepare_run(POLY)
    manifest = read_manifest(POLY)
    assert run.model_format == "graph" and run.backends == ("wasm", "cpu")
    assert run.inputs["x"].dtype == np.float32 and run.inputs["x"].shape == (11,)
    np.testing.assert_array_equal(run.inputs["x"], np.float32(manifest.parity["inputs"]["x"]))
    np.testing.assert_array_equal(run.expected["y"], manifest.parity["outputs"]["y"])
    assert run.tolerance == 1e-5 and run.python_latency_ms is None


def test_reference_gives_python_outputs_and_latency():
    coeffs = list(read_manifest(POLY).extra["coefficients"].values())
    xs = np.linspace(-2, 2, 7)
    run = prepare_run(POLY, inputs={"x": xs},
                      reference=lambda d: np.polyval(coeffs, d["x"].astype(np.float64)))
    np.testing.assert_allclose(run.expected["y"], np.polyval(coeffs, xs.astype(np.float32)), rtol=1e-12)
    assert 0 < run.python_latency_ms < 50


def test_parity_table_and_ok_from_a_page_answer():
    run = prepare_run(POLY, backends=("wasm", "cpu", "webgl"))
    want = run.expected["y"]
    content, buffers = page_reply(run, "j1", {
        "wasm": {"outputs": {"y": want + 2e-6}, "latency_ms": 0.3},
        "cpu": {"outputs": {"y": want + 3e-4}},
        "webgl": {"error": "TF.js backend 'webgl' is not available in this browser"},
    })
    run.results = decode_run_reply(content, buffers)
    parity = run.parity()
    assert parity["wasm"] == pytest.approx(2e-6, abs=2e-7)   # float32 rounding of want + 2e-6
    assert parity["cpu"] == pytest.approx(3e-4, rel=1e-3)
    assert parity["webgl"] is None
    rows = {r["backend"]: r for r in run.table()}
    assert list(rows) == ["wasm", "cpu", "webgl"]
    assert rows["wasm"]["ok"] and rows["wasm"]["latency_ms"] == 0.3 and rows["wasm"]["tensors_leaked"] == 0
    assert not rows["cpu"]["ok"]  # 3e-4 > the export's tolerance 1e-5
    assert not rows["webgl"]["ok"] and "not available" in rows["webgl"]["note"]
    assert not run.ok
    assert set(rows["wasm"]) >= {"backend", "max_abs_diff", "latency_ms", "python_latency_ms"}


def test_a_leak_fails_the_row_and_says_so():
    run = prepare_run(POLY, backends=("cpu",))
    content, buffers = page_reply(run, "j", {"cpu": {"outputs": {"y": run.expected["y"]}, "leak": 3}})
    run.results = decode_run_reply(content, buffers)
    row = run.table()[0]
    assert row["max_abs_diff"] < 1e-6 and row["tensors_leaked"] == 3
    assert not row["ok"] and row["note"] == "3 tensors leaked"


def test_wrong_output_shape_is_an_error_in_words_not_a_crash():
    run = prepare_run(POLY, backends=("cpu",))
    content, buffers = page_reply(run, "j", {"cpu": {"outputs": {"y": np.zeros(5)}}})
    run.results = decode_run_reply(content, buffers)
    row = run.table()[0]
    assert row["max_abs_diff"] is None and not row["ok"] and "shape" in row["note"]


def test_figure_and_html_show_every_backend_and_python():
    run = prepare_run(POLY, backends=("wasm", "cpu"), python_latency_ms=0.05)
    content, buffers = page_reply(run, "j", {"wasm": {"outputs": {"y": run.expected["y"]}},
                                             "cpu": {"error": "boom"}})
    run.results = decode_run_reply(content, buffers)
    fig = run.figure()
    bars = fig.axes[0].patches
    assert len(bars) == 3 and bars[2].get_width() == pytest.approx(0.05)
    html = run.html()
    assert html.count("<tr>") == 3 and "boom" in html


def test_the_results_table_reads_as_words():
    run = prepare_run(POLY, backends=("wasm", "cpu"), python_latency_ms=0.05)
    content, buffers = page_reply(run, "j", {"wasm": {"outputs": {"y": run.expected["y"]}},
                                             "cpu": {"error": "boom"}})
    run.results = decode_run_reply(content, buffers)
    html = run.html()
    headers = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", html)
    assert "max |Δ| vs Python" in headers and "latency (ms)" in headers and "tensors leaked" in headers
    assert not [h for h in headers if "_" in h], headers
    assert ">None<" not in html and ">True<" not in html and ">yes<" in html, "values in words too"
    assert run._repr_html_() == html, "a run as a cell's last line is that table"


def test_the_summary_is_one_line_in_words():
    from browserml.inbrowser.job import NO_FRONT_END, PAGE_ONLY

    run = prepare_run(POLY, backends=("wasm", "cpu"))
    assert run.summary() == "wasm: no answer; cpu: no answer" and not run.done and not run.answered
    content, buffers = page_reply(run, "j", {"wasm": {"outputs": {"y": run.expected["y"]}, "latency_ms": 0.5},
                                             "cpu": {"error": "boom", "latency_ms": None}})
    run.results = decode_run_reply(content, buffers)
    assert run.summary() == "wasm 0.500 ms, max|Δ| 0.0e+00; cpu: boom" and run.done and run.answered

    waiting = prepare_run(POLY, backends=("cpu",))
    waiting.status = PAGE_ONLY
    assert waiting.summary() == PAGE_ONLY
    waiting.error = NO_FRONT_END
    assert waiting.summary() == NO_FRONT_END and waiting.done and not waiting.answered
