"""widgets/browser_runtime.py: TF.js in the learner's own notebook page.

Three layers, cheapest first:
- the pure-Python model (request, parity, table, fall-backs, payload decisions), with
  page answers built by hand exactly as the JS builds them;
- the real widget JS and the real bundle in headless Chromium *outside* Jupyter: a
  stand-in for anywidget's model relays messages between the page and a real
  ``BrowserRuntime``, so both delivery modes (files route with a base-URL prefix, and
  embed through the kernel) and fine-tuning run end to end;
- headless JupyterLab: a scratch notebook exports lesson 1's polynomial, runs it in
  its own page on wasm and cpu, and a later cell (``await``, under Run All) sees the parity.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from browserml.export import clone_with_weights, read_manifest
from browserml.paths import exports_dir, project_root
from widgets import browser_runtime as br
from widgets.browser_runtime import (
    NO_FRONT_END,
    BrowserRun,
    BrowserRuntime,
    BrowserRuntimeError,
    FitResult,
    check_dist,
    decode_fit_reply,
    decode_run_reply,
    encode_fit_request,
    encode_run_request,
    model_payload,
    prepare_run,
)

POLY = exports_dir() / "polynomial"


def _bundle_ready() -> bool:
    try:
        check_dist()
        return True
    except BrowserRuntimeError:
        return False


needs_bundle = pytest.mark.skipif(not _bundle_ready(), reason="in-page TF.js bundle not built (make setup)")


def page_reply(run: BrowserRun, job_id: str, outputs_by_backend: dict, **extra) -> tuple[dict, list[bytes]]:
    """A ``result`` message as widgets/browser_runtime.js packs it."""
    buffers: list[bytes] = []
    results = []
    for backend, spec in outputs_by_backend.items():
        item = {"requested": backend, "backend": backend, "latency_ms": spec.get("latency_ms", 0.25),
                "n_runs": 30, "num_tensors_before": 4, "num_tensors_after": 4 + spec.get("leak", 0),
                "load_ms": 2.0, "error": spec.get("error"), "outputs": None}
        if "outputs" in spec:
            item["outputs"] = {}
            for name, arr in spec["outputs"].items():
                arr = np.asarray(arr, dtype=np.float32)
                item["outputs"][name] = {"shape": list(arr.shape), "dtype": "float32", "buffer": len(buffers)}
                buffers.append(arr.tobytes())
        results.append(item)
    content = {"kind": "result", "id": job_id, "job": "run", "delivery": "embed", "results": results, **extra}
    return content, buffers


@pytest.fixture
def runtime(monkeypatch):
    """A BrowserRuntime with no front end; what it sends is recorded in ``rt.outbox``."""
    monkeypatch.delenv(br.OFF_ENV, raising=False)
    rt = BrowserRuntime(hello_timeout_s=30)
    rt.outbox = []
    rt._send_msg = lambda content, buffers: rt.outbox.append((content, buffers))
    return rt


# --------------------------------------------------------------------------- pure Python


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
    with pytest.raises(BrowserRuntimeError, match="delivery"):
        BrowserRuntime(delivery="cdn")


def test_model_payload_embeds_small_models_and_routes_large_ones():
    small = model_payload(POLY)
    shards = sorted(POLY.glob("*.bin"))
    assert small.how == "embed" and small.weights == b"".join(s.read_bytes() for s in shards)
    assert small.nbytes == (POLY / "model.json").stat().st_size + sum(s.stat().st_size for s in shards)
    large = model_payload(POLY, max_embed_bytes=small.nbytes - 1)
    assert large.how == "files" and large.weights == b""
    assert large.path == str((POLY / "model.json").resolve())


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


def test_missing_bundle_names_the_fix(tmp_path):
    with pytest.raises(BrowserRuntimeError, match="make setup"):
        check_dist(tmp_path)
    with pytest.raises(BrowserRuntimeError, match="make setup"):
        BrowserRuntime(dist=tmp_path)


@needs_bundle
def test_no_front_end_falls_back_to_python_without_hanging(monkeypatch):
    monkeypatch.delenv(br.OFF_ENV, raising=False)
    rt = BrowserRuntime(hello_timeout_s=0.3)
    seen = []
    rt.on_result(seen.append)
    t0 = time.monotonic()
    job = rt.run(POLY, backends=("cpu",))
    assert rt.status == br.WAITING and not job.done()
    run = job.result(timeout=10)
    assert time.monotonic() - t0 < 5
    assert run.error == NO_FRONT_END and rt.status == NO_FRONT_END
    assert seen == [run] and rt.result is run
    assert run.table()[0]["note"] == NO_FRONT_END and not run.ok
    # Provisional: a page that says hello late (its message read late by a busy kernel)
    # still gets the job, and its answer replaces the fall-back.
    assert not job.final
    sent = []
    rt._send_msg = lambda content, buffers: sent.append(content)
    rt._on_msg(rt, {"kind": "hello"}, [])
    assert [c["id"] for c in sent] == [job.id]
    reply, out = page_reply(run, job.id, {"cpu": {"outputs": {"y": run.expected["y"]}}})
    rt._on_msg(rt, reply, out)
    assert job.final and run.ok and run.error is None and len(seen) == 2


@needs_bundle
def test_switched_off_answers_at_once(monkeypatch):
    monkeypatch.setenv(br.OFF_ENV, "off")
    rt = BrowserRuntime()
    job = rt.run(POLY)
    assert job.done() and "switched off" in job.value.error


@needs_bundle
def test_jobs_wait_for_hello_then_go_and_answers_resolve_them(runtime):
    job = runtime.run(POLY, backends=("wasm", "cpu"))
    assert runtime.outbox == [] and runtime.status == br.WAITING  # nothing sent before the page says hello
    runtime._on_msg(runtime, {"kind": "hello", "files_url": None}, [])
    assert runtime._hello_timer is None
    (content, buffers), = runtime.outbox
    assert content["kind"] == "run" and content["id"] == job.id
    run = job.value
    reply, out = page_reply(run, job.id, {b: {"outputs": {"y": run.expected["y"]}} for b in ("wasm", "cpu")},
                            tfjs_load_ms=300)
    runtime._on_msg(runtime, reply, [memoryview(b) for b in out])  # ipykernel hands memoryviews
    assert job.done() and run.ok and run.info["tfjs_load_ms"] == 300 and run.round_trip_s is not None
    assert runtime.result is run and "wasm" in runtime.status
    # after hello, a new job goes straight out
    job2 = runtime.run(POLY, backends=("cpu",))
    assert runtime.outbox[-1][0]["id"] == job2.id


@needs_bundle
def test_a_late_answer_replaces_the_kernels_deadline(runtime):
    runtime.grace_s = 0.0
    runtime.load_timeout_s = 0.0
    runtime._on_msg(runtime, {"kind": "hello"}, [])
    job = runtime.run(POLY, backends=("cpu",), timeout_s=0.2)
    first = job.result(timeout=5)
    assert "no answer from the page" in first.error
    reply, out = page_reply(job.value, job.id, {"cpu": {"outputs": {"y": job.value.expected["y"]}}})
    runtime._on_msg(runtime, reply, out)
    assert job.value.error is None and job.value.ok


@needs_bundle
def test_result_refuses_to_block_a_cell_but_await_works(runtime):
    runtime._on_msg(runtime, {"kind": "hello"}, [])
    job = runtime.run(POLY, backends=("cpu",))
    reply, out = page_reply(job.value, job.id, {"cpu": {"outputs": {"y": job.value.expected["y"]}}})

    async def cell():
        with pytest.raises(BrowserRuntimeError, match="await"):
            job.result()
        threading.Timer(0.2, runtime._on_msg, args=(runtime, reply, out)).start()  # the page answers later
        return await job

    assert asyncio.run(cell()).ok


@needs_bundle
def test_the_kernel_serves_only_bundle_files(runtime):
    runtime._on_need({"request": "r1", "names": ["tfjs-backend-wasm-simd.wasm"]})
    content, buffers = runtime.outbox[-1]
    assert content["reply_to"] == "r1" and content["error"] is None
    assert buffers[0] == (br.dist_dir() / "tfjs-backend-wasm-simd.wasm").read_bytes()
    runtime._on_need({"request": "r2", "names": ["../../pyproject.toml"]})
    content, buffers = runtime.outbox[-1]
    assert "not part of the bundle" in content["error"] and buffers == []


def test_fit_reply_decodes_weights_by_name():
    result = FitResult(POLY)
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    decode_fit_reply(result, {"backend": "cpu", "losses": [1.0, 0.5], "fit_ms": 12,
                              "weights": [{"name": "dense/kernel", "shape": [2, 3], "dtype": "float32",
                                           "buffer": 0}]}, [w.tobytes()])
    assert result.ok and result.losses == [1.0, 0.5]
    np.testing.assert_array_equal(result.weights["dense/kernel"], w)
    assert "1 → 0.5" in result.summary()


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


def test_a_late_page_status_does_not_hide_the_kernels_summary(runtime):
    """The page's "answered; waiting for the kernel…" is a state update, which ipywidgets
    may deliver after the answer (a custom message): it must not stay on screen."""
    runtime._on_msg(runtime, {"kind": "hello"}, [])
    job = runtime.run(POLY, backends=("cpu",))
    runtime.set_state({"status": "running on cpu…"})
    assert runtime.status == "running on cpu…", "news about a job in flight is shown"
    reply, out = page_reply(job.value, job.id, {"cpu": {"outputs": {"y": job.value.expected["y"]}}})
    runtime._on_msg(runtime, reply, out)
    summary = runtime.status
    assert summary == job.value.summary() and summary.startswith("cpu ")
    runtime.set_state({"status": "answered; waiting for the kernel to read it…"})  # arrives late
    assert runtime.status == summary
    job2 = runtime.run(POLY, backends=("wasm",))
    runtime.set_state({"status": "loading TF.js from the server…"})
    assert runtime.status == "loading TF.js from the server…" and not job2.done()


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


def test_the_status_line_and_chart_follow_the_page():
    js = (Path(br.__file__).with_name("browser_runtime.js")).read_text(encoding="utf-8")
    assert "line.style.color = 'var(--jp-ui-font-color2" in js, "the status line follows JupyterLab's theme"
    assert "the kernel reads it when it is free" not in js


# --------------------------------------------------------------------------- Chromium, no Jupyter

HARNESS = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>browser_runtime harness</title>CONFIG</head>
<body BODY_ATTRS><div id="view"></div>
<script>
// A stand-in for anywidget's model: traits in a dict; custom messages leave through
// window.outbox (the test hands them to BrowserRuntime._on_msg) and arrive by deliver().
(function () {
  function b64encode(view) {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }
  function b64decode(text) {
    const s = atob(text);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return new DataView(bytes.buffer);
  }
  window.outbox = [];
  window.startWidget = async function (esm, traits) {
    const mod = await import(URL.createObjectURL(new Blob([esm], { type: 'text/javascript' })));
    const handlers = {};
    const model = {
      get: (k) => traits[k],
      set: (k, v) => { traits[k] = v; (handlers['change:' + k] || []).forEach((f) => f()); },
      save_changes: () => {},
      on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
      off: (ev, f) => { handlers[ev] = (handlers[ev] || []).filter((g) => g !== f); },
      send: (content, callbacks, buffers) => {
        window.outbox.push({ content: JSON.parse(JSON.stringify(content)), buffers: (buffers || []).map(
          (b) => b64encode(b instanceof ArrayBuffer ? new DataView(b) : b)) });
      },
    };
    window.deliver = (content, buffers) => {
      (handlers['msg:custom'] || []).forEach((f) => f(content, buffers.map(b64decode)));
    };
    window.widgetTraits = traits;
    mod.default.initialize({ model: model });
    mod.default.render({ model: model, el: document.getElementById('view') });
  };
})();
</script></body></html>
"""
TRAITS = ("status", "delivery", "dist_path", "home_dir", "bundle_id", "load_timeout_s")
BASE = "/user/learner/"  # a JupyterHub-style base URL: the files route must honour it


