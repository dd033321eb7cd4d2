"""The one place that knows how Python, TensorFlow, tensorflowjs and Colab differ.

Two jobs, both done before TensorFlow or tensorflowjs is first imported:

1. **Quiet, right TensorFlow.** :func:`configure_tensorflow_env` (run by
   ``import browserml``) selects ``tf_keras`` as ``tf.keras`` (TF.js 4.22 rejects Keras 3
   layers exports) and sets TensorFlow's C++ log level, so a learner's first cell is not
   red CUDA/cuInit/oneDNN chatter that reads like an error. A value the user set is
   always kept. ``TF_CPP_MIN_LOG_LEVEL`` does not reach the lines TensorFlow's C++ core
   prints while ``import tensorflow`` runs (abseil writes them to stderr before its log
   settings exist), so the first ``import tensorflow`` after ``import browserml`` runs
   under :func:`tensorflow_log_filter`: that import's C-level stderr is read back,
   and exactly the lines the log level asks to hide are dropped; everything else is
   written out again. Python warnings that browserml itself would trigger are avoided at
   their source (see ``export.py``), never hidden wholesale.

2. **tensorflowjs without its dependency chain.** tensorflowjs 4.22 requires
   tensorflow-decision-forests, whose last release pins TensorFlow 2.19 (no Python 3.13
   wheel: tensorflow/tfjs issue #8565), so it is installed with ``--no-deps``
   (``requirements-nodeps.txt``). Its converters module still imports three things at
   the top that browserml never calls:

   - ``tensorflow_decision_forests`` (only for converting TF-DF models). Importing the
     real one also prints a "Try YDF" advert into every export cell;
   - ``tensorflow_hub`` (only for TF-Hub modules; it also needs ``pkg_resources``);
   - ``jax.experimental.jax2tf`` (only for ``convert_jax``).

   :func:`import_tensorflowjs` puts an inert stand-in in ``sys.modules`` for each one
   that cannot be imported, then imports tensorflowjs. It is a no-op for modules that
   exist, except TF-DF, whose real import only adds the advert and TensorFlow ops that
   an export never needs (set ``BROWSERML_REAL_TFDF=1`` to import it anyway). Every
   stand-in raises a clear error if something does reach into it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
import types
from collections.abc import Iterator
from typing import Any

#: tensorflowjs's version, pinned in requirements-nodeps.txt.
TFJS_PIN = "tensorflowjs==4.22.0"
INSTALL_HINT = f"pip install --no-deps {TFJS_PIN}  (its own requirements cannot install next to TensorFlow 2.20+)"


def configure_tensorflow_env() -> None:
    """Select tf_keras and quiet TensorFlow's C++ logs, unless the user chose otherwise.

    Must run before TensorFlow's first import to have any effect; ``import browserml``
    does it. Level 3 hides C++ INFO, WARNING and ERROR lines: on a machine without a GPU
    the "ERROR" lines are cuInit failing to find one, which is expected. Python-level
    errors are unaffected.
    """
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        from browserml.memory import limit_malloc_arenas

        limit_malloc_arenas()  # before TensorFlow's threads: Binder gives a kernel little memory
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


# abseil's pre-initialisation notice, and a glog-style line: severity, date, time, thread, file:line]
_ABSL_PREINIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
GLOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_CONTINUATION = ("To enable the following instructions:",)  # cpu_feature_guard's second line


def filter_tensorflow_log(text: str, min_level: int) -> str:
    """The lines of ``text`` that ``TF_CPP_MIN_LOG_LEVEL=min_level`` would have let through.

    Drops glog-style lines whose severity (I=0, W=1, E=2, F=3) is below ``min_level``, the
    continuation of a dropped line TensorFlow is known to print, and abseil's notice
    about logging before initialisation. Any other text is kept, in order."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        match = GLOG_LINE.match(line)
        if match:
            dropping = "IWEF".index(match.group(1)) < min_level
        elif line.rstrip("\n") == _ABSL_PREINIT:
            dropping = min_level > 0
        elif not (dropping and line.startswith(_CONTINUATION)):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def tensorflow_log_filter() -> Iterator[None]:
    """Read back the C-level stderr of the enclosed block and re-emit what the log level keeps.

    For the few calls that make TensorFlow's C++ core log before abseil's log settings
    exist, ignoring ``TF_CPP_MIN_LOG_LEVEL``: the first ``import tensorflow``, importing
    tensorflowjs (a real jax2tf starts abseil too), and converting a SavedModel (grappler
    prints its "Starting new session" lines)."""
    try:
        min_level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
        sys.stderr.flush()
        saved = os.dup(2)
    except (ValueError, OSError, AttributeError):
        yield  # no usable fd 2 (an embedded interpreter): nothing to filter
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            rest = filter_tensorflow_log(capture.read().decode("utf-8", "replace"), min_level)
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Runs the first ``import tensorflow`` under :func:`tensorflow_log_filter`, then
    leaves ``sys.meta_path``: later imports are untouched."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        real_exec = loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            with tensorflow_log_filter():
                real_exec(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


class _StandIn(types.ModuleType):
    """An importable, inert module: any attribute is a callable that says why it is missing."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name)
        self.__browserml_stand_in__ = why
        self.__path__: list[str] = []  # a package, so "from x import y" finds submodules below

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        why = self.__browserml_stand_in__

        def missing(*_args: Any, **_kwargs: Any) -> Any:
            raise ImportError(f"{self.__name__}.{attr} is not available: {why}")

        return missing


def _importable(name: str) -> bool:
    """True when ``name`` imports for real (present and not broken)."""
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a broken optional module is as good as absent here
        return False
    return True


def _stand_in(name: str, why: str) -> None:
    """Register a stand-in for ``name`` and its parents that are missing too."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        dotted = ".".join(parts[:i])
        if dotted in sys.modules and not isinstance(sys.modules[dotted], _StandIn) and i < len(parts):
            continue
        module = _StandIn(dotted, why)
        sys.modules[dotted] = module
        if i > 1:
            setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], module)


