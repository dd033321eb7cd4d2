"""Check in a real, headless JupyterLab that each lesson's app renders *and responds*.

Running a notebook's kernel (nbval, the CLI) proves the Python side works; it says
nothing about whether a learner sees anything. The widget front ends (ipywidgets'
JupyterLab manager, anywidget) can be missing, disabled or broken while every cell
still runs green, and then the app is a blank space with no error text at all. So
this module drives the thing a learner uses:

- :func:`lab_session` starts ``jupyter lab`` from this venv on 127.0.0.1 (isolated
  config, data and runtime folders, so nothing is read from or written to the home
  folder) and Debian Chromium through Playwright, and cleans both up;
- :class:`LabSession` opens a notebook, runs it, waits for the kernel, counts widget
  outputs in the notebook model against widget views actually on screen, collects
  the console errors that betray a front-end failure ("Exception opening new comm",
  anywidget render errors), and takes screenshots;
- :data:`LESSONS` holds, per lesson, a tiny notebook that builds the lesson's app as
  the lesson notebook does, and a *recipe*: one learner action (arrow keys on a
  slider, a button, a click on a canvas) and a JS probe of something visible that
  must change in response; :func:`check_lesson` runs it and reports.

Playwright's sync API refuses to run inside a running asyncio loop (a Jupyter kernel's
thread): from a notebook, wrap the whole ``with lab_session(...)`` block in
:func:`browserml.tfjs_check.in_worker_thread`. Tests and ``tools.lab`` call it directly.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from browserml.paths import project_root

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: The lab extensions without which no app can render; checked when the server starts.
REQUIRED_EXTENSIONS: tuple[str, ...] = ("@jupyter-widgets/jupyterlab-manager", "anywidget")
#: Console text that means a widget front end failed (the view is then missing or partial).
FATAL_CONSOLE_PATTERNS: tuple[str, ...] = (
    "Exception opening new comm", "[anywidget]", "Error displaying widget", "Could not create a view",
    "Failed to load model class", "Could not create model", "Error rendering", "failed to activate",
)
VIEWPORT = {"width": 1280, "height": 1000}
ACTION_KINDS = ("slider", "drag", "select", "button", "canvas", "stroke", "tab", "wait")


class LabCheckError(RuntimeError):
    """JupyterLab or the browser could not do what the check needs (the message says what)."""


# --------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: JupyterLab user settings for a quiet, deterministic page: no "get news?" toast (it
#: would cover the app in screenshots), no update check, and every cell kept in the DOM
#: (no windowing), so a widget below the fold still renders and can be counted.
_LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _isolated_env(home: Path) -> dict[str, str]:
    """The server's (and so the kernel's) environment: Jupyter, IPython and matplotlib
    write only under ``home``; the venv's ``share/jupyter`` stays first on JUPYTER_PATH,
    so its kernelspec and the ipywidgets/anywidget lab extensions are still found; the
    project root is on PYTHONPATH so ``import browserml, widgets`` works in the kernel."""
    env = dict(os.environ)
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "mpl")):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    venv_share = str(Path(sys.prefix) / "share" / "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (venv_share, os.environ.get("JUPYTER_PATH", "")) if p)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project_root()), os.environ.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env.pop("JUPYTER_PREFER_ENV_PATH", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab"
    for rel, values in _LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return env


def _get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # only ever 127.0.0.1
        return response.read()


def page_config(base_url: str, token: str) -> dict[str, Any]:
    """The ``jupyter-config-data`` JSON that JupyterLab's page is served with (which
    lab extensions it will load, and which are disabled)."""
    html = _get(f"{base_url}/lab?token={token}").decode("utf-8")
    start = html.find('id="jupyter-config-data"')
    if start < 0:
        raise LabCheckError("JupyterLab's page has no jupyter-config-data")
    body_start = html.index(">", start) + 1
    return json.loads(html[body_start:html.index("</script>", body_start)])


def enabled_extensions(config: dict[str, Any]) -> set[str]:
    """Names of the federated (pip-installed) lab extensions the page will load."""
    disabled = config.get("disabledExtensions") or []
    disabled = set(disabled if isinstance(disabled, list) else [k for k, v in disabled.items() if v])
    return {e["name"] for e in config.get("federated_extensions", [])} - disabled


# --------------------------------------------------------------------------- JS run in the page

JS_DIR = Path(__file__).with_name("js")


def _js(name: str) -> str:
    """The page-side function in ``js/<name>.js`` (a JS expression Playwright evaluates)."""
    return (JS_DIR / f"{name}.js").read_text()


_JS_HELPERS = _js("page_helpers").replace("__WIDGET_MIME__", json.dumps(WIDGET_MIME))


#: How far (px) the app's visible content reaches past the right edge of its output area.
_OVERFLOW = _js("overflow")


#: What a learner would see wrong in the app's layout and colours (issue 14.4, 14.7): a
#: horizontal scrollbar inside it, a button whose label is cut short, a tooltip reading
#: "null", a chart picture stretched beyond its pixels (blurry),
#: a chart with an opaque background (a white slab on the dark theme), and text whose
#: contrast with what is behind it is under 3:1 (WCAG's floor for large text).
_DISPLAY_FAULTS = _js("display_faults")


def _boot(page: Any, timeout_ms: float, attempts: int = 3) -> None:
    """Wait until JupyterLab has restored in ``page``, and install the page helpers.

    JupyterLab may navigate once more while it starts (``?reset`` rewrites the URL and
    a busy server can make it reload), which destroys the context an ``evaluate`` runs
    in: then wait for the new page to load and try again."""
    for attempt in range(attempts):
        try:
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=timeout_ms)
            page.evaluate("async () => { await window.jupyterapp.restored; }")
            page.evaluate(_JS_HELPERS)
            return
        except Exception as err:
            if "Execution context was destroyed" not in str(err) or attempt == attempts - 1:
                raise
            page.wait_for_load_state("load", timeout=timeout_ms)


@dataclass
class LabSession:
    """A running JupyterLab server and a headless Chromium pointed at it.

    Made by :func:`lab_session`; every method takes the Playwright ``page`` of a
    notebook opened with :meth:`open_notebook`.
    """

    root: Path
    base_url: str
    token: str
    config_dir: Path
    log_path: Path
    browser: Any
    context: Any
    timeout_s: float = 120
    extensions: frozenset[str] = frozenset()
    _console: dict[int, list[str]] = field(default_factory=dict)
    _paths: dict[int, str] = field(default_factory=dict)
    _console_start: dict[int, int] = field(default_factory=dict)
    _spare: Any = None  # a booted JupyterLab page whose notebook was closed, for reuse
    _fresh_only: bool = False

    # ---- pages
    def url(self, rel_path: str) -> str:
        quoted = urllib.parse.quote(Path(rel_path).as_posix())
        return f"{self.base_url}/lab/tree/{quoted}?reset&token={self.token}"

    def open_notebook(self, rel_path: str | Path, timeout_s: float | None = None, reuse: bool = False) -> Any:
        """Open ``rel_path`` (relative to the server root); return the page once JupyterLab
        has restored and the notebook's kernel is ready and idle.

        ``reuse=True`` opens it in the page of a notebook closed with :meth:`close_page`
        if there is one (saves JupyterLab's ~5 s boot); console messages still count
        from this notebook's opening only.
        """
        rel = Path(rel_path).as_posix()
        if not (self.root / rel).is_file():
            raise FileNotFoundError(f"no notebook {rel} under the lab root {self.root}")
        timeout_ms = (timeout_s or self.timeout_s) * 1000
        page, self._spare = (self._spare, None) if reuse and not self._fresh_only else (None, self._spare)
        if page is not None and not page.is_closed():
            self._paths[id(page)] = rel
            self._console_start[id(page)] = len(self._console[id(page)])
            page.set_viewport_size(VIEWPORT)  # a screenshot may have enlarged it
            page.evaluate("async (p) => { await window.jupyterapp.commands.execute('docmanager:open', {path: p}); }",
                          rel)
        else:
            page = self.context.new_page()
            messages: list[str] = []
            self._console[id(page)] = messages
            self._console_start[id(page)] = 0
            self._paths[id(page)] = rel
            page.on("console", lambda m: messages.append(f"console.{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
            page.goto(self.url(rel), timeout=timeout_ms)
            _boot(page, timeout_ms)
        page.wait_for_function("p => window.__bml.panelFor(p) !== null", arg=rel, timeout=timeout_ms)
        page.evaluate("""async (p) => {
            const panel = window.__bml.panelFor(p);
            await panel.context.ready;
            await panel.sessionContext.ready;
            window.jupyterapp.shell.activateById(panel.id);
            if (window.jupyterapp.shell.collapseLeft) window.jupyterapp.shell.collapseLeft();
            if (window.jupyterapp.shell.collapseRight) window.jupyterapp.shell.collapseRight();
        }""", rel)
        self.wait_idle(page, timeout_s or self.timeout_s)
        return page

    def reopen(self, page: Any, timeout_s: float | None = None) -> None:
        """Close the notebook's tab, keeping its kernel, and open it again: what a learner
        gets after a page reload. The widget manager then restores every app from the
        live kernel, and JupyterLab gives the new view a new widget subshell (the old one
        is deleted with the closed tab)."""
        rel = self._path(page)
        page.evaluate("""async (p) => {
            const panel = window.__bml.panelFor(p);
            await panel.context.save();
            panel.dispose();
        }""", rel)
        page.wait_for_function("p => window.__bml.panelFor(p) === null", arg=rel)
        page.wait_for_timeout(500)
        self._spare = None if self._spare is page else self._spare
        self._paths[id(page)] = rel
        page.evaluate("async (p) => { await window.jupyterapp.commands.execute('docmanager:open', {path: p}); }", rel)
        page.wait_for_function("p => window.__bml.panelFor(p) !== null", arg=rel,
                               timeout=(timeout_s or self.timeout_s) * 1000)
        page.evaluate("""async (p) => {
            const panel = window.__bml.panelFor(p);
            await panel.context.ready;
            await panel.sessionContext.ready;
            window.jupyterapp.shell.activateById(panel.id);
        }""", rel)
        self.wait_idle(page, timeout_s or self.timeout_s)

    @contextlib.contextmanager
    def theme(self, page: Any, name: str = "JupyterLab Dark") -> Iterator[None]:
        """Show JupyterLab in theme ``name`` inside the block, then in its light theme again
        (the choice is a user setting: it would otherwise outlive the test)."""
        def switch(theme: str, light: bool) -> None:
            page.evaluate("async (t) => { await window.jupyterapp.commands.execute('apputils:change-theme', "
                          "{theme: t}); }", theme)
            page.wait_for_function("(l) => document.body.dataset.jpThemeLight === String(l)", arg=light)
            page.wait_for_timeout(500)  # the theme's CSS variables are applied

        switch(name, False)
        try:
            yield
        finally:
            switch("JupyterLab Light", True)

    def reload(self, page: Any, timeout_s: float | None = None) -> str:
        """Reload the browser page (the notebook's kernel lives on); return the selector of
        the last app once the widget manager has restored it from the kernel."""
        rel = self._path(page)
        timeout_ms = (timeout_s or self.timeout_s) * 1000
        page.reload(timeout=timeout_ms)
        _boot(page, timeout_ms)
        page.wait_for_function("p => window.__bml.panelFor(p) !== null", arg=rel, timeout=timeout_ms)
        page.evaluate("async (p) => { await window.__bml.panelFor(p).sessionContext.ready; }", rel)
        page.wait_for_function("p => window.__bml.lastWidget(p) !== null", arg=rel, timeout=timeout_ms)
        self.wait_idle(page, timeout_s or self.timeout_s)
        return self.last_widget_selector(page)

    def _path(self, page: Any) -> str:
        try:
            return self._paths[id(page)]
        except KeyError:
            raise LabCheckError("this page was not opened with LabSession.open_notebook") from None

    # ---- kernel
    def kernel_status(self, page: Any) -> str:
        """The notebook kernel's status as JupyterLab sees it ("idle", "busy", "starting", ...)."""
        return str(page.evaluate("""(p) => {
            const k = window.__bml.panelFor(p)?.sessionContext?.session?.kernel;
            return k ? k.status : 'no-kernel';
        }""", self._path(page)))

    def wait_idle(self, page: Any, timeout_s: float = 60, settle_s: float = 0.5) -> None:
        """Wait until the kernel has been idle for ``settle_s`` (one idle sample can fall
        between two queued cells), or raise :class:`LabCheckError` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        idle_since: float | None = None
        status = "?"
        while time.monotonic() < deadline:
            status = self.kernel_status(page)
            now = time.monotonic()
            if status == "idle":
                idle_since = idle_since or now
                if now - idle_since >= settle_s:
                    return
            else:
                idle_since = None
            page.wait_for_timeout(100)
        raise LabCheckError(f"kernel not idle after {timeout_s:.0f} s (status {status!r})")

    def run_all(self, page: Any, timeout_s: float | None = None) -> bool:
        """Run every cell; ``False`` when a cell raised (JupyterLab stops there)."""
        # Not awaited: under ipykernel 7.4 a cell that awaits a widget reply can lose its own
        # "idle" status, and then Run All's promise never settles although every cell ran.
        page.evaluate("() => { window.__browsermlRunAll = undefined; window.jupyterapp.commands"
                      ".execute('notebook:run-all-cells').then(ok => { window.__browsermlRunAll = ok; }); }")
        timeout = timeout_s or self.timeout_s
        # started, and either settled or every code cell has run (has an execution count)
        page.wait_for_function("() => window.__browsermlRunAll !== undefined || window.jupyterapp.shell.currentWidget"
                               ".content.model.sharedModel.cells.every(c => c.cell_type !== 'code' || "
                               "c.execution_count != null)", timeout=timeout * 1000, polling=250)
        self.wait_idle(page, timeout)
        ok = page.evaluate("window.__browsermlRunAll")
        if ok is None:  # unsettled: judge by the outputs instead
            ok = not page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells"
                                   ".some(c => (c.toJSON().outputs || []).some(o => o.output_type === 'error'))")
        return bool(ok)

    # ---- what the learner sees
    def widget_counts(self, page: Any) -> tuple[int, int]:
        """``(widget outputs in the notebook model, widget views rendered on screen)``:
        equal and positive when every widget output really rendered."""
        counts = page.evaluate("p => window.__bml.widgetOutputs(p)", self._path(page))
        return int(counts[0]), int(counts[1])

    def widget_errors(self, page: Any) -> list[str]:
        """Texts of widget outputs that show "Error displaying widget" instead of a view."""
        return list(page.evaluate("p => window.__bml.widgetOutputs(p)", self._path(page))[2])

    def console_errors(self, page: Any) -> list[str]:
        """Console errors and warnings and uncaught page errors seen on ``page`` since its
        notebook was opened."""
        return list(self._console.get(id(page), [])[self._console_start.get(id(page), 0):])

    def fatal_console_errors(self, page: Any) -> list[str]:
        """The console messages that mean a widget front end failed (see
        :data:`FATAL_CONSOLE_PATTERNS`), plus every uncaught page error."""
        return [m for m in self.console_errors(page)
                if m.startswith("pageerror:") or any(p in m for p in FATAL_CONSOLE_PATTERNS)]

    def last_widget_selector(self, page: Any) -> str:
        """A CSS selector for the notebook's last widget output (marked with a data attribute)."""
        found = page.evaluate("""(p) => {
            const node = window.__bml.lastWidget(p);
            if (!node) return false;
            document.querySelectorAll('[data-bml-target]').forEach((n) => n.removeAttribute('data-bml-target'));
            node.setAttribute('data-bml-target', '1');
            return true;
        }""", self._path(page))
        if not found:
            raise LabCheckError("the notebook shows no widget output")
        return "[data-bml-target='1']"

    def screenshot(self, page: Any, path: str | Path, selector: str | None = None) -> Path:
        """A PNG of the whole page, or of the first element matching ``selector``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if selector is None:
            page.screenshot(path=str(path))
        else:
            target = page.locator(selector).first
            overflow = page.evaluate(_OVERFLOW, selector)
            if overflow > 8:  # an app wider than the notebook would be cut off: widen the page
                width = min(page.viewport_size["width"] + int(overflow) + 40, 2400)
                page.set_viewport_size({"width": width, "height": page.viewport_size["height"]})
                page.wait_for_timeout(300)
            box = target.bounding_box()
            if box is not None and box["height"] + 200 > page.viewport_size["height"]:
                # a tall app would be clipped by the notebook's scroller: make the page taller
                page.set_viewport_size({"width": page.viewport_size["width"], "height": int(box["height"]) + 300})
                page.wait_for_timeout(300)
            target.scroll_into_view_if_needed()
            target.screenshot(path=str(path))
        return path

    def close_page(self, page: Any, keep: bool = False) -> None:
        """Close ``page``'s notebook and shut its kernel down (frees memory for the next
        lesson). ``keep=True`` keeps the booted page for the next ``open_notebook(...,
        reuse=True)`` instead of closing it."""
        rel = self._path(page)
        with contextlib.suppress(Exception):
            page.evaluate("""async (p) => {
                const panel = window.__bml.panelFor(p);
                if (!panel) return;
                await panel.sessionContext.shutdown();
                await panel.context.save();  // so closing asks nothing
                panel.dispose();
            }""", rel)
        self._paths.pop(id(page), None)
        if keep and not self._fresh_only and not page.is_closed():
            if self._spare is not None and self._spare is not page:
                self._discard(self._spare)
            self._spare = page
            return
        self._discard(page)

    def _discard(self, page: Any) -> None:
        with contextlib.suppress(Exception):
            page.close()
        self._console.pop(id(page), None)
        self._console_start.pop(id(page), None)
        self._paths.pop(id(page), None)

    # ---- configuration
    @contextlib.contextmanager
    def disabled_extensions(self, names: Sequence[str]) -> Iterator[None]:
        """Pages opened inside this block load JupyterLab without the ``names`` extensions
        (JupyterLab reads ``labconfig/page_config.json`` on every page load): a negative
        control, to prove a missing widget manager is detected."""
        path = self.config_dir / "labconfig" / "page_config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"disabledExtensions": dict.fromkeys(names, True)}))
        if self._spare is not None:  # booted with the extensions: not a page for this block
            self._discard(self._spare)
            self._spare = None
        self._fresh_only = True
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            self._fresh_only = False

    def server_log(self, last_lines: int = 60) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(lines[-last_lines:])


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """Stop the server and its kernels (its own process group), politely first."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def lab_session(root: Path, timeout_s: float = 120,
                required_extensions: Sequence[str] = REQUIRED_EXTENSIONS) -> Iterator[LabSession]:
    """Start JupyterLab on ``root`` and headless Chromium; yield a :class:`LabSession`.

    The server is this venv's ``jupyter lab`` on 127.0.0.1 (free port, fixed token, no
    news or extension-manager look-ups, so it works offline) with its config, data and
    runtime folders in a temporary directory. It must serve ``required_extensions``,
    or the session refuses to start (an app could never render). On exit, or on any
    error, the browser and the server with its kernels are stopped; an error raised
    inside carries the server log's tail.
    """
    from playwright.sync_api import sync_playwright

    from browserml.tfjs_check import launch_chromium

    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"lab root {root} is not a folder")
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="browserml-lab-") as tmp:
        home = Path(tmp)
        env = _isolated_env(home)
        port = _free_port()
        log_path = home / "server.log"
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
               "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly",
               "--LabApp.news_url=None", "--ServerApp.terminals_enabled=False"]
        base_url = f"http://127.0.0.1:{port}"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root,
                                    start_new_session=True)
        session: LabSession | None = None
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise LabCheckError(f"jupyter lab exited with code {proc.returncode}")
                try:
                    _get(f"{base_url}/api/status?token={token}", timeout=2)
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > deadline:
                        raise LabCheckError(f"jupyter lab did not answer within {timeout_s:.0f} s") from None
                    time.sleep(0.25)
            extensions = enabled_extensions(page_config(base_url, token))
            missing = [e for e in required_extensions if e not in extensions]
            if missing:
                raise LabCheckError(f"JupyterLab does not load the lab extension(s) {missing} (it has "
                                    f"{sorted(extensions)}); without them no widget renders. Reinstall "
                                    "ipywidgets/anywidget into this venv (`make setup`).")
            with sync_playwright() as p:
                browser = launch_chromium(p)
                try:
                    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
                    session = LabSession(root, base_url, token, home / "config", log_path, browser, context,
                                         timeout_s, frozenset(extensions))
                    yield session
                finally:
                    browser.close()
        except Exception as err:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:]) if log_path.exists() else ""
            if session is None:  # the server or the browser did not start
                raise LabCheckError(f"{err}\n--- jupyter lab log (tail) ---\n{tail}") from err
            err.add_note(f"--- jupyter lab log (tail) ---\n{tail}")  # keep the caller's exception type
            raise
        finally:
            _stop(proc)


