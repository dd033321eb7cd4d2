"""Lesson 4's app: every control at state level (against detect.py run directly and
independent checks), and the view driven like a learner would."""

from __future__ import annotations

import base64
import html
import io
import re
import threading
import time

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image

from browserml.data.images import ImageDataError
from browserml.handtrack import detect as ht
from browserml.handtrack import images as samples
from browserml.handtrack.models import COLORS, LABELS
from browserml.handtrack.state import HandtrackState
from widgets.common import send_files
from widgets.handtrack import HandtrackApp, decode_data_url

RUNS = 6  # network runs per new picture: the first call, then five timed for the steady state


class CountingLoader:
    """ht.load, counting how often each loaded model's network runs."""

    def __init__(self, first_call_delay_s: float = 0.0) -> None:
        self.loads: list[tuple[str, str]] = []
        self.runs = 0
        self.delay = first_call_delay_s  # added to the first run at each input shape, like a set-up cost
        self.shapes: set[tuple[int, ...]] = set()

    def __call__(self, model_type: str, size: str) -> ht.HandDetector:
        self.loads.append((model_type, size))
        det = ht.load(model_type=model_type, size=size)
        counter, graph = self, det.graph

        class Counted:
            def __getattr__(self, name):
                return getattr(graph, name)

            def raw(self, pixels):
                counter.runs += 1
                if pixels.shape not in counter.shapes:
                    counter.shapes.add(pixels.shape)
                    time.sleep(counter.delay)
                return graph.raw(pixels)

        det.graph = Counted()
        return det


@pytest.fixture(scope="module")
def scenes() -> dict[str, np.ndarray]:
    return samples.scenes()


@pytest.fixture
def loader() -> CountingLoader:
    return CountingLoader()


@pytest.fixture
def state(loader: CountingLoader) -> HandtrackState:
    st = HandtrackState(loader=loader)
    st.use_sample("astronaut_waving")
    return st


