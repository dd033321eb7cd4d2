"""A learner's TF.js cell (the ``%%tfjs`` magic in :mod:`widgets.tfjs_magic`): what it asks
for, what comes back, and how it runs under Node where a notebook has no page.

The cell's JavaScript runs in ``runtime/cell.js``'s ``evalCell``: in the learner's own
page through the in-notebook runtime, or, with no page (nbval, a plain kernel, a
switched-off runtime), under Node with npm ``@tensorflow/tfjs`` when Node is there. Both
answer the same way: what the cell returned (tensors become NumPy arrays), what it
printed, what it threw, the backend it ran on, and ``tf.memory().numTensors`` before and
after, so a leak shows as a number. Nothing here imports ipywidgets or TensorFlow.
"""

from __future__ import annotations

import argparse
import html
import keyword
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from browserml.inbrowser.bundle import BrowserRuntimeError

#: Backends a cell may ask for (webgl and webgpu only in a page that has them; Node has cpu and wasm).
CELL_BACKENDS = ("wasm", "cpu", "webgl", "webgpu")
NODE_BACKENDS = ("cpu", "wasm")
WHERE = ("auto", "page", "node")
#: The most values a cell may be given from Python (they travel as JSON).
MAX_INPUT_VALUES = 2_000_000
# Names a cell's inputs may not take: JS reserved words and the names the cell already has.
_JS_RESERVED = frozenset((
    "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do",
    "else", "enum", "export", "extends", "false", "finally", "for", "function", "if", "implements", "import",
    "in", "instanceof", "interface", "let", "new", "null", "package", "private", "protected", "public",
    "return", "static", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while",
    "with", "yield", "arguments", "eval", "tf", "console", "MODEL_URL", "measureFrames", "nextFrame",
))

USAGE = """%%tfjs [--backend wasm|cpu|webgl|webgpu] [--in NAME ...] [--out NAME] [--model FOLDER]
       [--where auto|page|node] [--timeout SECONDS]

Run the cell's JavaScript with `tf` (TF.js) in scope, in this notebook's page, on one
backend. The cell is the body of an async function: `await` works, and what it
`return`s comes back to Python (tensors as NumPy arrays). console.log is shown.

  --backend   wasm (default), cpu, webgl or webgpu (the last two where the page has them)
  --in        Python variables the cell can read (NumPy arrays arrive as nested arrays)
  --out       store the returned value in this Python variable (always also in _tfjs.value)
  --model     an export folder (or its model.json): the cell gets MODEL_URL for
              tf.loadGraphModel / tf.loadLayersModel
  --where     page, node (npm @tensorflow/tfjs, a fresh process per cell), or auto:
              the page when one is connected, else Node when it is installed
  --timeout   seconds the cell may run (default 30)

Besides tf, the cell sees measureFrames(work) (runs `await work()` and returns the gaps
between the page's frames meanwhile, {gaps, ms}) and nextFrame() (a promise of the next
frame; in Node or a hidden tab, of a 16 ms timer).

The footer shows tf.memory().numTensors before and after the cell: tensors the cell
returned are read and disposed, so "after" above "before" means the cell leaked."""


class CellUsageError(BrowserRuntimeError):
    """A ``%%tfjs`` line that cannot be run (shown as one line, with the usage)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print and exit the kernel
        raise CellUsageError(f"%%tfjs: {message}")


def _parser() -> _Parser:
    p = _Parser(prog="%%tfjs", add_help=False)
    p.add_argument("--backend", "-b", default="wasm", choices=CELL_BACKENDS)
    p.add_argument("--in", "-i", dest="inputs", nargs="+", default=[], metavar="NAME")
    p.add_argument("--out", "-o", default=None, metavar="NAME")
    p.add_argument("--model", "-m", default=None, metavar="FOLDER")
    p.add_argument("--where", "-w", default="auto", choices=WHERE)
    p.add_argument("--timeout", "-t", type=float, default=30.0, metavar="SECONDS")
    return p


@dataclass
class CellRequest:
    """One ``%%tfjs`` cell: its code and what its first line asked for."""

    code: str
    backend: str = "wasm"
    inputs: tuple[str, ...] = ()
    out: str | None = None
    model: Path | None = None
    where: str = "auto"
    timeout_s: float = 30.0

    @classmethod
    def parse(cls, line: str, code: str, cwd: Path | None = None) -> CellRequest:
        """Read the magic's line; a bad one raises :class:`CellUsageError` in words."""
        try:
            words = shlex.split(line)
        except ValueError as err:
            raise CellUsageError(f"%%tfjs: cannot read the options ({err})") from err
        a = _parser().parse_args(words)
        names = tuple(n for item in a.inputs for n in item.split(",") if n)
        for name in (*names, *([a.out] if a.out else [])):
            if not name.isidentifier() or keyword.iskeyword(name):
                raise CellUsageError(f"%%tfjs: {name!r} is not a Python variable name")
        bad = [n for n in names if n in _JS_RESERVED]
        if bad:
            raise CellUsageError(f"%%tfjs: {bad[0]!r} cannot be a name in the cell's JavaScript; rename it")
        if not a.timeout > 0:
            raise CellUsageError("%%tfjs: --timeout must be a positive number of seconds")
        model = None
        if a.model:
            model = Path(a.model).expanduser()
            if not model.is_absolute():
                model = (cwd or Path.cwd()) / model
            if model.name == "model.json":
                model = model.parent
            if not (model / "model.json").is_file():
                raise CellUsageError(f"%%tfjs: --model {a.model}: no model.json in {model}")
        if not code.strip():
            raise CellUsageError("%%tfjs: the cell has no JavaScript to run")
        return cls(code=code, backend=a.backend, inputs=names, out=a.out, model=model, where=a.where,
                   timeout_s=float(a.timeout))

    def scope(self, namespace: Mapping[str, Any]) -> dict[str, Any]:
        """The ``--in`` variables as JSON values (arrays as nested lists, float32 precision)."""
        scope = {}
        for name in self.inputs:
            if name not in namespace:
                raise CellUsageError(f"%%tfjs: --in {name}: no Python variable named {name!r}")
            scope[name] = to_json_value(namespace[name], name)
        return scope


