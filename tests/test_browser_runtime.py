"""widgets/browser_runtime.py: TF.js in the learner's own notebook page.

Three layers, cheapest first (the pure half, browserml/inbrowser/, has its own tests
without a widget: tests/test_inbrowser_*.py):
- the widget with no page: jobs wait for hello, fall back, time out and are answered
  through ``_on_msg``, with page answers built by hand exactly as the JS builds them;
- the real widget JS and the real bundle in headless Chromium *outside* Jupyter: a
  stand-in for anywidget's model relays messages between the page and a real
  ``BrowserRuntime``, so both delivery modes (files route with a base-URL prefix, and
  embed through the kernel) and fine-tuning run end to end;
- headless JupyterLab: a scratch notebook exports lesson 1's polynomial, runs it in
  its own page on wasm and cpu, and a later cell (``await``, under Run All) sees the parity.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from inbrowser_answers import POLY, page_reply
from tools.standin import STANDIN_JS, relay_once

from browserml import inbrowser as br
from browserml.export import clone_with_weights, read_manifest
from browserml.inbrowser import BrowserRuntimeError, check_dist
from browserml.inbrowser.job import NO_FRONT_END
from browserml.paths import project_root
from widgets import browser_runtime as wbr
from widgets.browser_runtime import BrowserRuntime


def _bundle_ready() -> bool:
    try:
        check_dist()
        return True
    except BrowserRuntimeError:
        return False


needs_bundle = pytest.mark.skipif(not _bundle_ready(), reason="in-page TF.js bundle not built (make setup)")


@pytest.fixture
def runtime(monkeypatch):
    """A BrowserRuntime with no front end; what it sends is recorded in ``rt.outbox``."""
    monkeypatch.delenv(br.OFF_ENV, raising=False)
    rt = BrowserRuntime(hello_timeout_s=30)
    rt.outbox = []
    rt._send_msg = lambda content, buffers: rt.outbox.append((content, buffers))
    return rt


# --------------------------------------------------------------------------- the widget, no page


def test_an_unknown_delivery_is_refused_with_the_reason():
    """The widget half of tests/test_inbrowser_protocol.py's bad requests."""
    with pytest.raises(BrowserRuntimeError, match="delivery"):
        BrowserRuntime(delivery="cdn")


def test_missing_bundle_names_the_fix(tmp_path):
    """The widget half of tests/test_inbrowser_bundle.py's check."""
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


def test_the_status_line_and_chart_follow_the_page():
    js = (Path(wbr.__file__).with_name("browser_runtime.js")).read_text(encoding="utf-8")
    assert "line.style.color = 'var(--jp-ui-font-color2" in js, "the status line follows JupyterLab's theme"
    assert "the kernel reads it when it is free" not in js


# --------------------------------------------------------------------------- Chromium, no Jupyter

HARNESS = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>browser_runtime harness</title>CONFIG</head>
<body BODY_ATTRS><div id="view"></div>
<script>STANDIN</script>
<script>
  window.startWidget = async function (esm, traits) {
    const mod = await importWidget(esm);
    const { model } = standInModel(traits);
    window.widgetTraits = traits;
    mod.default.initialize({ model: model });
    mod.default.render({ model: model, el: document.getElementById('view') });
  };
</script></body></html>
""".replace("STANDIN", STANDIN_JS)
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
            relay_once(self.page, lambda content, buffers: self.rt._on_msg(self.rt, content, buffers), self.outbox)
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
def test_jupyterlab_runs_lesson1_in_its_own_page_and_the_kernel_sees_parity(jupyterlab):
    """Two notebooks in one headless JupyterLab: the bundle outside the server root
    (auto picks embed, as in VS Code or Colab), and inside it (auto picks /files/)."""
    root = jupyterlab.folder("browser_runtime")
    shutil.copytree(br.dist_dir(), root / "tfjs-dist")
    # On the session's own thread: Playwright's sync API refuses to start inside another
    # live sync_playwright (this module's Chromium fixture) on the same thread.
    seen = jupyterlab.call(_lab_results, root)
    assert set(seen) == {"embed", "files"}
    for mode, result in seen.items():
        print(mode, json.dumps({k: result[k] for k in ("info", "round_trip_s")}))
        assert result["info"]["delivery"] == mode
        assert [r["backend"] for r in result["rows"]] == ["wasm", "cpu"]
        for row in result["rows"]:
            assert row["max_abs_diff"] <= 1e-5 and row["tensors_leaked"] == 0 and row["ok"], row
            assert row["latency_ms"] > 0 and row["python_latency_ms"] > 0


def _lab_results(session, root: Path) -> dict:
    """Run the two scratch notebooks in ``root`` in the session's JupyterLab; the parsed RESULT lines."""
    from tools.labcheck import scratch_notebook

    seen = {}
    for mode, runtime in (("embed", ""), ("files", "shared_runtime(dist='tfjs-dist')\n")):
        cells = list(LAB_CELLS)
        cells[1] = cells[1].format(runtime=runtime)
        if mode == "files":  # no need to import TensorFlow again
            cells[0] = LAB_SETUP + "export = 'polynomial'"
        name = (root / f"browser_runtime_{mode}.ipynb").relative_to(session.root).as_posix()
        (session.root / name).write_text(json.dumps(scratch_notebook(cells)))
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
def test_lesson1_notebook_itself_runs_in_its_own_page(jupyterlab):
    """The real lesson 1 notebook, Run All in headless JupyterLab: every cell runs (this is
    also the run nbval would make: tests/conftest.py skips nbval's cells of this notebook when
    this test runs), and its "Run it in your own browser" cells must show parity <= 1e-5 on
    wasm and cpu, with no tensor left behind."""
    import re

    name = "01_ops_api_polynomial.ipynb"
    root = jupyterlab.folder("lesson1")
    shutil.copy(project_root() / "notebooks" / name, root / name)
    text = jupyterlab.call(_run_notebook_in_lab, (root / name).relative_to(jupyterlab.root).as_posix())
    found = dict(re.findall(r"(wasm|cpu) [\d.]+ ms, max\|Δ\| ([\d.e+-]+)", text))
    assert set(found) == {"wasm", "cpu"}, text[-2000:]
    assert all(float(v) <= 1e-5 for v in found.values()), found
    assert "tensors left after 100s of runs: wasm 0, cpu 0" in text


def _run_notebook_in_lab(session, name: str) -> str:
    """Run All on ``name`` in the session's JupyterLab; every output's text, joined."""
    page = session.open_notebook(name, timeout_s=300)
    try:
        assert session.run_all(page, timeout_s=300), session.console_errors(page)
        outputs = page.evaluate("p => window.__bml.panelFor(p).content.model.toJSON().cells"
                                ".map((c) => c.outputs || [])", name)
        assert session.fatal_console_errors(page) == []
    finally:
        session.close_page(page)
    return "\n".join("".join(o.get("text", "")) if isinstance(o.get("text"), (str, list)) else ""
                     for cell in outputs for o in cell)