# --------------------------------------------------------------------------- lessons


def scratch_notebook(cells: Sequence[str]) -> dict[str, Any]:
    """An nbformat-4 notebook of code ``cells`` using the venv's ``python3`` kernel."""
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                    "language": "python"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


@dataclass(frozen=True)
class Action:
    """One learner action on the app (the last widget output, ``el`` below).

    ``kind``:
    - ``"slider"``: focus the ``.noUi-handle`` of the slider labelled ``target`` and
      press ``key`` ``presses`` times (what a learner does with arrow keys);
    - ``"drag"``: drag the handle of the slider labelled ``target`` with the mouse by
      ``x`` (a fraction of the track's width, negative to the left), in ``presses`` steps;
    - ``"select"``: choose the option whose text is ``key`` in the dropdown labelled ``target``;
    - ``"button"``: click the button whose text is ``target``;
    - ``"canvas"``: click canvas number ``index`` (in page order, from 0) at ``(x, y)``;
    - ``"stroke"``: draw on canvas number ``index`` with the mouse, from ``(x, y)`` to
      ``(x + dx, y + dy)``, all as fractions of the canvas's size on screen;
    - ``"tab"``: click the tab titled ``target`` (an ``ipywidgets.Tab``);
    - ``"wait"``: let ``x`` seconds pass (e.g. while training runs, in a screenshot pose).

    A button may be found by its ``tooltip`` instead (icon-only buttons have no text).
    ``settle``: in a screenshot pose, wait afterwards for the kernel and the app to be
    quiet (off while something is meant to keep running, e.g. after Play).
    """

    kind: str
    target: str = ""
    key: str = "ArrowRight"
    presses: int = 1
    index: int = 0
    x: float = 0
    y: float = 0
    tooltip: str = ""
    settle: bool = True
    dx: float = 0
    dy: float = 0

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind {self.kind!r}; use one of {ACTION_KINDS}")
        if self.kind == "button" and not (self.target or self.tooltip):
            raise ValueError("a button action needs the button's text (target) or its tooltip")