class PageDriver:
    """Relays messages between a real BrowserRuntime and the real widget JS in ``page``."""

    def __init__(self, page, runtime: BrowserRuntime) -> None:
        self.page, self.rt = page, runtime
        self.outbox: list = []
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

        def send(content, buffers):
            runtime.sent_bytes += sum(len(b) for b in buffers)
            self.outbox.append((content, buffers))

        runtime._send_msg = send
        page.evaluate("([esm, traits]) => startWidget(esm, traits)",
                      [runtime._esm, {k: getattr(runtime, k) for k in TRAITS}])

    def wait(self, job, timeout_s: float = 60):
        deadline = time.monotonic() + timeout_s
        while not job.done() and time.monotonic() < deadline:
            for msg in self.page.evaluate("window.outbox.splice(0)"):
                self.rt._on_msg(self.rt, msg["content"], [base64.b64decode(b) for b in msg["buffers"]])
            while self.outbox:
                content, buffers = self.outbox.pop(0)
                self.page.evaluate("([c, b]) => deliver(c, b)",
                                   [content, [base64.b64encode(bytes(b)).decode() for b in buffers]])
            time.sleep(0.02)
        assert job.done(), f"no answer within {timeout_s} s; page errors {self.errors}"
        return job.value

    def page_tensors(self) -> int:
        return int(self.page.evaluate(
            "async (k) => (await globalThis.__browserml.tfjs[k]).tf.memory().numTensors", self.rt.bundle_id))


