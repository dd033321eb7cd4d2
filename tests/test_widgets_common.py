"""The shared widget machinery: the latest-wins background worker and the front-end files.

The worker's tests hold each job on a ``threading.Event``, so which settings run, and
when, is decided by the test and not by the scheduler. The front ends are ES module
files; every ``model.on`` listener one adds must be taken off by the cleanup function its
``render`` returns, or a re-rendered view (a notebook re-run, a second view of the same
widget) keeps calling into a removed canvas.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading

import ipywidgets as W
import pytest

from widgets.common import JS_DIR, THEMED_JS, LatestWins, front_end

WAIT_S = 30


class Recorder:
    """A job that records its settings, refuses ``"bad"``, counts how many run at once, and
    waits on its own gate for the settings listed in ``held``."""

    def __init__(self, *held: object) -> None:
        self.ran: list[object] = []
        self.entered = {s: threading.Event() for s in held}
        self.gates = {s: threading.Event() for s in held}
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, settings: object) -> str:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            self.ran.append(settings)
            if settings in self.gates:
                self.entered[settings].set()
                assert self.gates[settings].wait(WAIT_S)
            if settings == "bad":
                raise ValueError("bad settings: no such layer")
            return f"result of {settings}"
        finally:
            with self.lock:
                self.now -= 1


def test_the_newest_settings_run_after_the_current_job_and_intermediate_ones_are_dropped():
    job = Recorder(1)
    busy: list[bool] = []
    worker = LatestWins(job, on_busy=busy.append)
    assert worker.submit(1)
    assert job.entered[1].wait(WAIT_S) and worker.running and busy == [True]
    for settings in (2, 3, 4):  # arrive while 1 runs
        assert worker.submit(settings)
    job.gates[1].set()
    worker.join(WAIT_S)
    assert job.ran == [1, 4], "2 and 3 were overtaken before they ran"
    assert not worker.running and busy == [True, False], "busy once, for the whole run of jobs"
    assert (worker.settings, worker.result) == (4, "result of 4")
    assert job.most == 1, "never two jobs at once"


def test_the_last_result_is_memoised():
    job = Recorder()
    worker = LatestWins(job, background=False)
    assert worker.submit("a") and worker.result == "result of a"
    assert not worker.submit("a"), "the same settings again: nothing runs"
    assert worker.submit("b") and worker.submit("a")
    assert job.ran == ["a", "b", "a"]


def test_no_two_jobs_run_at_once_whoever_submits():
    job = Recorder(*range(6))
    worker = LatestWins(job)
    worker.submit(0)
    assert job.entered[0].wait(WAIT_S)
    threads = [threading.Thread(target=worker.submit, args=(i,)) for i in range(1, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    for gate in job.gates.values():
        gate.set()
    worker.join(WAIT_S)
    assert job.most == 1 and len(job.ran) == 2 and job.ran[0] == 0 and job.ran[1] in range(1, 6)
    assert not worker.running


def test_a_background_failure_is_reported_in_words():
    errors = W.HTML()
    job = Recorder()
    worker = LatestWins(job, errors=errors)
    worker.submit("bad")
    worker.join(WAIT_S)
    assert "ValueError: bad settings: no such layer" in errors.value and "⚠" in errors.value
    assert "Traceback" not in errors.value and not worker.running
    assert worker.settings is None, "a failure forgets the memo: what it left on screen is unknown"
    worker.submit("good")
    worker.join(WAIT_S)
    assert errors.value == "", "the next job clears the message"


def test_only_the_newest_settings_failure_is_reported_and_on_error_decides_how():
    job = Recorder("bad")
    seen: list[BaseException] = []
    worker = LatestWins(job, on_error=seen.append)
    worker.submit("bad")
    assert job.entered["bad"].wait(WAIT_S)
    worker.submit("good")  # overtakes the failing job before it fails
    job.gates["bad"].set()
    worker.join(WAIT_S)
    assert job.ran == ["bad", "good"] and seen == [], "a stale failure is not reported"
    worker.submit("bad")
    worker.join(WAIT_S)
    assert len(seen) == 1 and isinstance(seen[0], ValueError)


def test_in_the_callers_thread_a_failure_propagates_and_the_worker_is_idle_after():
    worker = LatestWins(Recorder(), background=False)
    with pytest.raises(ValueError, match="no such layer"):
        worker.submit("bad")
    assert not worker.running and worker.submit("good")


def test_a_quick_job_runs_in_the_callers_thread_without_announcing_itself():
    busy: list[bool] = []
    threads: list[threading.Thread] = []
    worker = LatestWins(lambda s: threads.append(threading.current_thread()), on_busy=busy.append)
    assert worker.submit("cheap", quick=True)
    assert threads == [threading.current_thread()] and busy == [] and worker.thread is None


# --------------------------------------------------------------------------- the front ends, as files

FRONT_ENDS = sorted(p.stem for p in JS_DIR.glob("*.js") if p.stem != "theme")
MODEL_ON = re.compile(r"model\.on\(\s*([^,]+),\s*([A-Za-z_$][\w$]*)\s*\)")
RENDER_RETURNS_CLEANUP = re.compile(r"return\s*\(\)\s*=>\s*\{(?P<body>.*?)\n    \};\n  \},\n\};", re.S)


def test_the_front_ends_are_the_files_the_widgets_load():
    from widgets.drawpad import DrawPad
    from widgets.handtrack import WebcamSnapshot
    from widgets.intro import PageClassifier
    from widgets.scatter import Scatter
    from widgets.thumbgrid import ThumbGrid

    assert FRONT_ENDS == ["drawpad", "pageclassifier", "scatter", "thumbgrid", "webcam"]
    widgets = {"drawpad": DrawPad, "pageclassifier": PageClassifier, "scatter": Scatter, "thumbgrid": ThumbGrid,
               "webcam": WebcamSnapshot}
    for name, widget in widgets.items():
        source = (JS_DIR / f"{name}.js").read_text(encoding="utf-8")
        assert widget._esm == front_end(name) and widget._esm.endswith(source)
        assert widget._esm.startswith(THEMED_JS) == ("themed(" in source), "theme.js is inlined where it is used"
        assert str(widget._css) == (JS_DIR / f"{name}.css").read_text(encoding="utf-8")
        assert "style=" not in source and ".style.cssText" not in source, "static styles live in the .css"


@pytest.mark.parametrize("name", FRONT_ENDS)
def test_every_listener_a_front_end_adds_its_cleanup_removes(name):
    source = (JS_DIR / f"{name}.js").read_text(encoding="utf-8")
    assert "render({ model, el })" in source
    cleanup = RENDER_RETURNS_CLEANUP.search(source)
    assert cleanup, f"{name}.js: render must end by returning a cleanup function"
    body = cleanup["body"]
    for event, handler in MODEL_ON.findall(source):
        assert f"model.off({event}, {handler})" in body, f"{name}.js: model.on({event}, {handler}) is never taken off"
    for target, event, handler in re.findall(r"(\w+)\.addEventListener\(\"(\w+)\", (\w+)\)", source):
        assert f'{target}.removeEventListener("{event}", {handler})' in body, \
            f"{name}.js: {target}'s {event} listener is never removed"
    assert not re.search(r"addEventListener\([^,]+,\s*(async\s*)?\(", source), \
        f"{name}.js: an inline listener cannot be removed; give it a name"
    assert not re.search(r"\.on\w+\s*=", source), f"{name}.js: an on<event> property is a listener cleanup misses"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
@pytest.mark.parametrize("name", ["theme", *FRONT_ENDS])
def test_node_accepts_each_front_end_as_an_es_module(name):
    text = (JS_DIR / f"{name}.js").read_text(encoding="utf-8") if name == "theme" else front_end(name)
    done = subprocess.run(["node", "--input-type=module", "--check"], input=text, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


_CLEANUP_PAGE = r"""
async ({ esm, state }) => {
  const handlers = {};
  const model = {
    get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
    on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
    off: (ev, f) => { handlers[ev] = (handlers[ev] || []).filter((g) => g !== f); },
  };
  const counted = { added: 0, removed: 0 };
  const add = EventTarget.prototype.addEventListener, remove = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.addEventListener = function (...a) { counted.added++; return add.apply(this, a); };
  EventTarget.prototype.removeEventListener = function (...a) { counted.removed++; return remove.apply(this, a); };
  try {
    const mod = await import(URL.createObjectURL(new Blob([esm], { type: "text/javascript" })));
    const el = document.createElement("div");
    document.body.replaceChildren(el);
    const cleanup = mod.default.render({ model, el });
    const listening = Object.values(handlers).flat().length;
    cleanup();
    return { listening, left: Object.values(handlers).flat().length, ...counted };
  } finally {
    EventTarget.prototype.addEventListener = add;
    EventTarget.prototype.removeEventListener = remove;
  }
}
"""


def _cleanups(runs: list[tuple[str, dict]]) -> list[dict]:
    from playwright.sync_api import sync_playwright

    from browserml.tfjs_check import launch_chromium

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.set_content("<html><body></body></html>")
            return [page.evaluate(_CLEANUP_PAGE, {"esm": esm, "state": state}) for esm, state in runs]
        finally:
            browser.close()


@pytest.mark.chromium
def test_each_front_end_leaves_no_listener_behind_in_chromium():
    from browserml.tfjs_check import in_worker_thread
    from widgets.drawpad import DrawPad
    from widgets.handtrack import WebcamSnapshot
    from widgets.scatter import Scatter
    from widgets.thumbgrid import ThumbGrid

    classes = [Scatter, ThumbGrid, DrawPad, WebcamSnapshot]
    runs = []
    for cls in classes:
        widget = cls()  # (its type() is a subclass anywidget made: ask the class for its own traits)
        runs.append((widget._esm, {n: getattr(widget, n) for n in cls.class_own_traits()}))
    for cls, seen in zip(classes, in_worker_thread(_cleanups, runs)):
        name = cls.__name__
        assert seen["left"] == 0, f"{name}: {seen['left']} model listener(s) left after cleanup"
        assert seen["added"] >= 1 and seen["removed"] == seen["added"], f"{name}: {seen}"