@dataclass(frozen=True)
class LessonCheck:
    """How to show one lesson's app in a scratch notebook, and how to poke it.

    ``ready``, ``settled`` and ``probe`` are JS arrow functions of ``el`` (the app's
    widget output element). ``ready``: the first render is complete (e.g. background
    work drew its results); ``settled``: nothing is still being computed (for a fair
    screenshot); ``probe``: a string of something the learner sees, which ``action``
    must change.
    """

    lesson: int
    title: str
    source: str  # the widgets module the app lives in, relative to the project root
    cells: tuple[str, ...]
    action: Action
    probe: str
    ready: str = "el => true"
    settled: str = "el => true"
    timeout_s: float = 90
    #: screenshots only: actions that put the app in a telling state (train, pick a tab),
    #: each followed by waiting for the kernel and ``settled``
    pose: tuple[Action, ...] = ()

    def notebook_name(self) -> str:
        return f"lesson{self.lesson}_labcheck.ipynb"


def _setup_cell(import_line: str) -> str:
    """The lessons' set-up cell, cut down: by the time a lesson shows its app, earlier
    cells have run TensorFlow, so its one-off device probe (and, on a machine without a
    GPU, its CUDA complaint on stderr) lands here and not inside the app's output."""
    return ("import browserml\nimport tensorflow as tf\nfrom browserml.seeding import seed_everything\n"
            f"{import_line}\n\nseed_everything(0)\ntf.config.list_physical_devices();")