@pytest.fixture(scope="module")
def chromium_pages(tmp_path_factory):
    """One headless Chromium; ``new(files=...)`` opens a harness page with or without a
    Jupyter-like page config (base URL + server root = the project root, served under
    ``BASE/files/``)."""
    from playwright.sync_api import sync_playwright

    from browserml.serve import serve
    from browserml.tfjs_check import launch_chromium

    root = tmp_path_factory.mktemp("harness")
    config = json.dumps({"baseUrl": BASE, "serverRoot": str(project_root())})
    (root / "files.html").write_text(HARNESS.replace(
        "CONFIG", f'<script id="jupyter-config-data" type="application/json">{config}</script>').replace(
        "BODY_ATTRS", f'data-base-url="{BASE}"'))
    (root / "embed.html").write_text(HARNESS.replace("CONFIG", "").replace("BODY_ATTRS", ""))
    with serve({"/page/": root, BASE + "files/": project_root()}) as base, sync_playwright() as p:
        browser = launch_chromium(p)

        def new(files: bool):
            page = browser.new_page()
            page.goto(f"{base}/page/{'files' if files else 'embed'}.html")
            return page

        yield new
        browser.close()


def _poly_reference():
    coeffs = list(read_manifest(POLY).extra["coefficients"].values())
    return lambda d: np.polyval(coeffs, d["x"].astype(np.float64))


