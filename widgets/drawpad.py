"""A small canvas you can draw a curve on, synced to Python as a list of y values.

ipywidgets has no drawing input, so this is an ``anywidget``: ~40 lines of plain JS,
no CDN, no build step. Drawing left to right records one y per pixel column (0 at the
bottom, 1 at the top); ``points`` is what Python sees. Its border and midline are
JupyterLab's theme colours (``--jp-*``), its canvas transparent: no white slab on the
dark theme. Where the front end cannot load
it (no widget manager), the lesson falls back to choosing a beat instead of drawing.
"""

from __future__ import annotations

import anywidget
import traitlets

from widgets.common import THEMED_JS

_ESM = THEMED_JS + r"""
export default {
  render({ model, el }) {
    const w = model.get("width"), h = model.get("height");
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    canvas.style.border = "1px solid var(--jp-border-color1, #bbb)"; canvas.style.cursor = "crosshair";
    canvas.style.touchAction = "none";
    const clear = document.createElement("button");
    clear.textContent = "Clear"; clear.style.marginLeft = "8px";
    clear.className = "jupyter-button";  // ipywidgets' own button style, themed by JupyterLab
    const ctx = canvas.getContext("2d");
    let cols = new Array(w).fill(null), down = false, last = null;
    function redraw() {
      ctx.clearRect(0, 0, w, h);
      ctx.strokeStyle = themed(el, "--jp-border-color2", "#eee"); ctx.beginPath(); ctx.moveTo(0, h / 2); ctx.lineTo(w, h / 2); ctx.stroke();
      ctx.strokeStyle = "#d62728"; ctx.lineWidth = 2; ctx.beginPath();
      let started = false;
      cols.forEach((y, x) => { if (y === null) return; const py = h - y * h;
        if (!started) { ctx.moveTo(x, py); started = true; } else { ctx.lineTo(x, py); } });
      ctx.stroke();
    }
    function mark(ev) {
      const r = canvas.getBoundingClientRect();
      const x = Math.max(0, Math.min(w - 1, Math.round(ev.clientX - r.left)));
      const y = Math.max(0, Math.min(1, 1 - (ev.clientY - r.top) / h));
      if (last) { const [x0, y0] = last; const n = Math.abs(x - x0);
        for (let i = 1; i <= n; i++) { cols[x0 + Math.sign(x - x0) * i] = y0 + (y - y0) * i / n; } }
      cols[x] = y; last = [x, y]; redraw();
    }
    function sync() {
      const pts = cols.filter((y) => y !== null);
      model.set("points", pts); model.save_changes();
    }
    canvas.addEventListener("pointerdown", (e) => { down = true; last = null; mark(e); });
    canvas.addEventListener("pointermove", (e) => { if (down) mark(e); });
    window.addEventListener("pointerup", () => { if (down) { down = false; sync(); } });
    clear.addEventListener("click", () => { cols = new Array(w).fill(null); redraw(); sync(); });
    model.on("change:points", () => { const pts = model.get("points");
      if (!pts.length) { cols = new Array(w).fill(null); redraw(); } });
    redraw();
    el.appendChild(canvas); el.appendChild(clear);
  }
};
"""


class DrawPad(anywidget.AnyWidget):
    """Draw a curve; ``points`` holds its y values (0 = bottom, 1 = top), left to right."""

    _esm = _ESM
    points = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)
    width = traitlets.Int(420).tag(sync=True)
    height = traitlets.Int(160).tag(sync=True)
