"""browserml/inbrowser/job.py: a request to the page as a future. ``await job`` in a cell,
``job.result(t)`` in scripts; deadlines and fall-backs come back in words and stay
provisional until the page answers; on a kernel that reads widget messages only between
cells (ipykernel < 7.4, Colab) ``await`` returns at once with PAGE_ONLY. No widget."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from inbrowser_answers import POLY, page_reply

from browserml.inbrowser import job as jobs
from browserml.inbrowser.bundle import BrowserRuntimeError
from browserml.inbrowser.job import NO_FRONT_END, SWITCHED_OFF, BrowserJob, hello_wait_s, job_deadline_s
from browserml.inbrowser.protocol import read_result
from browserml.inbrowser.results import prepare_run


def test_a_kernel_that_reads_widget_messages_only_between_cells_hears_page_only_at_once(monkeypatch):
    """Colab's ipykernel 6.17 queues the page's answer until the cell ends, so waiting in
    the cell could only time out: `await job` returns at once and says where the results
    will show."""
    from concurrent.futures import ThreadPoolExecutor

    def await_in_a_fresh_loop(coroutine):  # a loop of its own: other tests may leave one running here
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    monkeypatch.setattr(jobs, "_kernel_reads_comms_only_between_cells", lambda: True)
    job = jobs.BrowserJob("colab", prepare_run(POLY, None, None, ("wasm",)), deadline_s=60)
    started = time.monotonic()
    value = await_in_a_fresh_loop(job.wait_async())
    assert time.monotonic() - started < 1.0
    assert value.status == jobs.PAGE_ONLY and value.summary() == jobs.PAGE_ONLY and "Colab" in value.summary()
    assert not job.done(), "the answer may still come, after the cell"
    monkeypatch.setattr(jobs, "_kernel_reads_comms_only_between_cells", lambda: False)
    started = time.monotonic()
    await_in_a_fresh_loop(job.wait_async(timeout=0.3))
    assert time.monotonic() - started >= 0.3, "on ipykernel 7.4 the cell waits for the page instead"


def _job(deadline_s: float = 60.0, backends: tuple[str, ...] = ("cpu",)) -> BrowserJob:
    return BrowserJob("j1", prepare_run(POLY, backends=backends), deadline_s)


def _answer(job: BrowserJob) -> None:
    """The page's answer, read as the widget reads it."""
    reply, out = page_reply(job.value, job.id, {b: {"outputs": {"y": job.value.expected["y"]}}
                                                for b in job.value.backends})
    read_result(job.value, reply, out)
    job.stop_clock()
    job.resolve()


def test_a_deadline_is_an_answer_in_words_that_the_page_can_still_replace():
    job = _job(deadline_s=12.4)
    seen = []
    job.add_done_callback(seen.append)
    job.mark_sent()
    assert job.value.status == "sent to the page" and not job.done()
    job.expire()
    assert job.done() and not job.final and seen == [job.value]
    assert job.value.error == job.value.status == "no answer from the page within 12 s"
    assert job.value.table()[0]["note"] == "no answer from the page within 12 s" and not job.value.ok
    job.expire()  # a second timer changes nothing
    assert len(seen) == 1
    _answer(job)  # late, from a busy kernel
    assert job.final and job.value.ok and job.value.error is None and len(seen) == 2
    assert job.value.round_trip_s is not None and job.value.round_trip_s >= 0
    assert not job.resolve(), "a final answer is never replaced"
    job.expire()
    assert job.value.ok and len(seen) == 2


def test_no_page_falls_back_provisionally_and_switched_off_is_final():
    job = _job()
    job.fall_back(NO_FRONT_END)
    assert job.done() and not job.final and job.value.summary() == NO_FRONT_END
    off = _job()
    off.refuse(SWITCHED_OFF)
    assert off.final and "switched off" in off.value.error and off.value.status == off.value.error
    off.fall_back(NO_FRONT_END)
    assert off.value.error == SWITCHED_OFF


def test_deadlines_add_up_and_hello_waits_longer_under_a_jupyter_server(monkeypatch):
    assert job_deadline_s(120.0, 60.0 * 2, 30.0) == 270.0
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert hello_wait_s() == 10.0 and hello_wait_s(0.3) == 0.3
    monkeypatch.setenv("JPY_SESSION_NAME", "lesson.ipynb")
    assert hello_wait_s() == 30.0 and hello_wait_s(5) == 5.0


def test_result_refuses_to_block_a_cell_but_await_works(monkeypatch):
    monkeypatch.setattr(jobs, "_kernel_reads_comms_only_between_cells", lambda: False)
    job = _job()

    async def cell():
        with pytest.raises(BrowserRuntimeError, match="await"):
            job.result()
        threading.Timer(0.2, _answer, args=(job,)).start()  # the page answers later
        return await job

    assert asyncio.run(cell()).ok
    assert "done" in repr(job) and repr(job).startswith("<BrowserJob j1 done: cpu ")


def test_result_waits_in_a_script_and_gives_up_at_its_timeout():
    job = _job()
    started = time.monotonic()
    assert job.result(timeout=0.2) is job.value and not job.done()
    assert time.monotonic() - started >= 0.2
    assert "pending" in repr(job)
