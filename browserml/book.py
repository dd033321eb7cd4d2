"""``make book``: the course as a static HTML site, with every output, built offline.

    browserml book                       # every lesson into build/book/ (index.html first)
    browserml book --only 01 05          # only the lessons whose file name contains 01 or 05

Each lesson notebook runs top to bottom in a fresh kernel of this Python, from its own
folder (as nbval and JupyterLab run it), with the in-page runtime switched off
(``BROWSERML_BROWSER_RUNTIME=off``): ``%%tfjs`` cells run under Node and the in-page demos
show their Python-side numbers. The executed copy lives in memory only; nothing is
written back into ``notebooks/``. Each lesson becomes one HTML page (nbconvert's lab
template, its pictures inside the page) and ``index.html`` lists them by title.

What a static page cannot hold is replaced in the page, never in the notebook: an app
(an ipywidgets view needs a running kernel) becomes the lesson's picture from
``notebooks/images/`` (``make screenshots``) with a line saying where to use it, a progress
bar becomes its last line, any other widget becomes a line saying it was there, and a link
to another lesson's notebook points to its page. The pages load nothing from the
repository; from the network only MathJax, where a lesson has formulas (without it they
read as TeX), and the Colab and Binder badges.

The site is swapped in whole (:func:`browserml.atomic.atomic_directory`): a build that
fails leaves the previous book, and says in one line which notebook and which cell failed.
Each kernel's own stderr goes to ``<out>-logs/<lesson>.log``, not to the build's output.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from browserml.paths import project_root

#: What the kernels see: no page will ever connect, so in-page jobs answer at once with
#: their fallback (Node for ``%%tfjs``, Python's numbers for the demos) instead of waiting.
KERNEL_ENV = {"BROWSERML_BROWSER_RUNTIME": "off"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: A lesson: two digits, an underscore, a name (``00_why_ml_in_the_browser.ipynb``).
LESSON_FILE = re.compile(r"^(\d\d)_[\w-]+\.ipynb$")
#: The cell that builds a lesson's app (``app = PolyfitApp()`` ...): its widget becomes the picture.
APP_CELL = re.compile(r"^app = \w+App\(", re.M)

APP_NOTE = ("This is a picture of the lesson's app: the app itself needs a running Python kernel. "
            "Open the lesson in JupyterLab, Binder or Colab to use it.")
WIDGET_NOTE = ("An interactive widget was shown here: it needs a running Python kernel. "
               "Open the lesson in JupyterLab, Binder or Colab to see it.")
ABOUT = ("Every lesson of the course, run top to bottom with its outputs. This copy was built "
         "without a browser page: the TF.js cells (<code>%%tfjs</code>) ran under Node, the "
         "demos that run in your own page show Python's side of the numbers, and each app is a "
         "picture. To run the lessons and use the apps, open them in JupyterLab, Binder or Colab.")


class BookError(RuntimeError):
    """The book could not be built; the message is one line naming the notebook and cell."""


@dataclass
class Page:
    """One lesson of the book."""

    notebook: Path  # the source notebook (read, never written)
    title: str  # its H1, e.g. "Lesson 1: Fitting a polynomial with the Ops API"
    seconds: float | None = None  # how long it took to run, once built
    images: set[Path] = field(default_factory=set)  # pictures the page uses, copied into images/

    @property
    def html_name(self) -> str:
        return self.notebook.with_suffix(".html").name


# --------------------------------------------------------------------------- reading


def lesson_notebooks(folder: Path, only: Sequence[str] = ()) -> list[Path]:
    """The lessons in ``folder``, in order; with ``only``, those whose name contains one of them."""
    found = sorted(p for p in folder.glob("*.ipynb") if LESSON_FILE.match(p.name))
    return [p for p in found if not only or any(o in p.name for o in only)]


def title_of(nb: Any, fallback: str) -> str:
    """The notebook's H1 (its first ``# `` line), or ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _one_line(text: str, limit: int = 200) -> str:
    said = "; ".join(line.strip() for line in str(text).splitlines() if line.strip())
    return said if len(said) <= limit else said[:limit - 1] + "…"


# --------------------------------------------------------------------------- running


