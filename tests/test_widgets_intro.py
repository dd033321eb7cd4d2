"""Lesson 0's app: the message log and what it proves, the kernel side of the widget, and
the real front end in headless Chromium outside Jupyter.

Cheapest first:
- :class:`IntroState` alone, with random weights and messages built by hand (no
  TensorFlow, no widget): the log, the pixel verdict, pings, the latency table;
- the widget and the app with no page: comm messages handed to ``_handle_msg`` exactly
  as ipykernel hands them, so the log is checked on the path real messages take;
- ``widgets/js/pageclassifier.js`` in headless Chromium with the real TF.js bundle: a
  stand-in for anywidget's model relays messages to a real :class:`IntroApp`; Playwright
  draws with the mouse, and the kernel's own log is asserted on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from tools.standin import STANDIN_JS, relay_once

from browserml import intro
from browserml.errors import BadInput
from browserml.inbrowser import OFF_ENV
from browserml.intro.state import KERNEL_TO_PAGE, PAGE_TO_KERNEL, PIXEL_BYTES, IntroState


def random_weights(hidden: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"hidden/kernel": rng.normal(0, 0.1, (784, hidden)).astype(np.float32),
            "hidden/bias": np.zeros(hidden, np.float32),
            "probs/kernel": rng.normal(0, 0.1, (hidden, 10)).astype(np.float32),
            "probs/bias": np.zeros(10, np.float32)}


def comm(content: dict, buffers: list[bytes] | None = None, method: str = "custom") -> dict:
    """A comm message as ipykernel hands it to ``Widget._handle_msg``."""
    data = {"method": method, "content": content} if method == "custom" else {"method": method, **content}
    return {"content": {"comm_id": "c1", "data": data}, "buffers": [memoryview(b) for b in buffers or []]}


PREDICTION = {"kind": "prediction", "stroke": 2, "index": 1, "label": "Trouser",
              "probs": [0.01, 0.9, 0.0, 0.02, 0.0, 0.0, 0.07, 0.0, 0.0, 0.0], "ms": 0.31, "backend": "cpu"}


def ping(seq: int, pixels: np.ndarray, run: int = 1) -> tuple[dict, list[bytes]]:
    return ({"kind": "ping", "run": run, "seq": seq, "shape": [28, 28], "dtype": "float32"},
            [np.asarray(pixels, "<f4").tobytes()])


# --------------------------------------------------------------------------- the state alone


def test_the_log_records_direction_kind_keys_and_every_byte():
    state = IntroState(random_weights())
    message = comm(PREDICTION)
    record = state.record_comm(message)
    expected = len(json.dumps(message["content"]["data"], separators=(",", ":")).encode())
    assert (record.direction, record.method, record.kind) == (PAGE_TO_KERNEL, "custom", "prediction")
    assert record.keys == tuple(PREDICTION) and record.nbytes == expected and record.buffer_bytes == 0
    assert "Trouser" in record.summary and "stroke 2" in record.summary
    content, buffers = ping(0, np.zeros(784))
    record = state.record_comm(comm(content, buffers))
    assert record.buffer_bytes == 784 * 4 and record.nbytes > 784 * 4
    update = state.record_comm(comm({"state": {"compare_n": 5}, "buffer_paths": []}, method="update"))
    assert (update.kind, update.keys) == ("update", ("compare_n",))
    sent = state.record(KERNEL_TO_PAGE, "custom", {"kind": "model", "model_json": {}}, [b"\0" * 4096])
    assert sent.direction == KERNEL_TO_PAGE and sent.nbytes > 4096 and "4 KiB" in sent.summary
    rows = state.log_rows(2)
    assert [r["#"] for r in rows] == [3, 4] and rows[-1]["direction"] == KERNEL_TO_PAGE
    assert state.n_messages == 4 and state.log_rows(0) == []


def test_small_messages_cannot_carry_the_drawing_and_pings_always_do():
    state = IntroState(random_weights())
    assert not state.pixels_reached_kernel() and state.privacy_verdict() == "No message from the page yet."
    for message in ({"kind": "hello"}, {"kind": "status", "text": "ready", "phase": "ready"}, PREDICTION):
        state.record_comm(comm(message))
    state.record(KERNEL_TO_PAGE, "custom", {"kind": "model"}, [b"\0" * 200_000])  # the kernel's own sending
    assert not state.pixels_reached_kernel()
    assert "never reached the kernel" in state.privacy_verdict() and "3 messages" in state.privacy_verdict()
    assert state.pixels_reached_kernel(max_bytes=100), "a stricter limit flags the prediction itself"
    # a message from the page as large as a drawing counts, whatever it calls itself
    state.record_comm(comm({"kind": "status", "text": "x" * PIXEL_BYTES}))
    assert [r.kind for r in state.pixel_messages()] == ["status"]
    # and a ping counts, whatever its size
    fresh = IntroState(random_weights())
    fresh.record_comm(comm({"kind": "ping", "run": 1, "seq": 0}))
    assert fresh.pixels_reached_kernel() and "1 ping of the latency comparison" in fresh.privacy_verdict()


def test_the_kernel_answers_a_ping_with_its_numpy_forward_pass():
    weights = random_weights()
    state = IntroState(weights)
    pixels = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    reply = state.answer_ping(*ping(3, pixels))
    want = int(intro.predict_numpy(weights, pixels).argmax())
    assert reply["kind"] == "pong" and reply["seq"] == 3 and reply["run"] == 1
    assert reply["index"] == want and reply["label"] == intro.CLASS_NAMES[want] and reply["kernel_ms"] >= 0
    state.answer_ping(*ping(4, pixels))
    assert len(state.kernel_ms) == 2
    state.answer_ping(*ping(0, pixels, run=2))
    assert len(state.kernel_ms) == 1, "a new comparison keeps only its own samples"
    for (content, buffers), why in ((ping(0, np.zeros(10)), "784 float32 pixels, got 10"),
                                    (({"kind": "ping", "seq": 1}, []), "one buffer of pixels, got 0")):
        bad = state.answer_ping(content, buffers)
        assert why in bad["error"] and "label" not in bad


def test_the_latency_table_has_both_sides_and_the_kernels_share():
    state = IntroState(random_weights())
    assert all(row["samples"] == 0 and row["median_ms"] is None for row in state.latency_rows())
    assert state.speedup() is None
    state.read_status({"kind": "status", "text": "ready", "phase": "ready", "backend": "cpu"})
    for seq in range(3):
        state.answer_ping(*ping(seq, np.zeros(784)))
    state.read_latency({"kind": "latency", "run": 1, "page_ms": [0.2, 0.1, 0.3], "round_trip_ms": [5.0, 4.0, 6.0]})
    page, trip, kernel = state.latency_rows()
    assert page["where"] == "in this page (TF.js, cpu)" and page["median_ms"] == pytest.approx(0.2)
    assert page["fastest_ms"] == pytest.approx(0.1) and trip["median_ms"] == 5.0 and kernel["samples"] == 3
    assert state.speedup() == pytest.approx(25.0)
    assert "0.200 ms in the page" in state.summary() and "×25" in state.summary()
    with pytest.raises(BadInput, match="milliseconds"):
        state.read_latency({"page_ms": [-1.0], "round_trip_ms": []})
    state.read_latency({"page_ms": [0.1], "round_trip_ms": [], "error": "the kernel did not answer"})
    assert "comparison stopped" in state.status


def test_a_prediction_is_read_and_a_bad_one_refused():
    state = IntroState(random_weights())
    p = state.read_prediction(PREDICTION)
    assert (p.label, p.stroke, p.backend, p.page_ms) == ("Trouser", 2, "cpu", 0.31)
    assert p.top(2) == [("Trouser", 0.9), ("Shirt", 0.07)] and state.n_predictions == 1
    assert "latest prediction (stroke 2): Trouser 90%" in state.summary()
    for probs in ([0.5] * 9, [float("nan")] * 10, "0.1"):
        with pytest.raises(BadInput, match="10 finite probabilities"):
            state.read_prediction({**PREDICTION, "probs": probs})
    with pytest.raises(BadInput):
        IntroState({"hidden/kernel": np.zeros((3, 3))})


# --------------------------------------------------------------------------- the widget, no page


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A small classifier's export (a few hundred images: the page only needs a real model)."""
    trained = intro.train_classifier(intro.ClassifierConfig(n_train=1000, n_test=200, epochs=2))
    return intro.export_classifier(trained, tmp_path_factory.mktemp("intro") / "intro")


