"""View helpers every lesson's app shares: error capture, background work, figures,
and the few places where ipywidgets 7 and 8 differ.

The rules they enforce: a callback never fails silently (its exception lands in an
``Output`` the learner sees), long work runs off the kernel's main thread so Stop
and the sliders stay live, and figures are drawn with matplotlib's object API into
PNG bytes, which is safe from any thread and renders the same everywhere.

What a learner reads follows the page too: a chart is shown at the CSS size it was
drawn for and never stretched (:func:`show_figure`), tables say words, not Python
keys (:func:`html_table`), and HTML colours are JupyterLab's theme variables with a
light-theme fallback for front ends without them (:data:`INK`, :data:`INK_SOFT`,
:data:`RULE`), so nothing is dark grey on a dark page.

Every app runs on ipywidgets 8 (the project's lock) and on Google Colab's ipywidgets
7.7.1, which Colab's front end needs and the notebooks must not replace. Where the two
differ, the difference lives here, in one helper each (:func:`uploaded_files`,
:func:`clear_upload`, :func:`send_files`, :func:`border_below`), and nowhere else.
What needs no helper, because both versions take it alike: ``Button`` and
``ToggleButton`` ``tooltip=``, ``Tab.set_title``, ``Output.capture``, every other
``Layout`` key and ``style`` key the apps use, and anywidget's ``_esm`` string, its
``_css`` path, ``send``/``on_msg`` and ``initialize``/``render`` (anywidget 0.9 on Colab,
0.11 here). The front ends themselves are files, ``widgets/js/<name>.js`` and ``.css``,
read by :func:`front_end`.
"""

from __future__ import annotations

import functools
import math
import mimetypes
import re
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import ipywidgets as W
from ipywidgets.widgets.widget_description import DescriptionWidget

if TYPE_CHECKING:  # matplotlib loads only when a lesson draws a chart
    from browserml.figures import RenderedFigure

#: The installed ipywidgets' major version: 8 under the project's lock, 7 on Colab.
IPYWIDGETS_MAJOR = int(W.__version__.split(".")[0])


#: Text colour of JupyterLab's theme (light or dark), with the light theme's as fallback
#: where the variables are absent (Colab, VS Code, nbconvert).
INK = "var(--jp-ui-font-color1, #333)"
#: Secondary text (captions, units), the theme's softer grey.
INK_SOFT = "var(--jp-ui-font-color2, #666)"
#: Error text: the theme's error colour, readable on light and dark pages.
ERROR_INK = "var(--jp-error-color1, #b00020)"
#: CSS class of a picture that is data, not a chart (a photo, a heat map): opaque on
#: purpose, so the headless-JupyterLab check does not hold it to a chart's transparency.
PHOTO_CLASS = "browserml-photo"
#: Hairlines and borders.
RULE = "var(--jp-border-color2, #ddd)"
#: Where the anywidget front ends live: one ES module per widget (``<name>.js``, whose
#: ``render`` returns a cleanup function) and its styles (``<name>.css``).
JS_DIR = Path(__file__).with_name("js")


def _js_text(name: str) -> str:
    return (JS_DIR / name).read_text(encoding="utf-8")


#: ``theme.js``: ``themed(el, "--jp-ui-font-color1", "#333")``, the theme colour a canvas
#: draws with (a canvas cannot use ``var()``). :func:`front_end` inlines it where it is used.
THEMED_JS = _js_text("theme.js")


def front_end(name: str) -> str:
    """The ES module text of the front end ``widgets/js/<name>.js``, for an anywidget's ``_esm``.

    A front end that calls ``themed(...)`` gets ``theme.js`` inlined before it: anywidget
    loads ``_esm`` from a blob URL, where an ``import "./theme.js"`` has nothing to resolve
    against, so the shared helper travels as text. Its styles go in ``_css`` as a path
    (``JS_DIR / "<name>.css"``), which anywidget 0.9 (Colab) and 0.11 both read.
    """
    source = _js_text(f"{name}.js")
    return THEMED_JS + source if "themed(" in source else source


