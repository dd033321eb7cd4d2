"""Lesson 0's app: why ML in the browser, shown live in the learner's own page.

:class:`PageClassifier` is an anywidget: a canvas the learner draws on, classified in the
page by TF.js (the lesson's export, sent to the page once) as they draw, with the top
three classes as bars. Its front end is ``widgets/js/pageclassifier.js`` (styles in
``pageclassifier.css``); it takes TF.js from the browser runtime's page-wide cache, never
importing it a second time. The page tells the kernel only the prediction, once per
stroke. "Compare with the kernel" (or :meth:`IntroApp.compare`) times predictions in the
page, then sends the same drawing to the kernel and back, which answers with
:func:`~browserml.intro.model.predict_numpy`.

The evidence is the log: :meth:`PageClassifier._handle_msg` records *every* message the
kernel receives from this widget (updates and custom messages alike, buffers counted)
into :class:`~browserml.intro.state.IntroState` before anything else reads it, and
:class:`IntroApp` shows that log, the privacy verdict drawn from it and the latency pair,
updating live. ``app.widget`` is its one root widget, and ``app`` as a cell's last line
shows it::

    from browserml import intro
    from widgets.intro import IntroApp
    export = intro.export_classifier(intro.train_classifier(), "intro")
    app = IntroApp(export)
    app                      # draw; then press "Compare with the kernel"
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as W
import traitlets

from browserml.errors import BadInput
from browserml.inbrowser.bundle import model_payload
from browserml.inbrowser.cell import CellRequest
from browserml.intro.model import CLASS_NAMES
from browserml.intro.state import KERNEL_TO_PAGE, MAX_COMPARE, IntroState, MessageRecord
from widgets.common import INK_SOFT, JS_DIR, front_end, guarded, html_table, wrapping_row

Handler = Callable[..., Any]


class PageClassifier(anywidget.AnyWidget):
    """Draw, and the page classifies it with TF.js; the kernel logs every message it gets.

    ``state`` receives the log, the predictions and the latency samples; ``export_dir``
    is the lesson's export, sent to the page once when it says hello; ``bundle_id`` names
    the browser runtime's TF.js in the page's cache. ``guard`` wraps each message handler
    (the app passes :func:`widgets.common.guarded`, so an error shows under the app).
    """

    _esm = front_end("pageclassifier")
    _css = JS_DIR / "pageclassifier.css"
    bundle_id = traitlets.Unicode("").tag(sync=True)
    instance_id = traitlets.Unicode().tag(sync=True)  # the page's key for this widget's model and views
    load_timeout_s = traitlets.Float(60.0).tag(sync=True)
    ping_timeout_s = traitlets.Float(10.0).tag(sync=True)
    compare_n = traitlets.Int(20).tag(sync=True)
    size = traitlets.Int(280).tag(sync=True)
    brush = traitlets.Int(24).tag(sync=True)

    def __init__(self, state: IntroState, export_dir: str | Path, bundle_id: str,
                 guard: Callable[[Handler], Handler] | None = None, **kwargs: Any) -> None:
        super().__init__(bundle_id=bundle_id, instance_id=uuid.uuid4().hex, **kwargs)
        self.state = state
        self.payload = model_payload(export_dir)
        if self.payload.how != "embed" or self.payload.model_json is None:
            raise BadInput(f"{export_dir}: the model is {self.payload.nbytes:,} bytes, too large to send to the page")
        self._listeners: list[Callable[[MessageRecord], Any]] = []
        self._handle_guarded = (guard or (lambda fn: fn))(self._handle_logged)

    def listen(self, callback: Callable[[MessageRecord], Any]) -> None:
        """Call ``callback(record)`` after each message from the page has been handled."""
        self._listeners.append(callback)

    def compare(self, n: int | None = None) -> None:
        """Ask the page to time ``n`` (default ``compare_n``) predictions in the page and
        ``n`` round trips to the kernel; the results arrive as a ``latency`` message."""
        n = self.compare_n if n is None else int(n)
        if not 1 <= n <= MAX_COMPARE:
            raise BadInput(f"compare between 1 and {MAX_COMPARE} times, got {n}")
        self._send_msg({"kind": "compare", "n": n}, [])

    # ------------------------------------------------------------------ plumbing
    def _handle_msg(self, msg: dict[str, Any]) -> None:
        """EVERY comm message from the page passes here first: logged as it arrived (its
        method, keys and size with buffers), then handled (through ``guard``)."""
        self._handle_guarded(msg, self.state.record_comm(msg))

    def _handle_logged(self, msg: dict[str, Any], record: MessageRecord) -> None:
        """Handle the message, then tell the listeners: one guarded call for both, so an
        error in either shows under the app, and the next good message clears it.

        This widget's own custom messages are handled here, not through ``on_msg``:
        ipywidgets' ``_handle_msg`` and its callback dispatcher log a handler's exception
        and swallow it, where a learner never looks. The rest (trait updates, state
        requests, any ``on_msg`` callback) goes through ipywidgets as usual."""
        try:
            data = msg.get("content", {}).get("data", {})
            if data.get("method") == "custom" and isinstance(data.get("content"), Mapping):
                self._on_custom(data["content"], msg.get("buffers") or [])
            super()._handle_msg(msg)
        finally:
            for callback in list(self._listeners):
                callback(record)

    def _send_msg(self, content: dict[str, Any], buffers: Sequence[bytes]) -> None:
        """The one way out to the page, logged (tests replace ``send`` to relay to a page of their own)."""
        self.state.record(KERNEL_TO_PAGE, "custom", content, buffers)
        self.send(content, list(buffers))

    def _on_custom(self, content: Mapping[str, Any], buffers: Sequence[Any]) -> None:
        kind = content.get("kind") if isinstance(content, Mapping) else None
        if kind == "hello":
            self._send_msg({"kind": "model", "model_json": self.payload.model_json, "labels": list(CLASS_NAMES)},
                           [self.payload.weights])
        elif kind == "ping":
            self._send_msg(self.state.answer_ping(content, buffers), [])
        elif kind == "prediction":
            self.state.read_prediction(content)
        elif kind == "latency":
            self.state.read_latency(content)
        elif kind == "status":
            self.state.read_status(content)


#: How the app's tables name their columns.
LOG_HEADERS = {"#": "#", "time_s": "time (s)", "direction": "direction", "kind": "kind", "keys": "keys",
               "bytes": "bytes", "what": "what it held"}
LATENCY_HEADERS = {"where": "one prediction…", "median_ms": "median (ms)", "fastest_ms": "fastest (ms)",
                   "samples": "samples"}


class IntroApp:
    """The drawing and its live prediction on the left; on the right, the page's status,
    the privacy verdict, the latency pair and the log of messages, updated as they come.

    ``runtime`` defaults to :func:`widgets.browser_runtime.shared_runtime`: the app asks it
    to load TF.js in the page (a one-line TF.js job) and shows its status line.
    """

    def __init__(self, export_dir: str | Path, state: IntroState | None = None, runtime: Any | None = None,
                 compare_n: int = 20, log_rows: int = 12) -> None:
        from widgets.browser_runtime import shared_runtime

        self.export_dir = Path(export_dir)
        self.state = state or IntroState.from_export(self.export_dir)
        self.log_rows = log_rows
        self.output = W.Output()
        self.errors = W.HTML()
        self.runtime = runtime if runtime is not None else shared_runtime()
        # TF.js loads in the page on the runtime's first job: this one only reads its version.
        self.tfjs_job = self.runtime.eval(CellRequest(code="return tf.version.tfjs", backend="cpu"))
        self.classifier = PageClassifier(self.state, self.export_dir, self.runtime.bundle_id,
                                         guard=lambda fn: guarded(fn, self.output, self.errors), compare_n=compare_n)
        self.status = W.HTML()
        self.verdict = W.HTML()
        self.latency = W.HTML()
        self.log = W.HTML()
        self.classifier.listen(self._on_record)  # runs inside the classifier's guarded handling
        panel = W.VBox([self.status, self.verdict, self.latency, W.HTML("<b>Messages between page and kernel</b>"),
                        self.log], layout=W.Layout(flex="1 1 420px", min_width="0", max_width="100%"))
        intro = W.HTML("<b>Draw a piece of clothing, a shoe or a bag.</b> The model runs in this page; the kernel "
                       "hears only its answer, and the log on the right is every message it received.")
        self.widget = W.VBox([intro, self.runtime, wrapping_row([self.classifier, panel], max_width="100%"),
                              self.errors, self.output], layout=W.Layout(max_width="100%"))
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def compare(self, n: int | None = None) -> None:
        """Start the latency comparison in the page, as its button does (from a cell: the
        kernel answers the pings once the cell has finished)."""
        self.classifier.compare(n)

    def _on_record(self, record: MessageRecord) -> None:
        # A ping is answered before this runs; redrawing now would only delay the next one
        # and so inflate the round trips being measured. The latency report redraws.
        if record.kind != "ping":
            self.refresh()

    def refresh(self) -> None:
        """Redraw the status, the verdict, the latency pair and the log from the state."""
        s = self.state
        latest = ""
        if s.latest is not None:
            top = ", ".join(f"{name} {p:.0%}" for name, p in s.latest.top(3))
            latest = f"<br>latest from the page (stroke {s.latest.stroke}): {top} in {s.latest.page_ms:.2f} ms"
        self.status.value = f"<span style='color:{INK_SOFT}'>page: {s.status}{latest}</span>"
        self.verdict.value = f"<b>Privacy.</b> {s.privacy_verdict()}"
        ratio = s.speedup()
        if s.round_trip_ms:
            note = f"<br>the page answered {ratio:.0f}× sooner than a round trip to the kernel" if ratio else ""
            self.latency.value = html_table(s.latency_rows(), fmt="{:.3f}", headers=LATENCY_HEADERS) + note
        else:
            self.latency.value = f"<span style='color:{INK_SOFT}'>Press “Compare with the kernel” to time both.</span>"
        self.log.value = html_table(s.log_rows(self.log_rows), headers=LOG_HEADERS)