@pytest.fixture
def app(export, monkeypatch):
    """An IntroApp with no page; what its widget sends is recorded in ``app.sent``."""
    from browserml.inbrowser import BrowserRuntimeError, check_dist
    from widgets.browser_runtime import BrowserRuntime
    from widgets.intro import IntroApp

    try:
        check_dist()
    except BrowserRuntimeError as err:
        pytest.skip(str(err))
    monkeypatch.setenv(OFF_ENV, "off")  # no page: the runtime's TF.js job is refused at once
    made = IntroApp(export, runtime=BrowserRuntime())
    made.sent = []
    made.classifier.send = lambda content, buffers=None: made.sent.append((content, buffers or []))
    return made


def test_every_message_is_logged_before_it_is_handled(app, export):
    w = app.classifier
    w._handle_msg(comm({"kind": "hello"}))
    (content, buffers), = app.sent
    shards = b"".join(p.read_bytes() for p in sorted(export.glob("*.bin")))
    assert content["kind"] == "model" and content["labels"] == list(intro.CLASS_NAMES)
    assert buffers == [shards] and "modelTopology" in content["model_json"]
    w._handle_msg(comm({"state": {"compare_n": 7}, "buffer_paths": []}, method="update"))
    assert w.compare_n == 7, "an update is applied as ipywidgets would"
    w._handle_msg(comm({}, method="request_state"))
    w._handle_msg(comm(PREDICTION))
    w._handle_msg(comm(*ping(0, np.zeros(784))))
    pong = app.sent[-1][0]
    assert pong["kind"] == "pong" and pong["label"] in intro.CLASS_NAMES
    kinds = [(r.direction, r.kind) for r in app.state.log]
    assert kinds == [(PAGE_TO_KERNEL, "hello"), (KERNEL_TO_PAGE, "model"), (PAGE_TO_KERNEL, "update"),
                     (PAGE_TO_KERNEL, "request_state"), (PAGE_TO_KERNEL, "prediction"), (PAGE_TO_KERNEL, "ping"),
                     (KERNEL_TO_PAGE, "pong")]
    assert app.state.latest.label == "Trouser" and "Trouser" in app.status.value
    # a ping is answered without redrawing the app (that would slow the round trips being
    # timed); the comparison's closing latency report redraws it
    assert "ping 0" not in app.log.value
    w._handle_msg(comm({"kind": "latency", "run": 1, "n": 1, "page_ms": [0.2], "round_trip_ms": [3.0]}))
    assert "ping 0" in app.log.value and "3.000" in app.latency.value
    assert "1 of 6 messages from the page carried pixels" in app.verdict.value