def png_bytes(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def xywh_iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


# --------------------------------------------------------------------------- state


def test_defaults_are_handtracks_and_match_detect(state: HandtrackState, scenes) -> None:
    p = ht.DEFAULT_PARAMS
    assert (state.model_type, state.size, state.score_threshold, state.iou_threshold, state.max_boxes,
            state.flip_horizontal) == (p["modelType"], p["modelSize"], p["scoreThreshold"], p["iouThreshold"],
                                       p["maxNumBoxes"], p["flipHorizontal"])
    assert state.detections() == ht.load().detect(scenes["astronaut_waving"])
    assert sorted(d["label"] for d in state.detections()) == ["face", "open"]


def test_raising_the_score_threshold_keeps_a_prefix(state: HandtrackState) -> None:
    """Greedy NMS decides each box from better boxes only, so a higher threshold keeps
    exactly the earlier detections scoring above it: never more boxes."""
    state.configure(score_threshold=0.02, max_boxes=100)
    everything = state.detections()
    assert len(everything) > 5
    previous = len(everything)
    for t in (0.05, 0.1, 0.2, 0.5, 0.9, 0.99):
        state.configure(score_threshold=t)
        found = state.detections()
        assert found == [d for d in everything if d["score"] > t]
        assert len(found) <= previous
        previous = len(found)
    assert previous == 0


def test_threshold_changes_reuse_the_network_output(state: HandtrackState, loader: CountingLoader) -> None:
    state.detections()
    assert loader.runs == 1 + RUNS  # the warm-up frame, then the picture (timed: first, then steady)
    latency = state.latency_ms
    for change in ({"score_threshold": 0.1}, {"iou_threshold": 0.6}, {"max_boxes": 3}, {"score_threshold": 0.3}):
        state.configure(**change)
        state.detections()
    assert loader.runs == 1 + RUNS and state.latency_ms == latency and state.ready()
    state.configure(flip_horizontal=True)
    assert not state.ready()
    state.detections()
    assert loader.runs == 1 + 2 * RUNS
    state.configure(flip_horizontal=False)
    state.detections()
    assert loader.runs == 1 + 2 * RUNS, "the unflipped outputs are still memoised"
    assert state.fps == pytest.approx(1000 / state.latency_ms) and state.latency_ms > 0
    assert state.postprocess_ms is not None and state.postprocess_ms < state.latency_ms


def test_max_boxes_caps_the_list(state: HandtrackState) -> None:
    state.configure(score_threshold=0.05, max_boxes=20)
    twenty = state.detections()
    assert len(twenty) > 3
    state.configure(max_boxes=3)
    assert state.detections() == twenty[:3]
    state.configure(max_boxes=1)
    assert state.detections() == twenty[:1]


def test_iou_threshold_bounds_the_overlap_of_kept_boxes(state: HandtrackState) -> None:
    state.configure(score_threshold=0.02, max_boxes=100)
    counts = []
    for iou in (0.1, 0.3, 0.6, 1.0):
        state.configure(iou_threshold=iou)
        found = state.detections()
        counts.append(len(found))
        boxes = [d["bbox"] for d in found]
        worst = max((xywh_iou(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), default=0.0)
        assert worst < iou or iou == 1.0
    assert counts == sorted(counts) and counts[-1] > counts[0], "a looser IoU threshold keeps more boxes"


def test_flip_mirrors_the_picture_and_the_boxes(state: HandtrackState, scenes) -> None:
    image = scenes["astronaut_waving"]
    plain = state.detections()
    state.configure(flip_horizontal=True)
    flipped = state.detections()
    mirrored = np.ascontiguousarray(image[:, ::-1])
    assert flipped == ht.load().detect(mirrored), "flipping == detecting on the mirrored picture"
    assert np.array_equal(state.shown_image(), mirrored)
    width = image.shape[1]
    for d in plain:  # the same objects, x mirrored (the network is not exactly symmetric)
        x, y, w, h = d["bbox"]
        twin = max(flipped, key=lambda f: xywh_iou(f["bbox"], [width - x - w, y, w, h]))
        assert twin["label"] == d["label"] and xywh_iou(twin["bbox"], [width - x - w, y, w, h]) > 0.8


def test_model_size_and_type_switch(state: HandtrackState, loader: CountingLoader) -> None:
    small = state.detections()
    state.configure(size="large")
    large = state.detections()
    assert loader.loads == [("ssd320fpnlite", "small"), ("ssd320fpnlite", "large")]
    assert state.detector().graph.size == "large"
    assert [d["label"] for d in large] == [d["label"] for d in small]
    assert large != small, "float32 weights give (slightly) different scores than int8"
    state.configure(model_type="ssd640fpnlite", size="medium")
    assert {d["label"] for d in state.detections()} >= {"open"}
    assert "ssd640fpnlite · medium (float16 weights)" in state.describe()
    state.configure(model_type="ssd320fpnlite", size="small")
    assert state.detections() == small and len(loader.loads) == 3, "models and outputs are memoised"


@pytest.mark.parametrize("change,message", [
    ({"size": "huge"}, "modelSize"),
    ({"model_type": "centernet512fpn"}, "modelType"),
    ({"iou_threshold": 1.5}, r"\[0, 1\]"),
    ({"max_boxes": 2.5}, "integer"),
    ({"flip_horizontal": "yes"}, "True or False"),
    ({"score": 0.5}, "unknown setting"),
])
def test_bad_settings_raise_and_change_nothing(state: HandtrackState, change, message) -> None:
    with pytest.raises(ht.HandDetectError, match=message):
        state.configure(score_threshold=0.3, **change)
    assert state.score_threshold == 0.6, "nothing applied when any change is bad"


def test_uploads_decode_and_bad_files_are_named(state: HandtrackState, scenes) -> None:
    image = scenes["two_open_hands"]
    state.set_image_bytes(png_bytes(image), "hands.png")
    assert state.image_name == "hands.png" and np.array_equal(state.image, image)
    assert [d["label"] for d in state.detections()] == ["open", "open"]
    for content, name in ((b"certainly not an image", "notes.txt"), (png_bytes(image)[:300], "cut.png"), (b"", "empty.jpg")):
        with pytest.raises(ImageDataError, match=name.replace(".", r"\.")):
            state.set_image_bytes(content, name)
    assert state.image_name == "hands.png", "a bad file leaves the picture alone"
    state.set_image_bytes(png_bytes(np.dstack([image, np.full(image.shape[:2], 9, np.uint8)])), "rgba.png")
    assert state.image.shape == image.shape


def test_annotated_draws_each_box_in_its_labels_colour(state: HandtrackState, scenes) -> None:
    image = scenes["astronaut_waving"]
    out = state.annotated()
    assert out.shape == image.shape and np.array_equal(state.image, image), "the picture itself is untouched"
    for d in state.detections():
        colour = tuple(int(COLORS[d["label"]][i:i + 2], 16) for i in (1, 3, 5))
        x, y, _, h = (round(v) for v in d["bbox"])
        edge = out[y + h // 4:y + 3 * h // 4, max(x - 1, 0):x + 2]  # the box's left edge, mid-height
        assert np.any(np.all(edge == colour, axis=-1)), d["label"]
    assert not np.array_equal(out, image)


def test_rows_are_the_detections(state: HandtrackState) -> None:
    rows = state.rows()
    found = state.detections()
    assert [r["label"] for r in rows] == [d["label"] for d in found]
    assert rows[0]["x"] == pytest.approx(found[0]["bbox"][0], abs=0.05)
    assert rows[0]["score"] == pytest.approx(found[0]["score"], abs=5e-4)


def test_first_call_and_steady_state_are_two_numbers(scenes) -> None:
    """A set-up cost on the first call at a new input size (here a 0.25 s stand-in) shows in
    the first-call time only; the FPS is the steady state's."""
    loader = CountingLoader(first_call_delay_s=0.25)
    state = HandtrackState(loader=loader)
    state.set_image(scenes["two_open_hands"], "hands.png")
    state.detections()
    assert state.first_call_ms >= 250 and state.latency_ms < state.first_call_ms - 100
    assert state.fps == pytest.approx(1000 / state.latency_ms)
    assert state.network_size == (625, 465), "handtrack.js's valid resolution of 640×480"
    text = state.timing()
    assert f"first call {state.first_call_ms:.0f} ms" in text
    assert f"steady state {state.latency_ms:.0f} ms ≈ {state.fps:.1f} FPS (median of the next 5 calls)" in text
    assert "network input 625×465" in text


def test_nothing_found_says_what_the_model_saw_and_why(scenes) -> None:
    state = HandtrackState()
    state.use_sample("hand_closeup")
    assert state.detections() == []
    _, scores = ht.load().raw(scenes["hand_closeup"])  # the same model, run directly
    column = int(np.argmax(scores.max(axis=0)))
    best = float(scores.max())
    assert best < 0.6
    text = state.nothing_found()
    assert text.startswith("Nothing found: no detection above the score threshold 0.60. ")
    assert f"The best box scored only {best:.2f}, as “{LABELS[column + 1]}”" in text
    assert "webcam" in text and "2,000 pictures" in text and "“two open hands” sample" in text
    assert f"lower the threshold below {best:.2f}" in text
    state.configure(score_threshold=round(best, 2) - 0.01)
    assert state.detections()[0]["label"] == LABELS[column + 1] and state.nothing_found() is None
    state.configure(max_boxes=0)
    assert "max boxes is 0" in state.nothing_found()


def test_no_picture_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="upload"):
        HandtrackState().detections()


def test_data_urls_decode_and_bad_ones_are_named(scenes) -> None:
    jpeg = png_bytes(scenes["raised_hand_small"], "JPEG")
    assert decode_data_url("data:image/jpeg;base64," + base64.b64encode(jpeg).decode()) == jpeg
    for bad in ("", "data:text/plain;base64,aGk=", "http://example.com/a.jpg", "data:image/jpeg;base64,@@@"):
        with pytest.raises(ImageDataError, match="webcam photo"):
            decode_data_url(bad)


# --------------------------------------------------------------------------- view


@pytest.fixture
def app(loader: CountingLoader) -> HandtrackApp:
    return HandtrackApp(HandtrackState(loader=loader), background=False)


def test_the_view_shows_the_sample_detections_and_timing(app: HandtrackApp) -> None:
    st = app.state
    assert st.image_name == "two_open_hands"
    assert app.picture.value[:8] == b"\x89PNG\r\n\x1a\n"
    shown = np.asarray(Image.open(io.BytesIO(app.picture.value)))
    assert np.array_equal(shown, st.annotated())
    assert app.table.value.count("<tr>") == 1 + len(st.detections()) == 3
    assert "2 detections" in app.stats.value and "FPS" in app.stats.value and f"{st.latency_ms:.0f} ms" in app.stats.value
    assert app.errors.value == "" and not app.score.disabled


def test_sliders_and_checkbox_drive_the_state(app: HandtrackApp, loader: CountingLoader) -> None:
    st = app.state
    app.score.value = 0.05
    app.max_boxes.value = 4
    assert (st.score_threshold, st.max_boxes) == (0.05, 4)
    assert app.table.value.count("<tr>") == 1 + 4
    app.iou.value = 0.9
    assert st.iou_threshold == 0.9 and app.table.value.count("<tr>") == 5
    assert loader.runs == 1 + RUNS, "thresholds re-ran NMS only"
    app.score.value = 0.99
    assert "Nothing found: no detection above the score threshold 0.99" in app.table.value and "0 detections" in app.stats.value
    app.score.value = 0.6
    app.flip.value = True
    assert st.flip_horizontal and loader.runs == 1 + 2 * RUNS
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(app.picture.value))), st.annotated())