def execute(path: Path, timeout_s: float = 900, log: Path | None = None) -> tuple[Any, float]:
    """Run the notebook at ``path`` top to bottom in a fresh kernel, in memory.

    Returns the executed notebook and the seconds it took. Raises :class:`BookError`, one
    line naming the notebook and the cell, when a cell fails, times out or the kernel dies.
    ``path`` itself is only read. The kernel's stderr goes to ``log`` (or nowhere).
    """
    import nbclient
    import nbformat

    class Client(nbclient.NotebookClient):  # remembers which cell is running
        current = -1

        async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
            self.current = cell_index
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)

    nb = nbformat.read(path, as_version=4)
    client = Client(nb, timeout=int(timeout_s), kernel_name="python3", allow_errors=False,
                    resources={"metadata": {"path": str(path.parent)}})
    env = dict(os.environ, **KERNEL_ENV)
    started = time.monotonic()
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log if log is not None else os.devnull, "w", encoding="utf-8") as stderr:
        try:
            client.execute(env=env, stderr=stderr)
        except Exception as exc:  # a failing cell, a timeout, a dead kernel: one line
            raise BookError(_failure(path, nb, client.current, exc, log)) from exc
    return nb, time.monotonic() - started


def _failure(path: Path, nb: Any, index: int, exc: BaseException, log: Path | None) -> str:
    ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    if evalue is None:
        evalue = str(exc)
    where = "before its first cell"
    if 0 <= index < len(nb.cells):
        first = next((line for line in nb.cells[index].source.splitlines() if line.strip()), "")
        where = f"cell {index + 1} of {len(nb.cells)} ({_one_line(first, 60)!r})"
    tail = f" (kernel log: {log})" if log is not None else ""
    return f"{path.name}: {where} failed: {ename}: {_one_line(evalue)}{tail}"


# --------------------------------------------------------------------------- making it static


def app_picture(notebook: Path) -> Path | None:
    """The picture of a lesson's app (``images/lessonN_widget.png`` beside the notebook), if any."""
    match = LESSON_FILE.match(notebook.name)
    picture = notebook.parent / "images" / f"lesson{int(match.group(1))}_widget.png" if match else None
    return picture if picture is not None and picture.is_file() else None


def staticize(nb: Any, picture: Path | None = None) -> set[Path]:
    """Make the executed ``nb`` (in memory) fit a static page; returns the pictures it uses.

    The widget view of the cell that builds the app (``app = ...App(...)``) becomes
    ``picture``; a progress bar (tqdm's) becomes its last line of text; any other widget
    view becomes a line saying a widget was there. The widget state, which only a live
    widget manager could use, is dropped.
    """
    widgets = nb.metadata.pop("widgets", None) or {}
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    used: set[Path] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_MIME)
            if view is None:
                outputs.append(out)
                continue
            progress = progress_text(state, view.get("model_id", ""))
            if picture is not None and APP_CELL.search(cell.source) and picture not in used:
                used.add(picture)
                body = (f'<figure class="book-app"><img src="images/{picture.name}" alt="the lesson\'s app">'
                        f"<figcaption>{APP_NOTE}</figcaption></figure>")
                text = APP_NOTE
            elif progress is not None:
                body, text = f"<pre>{html.escape(progress)}</pre>", progress
            else:
                body, text = f'<p class="book-widget"><em>{WIDGET_NOTE}</em></p>', WIDGET_NOTE
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"text/html": body, "text/plain": text}})
        cell["outputs"] = outputs
    return used


def progress_text(state: dict[str, Any], model_id: str) -> str | None:
    """A progress bar's last state as one line of text (``features: 100% ██████████ 200/200 ...``),
    or ``None`` when the widget is not a progress bar (a box holding a ``*ProgressModel``)."""
    box = state.get(model_id, {})
    if box.get("model_name") != "HBoxModel":
        return None
    children = [state.get(str(c).removeprefix("IPY_MODEL_"), {}) for c in box.get("state", {}).get("children", [])]
    if not any(c.get("model_name") in ("FloatProgressModel", "IntProgressModel") for c in children):
        return None
    parts = []
    for child in children:
        values = child.get("state", {})
        if child.get("model_name") in ("FloatProgressModel", "IntProgressModel"):
            share = float(values.get("value", 0)) / (float(values.get("max", 100)) or 1.0)
            filled = max(0, min(10, round(10 * share)))
            parts.append("█" * filled + "░" * (10 - filled))
        elif child.get("model_name") in ("HTMLModel", "LabelModel"):
            parts.append(html.unescape(re.sub(r"<[^>]*>", "", str(values.get("value", "")))).strip())
    return " ".join(p for p in parts if p)


