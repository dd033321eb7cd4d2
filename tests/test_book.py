"""``make book``'s pieces, on tiny notebooks (a few seconds; the full build is ``make book``).

The build runs each notebook in a fresh kernel with the in-page runtime off, writes one
page per lesson and an index, never writes back into the source notebooks, swaps the site
in whole, and fails in one line naming the notebook and the cell.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import nbformat
import pytest

from browserml import book

ROOT = Path(__file__).resolve().parents[1]
ORIGINALS = ("https://github.com/victordibia/anomagram", "https://github.com/fastforwardlabs/convnet-playground",
             "https://github.com/tensorflow/playground", "https://github.com/victordibia/handtrack.js",
             "https://github.com/tensorflow/tfjs-examples")

#: A 1 × 1 PNG, standing in for a lesson's app picture and a markdown image.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                       "AAAABJRU5ErkJggg==")


def write_notebook(path: Path, *cells: tuple[str, str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """Two tiny lessons, a picture for lesson 0's app and one for its markdown."""
    folder = tmp_path / "notebooks"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "lesson0_widget.png").write_bytes(PNG)
    (folder / "images" / "dot.png").write_bytes(PNG)
    write_notebook(
        folder / "00_first.ipynb",
        ("md", "# Lesson 0: First <steps>\n\nSee [the next lesson](01_second.ipynb#Part-two) and "
               "$a x^2$.\n\n![a dot](images/dot.png)"),
        ("code", "import os\nprint('runtime', os.environ.get('BROWSERML_BROWSER_RUNTIME'))"),
        ("code", "from ipywidgets import IntSlider as SliderApp\napp = SliderApp()\napp"),
        ("code", "from ipywidgets import Button\nButton(description='other')"),
    )
    write_notebook(folder / "01_second.ipynb", ("md", "# Lesson 1: Second\n\n## Part two"), ("code", "1 + 1"))
    return folder


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.ipynb"))}


def test_index_lists_each_lesson_by_title_in_order_with_its_page():
    pages = [book.Page(Path("00_a.ipynb"), "Lesson 0: A <b>", 3.4), book.Page(Path("01_b.ipynb"), "Lesson 1: B")]
    index = book.index_html(pages)
    first, second = index.index('href="00_a.html"'), index.index('href="01_b.html"')
    assert first < second
    assert "Lesson 0: A &lt;b&gt;</a>" in index and "Lesson 1: B</a>" in index
    assert "ran in 3 s" in index and index.count("ran in") == 1  # lesson 1 has no time yet


def test_lessons_are_the_numbered_notebooks_in_order(tmp_path: Path):
    for name in ("01_b.ipynb", "00_a.ipynb", "scratch.ipynb", "05_c.ipynb"):
        write_notebook(tmp_path / name, ("md", "# T"))
    assert [p.name for p in book.lesson_notebooks(tmp_path)] == ["00_a.ipynb", "01_b.ipynb", "05_c.ipynb"]
    assert [p.name for p in book.lesson_notebooks(tmp_path, ["05", "00"])] == ["00_a.ipynb", "05_c.ipynb"]


def test_staticize_turns_the_app_into_its_picture_and_other_widgets_into_a_line(tmp_path: Path):
    widget = {"output_type": "display_data", "metadata": {},
              "data": {book.WIDGET_MIME: {"model_id": "x", "version_major": 2, "version_minor": 0},
                       "text/plain": "VBox(children=(...))"}}
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells = [nbformat.v4.new_code_cell("app = PolyfitApp()\napp", outputs=[widget]),
                nbformat.v4.new_code_cell("view = run_in_browser(export)", outputs=[widget])]
    nb = nbformat.from_dict(nb)
    picture = tmp_path / "lesson1_widget.png"
    assert book.staticize(nb, picture) == {picture}
    app, other = (cell.outputs[0]["data"] for cell in nb.cells)
    assert 'src="images/lesson1_widget.png"' in app["text/html"] and book.WIDGET_MIME not in app
    assert book.WIDGET_NOTE in other["text/html"] and book.WIDGET_MIME not in other
    assert "widgets" not in nb.metadata


def test_a_progress_bar_becomes_its_last_line(tmp_path: Path):
    def model(name: str, **state: object) -> dict:
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    state = {"bar": model("HBoxModel", children=["IPY_MODEL_d", "IPY_MODEL_p", "IPY_MODEL_s"]),
             "d": model("HTMLModel", value="features: 100%"), "p": model("FloatProgressModel", value=200, max=200),
             "s": model("HTMLModel", value="200/200 [00:20&lt;00:00, 9.75img/s]"),
             "box": model("HBoxModel", children=["IPY_MODEL_d"])}
    assert book.progress_text(state, "bar") == "features: 100% ██████████ 200/200 [00:20<00:00, 9.75img/s]"
    assert book.progress_text(state, "box") is None and book.progress_text(state, "missing") is None
    nb = nbformat.from_dict(nbformat.v4.new_notebook(
        metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}},
        cells=[nbformat.v4.new_code_cell("bar = tqdm(total=200)", outputs=[
            {"output_type": "display_data", "metadata": {},
             "data": {book.WIDGET_MIME: {"model_id": "bar"}, "text/plain": "HBox(children=(...))"}}])]))
    book.staticize(nb)
    assert nb.cells[0].outputs[0]["data"]["text/plain"].startswith("features: 100% ██████████")


