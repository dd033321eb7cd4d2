"""View helpers every lesson's app shares: error capture, background work, figures,
and the few places where ipywidgets 7 and 8 differ.

The rules they enforce: a callback never fails silently (its exception lands in an
``Output`` the learner sees), long work runs off the kernel's main thread so Stop
and the sliders stay live, and figures are drawn with matplotlib's object API into
PNG bytes, which is safe from any thread and renders the same everywhere.

Every app runs on ipywidgets 8 (the project's lock) and on Google Colab's ipywidgets
7.7.1, which Colab's front end needs and the notebooks must not replace. Where the two
differ, the difference lives here, in one helper each (:func:`uploaded_files`,
:func:`clear_upload`, :func:`send_files`, :func:`border_below`), and nowhere else.
What needs no helper, because both versions take it alike: ``Button`` and
``ToggleButton`` ``tooltip=``, ``Tab.set_title``, ``Output.capture``, every other
``Layout`` key and ``style`` key the apps use, and anywidget's ``_esm`` string,
``send``/``on_msg`` and ``initialize``/``render`` (anywidget 0.9 on Colab, 0.11 here).
"""

from __future__ import annotations

import functools
import io
import mimetypes
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as W

#: The installed ipywidgets' major version: 8 under the project's lock, 7 on Colab.
IPYWIDGETS_MAJOR = int(W.__version__.split(".")[0])


def figure_to_png(fig: Any, dpi: int = 90) -> bytes:
    """Render a matplotlib ``Figure`` to PNG bytes (for an ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def captured(output: W.Output) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a callback so anything it prints or raises shows in ``output``.

    ipywidgets swallows exceptions raised in callbacks into the browser console,
    where a learner never looks; ``Output.capture`` puts them under the app.
    """
    return output.capture(clear_output=True)


class BackgroundJob:
    """Run one long task at a time in a daemon thread and report its failure in words.

    ``Output.capture`` does not reach across threads, so an exception in the job is
    formatted into ``error_label`` (an ``HTML`` widget) instead of being lost.
    """

    def __init__(self, error_label: W.HTML) -> None:
        self.error_label = error_label
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, fn: Callable[[], Any], on_done: Callable[[], Any] | None = None) -> bool:
        """Start ``fn`` unless a job is already running; returns whether it started."""
        if self.running:
            return False

        def body() -> None:
            try:
                self.error_label.value = ""
                fn()
            except Exception as err:  # shown to the learner, never swallowed
                last = traceback.format_exception_only(type(err), err)[-1].strip()
                self.error_label.value = error_html(RuntimeError(last))
            finally:
                if on_done is not None:
                    on_done()

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()
        return True

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


class Throttle:
    """Call ``fn`` at most every ``min_interval_s`` seconds, and never spend more than a
    third of the time in it, however slow the machine: redrawing a figure on every
    training step would otherwise slow training to a crawl."""

    def __init__(self, fn: Callable[[], Any], min_interval_s: float) -> None:
        self.fn = fn
        self.min_interval_s = min_interval_s
        self.next_call = 0.0

    def __call__(self) -> None:
        start = time.monotonic()
        if start >= self.next_call:
            self.fn()
            cost = time.monotonic() - start
            self.next_call = start + max(self.min_interval_s, 3 * cost)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_table(rows: list[dict[str, Any]], fmt: str = "{:.4f}") -> str:
    """A small HTML table from a list of dicts (floats formatted with ``fmt``)."""
    if not rows:
        return ""
    head = "".join(f"<th style='padding:2px 8px'>{_escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(
            f"<td style='padding:2px 8px;text-align:right'>"
            f"{fmt.format(v) if isinstance(v, float) else _escape(str(v))}</td>" for v in r.values()
        ) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def slow_slider(kind: type[W.ValueWidget], **kwargs: Any) -> W.ValueWidget:
    """A slider that reports only on release: regenerating data on every pixel of a
    drag would queue dozens of recomputations and make the app lag."""
    kwargs.setdefault("continuous_update", False)
    kwargs.setdefault("style", {"description_width": "initial"})
    return kind(**kwargs)


#: Errors a learner can cause by setting a control (a bad value, an action out of order):
#: shown as a one-line message. Anything else is a bug: shown, and re-raised into the Output.
EXPECTED_ERRORS = (ValueError, RuntimeError, IndexError, FloatingPointError)


def error_html(err: BaseException) -> str:
    return f"<span style='color:#b00020'>⚠ {_escape(str(err) or type(err).__name__)}</span>"