def install_tensorflowjs_stand_ins() -> list[str]:
    """Stand in for tensorflowjs's unused top-level imports; returns the names stood in for."""
    stood_in = []
    if "tensorflow_decision_forests" not in sys.modules and os.environ.get("BROWSERML_REAL_TFDF") != "1":
        _stand_in("tensorflow_decision_forests", "browserml converts no TF Decision Forests models")
        stood_in.append("tensorflow_decision_forests")
    if not _importable("tensorflow_hub"):
        _stand_in("tensorflow_hub", "browserml converts no TF-Hub modules")
        stood_in.append("tensorflow_hub")
    if not _importable("jax.experimental.jax2tf"):
        _stand_in("jax.experimental.jax2tf", "browserml converts no JAX functions")
        stood_in.append("jax.experimental.jax2tf")
    return stood_in


def import_tensorflowjs() -> types.ModuleType:
    """``import tensorflowjs``, the one way browserml does it: stand-ins first, one clear
    line (with the install command) if the package itself is missing."""
    if "tensorflowjs" in sys.modules:
        return sys.modules["tensorflowjs"]
    if importlib.util.find_spec("tensorflowjs") is None:
        raise ModuleNotFoundError(f"tensorflowjs is not installed: {INSTALL_HINT}")
    install_tensorflowjs_stand_ins()
    with tensorflow_log_filter():  # a real jax2tf (Colab has jax) starts abseil's logging too
        import tensorflowjs
        import tensorflowjs.converters  # the import that needs the stand-ins

    return tensorflowjs


def in_colab() -> bool:
    """True inside a Google Colab kernel (which imports ``google.colab`` at start-up)."""
    return "google.colab" in sys.modules


def kernel_queues_comms_during_cells() -> bool:
    """True inside an IPython kernel that holds widget (comm) messages until a cell ends.

    ipykernel 7.4 dispatches ``comm_msg`` while an async cell awaits (its
    ``Kernel.shell_main`` routes comm messages around the cell's lock); older kernels,
    Colab's 6.17 among them, queue them until the cell ends, so a cell can never wait
    for the page's answer. Detected from that code, not a version number. False outside
    a kernel (tests, scripts), where nothing queues."""
    kernelbase = sys.modules.get("ipykernel.kernelbase")
    if kernelbase is None or not kernelbase.Kernel.initialized():
        return False
    import inspect

    try:
        source = inspect.getsource(kernelbase.Kernel.shell_main)
    except (AttributeError, OSError, TypeError):
        return True
    return "comm_msg" not in source


def _live_subshells(kernel: Any) -> set[str] | None:
    """The ids of the kernel's subshells that exist now; ``None`` where it has no subshells."""
    thread = getattr(kernel, "shell_channel_thread", None)
    manager = getattr(thread, "manager", None)
    if manager is None or not hasattr(manager, "list_subshell"):
        return None
    return set(manager.list_subshell())


def _reply_routing_is_buggy() -> bool:
    """Whether this ipykernel routes comm messages by the comm's last publisher (7.4's
    ``BaseComm._reply_subshell_for``), the routing :func:`patch_comm_routing` mends."""
    try:
        from ipykernel.comm.comm import BaseComm
    except ImportError:
        return False
    return hasattr(BaseComm, "_reply_subshell_for")


def patch_comm_routing() -> bool:
    """Never route a widget message to a subshell that no longer exists (ipykernel 7.4).

    ipykernel 7.4 sends each incoming comm message to the subshell that last *published*
    on that comm, whatever subshell the page asked for (``Comm._reply_subshell_for``).
    JupyterLab 4.6 opens one subshell per page for widget messages and deletes it when
    the notebook is closed or the page reloads. From then on, every widget that the old
    page had touched is deaf: its messages go to the deleted subshell, the kernel answers
    ``UnknownSubshellError`` and drops them (lesson 2's tabs and threshold slider stopped
    responding after a reload). The patched method keeps 7.4's routing while the subshell
    lives and otherwise uses the page's choice, as the message asked. It is installed
    once, inside a kernel that has the method, when :mod:`browserml` is imported, and
    returns whether it is in place.
    """
    module = sys.modules.get("ipykernel.comm.comm")
    comm_class = getattr(module, "BaseComm", None)
    original = getattr(comm_class, "_reply_subshell_for", None)
    if module is None or comm_class is None or original is None:  # no method implies no module and no class
        return False
    if getattr(original, "__browserml_patch__", False):
        return True

    def _reply_subshell_for(self: Any, data: Any, default: str | None) -> str | None:
        chosen = original(self, data, default)
        if chosen is None or chosen == default:
            return chosen
        live = _live_subshells(self.kernel or module.Kernel.instance())
        if live is None or chosen in live:
            return chosen
        with self._reply_subshell_lock:  # forget it: the next message need not look again
            if getattr(self, "_reply_subshell_id", None) == chosen:
                self._reply_subshell_id = default
        return default

    _reply_subshell_for.__browserml_patch__ = True  # type: ignore[attr-defined]
    _reply_subshell_for.__doc__ = original.__doc__
    comm_class._reply_subshell_for = _reply_subshell_for
    return True