def test_dangling_links_names_what_a_static_server_would_not_find(tmp_path: Path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "app.png").write_bytes(PNG)
    (tmp_path / "a.html").write_text(
        '<a href="b.html#x">ok</a><img src="images/app.png"><a href="#top">ok</a><a href="https://x.org">ok</a>'
        '<img src="data:image/png;base64,AAAA"><img src="../notebooks/images/dot.png"><a href="c.html">no</a>')
    (tmp_path / "b.html").write_text("")
    assert book.dangling_links(tmp_path) == ["a.html: ../notebooks/images/dot.png", "a.html: c.html"]


def test_links_to_a_heading_written_from_its_markdown_reach_the_heading(tmp_path: Path):
    (tmp_path / "b.html").write_text('<h2 id="3.-detect(),-with-handtrack.js\'s-contract">3. detect()</h2>')
    (tmp_path / "a.html").write_text(
        '<h2 id="4.-One-thread:-dataSync()">x</h2><a href="#4.-One-thread:-%60dataSync()%60">here</a>'
        '<a href="b.html#3.-%60detect()%60,-with-handtrack.js%27s-contract">there</a><a href="b.html#nowhere">no</a>')
    assert book.missing_anchors(tmp_path) == [
        "a.html: #4.-One-thread:-%60dataSync()%60", "a.html: b.html#3.-%60detect()%60,-with-handtrack.js%27s-contract",
        "a.html: b.html#nowhere"]
    book.fix_anchors(tmp_path)
    page = (tmp_path / "a.html").read_text()
    assert 'href="#4.-One-thread:-dataSync()"' in page
    assert 'href="b.html#3.-detect(),-with-handtrack.js&#x27;s-contract"' in page
    assert book.missing_anchors(tmp_path) == ["a.html: b.html#nowhere"]  # no heading to point it at


def test_build_writes_a_page_per_lesson_and_an_index_and_never_writes_back(course: Path, tmp_path: Path):
    before = digest(course)
    out = tmp_path / "site"
    pages = book.build(out, book.lesson_notebooks(course), timeout_s=120, say=lambda _line: None)

    assert digest(course) == before  # the source notebooks are only read
    assert sorted(p.name for p in course.iterdir()) == ["00_first.ipynb", "01_second.ipynb", "images"]
    assert sorted(p.name for p in out.iterdir()) == ["00_first.html", "01_second.html", "images", "index.html"]
    assert [p.title for p in pages] == ["Lesson 0: First <steps>", "Lesson 1: Second"]
    assert all(p.seconds is not None and p.seconds > 0 for p in pages)
    assert "Lesson 0: First &lt;steps&gt;" in (out / "index.html").read_text()

    page = (out / "00_first.html").read_text()
    assert "runtime off" in page  # the kernel ran with the in-page runtime switched off
    assert 'href="01_second.html#Part-two"' in page and ".ipynb" not in page.split("<main>")[1]
    assert 'src="images/lesson0_widget.png"' in page and (out / "images" / "lesson0_widget.png").read_bytes() == PNG
    assert book.WIDGET_NOTE in page  # the second widget, not an app
    assert "data:image/png;base64," in page and 'src="images/dot.png"' not in page  # embedded
    assert "mathjax" in page.lower() and "mathjax" not in (out / "01_second.html").read_text().lower()
    for absent in ("require.min.js", "unpkg.com", "widget-state+json", "mermaid"):
        assert absent not in page, absent
    assert book.dangling_links(out) == [] and book.missing_anchors(out) == []


def test_a_failing_notebook_fails_the_build_in_one_line_and_keeps_the_old_book(tmp_path: Path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    ok = write_notebook(folder / "00_fine.ipynb", ("md", "# Lesson 0: Fine"), ("code", "x = 1"))
    bad = write_notebook(folder / "01_boom.ipynb", ("md", "# Lesson 1: Boom"), ("code", "y = 2"),
                         ("code", "# the third cell\nraise ValueError('boom\\nand a second line')"), ("code", "z = 3"))
    before = digest(folder)
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("the previous book")

    with pytest.raises(book.BookError) as failed:
        book.build(out, [ok, bad], timeout_s=120, say=lambda _line: None)
    said = str(failed.value)
    assert "\n" not in said
    assert said.startswith("01_boom.ipynb: cell 3 of 4 ('# the third cell') failed: "
                           "ValueError: boom; and a second line")
    assert said.endswith(f"(kernel log: {tmp_path / 'site-logs' / '01_boom.log'})")
    assert (out / "index.html").read_text() == "the previous book"  # swapped in whole, or not at all
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert digest(folder) == before


def test_the_cli_names_the_lessons_it_could_not_find(capsys):
    from browserml.cli import main

    assert main(["book", "--only", "99_nothing"]) == 2
    assert capsys.readouterr().err.strip() == "browserml book: no lesson notebook name contains any of 99_nothing"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lstrip("#").strip().lower()).replace(" ", "-")


def test_the_teachers_readme_links_every_lesson_the_originals_and_only_what_exists():
    folder = ROOT / "notebooks"
    text = (folder / "README.md").read_text(encoding="utf-8")
    for notebook in book.lesson_notebooks(folder):
        assert f"]({notebook.name})" in text, f"notebooks/README.md does not link {notebook.name}"
    for url in ORIGINALS:
        assert url in text, url
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        assert (folder / target).exists(), f"notebooks/README.md links {link}, which does not exist"
        if anchor:
            headings = [line for line in (folder / target).read_text(encoding="utf-8").splitlines()
                        if line.startswith("#")]
            assert anchor in {github_anchor(h) for h in headings}, f"no heading {anchor!r} in {target}"
