"""``%%tfjs`` (widgets/tfjs_magic.py, browserml/inbrowser/cell.py): a learner's TF.js cell.

Cheapest first: the options and the values that travel (no JS); the page's answer as
widgets/browser_runtime.js packs it, read by the kernel; the very evalCell the page
runs, under Node (return values, printed lines, errors, tensor counts, a model loaded by
MODEL_URL); and the magic inside a real IPython shell, where a cell becomes an awaited
call. The page itself answers in headless JupyterLab in tests/test_intro_in_lab.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from inbrowser_answers import POLY

from browserml.inbrowser import OFF_ENV, model_payload, protocol
from browserml.inbrowser.cell import (
    CellRequest,
    CellResult,
    CellUsageError,
    decode_value,
    node_available,
    run_cell_in_node,
    to_json_value,
)
from widgets.tfjs_magic import ENTRY, rewrite_tfjs_cell

needs_node = pytest.mark.skipif(not node_available(), reason="Node and node_modules are needed (make setup)")

# float32 results of small sums and products: a few ulps of values near 1
F32 = 1e-6


# --------------------------------------------------------------------------- options and values


def test_the_line_is_read_into_a_request(tmp_path):
    req = CellRequest.parse("--backend cpu --in xs ys,zs --out y -t 5", "return 1")
    assert (req.backend, req.inputs, req.out, req.timeout_s, req.where) == ("cpu", ("xs", "ys", "zs"), "y", 5.0,
                                                                            "auto")
    req = CellRequest.parse(f"--model {POLY / 'model.json'}", "return 1")
    assert req.model == POLY


@pytest.mark.parametrize(("line", "code", "said"), [
    ("--bogus", "return 1", "unrecognized arguments: --bogus"),
    ("--backend tpu", "return 1", "invalid choice: 'tpu'"),
    ("--in class", "return 1", "'class' is not a Python variable name"),
    ("--in new", "return 1", "'new' cannot be a name in the cell's JavaScript"),
    ("--in tf", "return 1", "'tf' cannot be a name"),
    ("--timeout -1", "return 1", "--timeout must be a positive"),
    ("--model nowhere", "return 1", "no model.json"),
    ("--out 'a b'", "return 1", "'a b' is not a Python variable name"),
    ('--in "x', "return 1", "cannot read the options"),
    ("", "  \n", "no JavaScript to run"),
])
def test_a_bad_line_is_refused_in_one_line(line, code, said, tmp_path):
    with pytest.raises(CellUsageError, match="%%tfjs") as err:
        CellRequest.parse(line, code, cwd=tmp_path)
    assert said in str(err.value) and "\n" not in str(err.value)


def test_python_values_reach_the_cell_as_json_at_float32_precision():
    req = CellRequest.parse("--in a b c d", "return a")
    scope = req.scope({"a": np.float64(1) / 3, "b": np.arange(6).reshape(2, 3), "c": [1.5, "x"], "d": {"k": 2}})
    assert scope["a"] == pytest.approx(1 / 3) and scope["b"] == [[0, 1, 2], [3, 4, 5]]
    assert scope["c"] == [1.5, "x"] and scope["d"] == {"k": 2}
    x = to_json_value(np.array([1 / 3]))
    assert x == [float(np.float32(1 / 3))]  # float32, as TF.js will hold it
    with pytest.raises(CellUsageError, match="no Python variable named 'zz'"):
        CellRequest.parse("--in zz", "return 1").scope({})
    with pytest.raises(CellUsageError, match="NaN"):
        to_json_value(np.array([1.0, np.nan]), "v")
    with pytest.raises(CellUsageError, match="is a object"):
        to_json_value(object(), "v")
    with pytest.raises(CellUsageError, match="at most"):
        to_json_value(np.zeros(2_000_001, np.uint8), "v")


def test_returned_values_decode_to_numpy_and_python():
    buffers = [np.arange(6, dtype=np.float32).tobytes()]
    value = {"t": {"__tensor__": True, "shape": [2, 3], "dtype": "float32", "buffer": 0},
             "i": {"__tensor__": True, "shape": [2], "dtype": "int32", "data": [4, 5]},
             "n": {"__number__": "-Infinity"}, "s": ["a", 1.5, None]}
    out = decode_value(value, lambda spec: protocol._unpack_array(spec, buffers))
    np.testing.assert_array_equal(out["t"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert out["i"].dtype == np.int32 and out["i"].tolist() == [4, 5]
    assert out["n"] == -np.inf and out["s"] == ["a", 1.5, None]


# --------------------------------------------------------------------------- the page's answer


def _page_answer(job_id: str, **extra):
    """A ``result`` for an eval job, packed as widgets/browser_runtime.js packs it."""
    data = np.array([1, 4, 9], np.float32)
    content = {"kind": "result", "id": job_id, "job": "eval", "where": "page", "backend": "wasm",
               "value": {"y": {"__tensor__": True, "shape": [3], "dtype": "float32", "buffer": 0}, "n": 3},
               "logs": ["hello 3"], "error": None, "num_tensors_before": 5, "num_tensors_after": 6, "ms": 1.25,
               "tfjs_version": "4.22.0", **extra}
    return content, [data.tobytes()]


def test_an_eval_request_carries_the_code_the_values_and_the_model():
    req = CellRequest.parse(f"--backend cpu --model {POLY}", "return MODEL_URL")
    content, buffers = protocol.encode_eval_request(req, "job1", {"xs": [1.0, 2.0]}, model_payload(POLY))
    assert content["kind"] == protocol.EVAL == "eval" and content["code"] == "return MODEL_URL"
    assert content["backend"] == "cpu" and content["scope"] == {"xs": [1.0, 2.0]}
    assert content["model"]["how"] == "embed" and buffers[content["model"]["weights_buffer"]]


def test_the_kernel_reads_the_pages_answer():
    result = CellResult(CellRequest.parse("", "return 1"))
    protocol.read_result(result, *_page_answer("j"))
    assert result.ok and result.value["n"] == 3 and result.logs == ["hello 3"]
    np.testing.assert_array_equal(result.value["y"], [1, 4, 9])
    assert result.leaked == 1 and "5 → 6 (1 left behind)" in result.footer()
    assert "in this page" in result.footer() and "wasm" in result.footer()


def test_a_broken_answer_becomes_words_not_an_exception():
    result = CellResult(CellRequest.parse("", "return 1"))
    content, _ = _page_answer("j")
    protocol.read_result(result, content, [b"\x00" * 4])  # 1 value for shape [3]
    assert not result.ok and "could not read the page's answer" in result.error
    result = CellResult(CellRequest.parse("", "return 1"))
    protocol.read_result(result, {"kind": "result", "id": "j", "job": "eval", "error": "could not load TF.js"}, [])
    assert not result.ok and result.error == "could not load TF.js" and "error:" in result.summary()


# --------------------------------------------------------------------------- evalCell under Node


@needs_node
@pytest.mark.tfjs
def test_node_runs_the_cell_and_counts_its_tensors():
    leak = CellRequest.parse("--in xs --backend wasm", """
        const x = tf.tensor(xs);
        console.log('shape', x.shape);
        for (let i = 0; i < 10; i++) x.square();   // ten results nobody disposes
        return x.square();""")
    result = run_cell_in_node(leak, leak.scope({"xs": np.array([1.5, -2.0, 3.0])}))
    assert result.ok and result.where == "node" and result.backend == "wasm", result.text()
    np.testing.assert_allclose(result.value, np.array([1.5, -2.0, 3.0]) ** 2, rtol=F32)
    assert result.logs == ["shape [3]"]
    assert result.leaked == 11  # x and the ten squares; the returned tensor was read and disposed

    tidy = CellRequest.parse("--backend cpu", """
        return tf.tidy(() => {
          const x = tf.tensor([1.5, -2, 3]);
          for (let i = 0; i < 10; i++) x.square();
          return x.square().sum();
        });""")
    result = run_cell_in_node(tidy, {})
    assert result.ok and result.leaked == 0 and result.value.shape == ()
    assert result.logs == []  # not even TF.js's "Hi, looks like you are running TensorFlow.js in Node.js"
    assert float(result.value) == pytest.approx(1.5**2 + 4 + 9, rel=F32)


@needs_node
@pytest.mark.tfjs
def test_node_reports_errors_in_words_and_webgl_honestly():
    bad = CellRequest.parse("--backend webgl", "const t = tf.ones([2]);\nreturn t.nope();")
    result = run_cell_in_node(bad, {})
    assert not result.ok and result.answered and "TypeError" in result.error and "nope" in result.error
    assert result.leaked == 1  # the cell threw with tf.ones alive
    assert result.backend == "cpu" and "webgl is not available here" in result.footer()


@needs_node
@pytest.mark.tfjs
def test_a_cell_loads_an_export_by_model_url_and_matches_numpy():
    """Lesson 1's committed graph model, loaded the way a page loads it."""
    import json

    req = CellRequest.parse(f"--model {POLY} --in xs", """
        const model = await tf.loadGraphModel(MODEL_URL);
        const y = tf.tidy(() => model.execute({x: tf.tensor1d(xs)}, 'y'));
        model.dispose();
        return y;""")
    xs = np.linspace(-1, 1, 7)
    result = run_cell_in_node(req, req.scope({"xs": xs}))
    assert result.ok, result.text()
    coeffs = list(json.loads((POLY / "browserml.json").read_text())["extra"]["coefficients"].values())
    # float32 Horner evaluation of values of order 1: a few ulps
    np.testing.assert_allclose(result.value, np.polyval(coeffs, xs.astype(np.float32)), atol=1e-5)
    assert result.leaked == 0