_LABEL_TEXTS = "[...el.querySelectorAll('.widget-label')].map((n) => n.textContent.trim())"
_BUTTON_ENABLED = "[...el.querySelectorAll('button')].some((b) => b.textContent.trim() === '%s' && !b.disabled)"
_UPLOAD_ENABLED = "[...el.querySelectorAll('button')].some((b) => b.textContent.trim().startsWith('%s') && !b.disabled)"
_BUSY_WORDS = "['working…', 'fitting UMAP', 'computing the UMAP', 'and running it…', 'Training…']"

#: Lesson 5's app cell, verbatim (tests check each line against the lesson notebook).
_PLAYGROUND_APP = """\
app = PlaygroundApp(pg.PlaygroundState(pg.PlaygroundConfig(dataset="spiral", features=pg.FEATURES, hidden=(6, 2),
                                                            learning_rate=0.1)))
app"""

#: Lesson 0's drawing for its screenshot: a bag (a box and a handle), in strokes.
_BAG = tuple(Action("stroke", x=x, y=y, dx=dx, dy=dy) for x, y, dx, dy in (
    (0.15, 0.40, 0.70, 0), (0.85, 0.40, 0, 0.45), (0.85, 0.85, -0.70, 0), (0.15, 0.85, 0, -0.45),
    (0.20, 0.55, 0.60, 0), (0.20, 0.70, 0.60, 0), (0.35, 0.40, 0, -0.22), (0.35, 0.18, 0.30, 0),
    (0.65, 0.18, 0, 0.22)))

