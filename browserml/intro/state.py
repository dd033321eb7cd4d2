"""Lesson 0's app state, with no widgets: what the page told the kernel, and what it proves.

The app (``widgets/intro.py``) classifies a drawing in the learner's page and sends the
kernel only the prediction. To make that claim checkable rather than promised, the
kernel records *every* message it receives from the page's widget here (and every one
it sends): its direction, method, kind, keys and size in bytes, JSON and binary buffers
together. :meth:`IntroState.pixels_reached_kernel` then answers from the log itself
whether any message from the page could have carried the drawing: a 28×28 drawing is
784 values, so a message smaller than :data:`PIXEL_BYTES` cannot hold it even at one
byte a pixel, and a ``ping`` (the latency comparison, the one thing that sends pixels
on purpose) always counts.

The state also holds the page's latest prediction and the latency samples: in-page
TF.js predictions and round trips to the kernel, both timed in the page, plus the
kernel's own NumPy time for each ping (:meth:`IntroState.answer_ping`). Tests drive it
with messages built by hand; nothing here imports ipywidgets or TensorFlow.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from browserml.errors import BadInput
from browserml.intro.model import CLASS_NAMES, IMAGE_SIZE, predict_numpy

PAGE_TO_KERNEL = "page → kernel"
KERNEL_TO_PAGE = "kernel → page"
#: A 28×28 drawing at one byte a pixel: no message smaller than this can carry one.
PIXEL_BYTES = IMAGE_SIZE * IMAGE_SIZE
#: The most pings one comparison sends (its latency report must stay a small message).
MAX_COMPARE = 30
#: How many messages the log keeps (the oldest go first; the counts cover them all).
MAX_LOG = 10_000


def comm_message_size(data: Any, buffers: Sequence[Any] = ()) -> tuple[int, int]:
    """``(total, buffer_bytes)`` of a widget message: its data as compact JSON text plus
    its binary buffers. (Jupyter's envelope around it, ids and dates of about 300 bytes,
    is the same for every message and carries nothing from the page.)"""
    text = json.dumps(data, separators=(",", ":"), default=repr, ensure_ascii=False)
    buffer_bytes = sum(memoryview(b).nbytes for b in buffers or ())
    return len(text.encode("utf-8")) + buffer_bytes, buffer_bytes


@dataclass(frozen=True)
class MessageRecord:
    """One message between the page's widget and the kernel, as the log shows it."""

    index: int
    t_s: float
    direction: str
    method: str
    kind: str
    keys: tuple[str, ...]
    nbytes: int
    buffer_bytes: int
    summary: str

    def carries_pixels(self, max_bytes: int = PIXEL_BYTES) -> bool:
        """Whether this message went from the page to the kernel and could hold a drawing:
        a ``ping`` (pixels on purpose), or ``max_bytes`` or more."""
        return self.direction == PAGE_TO_KERNEL and (self.kind == "ping" or self.nbytes >= max_bytes)

    def row(self) -> dict[str, Any]:
        return {"#": self.index, "time_s": round(self.t_s, 2), "direction": self.direction, "kind": self.kind,
                "keys": ", ".join(self.keys), "bytes": self.nbytes, "what": self.summary}


@dataclass(frozen=True)
class Prediction:
    """What the page answered for the drawing after one stroke (computed in the page)."""

    index: int
    label: str
    probabilities: tuple[float, ...]
    page_ms: float
    stroke: int
    backend: str

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = sorted(range(len(self.probabilities)), key=lambda i: -self.probabilities[i])[:k]
        return [(CLASS_NAMES[i], self.probabilities[i]) for i in order]


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def _ms_list(content: Mapping[str, Any], key: str) -> list[float]:
    values = content.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                                               for v in values):
        raise BadInput(f"the page's {key} must be a list of non-negative milliseconds")
    return [float(v) for v in values]