def test_the_app_shows_errors_in_words_and_refuses_bad_comparisons(app):
    app.classifier._handle_msg(comm({**PREDICTION, "probs": [1.0]}))
    assert "probabilities" in app.errors.value
    app.classifier._handle_msg(comm(PREDICTION))
    assert app.errors.value == ""
    with pytest.raises(BadInput, match="between 1 and 30"):
        app.compare(0)
    app.compare(3)
    assert app.sent[-1] == ({"kind": "compare", "n": 3}, [])
    assert app.tfjs_job.done() and "switched off" in app.tfjs_job.value.error
    assert app.widget.children[1] is app.runtime  # the runtime's status line is part of the app


# --------------------------------------------------------------------------- Chromium, no Jupyter

HARNESS = r"""<!doctype html>
<html><head><meta charset="utf-8"><title>pageclassifier harness</title><style id="css"></style></head>
<body><div id="view"></div>
<script>STANDIN</script>
<script>
  // TF.js into the runtime's page-wide cache, the shape widgets/browser_runtime.js gives it.
  window.loadTf = (key) => {
    const g = (globalThis.__browserml = globalThis.__browserml || { tfjs: {}, wasm: {}, queue: Promise.resolve() });
    g.tfjs[key] = import('/dist/tfjs-bundle.mjs')
      .then((tf) => ({ tf: tf, how: 'files', key: key, load_ms: 0, errors: [] }));
  };
  window.startWidget = async function (esm, css, traits) {
    document.getElementById('css').textContent = css;
    const mod = await importWidget(esm);
    const { model, handlers } = standInModel(traits);
    const counted = { added: 0, removed: 0 };
    const add = EventTarget.prototype.addEventListener, remove = EventTarget.prototype.removeEventListener;
    const counting = (fn) => {
      EventTarget.prototype.addEventListener = function (...a) { counted.added++; return add.apply(this, a); };
      EventTarget.prototype.removeEventListener = function (...a) { counted.removed++; return remove.apply(this, a); };
      try { return fn(); } finally {
        EventTarget.prototype.addEventListener = add;
        EventTarget.prototype.removeEventListener = remove;
      }
    };
    // anywidget gives initialize and each render its own proxy of the model: so does this
    const proxy = () => Object.assign({}, model);
    const stopModel = mod.default.initialize({ model: proxy() });
    const stopView = counting(() => mod.default.render({ model: proxy(), el: document.getElementById('view') }));
    window.stopWidget = () => {
      counting(stopView);
      stopModel();
      return Object.assign({ left: Object.values(handlers).flat().length }, counted);
    };
  };
</script></body></html>
""".replace("STANDIN", STANDIN_JS)


