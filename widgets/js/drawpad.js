// widgets/drawpad.py's front end: draw left to right, one y per pixel column (0 at the
// bottom, 1 at the top), sent to Python as `points` when the pointer is released.
// Styles: drawpad.css.
export default {
  render({ model, el }) {
    const w = model.get("width"), h = model.get("height");
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    canvas.className = "browserml-drawpad-canvas";
    const clear = document.createElement("button");
    clear.textContent = "Clear";
    clear.className = "jupyter-button browserml-drawpad-clear";  // ipywidgets' own button style, themed by JupyterLab
    const ctx = canvas.getContext("2d");
    let cols = new Array(w).fill(null), down = false, last = null;
    function redraw() {
      ctx.clearRect(0, 0, w, h);
      ctx.strokeStyle = themed(el, "--jp-border-color2", "#eee");
      ctx.beginPath(); ctx.moveTo(0, h / 2); ctx.lineTo(w, h / 2); ctx.stroke();
      ctx.strokeStyle = "#d62728"; ctx.lineWidth = 2; ctx.beginPath();
      let started = false;
      cols.forEach((y, x) => {
        if (y === null) return;
        const py = h - y * h;
        if (!started) { ctx.moveTo(x, py); started = true; } else { ctx.lineTo(x, py); }
      });
      ctx.stroke();
    }
    function mark(ev) {
      const r = canvas.getBoundingClientRect();
      const x = Math.max(0, Math.min(w - 1, Math.round(ev.clientX - r.left)));
      const y = Math.max(0, Math.min(1, 1 - (ev.clientY - r.top) / h));
      if (last) {
        const [x0, y0] = last, n = Math.abs(x - x0);
        for (let i = 1; i <= n; i++) { cols[x0 + Math.sign(x - x0) * i] = y0 + (y - y0) * i / n; }
      }
      cols[x] = y; last = [x, y]; redraw();
    }
    function sync() {
      const pts = cols.filter((y) => y !== null);
      model.set("points", pts); model.save_changes();
    }
    function onDown(ev) { down = true; last = null; mark(ev); }
    function onMove(ev) { if (down) mark(ev); }
    function onUp() { if (down) { down = false; sync(); } }  // on the window: a release outside the canvas counts
    function onClear() { cols = new Array(w).fill(null); redraw(); sync(); }
    function onPoints() {
      if (!model.get("points").length) { cols = new Array(w).fill(null); redraw(); }
    }
    canvas.addEventListener("pointerdown", onDown);
    canvas.addEventListener("pointermove", onMove);
    window.addEventListener("pointerup", onUp);
    clear.addEventListener("click", onClear);
    model.on("change:points", onPoints);
    redraw();
    el.append(canvas, clear);
    return () => {
      model.off("change:points", onPoints);
      canvas.removeEventListener("pointerdown", onDown);
      canvas.removeEventListener("pointermove", onMove);
      window.removeEventListener("pointerup", onUp);
      clear.removeEventListener("click", onClear);
    };
  },
};
