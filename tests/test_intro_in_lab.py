"""Lesson 0 in headless JupyterLab + Chromium: Run All, with every ``%%tfjs`` cell answered
by the notebook's own page (not Node), then a learner draws in the classifier.

What must hold, as issue 16 names it: memory grows before the fix and stays flat after;
the backend table has at least wasm and cpu; and the privacy log shows no message from
the page that could carry the drawing, until the latency comparison sends it on purpose.
(nbval runs the same notebook through its Node fallbacks: tests/conftest.py.)
"""

from __future__ import annotations

import re
import shutil

from browserml.paths import project_root

NAME = "00_why_ml_in_the_browser.ipynb"


def test_lesson0_runs_in_its_own_page_and_the_drawing_stays_there(jupyterlab):
    root = jupyterlab.folder("lesson0")
    shutil.copy(project_root() / "notebooks" / NAME, root / NAME)
    seen = jupyterlab.call(_run_and_draw, (root / NAME).relative_to(jupyterlab.root).as_posix())
    text = seen["text"]
    # every TF.js cell ran in the page
    assert "in this page" in text and "in Node" not in text and "no TF.js numbers" not in text, text[-3000:]
    assert "after 50 steps: 150 tensors leaked, 0 with tf.tidy" in text
    assert re.search(r"blocking .*longest gap", text) and re.search(r"yielding .*longest gap", text)
    rows = dict(re.findall(r"^ {2}(wasm|cpu|webgl|webgpu) +([\d.]+) ms for 8 images", text, flags=re.M))
    assert {"wasm", "cpu"} <= set(rows), text[-3000:]
    assert "max |Δp| =" in text and "learned y = " in text and "before, " in text
    # the learner drew: predictions reached the kernel, pixels did not; then compare sent them
    assert "latest from the page (stroke" in seen["before_compare"], seen["before_compare"]
    assert "Its pixels never reached the kernel" in seen["before_compare"]
    assert "pings of the latency comparison" in seen["after_compare"], seen["after_compare"]


def _run_and_draw(session, name: str) -> dict[str, str]:
    page = session.open_notebook(name, timeout_s=300)
    try:
        assert session.run_all(page, timeout_s=300), session.console_errors(page)
        outputs = page.evaluate("p => window.__bml.panelFor(p).content.model.toJSON().cells"
                                ".map((c) => c.outputs || [])", name)
        text = "\n".join("".join(o.get("text", "")) if isinstance(o.get("text"), (str, list)) else ""
                         for cell in outputs for o in cell)
        canvas = page.locator(".browserml-pageclf-canvas").first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box, "the classifier's canvas is not on screen"
        for y in (0.3, 0.5, 0.7):  # three strokes across the box
            page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + y * box["height"])
            page.mouse.down()
            page.mouse.move(box["x"] + 0.75 * box["width"], box["y"] + y * box["height"], steps=12)
            page.mouse.up()
        verdict = "() => [...document.querySelectorAll('.widget-html')].map((n) => n.textContent).join('\\n')"
        page.wait_for_function(f"() => ({verdict})().includes('never reached the kernel') && "
                               f"({verdict})().includes('latest from the page (stroke')", timeout=30_000)
        before = page.evaluate(verdict)
        page.locator(".browserml-pageclf-compare").first.click()
        page.wait_for_function(f"() => ({verdict})().includes('pings of the latency comparison')", timeout=60_000)
        after = page.evaluate(verdict)
        assert session.fatal_console_errors(page) == []
    finally:
        session.close_page(page)
    return {"text": text, "before_compare": before, "after_compare": after}