#: Every lesson's app, built as its notebook builds it, with one learner action each.
LESSONS: dict[int, LessonCheck] = {
    0: LessonCheck(
        0, "Why ML in the browser: a classifier in the page", "widgets/intro.py",
        (_setup_cell("from widgets.intro import IntroApp"),
         "import tempfile\nfrom pathlib import Path\nfrom browserml import intro\n"
         "export = intro.export_classifier(intro.train_classifier(), Path(tempfile.mkdtemp()) / 'intro')",
         "app = IntroApp(export)\napp"),
        Action("stroke", x=0.2, y=0.5, dx=0.6),
        probe="el => [...el.querySelectorAll('.widget-html')].map((n) => n.textContent)"
              ".find((t) => t.trim().startsWith('page:')) || ''",
        ready="el => [...el.querySelectorAll('.widget-html')].some((n) => n.textContent.trim().startsWith('page:')) "
              "&& !!el.querySelector('.browserml-pageclf-bars')",
        pose=_BAG,
    ),
    1: LessonCheck(
        1, "Ops API: fit a polynomial", "widgets/polyfit.py",
        (_setup_cell("from widgets.polyfit import PolyfitApp"), "app = PolyfitApp()\napp"),
        Action("slider", "true x²", "ArrowRight", presses=4),
        probe="async el => await window.__bml.digestImg(el.querySelector('img.widget-image'))",
        ready="el => !!el.querySelector('img.widget-image[src]')",
        settled=f"el => {_BUTTON_ENABLED % 'Train'}",
        pose=(Action("button", "Train"),),
    ),
    2: LessonCheck(
        2, "Layers API: the Anomagram autoencoder", "widgets/anomaly.py",
        (_setup_cell("from widgets.anomaly import AnomalyApp"), "app = AnomalyApp()\napp"),
        Action("button", "+ layer"),
        probe=f"el => {_LABEL_TEXTS}.filter((t) => /^layer \\d+ units$/.test(t)).join('|')",
        ready="el => !!el.querySelector('img.widget-image[src]') && !!el.querySelector('canvas')",
        settled=f"el => {_BUTTON_ENABLED % 'Train'}",
        pose=(Action("button", "− layer"), Action("tab", "2 Train"), Action("button", "Train"),
              Action("tab", "3 Threshold")),
    ),
    3: LessonCheck(
        3, "ConvNet Playground: image search", "widgets/imagesearch.py",
        (_setup_cell("from widgets.imagesearch import ImageSearchApp"), "app = ImageSearchApp()\napp"),
        # the gallery is the first canvas: 40 px tiles with 6 px gaps, 14 a row; tile 17 = row 2, column 4
        Action("canvas", index=0, x=6 + 3 * 46 + 20, y=6 + 1 * 46 + 20),
        probe="el => [...el.querySelectorAll('.widget-html')].map((n) => n.textContent)"
              ".find((t) => t.startsWith('query #')) || ''",
        ready="el => [...el.querySelectorAll('.widget-html')].some((n) => n.textContent.startsWith('query #'))",
        # the app disables its controls (the upload button among them) until features *and* UMAP are done
        settled=f"el => !{_BUSY_WORDS}.some((w) => el.innerText.includes(w)) && "
                f"{_UPLOAD_ENABLED % 'Search with your image'}",
        timeout_s=150,
    ),
    4: LessonCheck(
        4, "handtrack.js: the hand detector", "widgets/handtrack.py",
        (_setup_cell("from widgets.handtrack import HandtrackApp"), "app = HandtrackApp()\napp"),
        Action("button", "astronaut waving"),
        probe="async el => [...el.querySelectorAll('.widget-html')].map((n) => n.textContent)"
              ".find((t) => t.includes(' detection')) + ' ' + "
              "await window.__bml.digestImg(el.querySelector('img.widget-image'))",
        ready="el => [...el.querySelectorAll('.widget-html')].some((n) => n.textContent.includes(' detection'))",
        settled=f"el => !{_BUSY_WORDS}.some((w) => el.innerText.includes(w)) && "
                f"{_UPLOAD_ENABLED % 'Upload a photo'}",
    ),
    5: LessonCheck(
        5, "TensorFlow Playground", "widgets/playground.py",
        (_setup_cell("from browserml import playground as pg\nfrom widgets.playground import PlaygroundApp"),
         _PLAYGROUND_APP),
        Action("button", tooltip="One epoch"),
        probe="async el => [...el.querySelectorAll('.widget-html')].map((n) => n.textContent)"
              ".find((t) => t.startsWith('Epoch')) + ' ' + "
              "(await Promise.all([...el.querySelectorAll('img.widget-image')].map(window.__bml.digestImg))).join(',')",
        ready="el => [...el.querySelectorAll('.widget-html')].some((n) => n.textContent.startsWith('Epoch'))",
        settled=f"el => {_BUTTON_ENABLED % 'Play'}",
        pose=(Action("button", "Play", settle=False), Action("wait", x=6, settle=False), Action("button", "Pause")),
    ),
}