# --------------------------------------------------------------------------- HTML

BOOK_CSS = """
.book-nav { display: flex; gap: 1.5em; justify-content: space-between; max-width: 1100px;
  margin: 0 auto; padding: 0.6em 1em; font: 14px/1.4 system-ui, sans-serif; }
.book-nav a { color: var(--jp-content-link-color, #1976d2); text-decoration: none; }
.book-app { margin: 0.5em 0; } .book-app img { max-width: 100%; border: 1px solid #ddd; }
.book-app figcaption, .book-widget { font-size: 13px; color: var(--jp-ui-font-color2, #555); }
"""

#: nbconvert's lab template without the scripts a static book does not use (require.js,
#: the widget manager, mermaid: all from CDNs) and with MathJax only where there is math.
BOOK_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{%- if resources.book_math -%}{{ super() }}{%- endif -%}{%- endblock -%}
{%- block html_head_css -%}<style type="text/css">{{ resources.book_css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}{{ resources.book_nav }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.book_nav }}{{ super() }}{% endblock body_footer %}
"""

_NOTEBOOK_LINK = re.compile(r'(href=")(?![a-zA-Z][\w+.-]*:|#|/)([^"#]*?)\.ipynb((?:#[^"]*)?")')


def nav_html(pages: Sequence[Page], index: int) -> str:
    """The bar at the top and bottom of page ``index``: previous lesson, contents, next lesson."""
    def link(i: int, before: str = "", after: str = "") -> str:
        if not 0 <= i < len(pages):
            return "<span></span>"
        return f'<a href="{html.escape(pages[i].html_name)}">{before}{html.escape(pages[i].title)}{after}</a>'

    return (f'<nav class="book-nav">{link(index - 1, before="← ")}<a href="index.html">Contents</a>'
            f'{link(index + 1, after=" →")}</nav>')


def page_html(nb: Any, pages: Sequence[Page], index: int) -> str:
    """The executed, staticized ``nb`` as one self-contained HTML page of the book."""
    import jinja2
    from nbconvert import HTMLExporter

    page = pages[index]
    nb.metadata["title"] = page.title
    exporter = HTMLExporter(template_name="lab", template_file="book.html.j2", embed_images=True,
                            extra_loaders=[jinja2.DictLoader({"book.html.j2": BOOK_TEMPLATE})])
    math = any("$" in c.source for c in nb.cells if c.cell_type == "markdown")
    resources = {"metadata": {"path": str(page.notebook.parent), "name": page.notebook.stem},
                 "book_math": math, "book_css": BOOK_CSS, "book_nav": nav_html(pages, index)}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return _NOTEBOOK_LINK.sub(r"\1\2.html\3", body)


def index_html(pages: Sequence[Page], heading: str = "ML in the Browser, rebuilt in notebooks") -> str:
    """The book's first page: what it is, and each lesson by its title (with its run time)."""
    items = []
    for page in pages:
        took = f' <span class="took">ran in {page.seconds:.0f} s</span>' if page.seconds is not None else ""
        items.append(f'<li><a href="{html.escape(page.html_name)}">{html.escape(page.title)}</a>{took}</li>')
    lessons = "\n".join(items)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(heading)}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 48em; margin: 2em auto; padding: 0 1em; color: #222; }}
