"""The 1000 ImageNet class names, read from the copy TF.js's MobileNet package ships.

Lesson 3's classifier prints "tabby, tabby cat" rather than "281", and the browser
page needs the same names in the same order. Both read them from
``@tensorflow-models/mobilenet``'s ``dist/imagenet_classes.js`` (installed by
``npm ci``), so no list is copied into this repository and Python and JS cannot
disagree. The file is CommonJS: ``exports.IMAGENET_CLASSES = {0: 'tench, Tinca tinca',
...}``, with long names split as ``'a ' +\\n 'b'``; :func:`parse_imagenet_classes`
reads exactly that shape and rejects anything else rather than guess.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from browserml.errors import BadInput
from browserml.paths import npm_package_dir

N_CLASSES = 1000
PACKAGE = "@tensorflow-models/mobilenet"
CLASSES_JS = Path("dist") / "imagenet_classes.js"

_OBJECT = re.compile(r"exports\.IMAGENET_CLASSES\s*=\s*\{(?P<body>.*?)\};", re.S)
_LITERAL = r"'(?:[^'\\\n]|\\.)*'"
_ENTRY = re.compile(rf"\s*(?P<index>\d+)\s*:\s*(?P<value>{_LITERAL}(?:\s*\+\s*{_LITERAL})*)\s*(?:,|$)", re.S)
_ESCAPES = {"\\'": "'", '\\"': '"', "\\\\": "\\"}


class ClassNamesError(BadInput):
    """The ImageNet class-name file does not have the shape this reader knows."""


def imagenet_classes_path() -> Path:
    """Where ``npm ci`` put MobileNet's ``imagenet_classes.js``; a clear error if it is not there."""
    path = npm_package_dir(PACKAGE) / CLASSES_JS
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the ImageNet class names come from the npm package "
            "@tensorflow-models/mobilenet. Run `npm ci` (or `make setup`) in the project root; "
            "on Colab the Setup cell fetches it."
        )
    return path


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names in index order (``[281]`` is ``'tabby, tabby cat'``)."""
    path = imagenet_classes_path()
    return parse_imagenet_classes(path.read_text(encoding="utf-8"), str(path))


def parse_imagenet_classes(text: str, source: str = "imagenet_classes.js") -> tuple[str, ...]:
    """Parse the ``exports.IMAGENET_CLASSES = {...};`` object literal into index-ordered names.

    Every character of the object body must belong to an ``index: 'literal' [+ 'literal']``
    entry, and the indices must be exactly 0..999; otherwise :class:`ClassNamesError`
    names the file and the first thing it did not understand.
    """
    found = _OBJECT.search(text)
    if found is None:
        raise ClassNamesError(f"{source}: no `exports.IMAGENET_CLASSES = {{...}};` object found")
    body = found.group("body")
    names: dict[int, str] = {}
    position = 0
    while body[position:].strip():
        entry = _ENTRY.match(body, position)
        if entry is None:
            near = body[position : position + 60]
            raise ClassNamesError(f"{source}: cannot parse the class list near {near!r}")
        index = int(entry.group("index"))
        if index in names:
            raise ClassNamesError(f"{source}: class index {index} appears twice")
        literals = re.findall(_LITERAL, entry.group("value"))
        names[index] = "".join(_unescape(literal[1:-1], source) for literal in literals)
        position = entry.end()
    if sorted(names) != list(range(N_CLASSES)):
        raise ClassNamesError(
            f"{source}: expected class indices 0..{N_CLASSES - 1}, got {len(names)} entries"
        )
    return tuple(names[i] for i in range(N_CLASSES))


def _unescape(literal: str, source: str) -> str:
    """Resolve the escapes the file uses (``\\'``); refuse others rather than mis-decode them."""
    def replace(match: re.Match[str]) -> str:
        escape = match.group(0)
        if escape not in _ESCAPES:
            raise ClassNamesError(f"{source}: unsupported escape {escape!r} in {literal!r}")
        return _ESCAPES[escape]

    return re.sub(r"\\.", replace, literal)
