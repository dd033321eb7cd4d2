"""Run a browserml export in TF.js inside the learner's own notebook page, beside Python.

The lessons prove every export in Node and headless Chromium (:mod:`browserml.tfjs_check`).
This module closes the loop in the notebook itself: the page the learner is looking at
loads TF.js (no CDN: the bundle ``make setup`` builds into ``browserml/js/dist/``), runs
the export on ``wasm``, ``cpu`` and ``webgl``, and sends outputs, latency and the live
tensor count back to the kernel, where they are compared with Python's.

One-call use in a lesson (what the notebooks are meant to do)::

    from widgets.browser_runtime import run_in_browser
    view = run_in_browser(export_dir)          # parity inputs from browserml.json
    view                                       # status line, then a table and a chart

    # a later cell, to use the numbers in Python (top-level await: see below)
    run = await view.job
    if run.answered:                           # a page ran it (under nbval none does)
        assert run.ok, run.table()

Lower level::

    rt = BrowserRuntime()                      # one per page is enough; it is shared
    job = rt.run(export_dir, inputs={"x": xs}, reference=lambda d: np.polyval(c, d["x"]),
                 backends=("wasm", "cpu"))
    run = await job                            # a BrowserRun: .table(), .figure(), .parity()
    fit = await rt.fit(export_dir, x, y, epochs=5, batch_size=32)
    clone = clone_with_weights(model, fit.weights)

How results reach the kernel, and why ``await``: the page answers with a comm message,
and the kernel only reads comm messages while its event loop is free. A cell that
blocks (``while not job.done(): time.sleep(...)``) never sees the answer, and there is
nothing to poll: ipykernel 7 has no ``do_one_iteration``; a shell-channel thread hands
each message to the main thread's asyncio loop, which the blocking cell is holding.
ipykernel 7.4 (pinned in requirements.lock) dispatches comm messages while a cell
*awaits*, so ``run = await job`` in a cell works, even under "Run All" with later
cells queued (checked in headless JupyterLab by tests/test_browser_runtime.py). On
older kernels ``await job`` returns at once with the job still pending rather than
waiting in vain. :meth:`BrowserRuntime.on_result` callbacks and the ``result``
property work everywhere: they fill in as soon as the kernel is free (between cells).
``job.result(timeout)`` blocks, so it is for scripts and tests, not notebook cells
(there it raises, naming ``await``).

Nothing hangs: the page gives each backend a deadline and answers in words; the kernel
gives the page ``hello_timeout_s`` to say hello (no widget front end at all, as under
nbval or a plain ``python`` process: "no widget front end: fall back to Python") and
each job a deadline. Both kernel-side verdicts are provisional: a page whose messages
were read late by a busy kernel still answers, and its answer replaces them.
``BROWSERML_BROWSER_RUNTIME=off`` skips the browser entirely (e.g. for nbval runs,
which have no front end and would otherwise wait ``hello_timeout_s`` per job).

How TF.js reaches the page (``delivery``): ``"files"`` fetches the bundle from the
Jupyter server's ``/files/`` route (JupyterLab, Notebook 7, Binder; the page's base URL
is honoured); ``"embed"`` has the kernel send it over the widget's comm (VS Code, Colab,
anywhere without that route: about 1.6 MB, once per page, never saved in the notebook);
``"auto"`` (default) tries files, then embed. Models up to ``max_embed_bytes`` travel
with the request; larger ones load from the ``/files/`` route.

This module is only the widget and its view; what they send, what comes back and what
it means (bundle, results, protocol, job) is :mod:`browserml.inbrowser`, tested without
a widget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as W
import traitlets

from browserml.inbrowser import protocol
from browserml.inbrowser.bundle import (
    DEFAULT_MAX_EMBED_BYTES,
    DELIVERIES,
    BrowserRuntimeError,
    browser_runtime_off,
    bundle_id,
    check_dist,
    model_payload,
)
from browserml.inbrowser.cell import CellRequest, CellResult
from browserml.inbrowser.job import (
    NO_FRONT_END,
    SWITCHED_OFF,
    WAITING,
    BrowserJob,
    hello_wait_s,
    job_deadline_s,
)
from browserml.inbrowser.protocol import encode_eval_request, encode_fit_request, encode_run_request, new_request_id
from browserml.inbrowser.results import BrowserRun, FitResult, Reference, prepare_run

_ESM = (Path(__file__).with_name("browser_runtime.js")).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the widget


class BrowserRuntime(anywidget.AnyWidget):
    """TF.js in this notebook page: run exports, fine-tune layers models, report back.

    One instance per page is enough (:func:`shared_runtime`); TF.js itself is loaded
    once per page however many there are. It shows one status line when displayed,
    and works undisplayed too (the page runs it as soon as the widget exists).
    """

    _esm = _ESM
    status = traitlets.Unicode("created").tag(sync=True)
    delivery = traitlets.Unicode("auto").tag(sync=True)
    dist_path = traitlets.Unicode("").tag(sync=True)
    home_dir = traitlets.Unicode("").tag(sync=True)
    bundle_id = traitlets.Unicode("").tag(sync=True)
    load_timeout_s = traitlets.Float(120.0).tag(sync=True)

    def __init__(self, delivery: str = "auto", hello_timeout_s: float | None = None,
                 max_embed_bytes: int = DEFAULT_MAX_EMBED_BYTES, dist: str | Path | None = None,
                 **kwargs: Any) -> None:
        if delivery not in DELIVERIES:
            raise BrowserRuntimeError(f"delivery must be one of {DELIVERIES}, got {delivery!r}")
        folder = check_dist(dist, build_if_missing=True)
        super().__init__(delivery=delivery, dist_path=str(folder.resolve()), home_dir=str(Path.home()),
                         bundle_id=bundle_id(folder), **kwargs)
        self._dist = folder
        self.max_embed_bytes = int(max_embed_bytes)
        self.hello_timeout_s = hello_timeout_s
        self.page: dict[str, Any] | None = None
        self.jobs: dict[str, BrowserJob] = {}
        self._queue: list[tuple[dict[str, Any], list[bytes]]] = []
        self._callbacks: list[Callable[[Any], Any]] = []
        self._lock = threading.Lock()
        self._hello_timer: threading.Timer | None = None
        self.sent_bytes = 0
        self.grace_s = 30.0  # added to each job's deadline: the kernel may be busy when the answer comes
        self._last_word: str | None = None  # the kernel's summary of the latest answer it read
        self.on_msg(self._on_msg)

    # ------------------------------------------------------------------ public
    @property
    def result(self) -> BrowserRun | FitResult | CellResult | None:
        """The most recently answered job's value (``None`` before any answer)."""
        answered = [j for j in self.jobs.values() if j.done()]
        return answered[-1].value if answered else None

    def on_result(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(value)`` whenever a job is answered (in the kernel's thread)."""
        self._callbacks.append(callback)

    def run(
        self, export_dir: str | Path, inputs: Mapping[str, Any] | None = None,
        backends: Iterable[str] = ("wasm", "cpu"), reference: Reference | None = None,
        samples: int = 15, min_sample_ms: float = 2.0, timeout_s: float = 60.0, time_budget_s: float = 5.0,
    ) -> BrowserJob:
        """Run an export in the page on each backend; returns a :class:`BrowserJob`
        whose value is a :class:`BrowserRun` (parity, table, figure)."""
        run = prepare_run(export_dir, inputs, reference, backends)
        payload = model_payload(run.export_dir, self.max_embed_bytes)
        job_id = new_request_id()
        content, buffers = encode_run_request(run, job_id, payload, samples, min_sample_ms, timeout_s,
                                              time_budget_s)
        run.info["model_delivery"] = payload.how
        run.info["model_bytes"] = payload.nbytes
        deadline = job_deadline_s(self.load_timeout_s, timeout_s * len(run.backends), self.grace_s)
        return self._submit(BrowserJob(job_id, run, deadline), content, buffers)

    def fit(
        self, export_dir: str | Path, x: Any, y: Any, epochs: int = 5, batch_size: int = 32,
        backend: str = "cpu", optimizer: str = "sgd", learning_rate: float = 0.01,
        loss: str = "meanSquaredError", shuffle: bool = False, timeout_s: float = 120.0,
    ) -> BrowserJob:
        """Fine-tune a layers export in the page (``model.fit``); the job's value is a
        :class:`FitResult` with per-epoch losses and the updated weights by name."""
        export_dir = Path(export_dir).resolve()
        payload = model_payload(export_dir, self.max_embed_bytes)
        job_id = new_request_id()
        content, buffers = encode_fit_request(
            export_dir, job_id, payload, x, y, epochs=epochs, batch_size=batch_size, backend=backend,
            optimizer=optimizer, learning_rate=learning_rate, loss=loss, shuffle=shuffle, timeout_s=timeout_s)
        deadline = job_deadline_s(self.load_timeout_s, timeout_s, self.grace_s)
        return self._submit(BrowserJob(job_id, FitResult(export_dir), deadline), content, buffers)

    def eval(self, request: CellRequest, scope: Mapping[str, Any] | None = None) -> BrowserJob:
        """Run a ``%%tfjs`` cell's JavaScript in the page (:mod:`widgets.tfjs_magic`); the
        job's value is a :class:`~browserml.inbrowser.cell.CellResult`."""
        payload = model_payload(request.model, self.max_embed_bytes) if request.model else None
        job_id = new_request_id()
        content, buffers = encode_eval_request(request, job_id, scope or {}, payload)
        deadline = job_deadline_s(self.load_timeout_s, request.timeout_s, self.grace_s)
        return self._submit(BrowserJob(job_id, CellResult(request), deadline), content, buffers)

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the latest job is answered; for scripts and tests, not cells."""
        if not self.jobs:
            raise BrowserRuntimeError("nothing to wait for: call run() or fit() first")
        return list(self.jobs.values())[-1].result(timeout)

    # ------------------------------------------------------------------ plumbing
    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply trait changes from the page; but a ``status`` the page wrote about a job
        the kernel has already read is stale, and the kernel's summary stays.

        The page's status changes are state updates, which ipywidgets may hold back
        while earlier messages are unanswered; its answer is a custom message, which it
        sends at once. So "answered; waiting for the kernel…" can reach the kernel
        *after* the answer itself, and without this it stayed on screen for good.
        """
        super().set_state(sync_data)
        if "status" in sync_data and self._last_word is not None and not self._in_flight():
            self.status = self._last_word

    def _in_flight(self) -> bool:
        """Whether some job may still get news from the page (sent, queued, or answered
        only provisionally by the kernel)."""
        return any(not job.final for job in list(self.jobs.values()))

    def _send_msg(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        """The one way out to the page (tests replace it to drive a page directly)."""
        self.sent_bytes += sum(len(b) for b in buffers)
        self.send(content, buffers)

    def _submit(self, job: BrowserJob, content: dict[str, Any], buffers: list[bytes]) -> BrowserJob:
        self.jobs[job.id] = job
        job.add_done_callback(self._fire)
        if browser_runtime_off():
            job.refuse(SWITCHED_OFF)
            return job
        with self._lock:
            if self.page is None:
                self._queue.append((content, buffers))
                job.value.status = WAITING
                self.status = WAITING
                if self._hello_timer is None:
                    self._hello_timer = threading.Timer(hello_wait_s(self.hello_timeout_s), self._no_hello)
                    self._hello_timer.daemon = True
                    self._hello_timer.start()
                return job
        self._dispatch(job, content, buffers)
        return job

    def _dispatch(self, job: BrowserJob, content: dict[str, Any], buffers: list[bytes]) -> None:
        job.mark_sent()
        self._send_msg(content, buffers)
        timer = threading.Timer(job.deadline_s, job.expire)
        timer.daemon = True
        timer.start()

    def _no_hello(self) -> None:
        """No page said hello in time: answer the queued jobs with Python's numbers only,
        provisionally, and keep them queued: a page that connects late (a busy kernel
        read its hello late) still runs them and its answer replaces this one."""
        with self._lock:
            if self.page is not None:
                return
            queued = list(self._queue)
            self._hello_timer = None
        self.status = NO_FRONT_END
        for content, _ in queued:
            job = self.jobs.get(content["id"])
            if job is not None:
                job.fall_back(NO_FRONT_END)

    def _fire(self, value: Any) -> None:
        for fn in list(self._callbacks):
            fn(value)

    def _on_msg(self, _widget: Any, content: Mapping[str, Any], buffers: Sequence[Any]) -> None:
        kind = content.get("kind") if isinstance(content, Mapping) else None
        if kind == protocol.HELLO:
            self._on_hello(dict(content))
        elif kind == protocol.NEED:
            self._on_need(content)
        elif kind == protocol.PROGRESS:
            job = self.jobs.get(str(content.get("id")))
            if job is not None:
                protocol.read_progress(job.value, content)
        elif kind == protocol.RESULT:
            self._on_result(content, buffers)

    def _on_hello(self, content: dict[str, Any]) -> None:
        with self._lock:
            self.page = content
            queued, self._queue = self._queue, []
            if self._hello_timer is not None:
                self._hello_timer.cancel()
                self._hello_timer = None
        if self.status in (WAITING, NO_FRONT_END, "created"):
            self.status = "page connected"
        for content_, buffers in queued:
            job = self.jobs.get(content_["id"])
            if job is not None and not job.final:
                job.value.error = None
                self._dispatch(job, content_, buffers)

    def _on_need(self, content: Mapping[str, Any]) -> None:
        self._send_msg(*protocol.files_reply(content, self._dist))

    def _on_result(self, content: Mapping[str, Any], buffers: Sequence[Any]) -> None:
        job = self.jobs.get(str(content.get("id")))
        if job is None:
            return
        value = job.value
        protocol.read_result(value, content, buffers)
        job.stop_clock()
        self._last_word = value.summary()
        self.status = self._last_word
        job.resolve()


_SHARED: BrowserRuntime | None = None


def shared_runtime(**kwargs: Any) -> BrowserRuntime:
    """The kernel's one :class:`BrowserRuntime` (created on first use): one per page
    keeps the page's TF.js and the notebook's widget state small."""
    global _SHARED
    if _SHARED is None or _SHARED.comm is None:
        _SHARED = BrowserRuntime(**kwargs)
    return _SHARED


class BrowserRunView(W.VBox):
    """What :func:`run_in_browser` shows: the runtime's status line, then the table and
    the chart once the page answers. ``view.job`` is awaitable; ``view.run`` is the
    :class:`BrowserRun`."""

    def __init__(self, runtime: BrowserRuntime, job: BrowserJob) -> None:
        from widgets.common import figure_image

        self.runtime = runtime
        self.job = job
        self.run = job.value
        self.table_html = W.HTML()
        self.chart = figure_image(display="none")
        super().__init__([runtime, self.table_html, self.chart])
        job.add_done_callback(self._show)

    def _show(self, run: BrowserRun) -> None:
        self.table_html.value = run.html() if run.results else f"<i>{run.summary()}</i>"
        if run.results or run.python_latency_ms is not None:
            from widgets.common import show_figure

            show_figure(self.chart, run.figure())
            self.chart.layout.display = ""


def run_in_browser(
    export_dir: str | Path, inputs: Mapping[str, Any] | None = None,
    backends: Iterable[str] = ("wasm", "cpu"), reference: Reference | None = None, **run_kwargs: Any,
) -> BrowserRunView:
    """Run an export in this notebook page (parity inputs by default) and show the
    table and chart when the page answers; ``await view.job`` to use the numbers."""
    runtime = shared_runtime()
    job = runtime.run(export_dir, inputs=inputs, backends=backends, reference=reference, **run_kwargs)
    return BrowserRunView(runtime, job)