@dataclass
class LessonResult:
    """What :func:`check_lesson` saw; :meth:`problems` is empty when the app rendered and responded."""

    lesson: int
    ran_ok: bool = False
    outputs_in_model: int = 0
    views_on_screen: int = 0
    before: str = ""
    after: str = ""
    widget_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    fatal_errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    failure: str = ""
    screenshot: Path | None = None
    interacted: bool = True
    #: layout and colour faults a learner would see (:data:`_DISPLAY_FAULTS`)
    display_faults: list[str] = field(default_factory=list)

    @property
    def rendered(self) -> bool:
        return (self.outputs_in_model > 0 and self.outputs_in_model == self.views_on_screen
                and not self.widget_errors and not self.fatal_errors)

    @property
    def responded(self) -> bool:
        return bool(self.before) and self.after != self.before

    def problems(self) -> list[str]:
        found = []
        if self.failure:
            found.append(self.failure)
        if not self.ran_ok:
            found.append("a cell raised when the notebook ran")
        if self.outputs_in_model == 0 or self.outputs_in_model != self.views_on_screen:
            found.append(f"{self.outputs_in_model} widget output(s) in the notebook but {self.views_on_screen} "
                         "rendered on screen")
        found += [f"widget output shows: {t}" for t in dict.fromkeys(self.widget_errors)]
        found += [f"browser console: {m[:300]}" for m in dict.fromkeys(self.fatal_errors)]
        found += [f"on screen: {f}" for f in dict.fromkeys(self.display_faults)]
        if self.interacted and not self.responded:
            found.append(f"the app did not respond to the learner's action (probe before {self.before[:80]!r}, "
                         f"after {self.after[:80]!r})")
        return found

    def summary(self) -> str:
        verdict = "ok" if not self.problems() else "FAIL: " + "; ".join(self.problems())
        times = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return (f"lesson {self.lesson}: {self.views_on_screen}/{self.outputs_in_model} widget views, "
                f"probe {self.before[:40]!r} -> {self.after[:40]!r} ({times}) {verdict}")


