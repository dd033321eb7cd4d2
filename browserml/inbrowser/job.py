"""A request sent to the page, as a future: ``await job`` in a cell, ``job.result(t)`` in a
script, and the kernel's own verdicts (deadlines, no page, switched off) in words.

Why ``await``: the page answers with a comm message, and the kernel only reads comm
messages while its event loop is free. ipykernel 7.4 dispatches them while a cell
*awaits*; older kernels (Colab's 6.17) hold them until the cell ends, so there
``await job`` returns at once with :data:`PAGE_ONLY` rather than waiting in vain
(:func:`browserml.compat.kernel_queues_comms_during_cells` tells the two apart).
``job.result(timeout)`` blocks, so in a cell it raises, naming ``await``.

Nothing hangs: a job not answered within its deadline (:func:`job_deadline_s`) is answered
by the kernel, provisionally; a page whose answer was read late by a busy kernel still
replaces that verdict. Nothing here imports ipywidgets or TensorFlow.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from browserml.compat import kernel_queues_comms_during_cells
from browserml.inbrowser.bundle import OFF_ENV, BrowserRuntimeError

if TYPE_CHECKING:
    from browserml.inbrowser.cell import CellResult
    from browserml.inbrowser.results import BrowserRun, FitResult

NO_FRONT_END = "no widget front end: fall back to Python"
# ipykernel before 7.4 (Colab's 6.17) reads widget messages only between cells.
PAGE_ONLY = ("this kernel reads the page's answer only after a cell ends (ipykernel < 7.4, as on Colab): "
             "your browser's results show in the table above, in the page; Python's checks skip them")
WAITING = "waiting for the browser…"
SENT = "sent to the page"
SWITCHED_OFF = f"browser runtime switched off ({OFF_ENV}=off): Python's numbers only"


def job_deadline_s(load_timeout_s: float, work_s: float, grace_s: float) -> float:
    """How long the kernel gives a job: the page's TF.js load, the job's own timeouts
    (``timeout_s`` per backend for a run, one for a fit), and ``grace_s`` for a kernel
    that is busy when the answer comes."""
    return load_timeout_s + work_s + grace_s


def hello_wait_s(configured: float | None = None) -> float:
    """How long to wait for a page to say hello before falling back to Python.

    A kernel started by a Jupyter server for a notebook (JupyterLab, Notebook 7) has
    ``JPY_SESSION_NAME``; then a page is very likely there, if slow to start. Without it
    (nbval, a plain python process, some other front end) wait less."""
    if configured is not None:
        return float(configured)
    return 30.0 if os.environ.get("JPY_SESSION_NAME") else 10.0


def _in_kernel_loop_thread() -> bool:
    """True when called from a thread that runs an asyncio loop (a notebook cell)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _kernel_reads_comms_only_between_cells() -> bool:
    """See :func:`browserml.compat.kernel_queues_comms_during_cells`."""
    return kernel_queues_comms_during_cells()


class BrowserJob:
    """A request sent to the page. ``await job`` in a notebook cell; ``job.result(t)``
    in scripts and tests; ``job.value`` is whatever is known now.

    A job can be answered twice: the kernel's own deadline gives a provisional
    "no answer" result, and a late answer from the page (delayed by a busy kernel)
    still replaces it and fires the callbacks again.
    """

    def __init__(self, job_id: str, value: BrowserRun | FitResult | CellResult, deadline_s: float) -> None:
        self.id = job_id
        self.value = value
        self.deadline_s = deadline_s
        self._event = threading.Event()
        self._final = False
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Any], Any]] = []
        self.sent_at: float | None = None

    def done(self) -> bool:
        """Answered, at least provisionally (see :attr:`final`)."""
        return self._event.is_set()

    @property
    def final(self) -> bool:
        """Answered by the page itself (or refused outright): nothing will replace it."""
        return self._final

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        self._callbacks.append(fn)
        if self._event.is_set():
            fn(self.value)

    # ------------------------------------------------------------------ answers
    def resolve(self, final: bool = True) -> bool:
        """Mark the job answered and call the callbacks; ``False`` when a final answer
        was already given (nothing replaces it)."""
        with self._lock:
            if self._final:
                return False
            self._final = final
            self._event.set()
        for fn in list(self._callbacks):
            fn(self.value)
        return True

    def mark_sent(self) -> None:
        """The request left for the page: start the round-trip clock."""
        self.value.status = SENT
        self.sent_at = time.monotonic()

    def stop_clock(self) -> None:
        """The page's answer was read: what the learner waited (send, load, run, answer)."""
        if self.sent_at is not None:
            self.value.round_trip_s = time.monotonic() - self.sent_at

    def refuse(self, reason: str) -> None:
        """Answer at once, for good, in words (e.g. :data:`SWITCHED_OFF`)."""
        self.value.error = reason
        self.value.status = reason
        self.resolve()

    def fall_back(self, reason: str) -> None:
        """Answer provisionally in words (e.g. :data:`NO_FRONT_END`), unless answered:
        a page that answers later still replaces it."""
        if not self.done():
            self.value.error = reason
            self.value.status = reason
            self.resolve(final=False)

    def expire(self) -> None:
        """The kernel's deadline passed with no answer: say so, provisionally."""
        self.fall_back(f"no answer from the page within {self.deadline_s:.0f} s")

    # ------------------------------------------------------------------ waiting
    def result(self, timeout: float | None = None) -> Any:
        """Block until answered (or ``timeout``), then return the value. Not in a cell."""
        if not self._event.is_set() and _in_kernel_loop_thread():
            raise BrowserRuntimeError(
                "job.result() would block the kernel, and the page's answer could never arrive. "
                "In a notebook cell write `run = await job` instead (or use runtime.on_result)."
            )
        self._event.wait(self.deadline_s if timeout is None else timeout)
        return self.value

    async def wait_async(self, timeout: float | None = None) -> Any:
        """Wait without blocking the kernel's event loop, so comm messages keep flowing.

        On a kernel that reads widget messages only between cells (ipykernel before
        7.4), waiting inside the cell could only end in a timeout, so this returns at
        once with the value as it stands, saying so in its status."""
        if not self._event.is_set() and _kernel_reads_comms_only_between_cells():
            self.value.status = PAGE_ONLY
            return self.value
        end = time.monotonic() + (self.deadline_s if timeout is None else timeout)
        while not self._event.is_set() and time.monotonic() < end:
            await asyncio.sleep(0.05)
        return self.value

    def __await__(self) -> Any:
        return self.wait_async().__await__()

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        said = self.value.summary() if self.done() else self.value.status
        return f"<BrowserJob {self.id[:8]} {state}: {said}>"


__all__ = [
    "NO_FRONT_END",
    "PAGE_ONLY",
    "SENT",
    "SWITCHED_OFF",
    "WAITING",
    "BrowserJob",
    "hello_wait_s",
    "job_deadline_s",
]