class IntroState:
    """The message log, the page's latest prediction and the latency samples."""

    def __init__(self, weights: Mapping[str, np.ndarray], labels: Sequence[str] = CLASS_NAMES) -> None:
        if tuple(labels) != CLASS_NAMES:
            raise BadInput(f"labels must be Fashion-MNIST's ten classes in order, got {list(labels)}")
        self.weights = dict(weights)
        predict_numpy(self.weights, np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32))  # refuse wrong weights now
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self.log: list[MessageRecord] = []
        self.n_messages = 0
        self.status = "waiting for the page to connect"
        self.page: dict[str, Any] = {}
        self.latest: Prediction | None = None
        self.n_predictions = 0
        self.page_ms: list[float] = []
        self.round_trip_ms: list[float] = []
        self.kernel_ms: list[float] = []
        self._ping_run: Any = None

    @classmethod
    def from_export(cls, export_dir: str | Path) -> IntroState:
        """A state whose kernel-side forward pass uses the export's own weights (NumPy only)."""
        from browserml.intro.export import read_classifier_weights
        from browserml.manifest import read_manifest

        return cls(read_classifier_weights(export_dir), read_manifest(export_dir).labels or CLASS_NAMES)

    # ------------------------------------------------------------------ the log
    def record(self, direction: str, method: str, data: Mapping[str, Any], buffers: Sequence[Any] = (),
               envelope: Mapping[str, Any] | None = None) -> MessageRecord:
        """Log one message: ``data`` is a custom message's content, or an update's state;
        its size is that of ``envelope`` (the whole widget message: method, content, buffer
        paths) when given, else ``{"method": method, "content": data}``, plus the buffers."""
        sized = envelope if envelope is not None else {"method": method, "content": data}
        nbytes, buffer_bytes = comm_message_size(sized, buffers)
        kind = str(data.get("kind", method)) if method == "custom" else method
        with self._lock:
            self.n_messages += 1
            record = MessageRecord(self.n_messages, time.monotonic() - self._t0, direction, method, kind,
                                   tuple(str(k) for k in data), nbytes, buffer_bytes, _describe(kind, data, buffers))
            self.log.append(record)
            del self.log[:-MAX_LOG]
        return record

    def record_comm(self, msg: Mapping[str, Any]) -> MessageRecord:
        """Log a comm message the kernel received (``Widget._handle_msg``'s argument), as is."""
        data = msg.get("content", {}).get("data", {}) or {}
        method = str(data.get("method", "?"))
        body = data.get("content") if method == "custom" else data.get("state", {})
        buffers = msg.get("buffers") or []
        if not isinstance(body, Mapping):
            body = {"value": body}
        return self.record(PAGE_TO_KERNEL, method, body, buffers, envelope=data)

    def messages_from_page(self) -> list[MessageRecord]:
        with self._lock:
            return [r for r in self.log if r.direction == PAGE_TO_KERNEL]

    def pixel_messages(self, max_bytes: int = PIXEL_BYTES) -> list[MessageRecord]:
        """The messages from the page that could have carried a drawing."""
        return [r for r in self.messages_from_page() if r.carries_pixels(max_bytes)]

    def pixels_reached_kernel(self, max_bytes: int = PIXEL_BYTES) -> bool:
        """Whether any message from the page was a ``ping`` or ``max_bytes`` or larger."""
        return bool(self.pixel_messages(max_bytes))

    def privacy_verdict(self) -> str:
        """One sentence, from the log: did the drawing's pixels reach the kernel?"""
        from_page = self.messages_from_page()
        if not from_page:
            return "No message from the page yet."
        largest = max(r.nbytes for r in from_page)
        pixels = self.pixel_messages()
        if not pixels:
            return (f"{len(from_page)} messages from the page, the largest {largest} bytes: none could carry "
                    f"your drawing ({PIXEL_BYTES} pixels). Its pixels never reached the kernel.")
        pings = sum(r.kind == "ping" for r in pixels)
        others = "every other message stayed" if len(pixels) < len(from_page) else "no other message was"
        return (f"{len(pixels)} of {len(from_page)} messages from the page carried pixels ({pings} "
                f"{'ping' if pings == 1 else 'pings'} of the latency comparison, which sends your drawing on "
                f"purpose); {others} under {PIXEL_BYTES} bytes.")

    def log_rows(self, last: int = 12) -> list[dict[str, Any]]:
        with self._lock:
            return [r.row() for r in self.log[-last:]] if last > 0 else []

    # ------------------------------------------------------------------ what the page says
    def read_status(self, content: Mapping[str, Any]) -> None:
        """The page's news in words (waiting for TF.js, model loaded, an error)."""
        self.status = str(content.get("text", ""))[:300]
        for key in ("backend", "tfjs_version", "load_ms", "phase"):
            if key in content:
                self.page[key] = content[key]

    def read_prediction(self, content: Mapping[str, Any]) -> Prediction:
        """The page's prediction after a stroke: ten probabilities and the in-page time."""
        probs = content.get("probs")
        if not isinstance(probs, list) or len(probs) != len(CLASS_NAMES) or \
                not all(isinstance(p, (int, float)) and math.isfinite(p) for p in probs):
            raise BadInput(f"the page's prediction must hold {len(CLASS_NAMES)} finite probabilities")
        index = int(np.argmax(probs))
        ms = content.get("ms")
        prediction = Prediction(index, CLASS_NAMES[index], tuple(float(p) for p in probs),
                                float(ms) if isinstance(ms, (int, float)) else math.nan,
                                int(content.get("stroke", 0) or 0), str(content.get("backend", "?")))
        with self._lock:
            self.latest = prediction
            self.n_predictions += 1
        return prediction

    def answer_ping(self, content: Mapping[str, Any], buffers: Sequence[Any]) -> dict[str, Any]:
        """The kernel's side of one round trip: the page's pixels (784 float32 in one buffer)
        through :func:`predict_numpy`; the ``pong`` to send back, with the kernel's own time."""
        reply: dict[str, Any] = {"kind": "pong", "run": content.get("run"), "seq": content.get("seq")}
        try:
            if len(buffers) != 1:
                raise BadInput(f"a ping carries one buffer of pixels, got {len(buffers)}")
            pixels = np.frombuffer(bytes(memoryview(buffers[0])), dtype="<f4")
            if pixels.size != PIXEL_BYTES:
                raise BadInput(f"a ping carries {PIXEL_BYTES} float32 pixels, got {pixels.size} values")
            t0 = time.perf_counter()
            probs = predict_numpy(self.weights, pixels.reshape(IMAGE_SIZE, IMAGE_SIZE))[0]
            kernel_ms = 1000 * (time.perf_counter() - t0)
        except BadInput as err:
            reply["error"] = str(err)
            return reply
        index = int(np.argmax(probs))
        with self._lock:
            if content.get("run") != self._ping_run:  # a new comparison: its own samples only
                self._ping_run, self.kernel_ms = content.get("run"), []
            self.kernel_ms.append(kernel_ms)
        reply.update(index=index, label=CLASS_NAMES[index], kernel_ms=round(kernel_ms, 4))
        return reply

    def read_latency(self, content: Mapping[str, Any]) -> None:
        """The page's timings of one comparison: per-prediction ms in the page, and each
        round trip's ms (the kernel's NumPy time is already in :attr:`kernel_ms`)."""
        page_ms, round_trip_ms = _ms_list(content, "page_ms"), _ms_list(content, "round_trip_ms")
        with self._lock:
            self.page_ms, self.round_trip_ms = page_ms, round_trip_ms
        if content.get("error"):
            self.status = f"comparison stopped: {str(content['error'])[:200]}"

    # ------------------------------------------------------------------ for display
    def latency_rows(self) -> list[dict[str, Any]]:
        """In the page, round trip, and the kernel's share of it: median, fastest, samples."""
        backend = self.page.get("backend") or (self.latest.backend if self.latest else "?")
        rows = []
        for where, values in ((f"in this page (TF.js, {backend})", self.page_ms),
                              ("round trip to the kernel and back", self.round_trip_ms),
                              ("… of which the kernel's NumPy forward pass", self.kernel_ms)):
            rows.append({"where": where, "median_ms": _median(values),
                         "fastest_ms": min(values) if values else None, "samples": len(values)})
        return rows

    def speedup(self) -> float | None:
        """How many times faster the in-page prediction is than the round trip (medians)."""
        page, trip = _median(self.page_ms), _median(self.round_trip_ms)
        return trip / page if page and trip else None

    def summary(self) -> str:
        lines = [f"page: {self.status}"]
        if self.latest is not None:
            p = self.latest
            lines.append(f"latest prediction (stroke {p.stroke}): {p.label} {max(p.probabilities):.0%}, "
                         f"{p.page_ms:.2f} ms in the page on {p.backend}; {self.n_predictions} so far")
        lines.append(self.privacy_verdict())
        if self.page_ms and self.round_trip_ms:
            ratio = self.speedup()
            lines.append(f"latency: {_median(self.page_ms):.3f} ms in the page, {_median(self.round_trip_ms):.2f} ms "
                         f"for a round trip to the kernel (medians{f', ×{ratio:.0f}' if ratio else ''})")
        return "\n".join(lines)


