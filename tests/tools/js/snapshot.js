async (s) => {
  const el = document.querySelector(s);
  if (!el) return '';
  const imgs = await Promise.all([...el.querySelectorAll('img')].map((i) => window.__bml.digestImg(i)));
  return el.innerText + '|' + imgs.join(',');
}