class Relay:
    """Carries messages between the real front end in ``page`` and a real :class:`IntroApp`:
    the page's go to ``_handle_msg`` as comm messages, the widget's ``send`` to the page."""

    def __init__(self, page, app, load_tf: bool = True) -> None:
        self.page, self.app = page, app
        self.to_page: list = []
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        w = app.classifier
        w.send = lambda content, buffers=None: self.to_page.append((content, list(buffers or [])))
        if load_tf:
            page.evaluate("k => loadTf(k)", w.bundle_id)
        traits = {k: getattr(w, k) for k in ("bundle_id", "instance_id", "load_timeout_s", "ping_timeout_s",
                                              "compare_n", "size", "brush")}
        page.evaluate("([esm, css, traits]) => startWidget(esm, css, traits)", [w._esm, str(w._css), traits])

    def pump(self, until: Callable[[], bool], timeout_s: float = 60, what: str = "") -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            relay_once(self.page, lambda content, buffers: self.app.classifier._handle_msg(comm(content, buffers)),
                       self.to_page)
            if until():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; page says {self.app.state.status!r}; "
                             f"page errors {self.errors}; app errors {self.app.errors.value!r}")

    def draw(self, points: list[tuple[float, float]]) -> None:
        """One stroke through ``points`` (fractions of the canvas), with the real mouse."""
        box = self.page.locator("canvas.browserml-pageclf-canvas").bounding_box()
        xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
        self.page.mouse.move(*xy[0])
        self.page.mouse.down()
        for x, y in xy[1:]:
            self.page.mouse.move(x, y, steps=8)
        self.page.mouse.up()

    def canvas_ink(self) -> np.ndarray:
        """The canvas as the page sees it: red channel / 255 (the ink)."""
        data = self.page.evaluate("() => { const c = document.querySelector('canvas.browserml-pageclf-canvas');"
                                  " return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
                                  ".filter((_, i) => i % 4 === 0)); }")
        return np.asarray(data, dtype=np.float64).reshape(280, 280) / 255.0

    def page_tensors(self) -> int:
        return int(self.page.evaluate("async (k) => (await globalThis.__browserml.tfjs[k]).tf.memory().numTensors",
                                      self.app.classifier.bundle_id))


@pytest.fixture(scope="module")
def intro_pages():
    """One headless Chromium serving the harness and the TF.js bundle; ``new()`` opens a page."""
    from playwright.sync_api import sync_playwright

    from browserml.inbrowser import BrowserRuntimeError, check_dist
    from browserml.serve import serve
    from browserml.tfjs_check import TfjsRuntimeError, chromium_executable, launch_chromium

    try:
        dist = check_dist()
        chromium_executable()
    except (BrowserRuntimeError, TfjsRuntimeError) as err:
        pytest.skip(str(err))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "harness.html").write_text(HARNESS)
        with serve({"/page/": Path(root), "/dist/": dist}) as base, sync_playwright() as p:
            browser = launch_chromium(p)

            def new():
                page = browser.new_page()
                page.goto(f"{base}/page/harness.html")
                return page

            yield new
            browser.close()