def test_the_closeup_sample_is_last_and_the_table_says_why_it_finds_nothing(app: HandtrackApp) -> None:
    assert app.sample_buttons[0].description == "two open hands", "the first sample is one the model finds"
    closeup = app.sample_buttons[-1]
    assert closeup.description == "hand closeup" and "finds nothing" in closeup.tooltip
    closeup.click()
    assert "0 detections" in app.stats.value and "hand closeup 640×480" in app.stats.value
    assert html.escape(app.state.nothing_found()) in app.table.value


def test_buttons_fit_their_labels_with_tooltips_and_text_is_words(app: HandtrackApp) -> None:
    def tree(w):
        return [w, *[x for child in getattr(w, "children", ()) for x in tree(child)]]

    buttons = [w for w in tree(app.widget) if isinstance(w, (W.Button, W.ToggleButton, W.FileUpload))]
    assert len(buttons) == 1 + len(samples.SCENES)
    for b in buttons:
        assert b.layout.width == "auto" and b.layout.flex == "0 0 auto", b.description
        assert isinstance(b.tooltip, str) and b.tooltip.strip() and b.tooltip != "null", b.description
    assert len({id(b.layout) for b in buttons}) == len(buttons), "each button has its own Layout"
    assert "two open hands 640×480" in app.stats.value and not re.search(r"\b[a-z]+_[a-z_]+\b", app.stats.value)