a {{ color: #1976d2; }} ul.lessons {{ list-style: none; padding: 0; }} li {{ margin: 0.5em 0; }}
.took {{ color: #777; font-size: 13px; }}
</style>
</head>
<body>
<h1>{html.escape(heading)}</h1>
<p>The talk <em>“ML in the Browser: Interactive Experiences with TensorFlow.js”</em>, rebuilt in
Python: each lesson is a notebook and an app, and each exports a model that real TF.js runs.</p>
<p>{ABOUT}</p>
<ul class="lessons">
{lessons}
</ul>
</body>
</html>
"""


_LOCAL_REF = re.compile(r'(?:href|src)="(?![a-zA-Z][\w+.-]*:|#|//)([^"#?]+)(?:#[^"]*)?"')
_PAGE_ANCHOR = re.compile(r'href="((?:[\w.-]+\.html)?)#([^"]+)"')
_ID = re.compile(r'\sid="([^"]+)"')


def _ids(folder: Path) -> dict[str, set[str]]:
    return {page.name: {html.unescape(i) for i in _ID.findall(page.read_text(encoding="utf-8"))}
            for page in folder.glob("*.html")}


def _anchor_key(anchor: str) -> str:
    """An anchor as a page names its heading: decoded, without Markdown's backticks."""
    return urllib.parse.unquote(html.unescape(anchor)).replace("`", "")


def fix_anchors(folder: Path) -> None:
    """Point links written from a heading's Markdown source (``04_x.html#3.-%60detect()%60``)
    at the id the page gives that heading (``3.-detect()``), as JupyterLab names it too."""
    ids = _ids(folder)
    keys = {name: {_anchor_key(i): i for i in found} for name, found in ids.items()}
    for page in folder.glob("*.html"):
        def fix(link: re.Match[str], here: str = page.name) -> str:
            target = link.group(1) or here
            if target not in ids or html.unescape(link.group(2)) in ids[target]:
                return link.group(0)
            found = keys[target].get(_anchor_key(link.group(2)))
            return link.group(0) if found is None else f'href="{link.group(1)}#{html.escape(found)}"'

        text = page.read_text(encoding="utf-8")
        fixed = _PAGE_ANCHOR.sub(fix, text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def dangling_links(folder: Path) -> list[str]:
    """Links and pictures in the book's pages that point at no file of the book (a page
    served from ``folder`` alone must not need the repository), as ``page: link``."""
    bad = []
    for page in sorted(folder.glob("*.html")):
        for target in _LOCAL_REF.findall(page.read_text(encoding="utf-8")):
            if not (folder / html.unescape(target)).is_file():
                bad.append(f"{page.name}: {target}")
    return bad


def missing_anchors(folder: Path) -> list[str]:
    """Links to a heading that a page of the book does not have, as ``page: link`` (a
    browser tries the anchor as written, then percent-decoded)."""
    ids, bad = _ids(folder), []
    for page in sorted(folder.glob("*.html")):
        for target, anchor in _PAGE_ANCHOR.findall(page.read_text(encoding="utf-8")):
            found = ids.get(target or page.name)
            written = html.unescape(anchor)
            if found is not None and not {written, urllib.parse.unquote(written)} & found:
                bad.append(f"{page.name}: {target}#{anchor}")
    return bad


# --------------------------------------------------------------------------- the build


def _say(line: str) -> None:
    print(line, flush=True)  # as it happens, also into a CI log


def default_out() -> Path:
    """Where ``make book`` writes the site: ``build/book/`` in the checkout (git-ignored)."""
    return project_root() / "build" / "book"


def build(out: Path | None = None, notebooks: Sequence[Path] | None = None, timeout_s: float = 900,
          say: Callable[[str], None] | None = None) -> list[Page]:
    """Run each lesson and write the book into ``out`` (default ``build/book/``), whole or not at all.

    Raises :class:`BookError` (one line) when a notebook fails, or when a page would link
    to something outside the book. ``say`` reports each lesson as it is done (default: print).
    """
    import nbformat

    from browserml.atomic import atomic_directory

    out = Path(out) if out is not None else default_out()
    paths = list(notebooks) if notebooks is not None else lesson_notebooks(project_root() / "notebooks")
    if not paths:
        raise BookError("no lesson notebooks to build")
    pages = [Page(p.resolve(), title_of(nbformat.read(p, as_version=4), p.stem)) for p in paths]
    logs = out.parent / f"{out.name}-logs"
    with atomic_directory(out) as staging:
        for i, page in enumerate(pages):
            nb, page.seconds = execute(page.notebook, timeout_s, logs / f"{page.notebook.stem}.log")
            page.images = staticize(nb, app_picture(page.notebook))
            (staging / page.html_name).write_text(page_html(nb, pages, i), encoding="utf-8")
            for picture in page.images:
                (staging / "images").mkdir(exist_ok=True)
                shutil.copyfile(picture, staging / "images" / picture.name)
            (say or _say)(f"book: {page.notebook.name} ran in {page.seconds:.0f} s -> {page.html_name}")
        (staging / "index.html").write_text(index_html(pages), encoding="utf-8")
        fix_anchors(staging)
        bad = dangling_links(staging)
        if bad:
            raise BookError(f"{len(bad)} link(s) point outside the book, e.g. {bad[0]}")
        for link in missing_anchors(staging):  # the page is there; only the scroll target is not
            (say or _say)(f"book: warning: no such heading: {link}")
    return pages