def guarded(fn: Callable[..., Any], output: W.Output, errors: W.HTML | None = None) -> Callable[..., Any]:
    """A callback whose prints land in ``output`` and whose errors are never silent:
    an expected one becomes a message in ``errors``, anything else also keeps its
    traceback in ``output``."""

    @captured(output)
    @functools.wraps(fn)
    def inner(*args: Any) -> Any:
        try:
            result = fn(*args)
        except EXPECTED_ERRORS as err:
            if errors is None:
                raise
            errors.value = error_html(err)
            return None
        except Exception as err:
            if errors is not None:
                errors.value = error_html(err)
            raise
        if errors is not None:
            errors.value = ""
        return result

    return inner


def on_change(widget: W.ValueWidget, callback: Callable[[Any], Any], output: W.Output,
              errors: W.HTML | None = None) -> None:
    """Observe ``widget.value`` with ``callback(new_value)``, guarded (see :func:`guarded`)."""
    handler = guarded(lambda change: callback(change["new"]), output, errors)
    widget.observe(handler, names="value")


def wrap(fn: Callable[..., Any], output: W.Output, errors: W.HTML | None = None) -> Callable[..., Any]:
    """A button callback, guarded (see :func:`guarded`)."""
    return guarded(fn, output, errors)


# --------------------------------------------------------------------------- ipywidgets 7 and 8


def uploaded_files(value: Any) -> list[tuple[str, bytes]]:
    """The files in a ``FileUpload.value``, as ``(name, bytes)`` pairs in upload order
    (``[]`` for an empty value).

    The value changed shape between the versions: ipywidgets 8 holds a tuple of dicts
    with ``"name"`` and ``"content"`` (a memoryview); ipywidgets 7 (Colab) a dict
    ``{name: {"metadata": {"name": ...}, "content": bytes}}``. Both are read here,
    whichever version is installed.
    """
    if not value:
        return []
    if isinstance(value, Mapping):  # ipywidgets 7
        return [(str(item.get("metadata", {}).get("name", name)), bytes(item["content"]))
                for name, item in value.items()]
    return [(str(item["name"]), bytes(item["content"])) for item in value]


def clear_upload(upload: W.FileUpload) -> None:
    """Empty ``upload.value``, so that uploading the same file again changes the value
    and is reported again (traitlets notifies observers of changes only).

    ipywidgets 8's ``value`` is assignable (an empty tuple); ipywidgets 7's is read-only
    (the widget rebuilds it from ``metadata`` and ``data`` when the front end bumps its
    counter), so it is reset to an empty dict with ``set_trait``. Observers see the empty
    value and should ignore it.
    """
    with upload.hold_trait_notifications():
        if IPYWIDGETS_MAJOR < 8:
            upload.set_trait("value", {})
        else:
            upload.value = ()


def send_files(upload: W.FileUpload, files: Sequence[tuple[str, bytes]]) -> None:
    """Upload ``files`` (``(name, bytes)`` pairs) to ``upload`` as a browser does, for
    scripts and tests that drive an app without a page.

    It hands the widget the very comm message its front end sends, bytes as binary
    buffers, in the installed version's format: ipywidgets 8 sends ``value`` (a list of
    files, each with its ``content``); ipywidgets 7 sends ``metadata``, ``data`` and a
    bumped ``_counter``, from which the widget builds its (read-only) ``value``.
    """
    now_ms = int(time.time() * 1000)
    names = [str(name) for name, _ in files]
    buffers = [memoryview(bytes(content)) for _, content in files]
    meta = [{"name": name, "type": mimetypes.guess_type(name)[0] or "", "size": buf.nbytes}
            for name, buf in zip(names, buffers)]
    if IPYWIDGETS_MAJOR < 8:
        state: dict[str, Any] = {"_counter": upload._counter + len(files),
                                 "metadata": [{**m, "lastModified": now_ms} for m in meta],
                                 "data": [None] * len(files), "error": ""}
        paths: list[list[Any]] = [["data", i] for i in range(len(files))]
    else:
        state = {"value": [{**m, "last_modified": now_ms, "content": None} for m in meta]}
        paths = [["value", i, "content"] for i in range(len(files))]
    upload._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": paths}},
                        "buffers": buffers})


def border_below(widget: W.Box, border: str) -> W.Box:
    """``widget`` with a CSS ``border`` (e.g. ``"1px solid #ddd"``) along its bottom edge.

    ipywidgets 8's ``Layout`` has ``border_bottom``; ipywidgets 7's has only ``border``
    (all four sides), and silently drops a keyword it does not know. So on 8 this sets
    ``widget.layout.border_bottom`` and returns ``widget``; on 7 it returns ``widget``
    in a ``VBox`` above a one-pixel rule of that border.
    """
    if IPYWIDGETS_MAJOR >= 8:
        widget.layout.border_bottom = border
        return widget
    rule = W.HTML(f"<div style='border-top:{border}'></div>", layout=W.Layout(height="1px", margin="0"))
    return W.VBox([widget, rule], layout=W.Layout(margin="0"))