def test_model_pickers_switch_models(app: HandtrackApp, loader: CountingLoader) -> None:
    app.size.value = "medium"
    assert app.state.size == "medium" and loader.loads[-1] == ("ssd320fpnlite", "medium")
    assert "medium (float16 weights)" in app.stats.value
    app.model_type.value = "ssd640fpnlite"
    assert loader.loads[-1] == ("ssd640fpnlite", "medium") and "ssd640fpnlite" in app.stats.value


def test_uploads_samples_and_webcam_photos(app: HandtrackApp, scenes) -> None:
    send_files(app.upload, [("mine.png", png_bytes(scenes["raised_hand_small"]))])
    assert app.state.image_name == "mine.png" and "mine.png 300×230" in app.stats.value
    assert not app.upload.value, "cleared, so the same file can be sent again"
    send_files(app.upload, [("broken.png", b"\x89PNG\r\n\x1a\n broken")])
    assert "broken.png" in app.errors.value and "⚠" in app.errors.value
    assert app.state.image_name == "mine.png"
    (button,) = [b for b in app.sample_buttons if b.description == "astronaut waving"]
    button.click()
    assert app.state.image_name == "astronaut_waving" and app.errors.value == ""
    assert "face" in app.table.value
    jpeg = png_bytes(scenes["two_open_hands"], "JPEG")
    app.webcam.data_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    assert app.state.image_name == "webcam photo" and app.state.image.shape == (480, 640, 3)
    assert "webcam photo 640×480" in app.stats.value
    app.webcam.data_url = "data:image/jpeg;base64,AAAA"
    assert "webcam photo" in app.errors.value and "⚠" in app.errors.value


