"""browserml.compat: tensorflowjs without its dependency chain, and a quiet TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from browserml import compat

GLOG_INFO = "I0000 00:00:1796215975.357144    4063 port.cc:153] oneDNN custom operations are on.\n"
GLOG_ERROR = "E0000 00:00:1796215975.357144    4063 cuda_driver.cc:152] failed call to cuInit\n"
CPU_GUARD = ("I0000 00:00:1796215982.270225    4081 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n"
             "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n")


def test_the_log_filter_drops_exactly_what_the_level_hides():
    text = compat._ABSL_PREINIT + "\n" + GLOG_INFO + GLOG_ERROR + CPU_GUARD + "a line of our own\n"
    assert compat.filter_tensorflow_log(text, 3) == "a line of our own\n"
    assert compat.filter_tensorflow_log(text, 2) == GLOG_ERROR + "a line of our own\n"
    assert compat.filter_tensorflow_log(text, 0) == text, "level 0 keeps everything"
    other = "To enable the following instructions: on its own, not after a dropped line\n"
    assert compat.filter_tensorflow_log(other, 3) == other


def test_the_filter_rewrites_c_level_stderr_of_the_block(capfd):
    with compat.tensorflow_log_filter():
        import os

        os.write(2, (GLOG_INFO + "kept\n").encode())
    err = capfd.readouterr().err
    assert "kept" in err and "oneDNN" not in err


def test_stand_ins_only_where_a_module_is_missing(monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow_decision_forests", raising=False)
    real_json = sys.modules["json"]
    monkeypatch.setattr(compat, "_importable", lambda name: name != "tensorflow_hub")
    stood = compat.install_tensorflowjs_stand_ins()
    try:
        assert stood == ["tensorflow_decision_forests", "tensorflow_hub"]
        hub = sys.modules["tensorflow_hub"]
        with pytest.raises(ImportError, match="browserml converts no TF-Hub modules"):
            hub.load("https://example/model")
        assert sys.modules["json"] is real_json
    finally:
        for name in stood:
            sys.modules.pop(name, None)


def test_tensorflowjs_imports_with_its_stand_ins_and_no_advert():
    """In a fresh process, as a notebook kernel would: the converters import, TF-DF is a
    stand-in (so no "Try YDF" advert), and nothing of TensorFlow's C++ start-up shows."""
    script = ("import browserml.compat as c, sys\n"
              "tfjs = c.import_tensorflowjs()\n"
              "from tensorflowjs.converters import convert_tf_saved_model\n"
              "print(tfjs.__version__, type(sys.modules['tensorflow_decision_forests']).__name__)\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("TF_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["4.22.0", "_StandIn"]
    from browserml.notebooks import log_noise

    assert not log_noise(done.stdout + done.stderr), done.stderr[-1000:]


def test_a_missing_tensorflowjs_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflowjs", raising=False)
    monkeypatch.setattr(compat.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps tensorflowjs==4\.22\.0"):
        compat.import_tensorflowjs()


def test_colab_is_told_by_its_module():
    assert not compat.in_colab()
    sys.modules["google.colab"] = types.ModuleType("google.colab")
    try:
        assert compat.in_colab()
    finally:
        del sys.modules["google.colab"]