@needs_bundle
@pytest.mark.tfjs
@pytest.mark.chromium
def test_files_route_runs_lesson1_on_wasm_and_cpu_without_leaks(chromium_pages, monkeypatch):
    """Bundle and wasm from BASE/files/ (no bytes through the kernel), the model too
    (as a model too large to embed would), 100 timed runs per backend."""
    monkeypatch.delenv(br.OFF_ENV, raising=False)
    rt = BrowserRuntime(hello_timeout_s=30, max_embed_bytes=0)
    driver = PageDriver(chromium_pages(files=True), rt)
    run = driver.wait(rt.run(POLY, backends=("wasm", "cpu", "webgl"), samples=100, min_sample_ms=0))
    assert run.info["delivery"] == "files" and run.info["model_delivery"] == "files"
    assert run.info["wasm"]["name"] == "tfjs-backend-wasm-simd.wasm" and run.info["tfjs_version"] == "4.22.0"
    assert rt.sent_bytes == 11 * 4  # only the 11 float32 inputs: no bundle, wasm or weights via the comm
    rows = {r["backend"]: r for r in run.table()}
    for backend in ("wasm", "cpu"):
        row = rows[backend]
        assert row["ok"], row
        assert row["max_abs_diff"] <= 1e-5 and row["n_runs"] == 100 and row["tensors_leaked"] == 0
    # webgl: software-rendered in headless Chromium; where a browser has none, it says so
    assert rows["webgl"]["ok"] or "not available" in rows["webgl"]["note"], rows["webgl"]
    assert [r.backend for r in run.results][:2] == ["wasm", "cpu"]
    assert driver.page_tensors() == 0  # model and inputs disposed after the job
    assert driver.errors == []


