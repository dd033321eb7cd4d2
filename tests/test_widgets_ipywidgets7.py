"""Every lesson's app on whichever ipywidgets is installed: 8 (the project's lock) or
7.7.1 with anywidget 0.9 (Google Colab's, which the notebooks must not replace).

Run this module in both: the project's venv, and the Colab stand-in that
``.ci/colab-venv`` builds. Controls are driven with the very comm messages a front end
sends (``index`` for a selection, ``value`` for a slider, a custom ``click`` event for a
button, the installed version's own upload format), so each version's deserialization
and trait plumbing is what runs, not a shortcut around it.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image

from browserml import anomaly as an
from browserml import playground as pg
from widgets.common import IPYWIDGETS_MAJOR, border_below, clear_upload, send_files, uploaded_files

# --------------------------------------------------------------------------- what a front end sends


def _message(widget: W.Widget, data: dict[str, Any]) -> None:
    widget._handle_msg({"content": {"data": data}, "buffers": []})


def front_end(widget: W.Widget, **state: Any) -> None:
    """The page changed ``state`` of ``widget`` (a slider moved, a box ticked, a canvas clicked)."""
    _message(widget, {"method": "update", "state": state, "buffer_paths": []})


def click(button: W.Button) -> None:
    _message(button, {"method": "custom", "content": {"event": "click"}})


def pick(selection: W.Widget, value: Any) -> None:
    """Choose ``value`` in a Dropdown or ToggleButtons: front ends sync the index, never the value."""
    values = [o[1] if isinstance(o, (tuple, list)) else o for o in selection.options]
    front_end(selection, index=values.index(value))


def png_bytes(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def displayed(obj: Any) -> list[dict[str, Any]]:
    """What ``IPython.display.display(obj)`` publishes, in a throwaway IPython shell."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    if InteractiveShell.initialized():
        pytest.skip("an IPython shell is already running")
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    InteractiveShell.instance(config=config)
    try:
        with capture_output() as captured:
            display(obj)
    finally:
        InteractiveShell.clear_instance()  # Output.capture behaves differently under a shell
    return [out.data for out in captured.outputs]