def test_drawing_is_classified_in_the_page_and_only_the_prediction_reaches_the_kernel(intro_pages, app):
    app.classifier.compare_n = 4
    relay = Relay(intro_pages(), app)
    state = app.state
    relay.pump(lambda: state.page.get("phase") == "ready", what="the model to load in the page")
    assert state.page["backend"] in ("cpu", "webgl", "wasm") and state.page["tfjs_version"] == "4.22.0"
    ready_tensors = relay.page_tensors()

    # Interactivity: each stroke brings one prediction, made in the page.
    relay.draw([(0.35, 0.1), (0.3, 0.9)])
    relay.pump(lambda: state.n_predictions == 1, what="the first stroke's prediction")
    relay.draw([(0.65, 0.1), (0.7, 0.9)])
    relay.pump(lambda: state.n_predictions == 2, what="the second stroke's prediction")
    latest = state.latest
    assert latest.stroke == 2 and latest.label in intro.CLASS_NAMES and latest.page_ms >= 0
    assert sum(latest.probabilities) == pytest.approx(1.0, abs=1e-3)
    bars = relay.page.locator(".browserml-pageclf-row").all_inner_texts()
    assert len(bars) == 3 and latest.label in bars[0]

    # Privacy: before "compare", nothing the page sent could hold the drawing.
    from_page = state.messages_from_page()
    assert {r.kind for r in from_page} == {"hello", "status", "prediction"}
    assert max(r.nbytes for r in from_page) < 400, [r.row() for r in from_page]
    assert not state.pixels_reached_kernel() and "never reached the kernel" in app.verdict.value

    # Latency: the page's button times 4 predictions in the page, then 4 round trips.
    relay.page.click("button.browserml-pageclf-compare")
    relay.pump(lambda: len(state.round_trip_ms) == 4, what="the comparison's timings")
    pings = [r for r in state.messages_from_page() if r.kind == "ping"]
    assert len(pings) == 4 and all(r.buffer_bytes == 784 * 4 for r in pings)
    assert state.pixel_messages() == pings, "only the comparison's pings carried pixels"
    assert len(state.page_ms) == 4 and min(state.page_ms) > 0 and min(state.round_trip_ms) > 0
    assert state.speedup() is not None and "round trip to the kernel" in app.latency.value
    timings = relay.page.locator(".browserml-pageclf-timing").all_inner_texts()
    assert len(timings) == 2 and all(" ms " in t for t in timings)

    # The pixels the page sent are the canvas fitted by the documented rule, and the kernel's
    # NumPy forward pass agrees with the page's TF.js on them.
    pinged: list[np.ndarray] = []
    answer = state.answer_ping

    def keep(content, buffers):
        pinged.append(np.frombuffer(bytes(buffers[0]), "<f4").copy())
        return answer(content, buffers)

    state.answer_ping = keep  # type: ignore[method-assign]
    app.compare(2)  # from Python this time: a "compare" message to the page
    relay.pump(lambda: len(state.round_trip_ms) == 2, what="the second comparison")
    assert len(pinged) == 2
    pixels = pinged[0]
    np.testing.assert_array_equal(pixels.reshape(28, 28), intro.fit_drawing(relay.canvas_ink()))
    probs = intro.predict_numpy(intro.read_classifier_weights(app.export_dir), pixels)[0]
    np.testing.assert_allclose(probs, latest.probabilities, atol=1e-4)  # the page rounds to 4 decimals
    assert relay.page_tensors() == ready_tensors, "every prediction's tensors were disposed"

    # The view's cleanup removes every listener it added (the window's too): a stroke after it
    # draws nothing and tells the kernel nothing.
    seen = relay.page.evaluate("() => stopWidget()")
    assert seen["added"] >= 6 and seen["removed"] == seen["added"] and seen["left"] == 0, seen
    before, count = relay.canvas_ink().sum(), state.n_messages
    relay.draw([(0.1, 0.5), (0.9, 0.5)])
    relay.pump(lambda: True)
    assert relay.canvas_ink().sum() == before and state.n_messages == count
    assert relay.errors == [] and app.errors.value == ""


def test_without_tfjs_the_page_says_so_in_words(intro_pages, app):
    app.classifier.load_timeout_s = 1.0
    relay = Relay(intro_pages(), app, load_tf=False)
    relay.pump(lambda: state_phase(app) == "no-tfjs", timeout_s=20, what="the page to give up on TF.js")
    assert "TF.js did not load within 1 s" in app.state.status and "browser runtime" in app.state.status
    assert relay.page.locator(".browserml-pageclf-status").inner_text() == app.state.status
    assert relay.errors == []


def test_a_model_that_fails_to_load_is_reported_in_words(intro_pages, app):
    app.classifier.payload = replace(app.classifier.payload, weights=app.classifier.payload.weights[:1000])
    relay = Relay(intro_pages(), app)
    relay.pump(lambda: state_phase(app) == "bad-model", what="the page to report the broken model")
    assert app.state.status.startswith("the model could not be loaded in this page: ")
    relay.page.click("button.browserml-pageclf-compare")  # nothing to compare with: said, not thrown
    relay.pump(lambda: state_phase(app) == "not-ready", timeout_s=10, what="the page to refuse the comparison")
    assert relay.page.locator(".browserml-pageclf-status").inner_text() == app.state.status
    assert "not loaded" in app.state.status and not app.state.pixels_reached_kernel()
    assert relay.errors == []


def state_phase(app) -> str | None:
    return app.state.page.get("phase")