def _wait_js(page: Any, fn: str, el_selector: str, timeout_s: float, what: str) -> None:
    """Poll the JS predicate ``fn(el)`` (it may be async) until truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        if page.evaluate(f"async (s) => !!(await ({fn})(document.querySelector(s)))", el_selector):
            return
        if time.monotonic() > deadline:
            raise LabCheckError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        page.wait_for_timeout(200)


_SNAPSHOT = _js("snapshot")


def wait_stable(page: Any, selector: str, quiet_s: float = 1.0, timeout_s: float = 60) -> None:
    """Wait until the app's text and pictures have not changed for ``quiet_s``: a
    background job may re-enable its buttons a moment before its last redraw lands."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now_state = page.evaluate(_SNAPSHOT, selector)
        now = time.monotonic()
        if now_state != last:
            last, since = now_state, now
        elif now - since >= quiet_s:
            return
        page.wait_for_timeout(150)
    raise LabCheckError(f"the app kept changing for {timeout_s:.0f} s")


def _probe(page: Any, check: LessonCheck, selector: str) -> str:
    return str(page.evaluate(f"async (s) => String(await ({check.probe})(document.querySelector(s)))", selector))


def perform(page: Any, action: Action, selector: str) -> None:
    """Do ``action`` on the widget output matched by ``selector``, as a learner would."""
    el = page.locator(selector)
    if action.kind in ("slider", "drag"):
        slider = el.locator(".widget-slider", has=page.locator(".widget-label", has_text=action.target)).first
        handle = slider.locator(".noUi-handle").first
        handle.scroll_into_view_if_needed()
        if action.kind == "drag":
            track = slider.locator(".noUi-target").first.bounding_box()
            box = handle.bounding_box()
            if track is None or box is None:
                raise LabCheckError(f"the slider {action.target!r} is not on screen")
            x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x0, y0)
            page.mouse.down()
            page.mouse.move(x0 + action.x * track["width"], y0, steps=max(action.presses, 1))
            page.mouse.up()
        else:
            handle.focus()
            for _ in range(action.presses):
                handle.press(action.key)
                page.wait_for_timeout(50)
    elif action.kind == "select":
        dropdown = el.locator(".widget-dropdown", has=page.locator(".widget-label", has_text=action.target)).first
        dropdown.scroll_into_view_if_needed()
        dropdown.locator("select").select_option(label=action.key)
    elif action.kind == "button":
        enabled = "button.jupyter-button:not([disabled])"
        if action.tooltip:
            button = el.locator(f"{enabled}[title={json.dumps(action.tooltip)}]").first
        else:
            button = el.locator(enabled).filter(has_text=action.target).first
        button.scroll_into_view_if_needed()
        button.click()
    elif action.kind == "wait":
        page.wait_for_timeout(action.x * 1000)
    elif action.kind == "tab":
        tab = el.locator(".lm-TabBar-tab", has_text=action.target).first
        tab.scroll_into_view_if_needed()
        tab.click()
    elif action.kind == "stroke":
        canvas = el.locator("canvas").nth(action.index)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        if box is None:
            raise LabCheckError(f"canvas {action.index} is not on screen")
        x0, y0 = box["x"] + action.x * box["width"], box["y"] + action.y * box["height"]
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x0 + action.dx * box["width"], y0 + action.dy * box["height"], steps=10)
        page.mouse.up()
    else:  # canvas
        canvas = el.locator("canvas").nth(action.index)
        canvas.scroll_into_view_if_needed()
        canvas.click(position={"x": action.x, "y": action.y})


def display_faults(page: Any, selector: str) -> list[str]:
    """What looks wrong in the app on screen, in words (see :data:`_DISPLAY_FAULTS`)."""
    page.evaluate("() => document.fonts.ready")
    return list(page.evaluate(_DISPLAY_FAULTS, selector))


def write_scratch(root: Path, check: LessonCheck) -> Path:
    """Write ``check``'s scratch notebook into ``root``; returns its path."""
    path = Path(root) / check.notebook_name()
    path.write_text(json.dumps(scratch_notebook(check.cells), indent=1))
    return path