def figure_image(**layout: Any) -> W.Image:
    """An ``Image`` for :func:`show_figure`: never wider than its container, its height
    following its width, so a chart shrinks to a narrow column instead of adding a
    horizontal scrollbar."""
    layout.setdefault("margin", "2px 0")  # no side margins: 100% plus a margin is a scrollbar
    return W.Image(format="png", layout=W.Layout(max_width="100%", height="auto", **layout))


def show_figure(image: W.Image, fig: Any) -> RenderedFigure:
    """Show a matplotlib ``Figure`` in ``image`` at the size it was drawn for.

    The PNG has :data:`browserml.figures.DENSITY` device pixels per CSS pixel and the
    image is given the figure's CSS width (``max-width: 100%`` lets it shrink, nothing
    lets it grow), so it is sharp on any screen and never a small PNG stretched up.
    """
    from browserml.figures import render_png

    shown = render_png(fig)
    with image.hold_sync():
        image.format = shown.format
        image.value = shown.data
        image.layout.width = f"{shown.width_px}px"
        image.layout.max_width = "100%"
        image.layout.height = "auto"
    return shown


#: Held while any app callback runs: callbacks run one at a time, whichever thread the
#: kernel delivers them on (see :func:`captured`).
CALLBACK_LOCK = threading.RLock()