def test_background_job_disables_controls_and_applies_changes_made_meanwhile(loader: CountingLoader) -> None:
    gate, entered = threading.Event(), threading.Event()

    def slow_loader(model_type: str, size: str) -> ht.HandDetector:
        entered.set()
        assert gate.wait(60)
        return loader(model_type, size)

    app = HandtrackApp(HandtrackState(loader=slow_loader))
    assert entered.wait(60) and app.job.running
    assert app.score.disabled and app.size.disabled and app.upload.disabled and app.sample_buttons[0].disabled
    assert "loading ssd320fpnlite" in app.progress_label.value
    app.state.configure(score_threshold=0.99)  # a change while the network runs ...
    app.refresh()
    gate.set()
    app.wait(60)
    assert not app.job.running and app.job_errors.value == ""
    assert "0 detections" in app.stats.value, "... is shown when the job ends"
    assert not app.score.disabled and app.progress_label.value == ""


# --------------------------------------------------------------------------- the webcam JS, in Chromium

_HARNESS = """<!doctype html><meta charset="utf-8"><div id="el"></div>
<script type="module">
  if (location.hash === "#no-api") Object.defineProperty(navigator, "mediaDevices", { value: undefined });
  const { default: widget } = await import("./webcam.js");
  const state = { data_url: "", status: "", shots: 0, timeout_ms: 4000 };
  window.widgetState = state;
  const model = { get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {}, on() {}, off() {} };
  widget.render({ model, el: document.getElementById("el") });
</script>"""


def webcam_click(tmp_path, *, fake_camera: bool, hash_: str = "") -> dict:
    """Render the WebcamSnapshot ESM in headless Chromium with a stand-in anywidget model,
    click its button and return the model's state once it has said how it went."""
    from playwright.sync_api import sync_playwright

    from browserml.serve import serve
    from browserml.tfjs_check import CHROMIUM_ARGS, chromium_executable
    from widgets.handtrack import WebcamSnapshot

    (tmp_path / "webcam.js").write_text(WebcamSnapshot._esm, encoding="utf-8")
    (tmp_path / "index.html").write_text(_HARNESS, encoding="utf-8")
    flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"] if fake_camera else []
    with serve({"/": tmp_path}) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS + flags)
        try:
            page = browser.new_page()
            page.goto(f"{base}/index.html{hash_}")
            page.wait_for_function("window.widgetState !== undefined", timeout=10_000)
            page.click("button")
            page.wait_for_function("/^(photo taken|No )/.test(window.widgetState.status)", timeout=15_000)
            return {**page.evaluate("window.widgetState"), "title": page.get_attribute("button", "title") or ""}
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.chromium
def test_webcam_js_takes_a_photo_from_a_camera(tmp_path) -> None:
    """Chromium's fake camera stands in for a webcam: the JPEG it sends decodes in Python."""
    state = webcam_click(tmp_path, fake_camera=True)
    assert state["status"].startswith("photo taken") and state["shots"] == 1
    assert state["title"].startswith("Take one photo with your webcam"), "the button explains itself"
    image = HandtrackState()
    image.set_image_bytes(decode_data_url(state["data_url"]), "webcam photo")
    assert image.image.ndim == 3 and image.image.shape[0] >= 120 and image.image.std() > 5


@pytest.mark.slow
@pytest.mark.chromium
@pytest.mark.parametrize("hash_,says", [("", "No photo: "), ("#no-api", "No camera: this front end")])
def test_webcam_js_says_why_there_is_no_photo(tmp_path, hash_, says) -> None:
    """Without a camera (or permission), or without the camera API, it says so and stops."""
    state = webcam_click(tmp_path, fake_camera=False, hash_=hash_)
    assert state["status"].startswith(says) and "Upload a photo instead" in state["status"]
    assert state["data_url"] == "" and state["shots"] == 0