# --------------------------------------------------------------------------- the magic in IPython


def test_only_tfjs_cells_are_rewritten_into_an_awaited_call():
    lines = ["%%tfjs --backend cpu\n", "return tf.add(1, 2);\n"]
    (out,) = rewrite_tfjs_cell(lines)
    assert out.startswith(f"await {ENTRY}('--backend cpu', ") and "return tf.add(1, 2);" in out
    assert rewrite_tfjs_cell(["x = 1\n"]) == ["x = 1\n"]
    assert rewrite_tfjs_cell(["%%tfjs?\n"]) == ["%%tfjs?\n"]
    assert rewrite_tfjs_cell(["%%tfjsx\n", "1\n"]) == ["%%tfjsx\n", "1\n"]


@pytest.fixture
def shell(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv(OFF_ENV, "off")  # no page: auto goes to Node
    ip = InteractiveShell.instance()  # the one an earlier test made, or a plain new one
    ip.run_line_magic("load_ext", "widgets.tfjs_magic")
    yield ip
    ip.run_line_magic("unload_ext", "widgets.tfjs_magic")


@needs_node
@pytest.mark.tfjs
def test_a_cell_runs_and_hands_its_value_to_python(shell, capsys):
    shell.user_ns["xs"] = np.array([1.0, 2.0, 3.0])
    outcome = shell.run_cell("%%tfjs --in xs --out total --backend cpu\n"
                             "return tf.tidy(() => tf.tensor(xs).square().sum());\n")
    assert outcome.success and outcome.result is None  # shown once, not again as Out[n]
    assert float(shell.user_ns["total"]) == pytest.approx(14.0, rel=F32)
    assert shell.user_ns["_tfjs"].leaked == 0 and "in Node (no page)" in capsys.readouterr().out


def test_a_bad_line_prints_the_problem_and_the_usage_not_a_traceback(shell, capsys):
    outcome = shell.run_cell("%%tfjs --backend tpu\nreturn 1\n")
    assert outcome.success
    err = capsys.readouterr().err
    assert err.startswith("%%tfjs: argument --backend/-b: invalid choice: 'tpu'") and "Traceback" not in err
    assert "--where" in err  # the usage follows