def captured(output: W.Output) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a callback so anything it prints or raises shows in ``output``, and so
    that it never runs alongside another app callback.

    ipywidgets swallows exceptions raised in callbacks into the browser console,
    where a learner never looks; ``Output.capture`` puts them under the app.

    Why the lock: JupyterLab 4.6 sends widget messages over a kernel *subshell*, and
    ipykernel 7.4 answers each comm on the thread it last published from, so two
    callbacks can run at once on two threads. ``Output.capture`` is not made for that:
    it keeps one ``msg_id`` and a nesting counter, so when the two overlap the ``msg_id``
    of the callback that finished first stays set. The page's Output widget then
    swallows every message with that parent, its "idle" status among them, and the
    control that sent it waits for that "idle" for ever: ipywidgets buffers each later
    value and never sends it (lesson 2's threshold slider froze that way after a change
    of ``k``). Taking the lock *before* the capture keeps captures strictly nested.
    """
    capture = output.capture(clear_output=True)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        inside = capture(fn)

        @functools.wraps(fn)
        def one_at_a_time(*args: Any, **kwargs: Any) -> Any:
            with CALLBACK_LOCK:
                return inside(*args, **kwargs)

        return one_at_a_time

    return decorate


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
            except Exception as err:  # noqa: BLE001 - any job's error is shown to the learner in words
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


S = TypeVar("S")


class LatestWins(Generic[S]):
    """Run ``job(settings)`` off the kernel's thread, one job at a time, where only the
    newest settings matter.

    Why: a learner moves a slider or clicks through pickers faster than a model loads or
    features are extracted. Queueing every change would replay each stale setting in
    turn (the app lags by minutes behind the hand that moved it); running them side by
    side would race on the lesson's state. So while a job runs, :meth:`submit` only
    remembers the newest settings (an earlier one still waiting is dropped, never run);
    when the job ends, that newest one runs next in the same thread, and the worker goes
    idle only when nothing waits. Lessons 3 and 4 use it for everything slow.

    The settings and result of the last job that ran to the end are memoised
    (:attr:`settings`, :attr:`result`): submitting the same settings again while idle
    runs nothing. A failed job forgets the memo, since what it left on screen is unknown.

    A failure is reported once no newer settings wait (a stale failure is not worth a
    learner's attention): to ``on_error(err)`` when given (it may re-raise), else raised.
    Whatever escapes in the background thread lands in ``errors`` in words, as
    :class:`BackgroundJob` does (``Output.capture`` does not reach across threads); run
    in the caller's thread it propagates to the caller, whose ``guarded`` callback shows it.

    ``on_busy(True)`` runs before a job that is not ``quick`` starts, and
    ``on_busy(False)`` when the worker goes idle again, under the worker's lock, so that a
    :meth:`submit` arriving meanwhile sees the worker busy or idle, never in between (the
    apps disable their controls with it). ``background=False`` runs jobs in the caller's
    thread (tests, scripts).
    """

    def __init__(self, job: Callable[[S], Any], *, errors: W.HTML | None = None,
                 on_busy: Callable[[bool], Any] | None = None,
                 on_error: Callable[[BaseException], Any] | None = None, background: bool = True) -> None:
        self.job = job
        self.errors = errors
        self.on_busy = on_busy
        self.on_error = on_error
        self.background = background
        self.thread: threading.Thread | None = None
        self.settings: S | None = None  # of the last job that ran to the end (the memo) ...
        self.result: Any = None  # ... and what it returned
        self._memo = False  # whether settings/result hold a finished job's
        self._busy = False
        self._waiting: tuple[S] | None = None  # the newest settings submitted while busy
        self._lock = threading.RLock()  # re-entrant: on_busy(False) runs under it

    @property
    def running(self) -> bool:
        """Whether a job is running (in any thread) or settings wait to run."""
        with self._lock:
            return self._busy

    def submit(self, settings: S, *, quick: bool = False) -> bool:
        """Ask for ``job(settings)``; returns False when nothing will run (these are the
        memoised settings and no job is running), else True.

        While a job runs, ``settings`` wait to run after it, replacing any waiting before
        them. Otherwise the job starts at once: in a background thread, or in the
        caller's thread when the worker was built with ``background=False`` or when
        ``quick`` (the caller knows it is cheap now, its slow parts memoised elsewhere: no
        thread, no ``on_busy``, so nothing flickers).
        """
        with self._lock:
            if self._busy:
                self._waiting = (settings,)
                return True
            if self._memo and bool(self.settings == settings):
                return False
            self._busy = True
        announce = not quick
        if announce and self.on_busy is not None:
            self.on_busy(True)
        if quick or not self.background:
            self._run(settings, announce)
            return True
        previous = self.thread
        if previous is not None and previous is not threading.current_thread():
            previous.join()  # it went idle and is past its last step: let it report before the next starts
        self.thread = threading.Thread(target=self._in_background, args=(settings, announce), daemon=True)
        self.thread.start()
        return True

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background thread, and so for every settings waiting (tests, scripts)."""
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def _in_background(self, settings: S, announce: bool) -> None:
        if self.errors is not None:
            self.errors.value = ""
        try:
            self._run(settings, announce)
        except Exception as err:  # shown to the learner, never swallowed
            if self.errors is None:
                raise
            last = traceback.format_exception_only(type(err), err)[-1].strip()
            self.errors.value = error_html(RuntimeError(last))

    def _run(self, settings: S, announce: bool) -> None:
        """Run the job, then whatever settings arrived meanwhile, newest only; then report."""
        while True:
            failure: BaseException | None = None
            try:
                result = self.job(settings)
            except Exception as err:  # noqa: BLE001  (reported below, once no newer settings wait)
                failure = err
            with self._lock:
                if failure is None:
                    self.settings, self.result, self._memo = settings, result, True
                else:
                    self.settings, self.result, self._memo = None, None, False
                if self._waiting is not None:
                    (settings,), self._waiting = self._waiting, None
                    continue
                self._busy = False
                if announce and self.on_busy is not None:
                    self.on_busy(False)
            break
        if failure is None:
            return
        if self.on_error is None:
            raise failure
        self.on_error(failure)


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


#: How the project's column keys read in a table: acronyms and units a plain
#: ``replace("_", " ")`` would get wrong. Any other key reads as its words.
HEADERS: dict[str, str] = {
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "f1": "F1",
    "tpr": "true positive rate", "tnr": "true negative rate",
    "fpr": "false positive rate", "fnr": "false negative rate",
    "max_abs_diff": "max |Δ| vs Python", "latency_ms": "latency (ms)",
    "python_latency_ms": "Python latency (ms)", "n_runs": "timed runs", "ok": "OK",
    "least_squares": "least squares",
}


def readable_header(key: str) -> str:
    """A column key as a learner reads it: ``"max_abs_diff"`` → ``"max |Δ| vs Python"``,
    ``"tensors_leaked"`` → ``"tensors leaked"``, ``"load_ms"`` → ``"load (ms)"``."""
    key = str(key)
    if key in HEADERS:
        return HEADERS[key]
    if key.endswith("_ms"):
        return f"{key[:-3].replace('_', ' ')} (ms)"
    return key.replace("_", " ")


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "—" if math.isnan(value) else fmt.format(value)  # NaN reads as "no value", never "nan"
    return _escape(str(value))


def html_table(rows: Sequence[Mapping[str, Any]], fmt: str = "{:.4f}",
               headers: Mapping[str, str] | None = None) -> str:
    """A small HTML table from a list of dicts: floats formatted with ``fmt``, ``None``
    and NaN as "—", booleans as yes/no, and each key as :func:`readable_header` says
    (or as ``headers`` maps it)."""
    if not rows:
        return ""
    names = {**{k: readable_header(k) for k in rows[0]}, **(headers or {})}
    head = "".join(f"<th style='padding:2px 8px;text-align:left'>{_escape(names[k])}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px;text-align:right'>{_cell(v, fmt)}</td>"
                         for v in r.values()) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def readable_table(rows: Sequence[Mapping[str, Any]], fmt: str = "{:.4f}",
                   headers: Mapping[str, str] | None = None) -> Any:
    """:func:`html_table` as a notebook output: ``readable_table(run.table())`` as a cell's
    last line shows a table in words where ``print(row_dict)`` showed Python keys."""
    from IPython.display import HTML

    return HTML(html_table(rows, fmt, headers))


def flex_row(*parts: str, gap: str = "24px") -> str:
    """HTML blocks side by side, wrapping on a narrow page, each at its own natural
    height (``align-items: flex-start``: a flex row otherwise stretches a short table's
    rows to the height of its tallest neighbour)."""
    return (f"<div style='display:flex;flex-wrap:wrap;gap:{gap};align-items:flex-start'>"
            + "".join(parts) + "</div>")


def explain_labels(*roots: W.Widget) -> None:
    """Give every labelled control under ``roots`` a tooltip: its own, or else its label.

    Why: ipywidgets 8.1's front end sets a control's label ``title`` to the model's
    ``tooltip`` as it is, so every slider or dropdown without one says "null" on hover
    (the headless-JupyterLab check looks for that). ipywidgets 7 shows the label there.
    Call it on an app's root once it is built, and on controls made later.
    """
    if IPYWIDGETS_MAJOR < 8:
        return
    stack = list(roots)
    while stack:
        widget = stack.pop()
        stack.extend(getattr(widget, "children", ()) or ())
        if isinstance(widget, DescriptionWidget) and widget.description and not widget.tooltip:
            widget.tooltip = re.sub(r"<[^>]+>", "", widget.description)


def wrapping_row(children: Sequence[W.Widget], **layout: Any) -> W.HBox:
    """An ``HBox`` whose children move to the next line when the page is too narrow for
    them, instead of being clipped behind a horizontal scrollbar (each child keeps its
    natural width: ``flex: 0 0 auto``)."""
    for child in children:
        if isinstance(child, W.DOMWidget) and not child.layout.flex:
            child.layout.flex = "0 0 auto"
    return W.HBox(list(children), layout=W.Layout(flex_flow="row wrap", align_items="flex-start", **layout))


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
    return f"<span style='color:{ERROR_INK}'>⚠ {_escape(str(err) or type(err).__name__)}</span>"


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


def set_tooltip(widget: W.DOMWidget, text: str) -> W.DOMWidget:
    """Give ``widget`` a hover tooltip, and return it (ipywidgets 8 shows a missing one as "null").

    ipywidgets 8 names it ``tooltip`` on every widget; 7 has ``tooltip`` on ``Button`` and
    ``ToggleButton`` only and ``description_tooltip`` on the rest (an upload, a slider, a
    progress bar), and silently drops a keyword it does not know, so set it here.
    """
    if IPYWIDGETS_MAJOR >= 8 or widget.has_trait("tooltip"):
        widget.tooltip = text
    else:
        widget.description_tooltip = text
    return widget
