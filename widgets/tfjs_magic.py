"""``%%tfjs``: a notebook cell of TF.js that runs in the learner's own page.

Load it once (each lesson's Setup cell does)::

    %load_ext widgets.tfjs_magic

then write JavaScript with ``tf`` in scope and ``return`` what Python should get::

    %%tfjs --backend wasm --out y
    const x = tf.tensor([1, 2, 3]);
    return tf.tidy(() => x.square().sum());

The footer shows where it ran, on which backend, how long it took, and
``tf.memory().numTensors`` before and after (``_tfjs`` holds the whole
:class:`~browserml.inbrowser.cell.CellResult`; ``--out y`` also stores the value in ``y``).

How a cell that waits for the page can work at all: a cell magic is an ordinary function,
and while it runs the kernel reads no widget message, so the page's answer could never
arrive. This module therefore also adds an input transformer that turns a ``%%tfjs`` cell
into ``await __browserml_tfjs__(line, code)``: IPython runs a cell containing ``await``
as a coroutine, and ipykernel 7.4 reads widget messages while a cell awaits
(:mod:`browserml.inbrowser.job`). On older kernels (Colab's ipykernel 6) the answer
appears in the cell once the cell has ended, and ``_tfjs`` fills in then.

With no page (nbval, a plain kernel, ``BROWSERML_BROWSER_RUNTIME=off``) the cell runs
under Node with npm ``@tensorflow/tfjs`` when Node is installed, and says so; with
neither, it says that too. The pure half (options, results, Node) is
:mod:`browserml.inbrowser.cell`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import ipywidgets as W
from IPython.display import display

from browserml.inbrowser.bundle import BrowserRuntimeError, browser_runtime_off
from browserml.inbrowser.cell import (
    USAGE,
    CellRequest,
    CellResult,
    CellUsageError,
    node_available,
    run_cell_in_node,
)
from browserml.inbrowser.job import NO_FRONT_END

_RUNNING: set[asyncio.Future[Any]] = set()
#: The name the transformed cell calls (put in the user's namespace on load).
ENTRY = "__browserml_tfjs__"
MAGIC = "%%tfjs"
PAGE_LATER = ("sent to the page: its answer shows here once this cell has ended (this kernel reads "
              "widget messages only between cells), and _tfjs fills in then")
NO_PAGE_NO_NODE = ("no page answered and Node is not installed here, so this TF.js cell did not run "
                   "(open the notebook in JupyterLab, or install Node for the fallback)")


def rewrite_tfjs_cell(lines: list[str]) -> list[str]:
    """IPython input transformer: a ``%%tfjs`` cell becomes one awaited call (see the module
    docstring); every other cell, and ``%%tfjs?``, is left alone."""
    if not lines or not lines[0].startswith(MAGIC):
        return lines
    rest = lines[0][len(MAGIC):]
    if rest.strip() and not rest[0].isspace():
        return lines
    code = "".join(lines[1:])
    return [f"await {ENTRY}({rest.strip()!r}, {code!r})\n"]


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


def _store(request: CellRequest, result: CellResult, namespace: dict[str, Any]) -> None:
    """``_tfjs`` is the result; ``--out NAME`` is its value, or ``None`` until there is one
    (so a later cell can test it rather than meet a NameError)."""
    namespace["_tfjs"] = result
    if request.out:
        namespace[request.out] = result.value if result.ok else None


def _choose(request: CellRequest) -> str:
    """"page" or "node" for this cell; ``auto`` prefers a connected (or connecting) page."""
    if request.where != "auto":
        return request.where
    if browser_runtime_off():
        return "node"
    from widgets.browser_runtime import _SHARED

    if _SHARED is not None and _SHARED.page is None and _SHARED.status == NO_FRONT_END:
        return "node"  # a page was waited for once already, and none came
    return "page"


def _expand(line: str, namespace: dict[str, Any]) -> str:
    """``{name}`` and ``$name`` in the magic's line, as IPython expands them for any magic
    (``--model {export}``); a line that does not expand is used as written."""
    from IPython.utils.text import DollarFormatter

    try:
        return DollarFormatter().vformat(line, args=[], kwargs=namespace)
    except Exception:  # noqa: BLE001 (IPython's var_expand does the same: the line as written)
        return line


async def _node(request: CellRequest, scope: dict[str, Any]) -> CellResult:
    if not node_available():
        result = CellResult(request, error=NO_PAGE_NO_NODE, status=NO_PAGE_NO_NODE)
        return result
    # in a thread, so the kernel keeps reading widget messages while Node works
    return await asyncio.to_thread(run_cell_in_node, request, scope)


async def run_tfjs_cell(line: str, code: str, namespace: dict[str, Any] | None = None) -> CellResult | None:
    """Run one ``%%tfjs`` cell and show its answer; returns the result (``None`` when the
    options were refused, which prints one line naming the problem)."""
    namespace = _shell().user_ns if namespace is None else namespace
    try:
        request = CellRequest.parse(_expand(line, namespace), code)
        scope = request.scope(namespace)
    except CellUsageError as err:
        print(f"{err}\n\n{USAGE}", file=sys.stderr)
        return None
    if _choose(request) == "node":
        ran = await _node(request, scope)
        _store(request, ran, namespace)
        display(ran)
        return ran
    from widgets.browser_runtime import shared_runtime

    view = W.HTML(f"<i>sending the cell to the page ({request.backend})…</i>")
    display(view)
    try:
        job = shared_runtime().eval(request, scope)
    except BrowserRuntimeError as err:
        view.value = f"<pre>{err}</pre>"
        return None

    def show(value: CellResult) -> None:
        view.value = value.html()
        _store(request, value, namespace)

    job.add_done_callback(show)
    result: CellResult = await job
    if not result.answered and result.error == NO_FRONT_END and request.where == "auto":
        result = await _node(request, scope)
        show(result)
        display(result)  # plain text too, for front ends that show no widgets
    elif not result.done:  # ipykernel < 7.4 reads the page's answer only after the cell
        view.value = f"<i>{PAGE_LATER}</i>"
        _store(request, result, namespace)
    return result


async def _entry(line: str, code: str) -> None:
    """What a transformed cell awaits: the answer is shown and kept in ``_tfjs``, and the
    cell itself returns nothing (so it is not shown twice as ``Out[n]``)."""
    await run_tfjs_cell(line, code)


def tfjs(line: str, cell: str) -> None:
    """Run TF.js in this notebook's page (see ``%%tfjs?``)."""
    # Reached only where the input transformer is not active (e.g. run_cell_magic);
    # with no loop to await on, the page's answer shows when the cell has ended.
    coro = run_tfjs_cell(line, cell)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    task = asyncio.ensure_future(coro)
    _RUNNING.add(task)  # a task nobody references may be collected before it ends
    task.add_done_callback(_RUNNING.discard)


tfjs.__doc__ = f"Run TF.js in this notebook's page.\n\n{USAGE}"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext widgets.tfjs_magic``: the cell magic, its transformer, and its entry."""
    ipython.register_magic_function(tfjs, "cell", "tfjs")
    transforms = ipython.input_transformers_cleanup
    if rewrite_tfjs_cell not in transforms:
        transforms.append(rewrite_tfjs_cell)
    ipython.user_ns[ENTRY] = _entry


def unload_ipython_extension(ipython: Any) -> None:
    transforms = ipython.input_transformers_cleanup
    if rewrite_tfjs_cell in transforms:
        transforms.remove(rewrite_tfjs_cell)
    ipython.user_ns.pop(ENTRY, None)
