"""Widget messages under ipykernel 7.4's subshells, in a real kernel (no browser).

JupyterLab 4.6 sends widget messages over a kernel subshell, one per page, and deletes
it when the page goes. Two things went wrong there, each shown here with the messages
a page sends, through ``jupyter_client``:

- ipykernel 7.4 routes a comm's messages to the subshell that last published on it, so
  after a reload every widget the old page touched went deaf (``UnknownSubshellError``);
  :func:`browserml.compat.patch_comm_routing` mends that once ``browserml`` is imported;
- two app callbacks could run at once on two threads, and ``Output.capture`` then left a
  finished message's id in place, which froze a slider in the page
  (:data:`widgets.common.CALLBACK_LOCK`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
from jupyter_client.manager import start_new_kernel  # noqa: E402

SETUP = """
import threading, ipywidgets as W
{imports}
seen = []
slider = W.IntSlider()
slider.observe(lambda change: seen.append(change["new"]), "value")
print(slider.comm.comm_id)
"""


class Kernel:
    """A python3 kernel and a client speaking to it as a JupyterLab page would."""

    def __init__(self) -> None:
        self.manager, self.client = start_new_kernel(kernel_name="python3", startup_timeout=60)

    def run(self, code: str, timeout_s: float = 30) -> str:
        """Execute ``code``; return what it printed (raises on an error)."""
        msg_id = self.client.execute(code)
        text, deadline = "", time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = self.client.get_iopub_msg(timeout=timeout_s)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return text
        raise TimeoutError(code)

    def control(self, msg_type: str, **content: Any) -> dict[str, Any]:
        msg = self.client.session.msg(msg_type, content)
        self.client.control_channel.send(msg)
        while True:
            reply = self.client.get_control_msg(timeout=10)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return reply["content"]

    def set_value(self, comm_id: str, value: int, subshell_id: str | None) -> None:
        """What the page sends when a learner moves a slider: one ``update`` on its comm."""
        msg = self.client.session.msg("comm_msg", {
            "comm_id": comm_id, "data": {"method": "update", "state": {"value": value}, "buffer_paths": []}})
        msg["header"]["subshell_id"] = subshell_id
        self.client.shell_channel.send(msg)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # its idle status, or an error reply
            try:
                got = self.client.get_iopub_msg(timeout=0.5)
            except Exception:  # noqa: BLE001 (queue.Empty: look at the shell channel)
                got = None
            if got and got["parent_header"].get("msg_id") == msg["header"]["msg_id"] \
                    and got["content"].get("execution_state") == "idle":
                return
            try:
                reply = self.client.get_shell_msg(timeout=0.05)
                if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                    return  # an error reply (UnknownSubshellError): the message was dropped
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    try:
        yield k
    finally:
        k.close()


def _reload_page(kernel: Kernel, imports: str) -> list[int]:
    """Page 1 moves the slider over its subshell, then goes (its subshell is deleted);
    page 2 opens its own subshell and moves the slider twice. What the kernel saw."""
    comm_id = kernel.run(SETUP.format(imports=imports)).strip()
    page1 = kernel.control("create_subshell_request")["subshell_id"]
    kernel.set_value(comm_id, 1, page1)
    assert kernel.control("delete_subshell_request", subshell_id=page1)["status"] == "ok"
    page2 = kernel.control("create_subshell_request")["subshell_id"]
    kernel.set_value(comm_id, 2, page2)
    kernel.set_value(comm_id, 3, page2)
    return eval(kernel.run("print(seen)"))  # noqa: S307 (a list of ints the kernel printed)


def test_widget_messages_reach_the_kernel_after_the_page_that_sent_them_is_gone(kernel):
    if "kernel subshells" not in kernel.client.kernel_info(reply=True)["content"].get("supported_features", []):
        pytest.skip("this ipykernel has no subshells")  # Colab's 6.17: nothing to mend
    assert _reload_page(kernel, "import browserml") == [1, 2, 3]


def test_without_the_patch_ipykernel_7_4_drops_them(kernel):
    """The control: the same messages without ``import browserml`` (this is what the patch mends;
    when a later ipykernel fixes the routing itself, this test says so and can go)."""
    from browserml.compat import _reply_routing_is_buggy

    if not _reply_routing_is_buggy():
        pytest.skip("this ipykernel routes replies by the page's subshell: nothing to mend")
    assert _reload_page(kernel, "") == [1]


def test_patch_is_idempotent_and_keeps_request_routing(kernel):
    out = kernel.run(
        "import browserml, browserml.compat as c\n"
        "from ipykernel.comm.comm import BaseComm\n"
        "f = BaseComm._reply_subshell_for\n"
        "print(c.patch_comm_routing(), BaseComm._reply_subshell_for is f)")
    assert out.split() == ["True", "True"]


def test_app_callbacks_never_overlap_across_threads():
    """Two callbacks fired on two threads (a subshell and the main shell) run one after the other."""
    import ipywidgets as W

    from widgets.common import guarded

    spans: list[tuple[float, float]] = []

    def slow(_: Any) -> None:
        start = time.monotonic()
        time.sleep(0.2)
        spans.append((start, time.monotonic()))

    callback = guarded(slow, W.Output())
    threads = [threading.Thread(target=callback, args=(None,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = sorted(spans)
    assert a1 <= b0, f"callbacks overlapped: {spans}"