def _describe(kind: str, data: Mapping[str, Any], buffers: Sequence[Any]) -> str:
    """A few words on what a message held, for the log's last column."""
    buffer_kib = sum(memoryview(b).nbytes for b in buffers or ()) / 1024
    if kind == "hello":
        return "the page asks for the model"
    if kind == "model":
        return f"the model, once: model.json + {buffer_kib:.0f} KiB of weights"
    if kind == "status":
        return str(data.get("text", ""))[:70]
    if kind == "prediction":
        probs = data.get("probs") or [0]
        best = max(probs) if isinstance(probs, list) and probs else 0
        return f"stroke {data.get('stroke')}: {data.get('label')} {best:.0%} ({data.get('ms')} ms in the page)"
    if kind == "ping":
        return f"ping {data.get('seq')}: your drawing, {memoryview(buffers[0]).nbytes // 4 if buffers else 0} float32"
    if kind == "pong":
        return f"pong {data.get('seq')}: {data.get('label') or data.get('error')}"
    if kind == "latency":
        return (f"timings: {len(data.get('page_ms') or [])} in-page runs, "
                f"{len(data.get('round_trip_ms') or [])} round trips")
    if kind == "compare":
        return f"compare: {data.get('n')} runs each way"
    return ", ".join(str(k) for k in data)[:70] or kind


__all__ = ["KERNEL_TO_PAGE", "MAX_COMPARE", "PAGE_TO_KERNEL", "PIXEL_BYTES", "IntroState", "MessageRecord",
           "Prediction", "comm_message_size"]
