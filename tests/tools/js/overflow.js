(s) => {
  const el = document.querySelector(s);
  if (!el) return 0;
  const right = el.getBoundingClientRect().right;
  let most = right;
  for (const d of el.querySelectorAll('*')) {
    const r = d.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) most = Math.max(most, r.right);
  }
  return most - right;
}