def to_json_value(value: Any, name: str = "value") -> Any:
    """A Python value as the cell sees it: numbers, strings, lists and dicts as they are;
    NumPy arrays as nested lists of float32 values (what TF.js will hold). Anything else,
    NaN, or too much is refused in words."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        if isinstance(value, float) and not np.isfinite(value):
            raise CellUsageError(f"%%tfjs: --in {name} is {value}, which JSON cannot carry")
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v, f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise CellUsageError(f"%%tfjs: --in {name} has dtype {arr.dtype}; give numbers")
        if arr.size > MAX_INPUT_VALUES:
            raise CellUsageError(f"%%tfjs: --in {name} has {arr.size:,} values; at most {MAX_INPUT_VALUES:,} "
                                 f"travel to a cell")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                raise CellUsageError(f"%%tfjs: --in {name} holds NaN or infinity, which JSON cannot carry")
            return arr.astype(np.float32).tolist()
        return arr.tolist()
    raise CellUsageError(f"%%tfjs: --in {name} is a {type(value).__name__}; give numbers, strings, lists, "
                         f"dicts or NumPy arrays")


def decode_value(value: Any, unpack: Callable[[Mapping[str, Any]], np.ndarray] | None = None) -> Any:
    """What a cell returned, as Python: ``{__tensor__}`` becomes a NumPy array (from a
    buffer through ``unpack``, or from inline ``data``), ``{__number__}`` a float."""
    if isinstance(value, Mapping):
        if value.get("__tensor__"):
            if "buffer" in value and unpack is not None:
                return unpack(value).copy()
            dtype = np.int32 if value.get("dtype") in ("int32", "bool") else np.float32
            data = np.asarray(value.get("data") or [], dtype=dtype)
            shape = tuple(int(d) for d in value.get("shape", [data.size]))
            if int(np.prod(shape)) != data.size:
                raise BrowserRuntimeError(f"the cell's answer holds {data.size} values for shape {shape}")
            return data.reshape(shape)
        if set(value) == {"__number__"}:
            return float(str(value["__number__"]).replace("Infinity", "inf"))
        return {k: decode_value(v, unpack) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v, unpack) for v in value]
    return value


@dataclass
class CellResult:
    """What a TF.js cell did: its value, printed lines, error, backend and tensor counts."""

    request: CellRequest
    value: Any = None
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    backend: str | None = None
    where: str | None = None
    num_tensors_before: int | None = None
    num_tensors_after: int | None = None
    ms: float | None = None
    tfjs_version: str | None = None
    status: str = "not sent"
    round_trip_s: float | None = None
    answered: bool = False

    @property
    def done(self) -> bool:
        return self.answered or self.error is not None

    @property
    def ok(self) -> bool:
        """The cell ran to the end, in a page or in Node."""
        return self.answered and self.error is None

    @property
    def leaked(self) -> int | None:
        """Tensors the cell left alive (its returned tensors excluded: they were disposed)."""
        if self.num_tensors_before is None or self.num_tensors_after is None:
            return None
        return self.num_tensors_after - self.num_tensors_before

    def read(self, content: Mapping[str, Any], unpack: Callable[[Mapping[str, Any]], np.ndarray] | None) -> None:
        """Fill in from an answer (the page's ``result`` message or Node's JSON line)."""
        self.value = decode_value(content.get("value"), unpack)
        self.logs = [str(line) for line in content.get("logs") or []]
        self.error = content.get("error")
        self.backend = content.get("backend")
        self.where = content.get("where")
        self.num_tensors_before = content.get("num_tensors_before")
        self.num_tensors_after = content.get("num_tensors_after")
        self.ms = None if content.get("ms") is None else float(content["ms"])
        self.tfjs_version = content.get("tfjs_version")
        self.answered = True

    def footer(self) -> str:
        """One line: where and on what it ran, how long, and the tensor count."""
        if not self.answered:
            return self.status
        where = {"page": "in this page", "node": "in Node (no page)"}.get(self.where or "", self.where or "?")
        backend = self.backend or self.request.backend
        if self.backend and self.backend != self.request.backend:
            backend = f"{self.backend} ({self.request.backend} is not available here)"
        parts = [f"TF.js {self.tfjs_version or '?'} {where}", backend]
        if self.ms is not None:
            parts.append(f"{self.ms:.1f} ms")
        if self.leaked is not None:
            verdict = "none left behind" if self.leaked == 0 else (
                f"{self.leaked} left behind" if self.leaked > 0 else f"{-self.leaked} freed")
            parts.append(f"tf.memory().numTensors {self.num_tensors_before} → {self.num_tensors_after} ({verdict})")
        return " · ".join(parts)

    def summary(self) -> str:
        if self.error and not self.answered:
            return self.error
        return f"error: {self.error}" if self.error else self.footer()

    def text(self) -> str:
        """What the cell printed, its error, and the footer, as plain text."""
        lines = list(self.logs)
        if self.error:
            lines.append(f"Error: {self.error}" if self.answered else self.error)
        if self.answered and self.value is not None:
            lines.append(f"→ {_short(self.value)}")
        lines.append(f"[{self.footer()}]")
        return "\n".join(lines)

    def html(self) -> str:
        esc = html.escape
        parts = []
        if self.logs:
            parts.append(f"<pre style='margin:0'>{esc(chr(10).join(self.logs))}</pre>")
        if self.error:
            parts.append(f"<pre style='margin:0;color:var(--jp-error-color1,#c00)'>"
                         f"{esc(('Error: ' if self.answered else '') + self.error)}</pre>")
        if self.answered and self.value is not None:
            parts.append(f"<pre style='margin:0'>→ {esc(_short(self.value))}</pre>")
        parts.append(f"<div style='font-size:11px;color:var(--jp-ui-font-color2,#666)'>{esc(self.footer())}</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return self.text()


def _short(value: Any, limit: int = 400) -> str:
    with np.printoptions(precision=5, threshold=20, edgeitems=3):
        text = f"array{value.shape} {value.dtype}: {value}" if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answered(result: CellResult | None) -> bool:
    """Whether a cell ran to the end, for the Python cell that checks its numbers; when it
    did not, say why in one line (an error, no page and no Node, or a kernel that reads the
    page's answer only after the cell, as on Colab) and return ``False``."""
    if result is not None and result.ok:
        return True
    print(f"(no TF.js numbers to check: {result.summary() if result is not None else 'the cell has not run'})")
    return False


def node_available() -> bool:
    """Whether the Node fallback can run (``node`` on PATH and the project's ``node_modules``)."""
    from browserml.tfjs_check import has_node

    return has_node()


def run_cell_in_node(request: CellRequest, scope: Mapping[str, Any]) -> CellResult:
    """Run the cell under Node (npm ``@tensorflow/tfjs``, a fresh process each time, so
    nothing carries over between cells). Node has ``cpu`` and ``wasm``; a cell that asks
    for webgl or webgpu runs on cpu and says so."""
    import contextlib
    import subprocess

    from browserml.serve import serve
    from browserml.tfjs_check import TfjsRuntimeError, TfjsUnavailableError, run_node_script

    result = CellResult(request)
    backend = request.backend if request.backend in NODE_BACKENDS else "cpu"
    config = {"code": request.code, "backend": backend, "timeout_ms": 1000 * request.timeout_s,
              "scope": dict(scope), "model_url": None}
    try:
        with contextlib.ExitStack() as stack:
            if request.model:  # served over HTTP on 127.0.0.1, so MODEL_URL is a URL here as in the page
                config["model_url"] = stack.enter_context(serve({"/": request.model})) + "/model.json"
            answer = run_node_script("tfjs_cell.cjs", timeout_s=request.timeout_s + 60, payload=config)
    except subprocess.TimeoutExpired:
        why = f"Node did not finish the cell within {request.timeout_s + 60:.0f} s"
    except (TfjsRuntimeError, TfjsUnavailableError, OSError) as err:
        why = f"Node could not run the cell: {err}"
    else:
        result.read(answer, None)
        result.status = "done"
        return result
    result.error = result.status = why
    return result

__all__ = [
    "CELL_BACKENDS",
    "USAGE",
    "CellRequest",
    "CellResult",
    "CellUsageError",
    "answered",
    "decode_value",
    "node_available",
    "run_cell_in_node",
    "to_json_value",
]
