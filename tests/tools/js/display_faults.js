async (s) => {
  const el = document.querySelector(s);
  if (!el) return ['the app is not on the page'];
  const faults = [];
  const name = (n) => {
    const cls = typeof n.className === 'string'
      ? n.className.split(/\s+/).filter((c) => /^(widget|jupyter|browserml)-/.test(c)) : [];
    const text = (n.textContent || '').trim().slice(0, 30);
    const classes = cls.length ? '.' + cls.slice(0, 2).join('.') : '';
    return `${n.tagName.toLowerCase()}${classes}${text ? ` ("${text}")` : ''}`;
  };
  const rgba = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const v = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const lum = ([r, g, b]) => {
    const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const page = rgba(getComputedStyle(document.body).backgroundColor) || [255, 255, 255, 1];
  const behind = (n) => { for (let m = n; m; m = m.parentElement) { const c = rgba(getComputedStyle(m).backgroundColor);
    if (c && c[3] > 0.5) return c; } return page; };
  const visible = (n) => { const r = n.getBoundingClientRect(); const st = getComputedStyle(n);
    return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none'
      && !n.closest('.lm-mod-hidden'); };
  for (const n of [el, ...el.querySelectorAll('*')]) {
    if (!visible(n)) continue;
    const st = getComputedStyle(n);
    if ((st.overflowX === 'auto' || st.overflowX === 'scroll') && n.scrollWidth > n.clientWidth + 1)
      faults.push(`horizontal scrollbar on ${name(n)}: ${n.scrollWidth} px of content in ${n.clientWidth} px`);
    if (n.tagName === 'BUTTON' && n.scrollWidth > n.clientWidth + 1)
      faults.push(`button label cut short: ${name(n)} needs ${n.scrollWidth} px, has ${n.clientWidth} px`);
    if (n.getAttribute('title') === 'null' || n.getAttribute('title') === 'undefined')
      faults.push(`tooltip reads "${n.getAttribute('title')}": ${name(n)}`);
    const ownText = [...n.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
    if (ownText && !n.closest('button, select, input, .noUi-target')) {
      const ink = rgba(n instanceof SVGElement ? st.fill : st.color);
      if (ink && ink[3] > 0.5) {
        const ratio = contrast(ink, behind(n));
        if (ratio < 3) faults.push(`text hard to read (contrast ${ratio.toFixed(1)}:1): ${name(n)}`);
      }
    }
  }
  for (const img of el.querySelectorAll('img')) {
    if (!visible(img) || !img.complete || img.naturalWidth < 200) continue;  // thumbnails are shown big on purpose
    if (img.clientWidth > img.naturalWidth + 1)
      faults.push(`chart stretched: a ${img.naturalWidth} px picture shown ${img.clientWidth} px wide`);
    const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
    const corner = ctx.getImageData(1, 1, 1, 1).data;
    if (corner[3] > 200 && img.closest('.widget-image') !== null && !img.closest('.browserml-photo')) {
      const [r, g, b] = corner;
      if (contrast([r, g, b], behind(img)) > 1.5)
        faults.push(`chart has an opaque rgb(${r},${g},${b}) background on this theme`);
    }
  }
  return faults;
}