def check_lesson(session: LabSession, check: LessonCheck | int, screenshot: Path | None = None,
                 interact: bool = True, dark: bool = False) -> LessonResult:
    """Show a lesson's app in JupyterLab, count its views, act on it once, and report.

    ``screenshot`` (optional): where to save a PNG of the app, cropped to it, once
    the response has settled. ``dark``: show JupyterLab in its dark theme meanwhile. The
    app's :data:`display faults <_DISPLAY_FAULTS>` are collected once it has rendered. Failures
    of the browser steps land in ``failure`` rather than raising, so a report always comes back.
    """
    if isinstance(check, int):
        check = LESSONS[check]
    result = LessonResult(check.lesson, interacted=interact)
    t0 = time.monotonic()
    write_scratch(session.root, check)
    page = session.open_notebook(check.notebook_name(), reuse=True)
    theme = contextlib.ExitStack()
    try:
        if dark:  # JupyterLab's dark theme for this check, its light theme again after it
            theme.enter_context(session.theme(page))
        t1 = time.monotonic()
        result.seconds["open"] = t1 - t0
        result.ran_ok = session.run_all(page, check.timeout_s)
        try:
            selector = session.last_widget_selector(page)
            _wait_js(page, check.ready, selector, check.timeout_s, f"lesson {check.lesson}'s app to render")
            t2 = time.monotonic()
            result.seconds["render"] = t2 - t1
            result.outputs_in_model, result.views_on_screen = session.widget_counts(page)
            result.widget_errors = session.widget_errors(page)
            result.display_faults = display_faults(page, selector)
            if interact:
                _wait_js(page, check.settled, selector, check.timeout_s, "the app to finish its work")
                result.before = _probe(page, check, selector)
                perform(page, check.action, selector)
                changed = f"async (el) => String(await ({check.probe})(el)) !== {json.dumps(result.before)}"
                _wait_js(page, changed, selector, check.timeout_s, "the app to respond")
                session.wait_idle(page, check.timeout_s)
                _wait_js(page, check.settled, selector, check.timeout_s, "the app to settle")
                wait_stable(page, selector, timeout_s=check.timeout_s)
                result.after = _probe(page, check, selector)
                result.seconds["respond"] = time.monotonic() - t2
            if screenshot is not None:
                for step in check.pose:
                    perform(page, step, selector)
                    page.wait_for_timeout(300)
                    if not step.settle:
                        continue
                    session.wait_idle(page, check.timeout_s)
                    _wait_js(page, check.settled, selector, check.timeout_s, "the app to settle")
                    wait_stable(page, selector, quiet_s=1.5, timeout_s=check.timeout_s)
                _wait_js(page, check.settled, selector, check.timeout_s, "the app to settle")
                wait_stable(page, selector, quiet_s=1.5, timeout_s=check.timeout_s)
                page.evaluate("() => document.fonts.ready")
                page.wait_for_timeout(300)
                result.screenshot = session.screenshot(page, screenshot, selector)
        except Exception as err:  # noqa: BLE001 (reported, with whatever was measured so far)
            result.failure = f"{type(err).__name__}: {str(err).splitlines()[0]}"
            with contextlib.suppress(Exception):
                result.outputs_in_model, result.views_on_screen = session.widget_counts(page)
                result.widget_errors = session.widget_errors(page)
        result.console_errors = session.console_errors(page)
        result.fatal_errors = session.fatal_console_errors(page)
    finally:
        theme.close()
        session.close_page(page, keep=True)
    result.seconds["total"] = time.monotonic() - t0
    return result


# --------------------------------------------------------------------------- screenshots


def optimise_png(path: Path, max_width: int = 900, max_bytes: int = 150_000) -> int:
    """Shrink a screenshot for the README: at most ``max_width`` pixels wide, lossless
    if that fits ``max_bytes``, else a 256- (then 128-, 64-) colour palette, which
    widget screenshots (mostly flat colours) survive well. Returns the final size in
    bytes; raises when it is still over ``max_bytes``."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)  # lossless, when that already fits
    best = buf.getvalue()
    for colors in (256, 128, 64):
        if len(best) <= max_bytes:
            break
        # octree keeps small saturated areas (plot colours, legends) true; median cut
        # spends the palette on the large grey areas and shifts them
        buf = io.BytesIO()
        image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE).save(buf, format="PNG", optimize=True)
        best = buf.getvalue()
    if len(best) > max_bytes:
        raise LabCheckError(f"{path}: {len(best)} bytes even at 64 colours (limit {max_bytes})")
    Path(path).write_bytes(best)
    return len(best)


def lesson_screenshots(out_dir: Path, lessons: Sequence[int] | None = None,
                       report: Callable[[str], None] = print) -> list[LessonResult]:
    """Render each lesson's app in JupyterLab and save ``lesson{N}_widget.png`` in
    ``out_dir`` (cropped to the app, optimised). A lesson that fails its check gets no
    screenshot and a report line."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = [LESSONS[n] for n in (lessons or sorted(LESSONS))]
    results = []
    with tempfile.TemporaryDirectory(prefix="browserml-shots-") as tmp, lab_session(Path(tmp)) as session:
        for check in chosen:
            raw = Path(tmp) / f"lesson{check.lesson}_raw.png"
            result = check_lesson(session, check, screenshot=raw, interact=False)  # the lesson's own start state
            results.append(result)
            report(result.summary())
            if result.screenshot is not None and not result.problems():
                target = out_dir / f"lesson{check.lesson}_widget.png"
                shutil.copyfile(raw, target)
                size = optimise_png(target)
                report(f"  wrote {target} ({size / 1000:.0f} kB)")
    return results


__all__ = ["LESSONS", "Action", "LabCheckError", "LabSession", "LessonCheck", "LessonResult", "check_lesson",
           "lab_session", "lesson_screenshots", "optimise_png", "perform", "scratch_notebook", "wait_stable",
           "write_scratch"]