def walk(widget: W.Widget) -> list[W.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += walk(child)
    return found


# --------------------------------------------------------------------------- the helpers


def test_the_installed_version_is_one_the_apps_support():
    assert IPYWIDGETS_MAJOR == int(W.__version__.split(".")[0]) and IPYWIDGETS_MAJOR in (7, 8)


def test_upload_values_of_both_versions_read_the_same():
    png, txt = b"\x89PNG\r\n\x1a\n...", b"hello"
    seven = {"a.png": {"metadata": {"name": "a.png", "type": "image/png", "size": len(png), "lastModified": 0},
                       "content": png},
             "b.txt": {"metadata": {"name": "b.txt", "type": "text/plain", "size": len(txt), "lastModified": 0},
                       "content": txt}}
    eight = ({"name": "a.png", "type": "image/png", "size": len(png), "content": memoryview(png)},
             {"name": "b.txt", "type": "text/plain", "size": len(txt), "content": memoryview(txt)})
    assert uploaded_files(seven) == uploaded_files(eight) == [("a.png", png), ("b.txt", txt)]
    assert all(type(content) is bytes for _, content in uploaded_files(eight))
    assert uploaded_files({}) == uploaded_files(()) == uploaded_files(None) == []


def test_a_browser_upload_reaches_observers_and_the_same_file_can_come_again():
    upload = W.FileUpload(accept="image/*", multiple=True)
    seen: list[list[tuple[str, bytes]]] = []

    def on_value(change: dict[str, Any]) -> None:
        files = uploaded_files(change["new"])
        if files:
            seen.append(files)
            clear_upload(upload)

    upload.observe(on_value, names="value")
    send_files(upload, [("one.png", b"1111"), ("two.png", b"22")])
    assert seen == [[("one.png", b"1111"), ("two.png", b"22")]]
    assert not upload.value and uploaded_files(upload.value) == []
    send_files(upload, [("one.png", b"1111")])
    assert seen[-1] == [("one.png", b"1111")] and len(seen) == 2, "the same file again is a new upload"
    if IPYWIDGETS_MAJOR < 8:
        assert upload._counter == 3, "ipywidgets 7 counts every file the page sent"


def test_an_upload_without_clearing_is_still_read_in_the_installed_format():
    upload = W.FileUpload()
    send_files(upload, [("x.jpg", b"\xff\xd8\xff")])
    assert isinstance(upload.value, dict if IPYWIDGETS_MAJOR < 8 else tuple)
    assert uploaded_files(upload.value) == [("x.jpg", b"\xff\xd8\xff")]


def test_border_below_draws_the_rule_either_way():
    box = W.HBox([W.Button(description="a")], layout=W.Layout(padding="4px"))
    shown = border_below(box, "1px solid #ddd")
    if IPYWIDGETS_MAJOR >= 8:
        assert shown is box and box.layout.border_bottom == "1px solid #ddd"
    else:
        assert shown is not box and shown.children[0] is box
        assert "border-top:1px solid #ddd" in shown.children[1].value and shown.children[1].layout.height == "1px"
    assert box.layout.padding == "4px"


# --------------------------------------------------------------------------- every app builds and shows


def _built(make: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Build an app, keeping traitlets' warnings: a keyword a widget does not know (say an
    ipywidgets 8 ``Layout`` key on 7) is dropped with only a DeprecationWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = make()
    return app, [str(w.message) for w in caught if "unrecognized arguments" in str(w.message)]


@pytest.fixture(scope="module")
def polyfit():
    from browserml.polyfit.state import PolyfitState
    from widgets.polyfit import PolyfitApp

    return _built(lambda: PolyfitApp(PolyfitState(seed=0)))


@pytest.fixture(scope="module")
def playground():
    from widgets.playground import PlaygroundApp

    built = _built(lambda: PlaygroundApp(pg.PlaygroundState(pg.PlaygroundConfig(n_samples=200))))
    built[0].max_epochs = 50
    yield built
    built[0].pause()


@pytest.fixture(scope="module")
def anomaly():
    from browserml.anomaly.state import AnomalyState
    from widgets.anomaly import AnomalyApp

    return _built(lambda: AnomalyApp(AnomalyState(an.ANOMAGRAM_DEFAULT.with_changes(epochs=2))))


@pytest.fixture(scope="module")
def handtrack():
    from widgets.handtrack import HandtrackApp

    return _built(lambda: HandtrackApp(background=False))


@pytest.fixture(scope="module")
def imagesearch(tmp_path_factory):
    from browserml.data.images import load_image_set
    from browserml.imagesearch import features as fx
    from browserml.imagesearch.state import ImageSearchState
    from widgets.imagesearch import ImageSearchApp

    full = load_image_set("FASHION200")
    gallery = full.subset(np.concatenate([full.by_class(c)[:2] for c in range(len(full.class_names))]))
    cache = fx.FeatureCache(tmp_path_factory.mktemp("features"))
    return _built(lambda: ImageSearchApp(ImageSearchState(gallery, cache=cache), show_umap=False, background=False))


APPS = ("polyfit", "playground", "anomaly", "handtrack", "imagesearch")


def root(app: Any) -> W.Widget:
    return app.widget  # every app has one root widget


@pytest.mark.parametrize("name", APPS)
def test_every_app_builds_with_no_dropped_keyword_and_displays(name, request):
    app, dropped = request.getfixturevalue(name)
    assert dropped == [], f"{name}: widget keywords this ipywidgets does not know, silently dropped"
    assert app.errors.value == "" and app.output.outputs == ()
    tree = walk(root(app))
    assert len(tree) > 10 and all(w.comm is not None for w in tree), "every widget is open"
    outputs = displayed(app)
    views = [d["application/vnd.jupyter.widget-view+json"] for d in outputs
             if "application/vnd.jupyter.widget-view+json" in d]
    assert len(views) == 1 and views[0]["model_id"] == root(app).model_id
    assert views[0]["version_major"] == 2


# --------------------------------------------------------------------------- controls, through the front end


def test_polyfit_controls(polyfit):
    app, _ = polyfit
    plot = app.plot.value
    front_end(app.noise, value=0.2)
    front_end(app.degree, value=2)
    pick(app.method, "tape")
    front_end(app.iterations, value=10)
    st = app.state
    assert (st.noise, st.degree, st.method, st.iterations) == (0.2, 2, "tape", 10)
    assert "degree-2 model" in app.status.value and app.plot.value != plot and app.progress.max == 10
    click(app.train_button)
    app.job.join(60)
    assert len(st.losses) == 10 and app.progress.value == 10 and "<table>" in app.table.value
    assert app.errors.value == "" and app.output.outputs == ()


def test_playground_controls(playground):
    app, _ = playground
    picture, diagram = app.output_image.value, app.diagram.value
    front_end(app.noise, value=0.25)
    assert app.state.config.noise == 0.25 and app.output_image.value != picture
    pick(app.activation, "relu")
    front_end(app.feature_toggles["x1*x2"], value=True)
    c = app.state.config
    assert c.activation == "relu" and "x1*x2" in c.features and app.diagram.value != diagram
    front_end(app.dataset, clicked=-1)
    front_end(app.dataset, clicked=3)
    assert app.state.config.dataset == pg.DATASETS[3] and app.dataset.highlighted == [3]
    click(app.step_button)
    assert app.state.epoch == 1 and "000,001" in app.epoch_label.value
    click(app.add_layer_button)
    assert len(app.layer_controls) == len(app.state.config.hidden) == 3
    assert app.errors.value == "" and app.job_errors.value == "" and app.output.outputs == ()


def test_anomaly_controls(anomaly):
    app, _ = anomaly
    click(app.add_button)
    assert len(app.layers_box.children) == len(app.state.config.hidden) == 3
    front_end(app.layers_box.children[2], value=5)
    front_end(app.epochs, value=7)
    pick(app.activation, "elu")
    c = app.state.config
    assert c.hidden[2] == 5 and c.epochs == 7 and app.progress.max == 7 and c.activation == "elu"
    click(app.remove_button)
    assert len(app.layers_box.children) == 2
    assert [app.tabs.get_title(i) for i in (0, 5)] == ["1 Composer", "6 Draw"]
    assert app.errors.value == "" and app.output.outputs == ()


def test_handtrack_controls_and_uploads(handtrack):
    from browserml.handtrack import images as samples

    app, _ = handtrack
    st = app.state
    assert st.image_name == "two_open_hands" and app.table.value.count("<tr>") == 3
    front_end(app.score, value=0.99)
    assert st.score_threshold == 0.99 and "no detection" in app.table.value
    front_end(app.score, value=0.6)
    photo = png_bytes(samples.scenes()["raised_hand_small"])
    send_files(app.upload, [("mine.png", photo)])
    assert st.image_name == "mine.png" and "mine.png 300×230" in app.stats.value and not app.upload.value
    click(app.sample_buttons[0])
    assert st.image_name != "mine.png"
    send_files(app.upload, [("mine.png", photo)])
    assert st.image_name == "mine.png", "the same file, uploaded again, is read again"
    send_files(app.upload, [("broken.png", b"\x89PNG\r\n\x1a\n broken")])
    assert "broken.png" in app.errors.value and st.image_name == "mine.png"
    jpeg = png_bytes(samples.scenes()["two_open_hands"], "JPEG")
    front_end(app.webcam, data_url="data:image/jpeg;base64," + base64.b64encode(jpeg).decode())
    assert st.image_name == "webcam photo" and "webcam photo 640×480" in app.stats.value
    assert app.errors.value == "" and app.output.outputs == ()


def test_imagesearch_controls_clicks_and_uploads(imagesearch):
    app, _ = imagesearch
    st = app.state
    pick(app.metric, "euclidean")
    assert st.metric == "euclidean" and "by euclidean" in app.score.value and app.p.disabled
    front_end(app.k, value=5)
    assert st.k == 5 and app.results.count == 5
    front_end(app.advanced_button, value=True)
    assert app.advanced.layout.display == ""
    pick(app.class_filter, 5)
    assert st.class_filter == 5 and app.gallery.count == 2
    front_end(app.gallery, clicked=-1)
    front_end(app.gallery, clicked=1)
    assert st.query == app._gallery_ids[1] and app.query_title.value.endswith("· Sandal")
    target = app._result_ids[2]
    front_end(app.results, clicked=-1)
    front_end(app.results, clicked=2)
    assert st.query == target
    send_files(app.upload, [("mine.png", png_bytes(st.image_set.images[7]))])
    assert "your image" in app.query_title.value and app._result_ids[0] == 7 and not app.upload.value
    assert app.errors.value == "" and app.output.outputs == ()
