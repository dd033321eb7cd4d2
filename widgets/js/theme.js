// JupyterLab's theme colour `name` as the page has it now (light or dark), or `fallback`
// where the page has no --jp-* variables (Colab, VS Code). A canvas cannot use var().
//
// Not a module of its own at run time: an anywidget front end is loaded from a blob URL,
// which cannot import a relative file, so widgets.common.front_end() inlines this text
// before every front end that calls themed().
function themed(el, name, fallback) {
  const value = getComputedStyle(el).getPropertyValue(name).trim();
  return value || fallback;
}