@needs_bundle
@pytest.mark.tfjs
@pytest.mark.chromium
def test_embed_mode_runs_a_layers_export_and_fine_tunes_it(chromium_pages, exports, dense_model, monkeypatch):
    """No page config: TF.js comes through the kernel (once per page); a layers export
    runs on wasm and cpu; model.fit in the page matches tf_keras's own SGD steps."""
    import tf_keras

    monkeypatch.delenv(br.OFF_ENV, raising=False)
    folder = exports["layers_float32"]
    rt = BrowserRuntime(hello_timeout_s=30)
    driver = PageDriver(chromium_pages(files=False), rt)
    run = driver.wait(rt.run(folder, backends=("wasm", "cpu")))
    assert run.info["delivery"] == "embed" and run.info["model_delivery"] == "embed"
    bundle = sum((br.dist_dir() / n).stat().st_size for n in (br.BUNDLE_NAME, "tfjs-backend-wasm-simd.wasm"))
    assert bundle < rt.sent_bytes < bundle + 20_000  # the bundle + one wasm binary + the model, once
    assert run.ok, run.table()
    assert all(r["max_abs_diff"] <= 1e-5 for r in run.table())

    # A second job on the same page reuses the page's TF.js: only the model travels.
    before = rt.sent_bytes
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = rng.normal(size=(16, 3)).astype(np.float32)
    fit = driver.wait(rt.fit(folder, x, y, epochs=3, batch_size=8, learning_rate=0.05, backend="cpu"))
    assert rt.sent_bytes - before < 5_000
    assert fit.ok, fit.error
    assert len(fit.losses) == 3 and len(fit.progress) == 3 and fit.losses[-1] < fit.losses[0]

    twin = tf_keras.models.clone_model(dense_model)
    twin.set_weights(dense_model.get_weights())
    twin.compile(optimizer=tf_keras.optimizers.SGD(0.05), loss="mse")
    history = twin.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(fit.losses, history.history["loss"], rtol=1e-4)
    tuned = clone_with_weights(dense_model, fit.weights)
    for mine, theirs in zip(tuned.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    assert driver.page_tensors() == 0

    # A deadline the page cannot meet comes back as words, not a hang.
    late = driver.wait(rt.run(folder, backends=("cpu",), timeout_s=0.0001))
    assert "timed out" in late.table()[0]["note"]
    assert driver.errors == []


# --------------------------------------------------------------------------- JupyterLab

LAB_SETUP = (
    "import json\nimport numpy as np\nfrom widgets.browser_runtime import run_in_browser, shared_runtime\n"
    "coeffs = [0.5, -1.25, 0.75]\n"
)
LAB_CELLS = (
    # lesson 1's export, as notebooks/01 makes it (the second notebook reuses the folder)
    LAB_SETUP + "from browserml import polyfit as pf\nexport = pf.export_polynomial(coeffs, 'polynomial')",
    "{runtime}view = run_in_browser(export, backends=('wasm', 'cpu'),\n"
    "                      reference=lambda d: np.polyval(coeffs, d['x'].astype(np.float64)))\nview",
    "run = await view.job  # the page's answer arrives while this cell awaits, even under Run All\n"
    "print('RESULT ' + json.dumps({'rows': run.table(), 'info': run.info,\n"
    "                              'round_trip_s': run.round_trip_s}))\n"
    "assert run.ok, run.table()",
)


@needs_bundle
@pytest.mark.tfjs
@pytest.mark.chromium
@pytest.mark.slow
def test_jupyterlab_runs_lesson1_in_its_own_page_and_the_kernel_sees_parity(tmp_path):
    """Two notebooks in one headless JupyterLab: the bundle outside the server root
    (auto picks embed, as in VS Code or Colab), and inside it (auto picks /files/)."""
    from browserml.tfjs_check import in_worker_thread

    shutil.copytree(br.dist_dir(), tmp_path / "tfjs-dist")
    # In its own thread: Playwright's sync API refuses to start inside another live
    # sync_playwright (this module's Chromium fixture) on the same thread.
    seen = in_worker_thread(_lab_results, tmp_path)
    assert set(seen) == {"embed", "files"}
    for mode, result in seen.items():
        print(mode, json.dumps({k: result[k] for k in ("info", "round_trip_s")}))
        assert result["info"]["delivery"] == mode
        assert [r["backend"] for r in result["rows"]] == ["wasm", "cpu"]
        for row in result["rows"]:
            assert row["max_abs_diff"] <= 1e-5 and row["tensors_leaked"] == 0 and row["ok"], row
            assert row["latency_ms"] > 0 and row["python_latency_ms"] > 0


def _lab_results(root: Path) -> dict:
    """Run the two scratch notebooks in one headless JupyterLab; the parsed RESULT lines."""
    from browserml.labcheck import lab_session, scratch_notebook

    seen = {}
    with lab_session(root) as session:
        for mode, runtime in (("embed", ""), ("files", "shared_runtime(dist='tfjs-dist')\n")):
            cells = list(LAB_CELLS)
            cells[1] = cells[1].format(runtime=runtime)
            if mode == "files":  # no need to import TensorFlow again
                cells[0] = LAB_SETUP + "export = 'polynomial'"
            name = f"browser_runtime_{mode}.ipynb"
            (root / name).write_text(json.dumps(scratch_notebook(cells)))
            page = session.open_notebook(name)
            try:
                assert session.run_all(page, timeout_s=120), session.console_errors(page)
                outputs = page.evaluate(
                    "p => window.__bml.panelFor(p).content.model.toJSON().cells.map((c) => c.outputs)", name)
                text = "".join(o.get("text", "") for o in outputs[2])
                assert "RESULT " in text, outputs[2]
                seen[mode] = json.loads(text.split("RESULT ", 1)[1])
                # the learner sees the table and the chart in the view
                selector = session.last_widget_selector(page)
                page.wait_for_function(
                    "s => { const el = document.querySelector(s); return el && el.querySelector('table') "
                    "&& el.querySelector('img.widget-image[src]') && el.innerText.includes('wasm'); }",
                    arg=selector, timeout=30_000)
                assert session.widget_counts(page)[0] == session.widget_counts(page)[1] == 1
                assert session.fatal_console_errors(page) == []
            finally:
                session.close_page(page)
    return seen


@needs_bundle
@pytest.mark.tfjs
@pytest.mark.chromium
@pytest.mark.slow
def test_lesson1_notebook_itself_runs_in_its_own_page(tmp_path):
    """The real lesson 1 notebook, Run All in headless JupyterLab: its "Run it in your own
    browser" cells must show parity <= 1e-5 on wasm and cpu, with no tensor left behind."""
    import re

    from browserml.tfjs_check import in_worker_thread

    name = "01_ops_api_polynomial.ipynb"
    shutil.copy(project_root() / "notebooks" / name, tmp_path / name)
    text = in_worker_thread(_run_notebook_in_lab, tmp_path, name)
    found = dict(re.findall(r"(wasm|cpu) [\d.]+ ms, max\|Δ\| ([\d.e+-]+)", text))
    assert set(found) == {"wasm", "cpu"}, text[-2000:]
    assert all(float(v) <= 1e-5 for v in found.values()), found
    assert "tensors left after 100s of runs: wasm 0, cpu 0" in text


def _run_notebook_in_lab(root: Path, name: str) -> str:
    """Run All on ``name`` in headless JupyterLab; every output's text, joined."""
    from browserml.labcheck import lab_session

    with lab_session(root, timeout_s=300) as session:
        page = session.open_notebook(name)
        try:
            assert session.run_all(page, timeout_s=300), session.console_errors(page)
            outputs = page.evaluate("p => window.__bml.panelFor(p).content.model.toJSON().cells"
                                    ".map((c) => c.outputs || [])", name)
            assert session.fatal_console_errors(page) == []
        finally:
            session.close_page(page)
    return "\n".join("".join(o.get("text", "")) if isinstance(o.get("text"), (str, list)) else ""
                     for cell in outputs for o in cell)


def test_a_kernel_that_reads_widget_messages_only_between_cells_hears_page_only_at_once(monkeypatch, exports):
    """Colab's ipykernel 6.17 queues the page's answer until the cell ends, so waiting in
    the cell could only time out: `await job` returns at once and says where the results
    will show."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from widgets import browser_runtime as br

    def await_in_a_fresh_loop(coroutine):  # a loop of its own: other tests may leave one running here
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    monkeypatch.setattr(br, "_kernel_reads_comms_only_between_cells", lambda: True)
    job = br.BrowserJob("colab", br.prepare_run(exports["graph"], None, None, ("wasm",)), deadline_s=60)
    started = time.monotonic()
    value = await_in_a_fresh_loop(job.wait_async())
    assert time.monotonic() - started < 1.0
    assert value.status == br.PAGE_ONLY and value.summary() == br.PAGE_ONLY and "Colab" in value.summary()
    assert not job.done(), "the answer may still come, after the cell"
    monkeypatch.setattr(br, "_kernel_reads_comms_only_between_cells", lambda: False)
    started = time.monotonic()
    await_in_a_fresh_loop(job.wait_async(timeout=0.3))
    assert time.monotonic() - started >= 0.3, "on ipykernel 7.4 the cell waits for the page instead"
