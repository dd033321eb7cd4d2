"""Lesson 5's app: the pure drawing functions directly, then every control of the view
by setting its widget and checking the state and the pictures."""

from __future__ import annotations

import io
import re
import time

import ipywidgets as W
import numpy as np
import pytest
from PIL import Image

from browserml import playground as pg
from browserml.figures import contrast_ratio
from browserml.playground import pictures as pp
from widgets import playground as wp
from widgets.playground import PlaygroundApp

ORANGE, BLUE, WHITE = (245, 147, 34), (8, 119, 189), (255, 255, 255)


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def decode_rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


# ---------------------------------------------------------------- pure drawing functions


def test_colour_map_is_playgrounds_orange_white_blue_and_clamps():
    rgb = pp.colour_rgb(np.array([-1.0, 0.0, 1.0, -7.0, 4.2, 0.5, np.nan]))
    assert rgb.dtype == np.uint8 and rgb.shape == (7, 3)
    assert [tuple(c) for c in rgb[:5]] == [ORANGE, WHITE, BLUE, ORANGE, BLUE]
    np.testing.assert_allclose(rgb[5], (np.array(WHITE) + np.array(BLUE)) / 2, atol=1.5)  # linear between
    assert tuple(rgb[6]) == tuple(pp.hex_to_rgb(pp.NAN_COLOUR).astype(int))
    assert pp.hex_colour(-1.0) == pp.NEGATIVE and pp.hex_colour(1.0) == pp.POSITIVE
    assert pp.hex_colour(0.0) == "#ffffff" and pp.hex_colour(0.0, pp.LINK_ZERO) == pp.LINK_ZERO
    assert pp.colour_rgb(np.zeros((3, 4))).shape == (3, 4, 3)
    with pytest.raises(ValueError, match="rrggbb"):
        pp.hex_to_rgb("blue")


def test_weight_to_line_width_follows_playgrounds_scale():
    widths = pp.link_width(np.array([0.0, 2.5, -2.5, 5.0, -40.0, np.nan]))
    np.testing.assert_allclose(widths, [1.0, 5.5, 5.5, 10.0, 10.0, 1.0])
    layout = wp.DiagramLayout((2, 3, 1))
    kernels = [np.array([[0.0, 1.0, -5.0], [2.5, -0.2, 9.0]]), np.array([[1.0], [-1.0], [0.1]])]
    links = wp.diagram_links(layout, kernels)
    assert len(links) == 6 + 3
    by_end = {(k.column, k.source, k.target): k for k in links}
    assert by_end[(0, 0, 0)].width == 1.0 and by_end[(0, 0, 0)].colour == pp.LINK_ZERO
    assert by_end[(0, 0, 2)].width == 10.0 and by_end[(0, 0, 2)].colour == pp.NEGATIVE
    assert by_end[(0, 1, 0)].width == pytest.approx(5.5) and by_end[(0, 1, 0)].colour == pp.POSITIVE
    assert by_end[(1, 1, 0)].colour == pp.NEGATIVE and by_end[(1, 1, 0)].weight == -1.0
    # each curve runs from the right edge of its source to the left edge of its target
    x1, y1 = layout.centre(0, 1)
    x2, y2 = layout.centre(1, 2)
    assert by_end[(0, 1, 2)].path.startswith(f"M{x1 + 15:.1f},{y1:.1f}")
    assert by_end[(0, 1, 2)].path.endswith(f"{x2 - 15:.1f},{y2:.1f}")
    with pytest.raises(ValueError, match="shape"):
        wp.diagram_links(layout, [kernels[0].T, kernels[1]])
    with pytest.raises(ValueError, match="weight matrices"):
        wp.diagram_links(layout, kernels[:1])


def test_diagram_geometry():
    layout = wp.DiagramLayout((2, 4, 8, 1), node=30, col_w=76, row_h=40, label_w=46, top=8)
    assert layout.centre(0, 0) == (61.0, 23.0) and layout.centre(2, 7) == (61.0 + 152, 23.0 + 280)
    assert layout.height == 8 + 30 + 7 * 40 + 12 and layout.width == 46 + 30 + 3 * 76 + 12
    # the +/- boxes (col_w wide) start so that hidden layer 0's box is centred over its column
    assert layout.control_offset + 76 / 2 == layout.centre(1, 0)[0]
    assert wp.DiagramLayout((2, 1)).control_offset == 0.0, "no hidden layer, no controls"
    with pytest.raises(IndexError):
        layout.centre(3, 1)


def test_pixels_and_output_picture():
    px, py = pp.to_pixels(np.array([[-6.0, 6.0], [6.0, -6.0], [0.0, 0.0]]), 300)
    np.testing.assert_allclose(px, [0, 300, 150])
    np.testing.assert_allclose(py, [0, 300, 150])
    grid = np.linspace(-1, 1, 100 * 100).reshape(100, 100)
    bare = decode(pp.output_png(grid, {}, size=100))
    np.testing.assert_array_equal(bare, pp.colour_rgb(grid)), "no resize, no points: the colour map itself"
    train = {"train_xy": np.array([[0.0, 0.0]]), "train_y": np.array([-1.0])}
    with_point = decode(pp.output_png(grid, train, size=100))
    assert tuple(with_point[50, 50]) == ORANGE and tuple(with_point[47, 50]) == WHITE, "orange dot, white rim"
    test = {**train, "test_xy": np.array([[3.0, 3.0]]), "test_y": np.array([1.0])}
    with_test = decode(pp.output_png(grid, test, size=100))
    assert tuple(with_test[25, 75]) == BLUE and tuple(with_test[22, 75]) == (0, 0, 0), "test points have a black rim"


def test_neuron_sprite_tiles_every_node_in_diagram_order():
    rng = np.random.default_rng(0)
    neurons = [rng.uniform(-1, 1, (2, 8, 8)), rng.uniform(-2, 2, (3, 8, 8)), rng.uniform(-1, 1, (1, 8, 8))]
    sheet = decode(wp.neuron_sprite(neurons))
    assert sheet.shape == (8, 6 * 8, 3)
    np.testing.assert_array_equal(sheet[:, 3 * 8:4 * 8], pp.colour_rgb(neurons[1][1]))
    discrete = decode(wp.neuron_sprite(neurons, discretize=True))
    assert {tuple(c) for c in discrete.reshape(-1, 3)} <= {ORANGE, BLUE, WHITE}


def test_diagram_html_has_every_node_link_bias_and_the_hover():
    layout = wp.DiagramLayout((2, 3, 1))
    kernels = [np.full((2, 3), 0.5), np.full((3, 1), -0.5)]
    html = wp.diagram_html(layout, "data:image/png;base64,AAAA", kernels, [np.zeros(3), np.ones(1)],
                           ["x₁", "x₂"], uid="t")
    assert html.count("class='bm-pgt-n'") == 6
    assert html.count("<path") == 9 and html.count("Weight is 0.500") == 6 and html.count("Weight is -0.500") == 3
    assert html.count("Bias is") == 4 and ">x₂</text>" in html
    assert re.search(r"\.bm-pgt-n:hover\{transform:scale\(4\)", html), "hover enlarges a neuron, no kernel needed"
    offsets = re.findall(r"background-position:-(\d+)px 0", html)
    assert [int(o) for o in offsets] == [k * 28 for k in range(6)]
    assert html.count("data:image/png;base64,AAAA") == 1, "the sprite is sent once"
    with pytest.raises(ValueError, match="label"):
        wp.diagram_html(layout, "", kernels, [np.zeros(3), np.ones(1)], ["x₁"])


def test_loss_curve_and_counter():
    flat = [pg.EpochStats(i, 0.5, 0.5) for i in range(5)]
    falling = [pg.EpochStats(i, 0.5 / (i + 1), 0.6 / (i + 1)) for i in range(5)]
    assert pp.loss_curve_png(flat) != pp.loss_curve_png(falling)
    picture = decode_rgba(pp.loss_curve_png(falling, width=100, height=40))
    assert picture.shape == (40, 100, 4) and (picture[..., 3] == 255).any(), "the solid test-loss line is drawn"
    assert (decode_rgba(pp.loss_curve_png(falling[:1]))[..., 3] == 0).all(), "one point: no line yet"
    assert decode(pp.loss_curve_png([pg.EpochStats(0, np.nan, np.nan)] * 3)).shape == (48, 280, 3)
    assert wp.epoch_text(0) == "000,000" and wp.epoch_text(1234) == "001,234" and wp.epoch_text(1234567) == "1,234,567"


# ---------------------------------------------------------------- the view


@pytest.fixture
def app() -> PlaygroundApp:
    a = PlaygroundApp(pg.PlaygroundState(pg.PlaygroundConfig(n_samples=200)))
    a.max_epochs = 2000  # a safety net: a test that forgets to pause still ends
    yield a
    a.pause()


def nodes(app: PlaygroundApp) -> int:
    return app.diagram.value.count("-n' title=")


def quiet(app: PlaygroundApp) -> bool:
    return app.errors.value == "" and app.job_errors.value == "" and app.output.outputs == ()


def test_initial_view(app):
    c = app.state.config
    assert quiet(app) and nodes(app) == 2 + 4 + 2 + 1
    assert "000,000" in app.epoch_label.value and "Classification" in app.problem_type.value
    assert "Test loss" in app.loss_label.value and f"{app.state.history[-1].test_loss:.3f}" in app.loss_label.value
    assert decode(app.output_image.value).shape == (pp.OUTPUT_PX, pp.OUTPUT_PX, 3)
    assert [t.value for t in app.feature_toggles.values()] == [f in c.features for f in pg.FEATURES]
    assert app.dataset.highlighted == [0] and app.dataset.count == 6 and app.dataset.captions == list(pg.DATASETS)
    assert len(app.layer_controls) == 2 and "2 HIDDEN LAYERS" in app.layers_label.value
    assert all(s.continuous_update is False for s in (app.noise, app.train_ratio, app.batch_size))


def test_data_controls_regenerate_data_and_rebuild_the_network(app):
    s = app.state
    app.step_button.click()
    data, network, picture = s.data, s.network, app.output_image.value
    app.noise.value = 0.2
    assert s.config.noise == 0.2 and s.data is not data and s.network is not network and s.epoch == 0
    assert not np.array_equal(s.data.train_y, data.train_y), "noise moved labels"
    assert app.output_image.value != picture and "000,000" in app.epoch_label.value and quiet(app)

    app.step_button.click()
    network = s.network
    app.train_ratio.value = 0.3
    assert s.config.train_ratio == pytest.approx(0.3) and len(s.data.train_xy) == 60 and len(s.data.test_xy) == 140
    assert s.network is not network and s.epoch == 0

    picture, seed, data = app.output_image.value, s.config.seed, s.data
    app.regenerate_button.click()
    assert s.config.seed == seed + 1 and not np.array_equal(s.data.train_xy, data.train_xy)
    assert app.output_image.value != picture and quiet(app)


def test_dataset_picker(app):
    s = app.state
    picture = app.output_image.value
    app.dataset.clicked = pg.DATASETS.index("xor")
    assert s.config.dataset == "xor" and app.dataset.highlighted == [1] and app.output_image.value != picture
    app.dataset.clicked = -1  # the front end's "click again" reset: ignored
    assert s.config.dataset == "xor"
    app.dataset.clicked = pg.DATASETS.index("multigauss")
    assert s.config.task == "regression" and "Regression" in app.problem_type.value
    assert s.network.model.layers[-1].activation.__name__ == "linear" and quiet(app)


def test_training_controls_apply_live_without_rebuilding(app):
    s = app.state
    app.step_button.click()
    network, epoch, picture = s.network, s.epoch, app.output_image.value
    app.learning_rate.value = 0.3
    app.batch_size.value = 25
    app.regularization.value = "l1"
    app.regularization_rate.value = 0.01
    c = s.config
    assert (c.learning_rate, c.batch_size, c.regularization, c.regularization_rate) == (0.3, 25, "l1", 0.01)
    assert s.network is network and s.epoch == epoch and app.output_image.value == picture
    assert float(network.learning_rate.numpy()) == pytest.approx(0.3)
    assert float(network.l1.numpy()) == pytest.approx(0.01) and float(network.l2.numpy()) == 0.0
    app.regularization.value = "l2"
    assert float(network.l2.numpy()) == pytest.approx(0.01) and float(network.l1.numpy()) == 0.0
    assert quiet(app)


def test_activation_rebuilds_the_network(app):
    s = app.state
    app.step_button.click()
    network, picture = s.network, app.diagram.value
    app.activation.value = "relu"
    assert s.config.activation == "relu" and s.network is not network and s.epoch == 0
    assert s.network.model.get_layer("hidden_1").activation.__name__ == "relu" and app.diagram.value != picture


def test_feature_toggles_and_the_last_feature(app):
    s = app.state
    network = s.network
    app.feature_toggles["sin(x1)"].value = True
    assert s.config.features == ("x1", "x2", "sin(x1)") and s.network is not network and nodes(app) == 3 + 4 + 2 + 1
    assert ">sin(x₁)</text>" in app.diagram.value and app.feature_toggles["sin(x1)"].button_style == "info"
    app.feature_toggles["x1"].value = False
    app.feature_toggles["x2"].value = False
    assert s.config.features == ("sin(x1)",) and quiet(app)
    network, picture = s.network, app.diagram.value
    app.feature_toggles["sin(x1)"].value = False  # the last one: refused
    assert "at least one input feature" in app.errors.value
    assert app.feature_toggles["sin(x1)"].value is True, "the toggle snaps back"
    assert s.config.features == ("sin(x1)",) and s.network is network and app.diagram.value == picture
    app.feature_toggles["x1^2"].value = True
    assert s.config.features == ("x1^2", "sin(x1)") and app.errors.value == "", "the next good change clears it"


def make_app(**config) -> PlaygroundApp:
    return PlaygroundApp(pg.PlaygroundState(pg.PlaygroundConfig(n_samples=200, **config)))


def test_layer_buttons_and_their_limits(app):
    s = app.state
    app.add_layer_button.click()
    assert s.config.hidden == (4, 2, 2) and len(app.layer_controls) == 3 and nodes(app) == 2 + 8 + 1
    assert "3 HIDDEN LAYERS" in app.layers_label.value and quiet(app)
    app.remove_layer_button.click()
    assert s.config.hidden == (4, 2) and len(app.layer_controls) == 2 and nodes(app) == 2 + 6 + 1

    full = make_app(hidden=(1,) * (pg.MAX_LAYERS - 1))
    full.add_layer_button.click()
    assert full.state.config.hidden == (1,) * (pg.MAX_LAYERS - 1) + (2,) and len(full.layer_controls) == pg.MAX_LAYERS
    network, picture = full.state.network, full.diagram.value
    full.add_layer_button.click()
    assert f"at most {pg.MAX_LAYERS}" in full.errors.value
    assert len(full.state.config.hidden) == pg.MAX_LAYERS and full.state.network is network
    assert full.diagram.value == picture

    empty = make_app(hidden=(3,))
    empty.remove_layer_button.click()
    assert empty.state.config.hidden == () and empty.layer_controls == [] and nodes(empty) == 2 + 1 and quiet(empty)
    assert "0 HIDDEN LAYERS" in empty.layers_label.value
    empty.step_button.click()  # the 2 -> 1 network trains too
    network = empty.state.network
    empty.remove_layer_button.click()
    assert "no hidden layer" in empty.errors.value and empty.state.network is network and empty.state.epoch == 1


def test_neuron_buttons_and_their_limits():
    app = make_app(hidden=(7, 2))
    s = app.state
    plus = app.layer_controls[1][0]
    plus.click()
    assert s.config.hidden == (7, 3) and nodes(app) == 2 + 7 + 3 + 1 and "3 neurons" in str(
        [w.value for w in app.layer_box.children[2].children if hasattr(w, "value")])
    app.layer_controls[1][1].click()
    app.layer_controls[1][1].click()
    assert s.config.hidden == (7, 1) and quiet(app)
    network = s.network
    app.layer_controls[1][1].click()  # below one neuron: refused
    assert "1 to 8" in app.errors.value and s.config.hidden == (7, 1) and s.network is network
    app.layer_controls[0][0].click()
    assert s.config.hidden == (8, 1) and quiet(app)
    network = s.network
    app.layer_controls[0][0].click()  # above eight: refused
    assert "1 to 8" in app.errors.value and s.config.hidden == (8, 1) and s.network is network


def test_step_and_reset(app):
    s = app.state
    first_picture, first_diagram = app.output_image.value, app.diagram.value
    app.step_button.click()
    assert s.epoch == 1 and len(s.history) == 2 and "000,001" in app.epoch_label.value
    app.step_button.click()
    assert s.epoch == 2 and app.output_image.value != first_picture and app.diagram.value != first_diagram
    assert f"{s.history[-1].train_loss:.3f}" in app.loss_label.value
    network = s.network
    app.reset_button.click()
    assert s.epoch == 0 and s.network is not network and len(s.history) == 1 and "000,000" in app.epoch_label.value
    assert app.output_image.value == first_picture, "seeded: a reset network draws exactly the first picture"


def test_discretize_and_show_test_data_change_the_picture(app):
    s = app.state
    app.step_button.click()
    plain = app.output_image.value
    app.discretize.value = True
    assert s.discretize and app.output_image.value != plain
    assert set(np.unique(s.grid(20))) <= {-1.0, 0.0, 1.0}
    app.discretize.value = False
    assert app.output_image.value == plain
    app.show_test_data.value = True
    assert s.show_test_data and "test_xy" in s.points() and app.output_image.value != plain
    app.show_test_data.value = False
    assert app.output_image.value == plain and quiet(app)


def wait_for(condition, timeout=30.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_play_and_pause_from_the_view(app):
    s = app.state
    picture = app.output_image.value
    app.play_button.click()
    assert app.playing and app.play_button.description == "Pause"
    wait_for(lambda: s.epoch >= 3)
    app.play_button.click()
    assert not app.playing and not s.playing and app.play_button.description == "Play"
    stopped = s.epoch
    time.sleep(0.2)
    assert s.epoch == stopped and stopped < 2000
    assert epoch_shown(app) == stopped and app.output_image.value != picture and quiet(app)


def epoch_shown(app):
    return int(re.search(r"(\d{3},\d{3})", app.epoch_label.value).group(1).replace(",", ""))


def test_rebuilding_controls_pause_first_and_training_controls_do_not(app):
    s = app.state
    app.play_button.click()
    wait_for(lambda: s.epoch >= 2)
    app.learning_rate.value = 0.1  # live: still playing
    assert app.playing and float(s.network.learning_rate.numpy()) == pytest.approx(0.1)
    app.discretize.value = True  # a display toggle redraws while training goes on
    assert app.playing
    app.noise.value = 0.1  # rebuilds: pauses first
    assert not app.playing and s.epoch == 0 and app.play_button.description == "Play"
    assert s.config.noise == 0.1 and epoch_shown(app) == 0 and quiet(app)


def test_play_stops_at_max_epochs_and_errors_in_the_thread_are_shown(app, monkeypatch):
    app.max_epochs = 3
    app.play_button.click()
    app.job.join(30)
    assert app.state.epoch == 3 and epoch_shown(app) == 3 and app.play_button.description == "Play"

    def broken(epochs=1):
        raise FloatingPointError("the loss became NaN")

    monkeypatch.setattr(app.state, "step", broken)
    app.play_button.click()
    app.job.join(30)
    assert "the loss became NaN" in app.job_errors.value and app.play_button.description == "Play"


def test_redraw_is_quick_for_the_largest_network(app):
    app.state.set(features=pg.FEATURES, hidden=(pg.MAX_NEURONS,) * pg.MAX_LAYERS)
    app.state.show_test_data = True
    app.redraw()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        app.redraw()
        times.append(time.perf_counter() - start)
    assert nodes(app) == 7 + 48 + 1
    # ~0.1 s on 2 idle cores; the bound leaves room for a busy machine
    assert np.median(times) < 1.0, times


# ---------------------------------------------------------------- issue 14: light and dark themes


def test_the_loss_chart_is_transparent_with_ink_that_reads_on_white_and_black():
    falling = [pg.EpochStats(i, 0.5 / (i + 1), 0.6 / (i + 1)) for i in range(20)]
    picture = decode_rgba(pp.loss_curve_png(falling))
    assert picture[0, 0, 3] == 0, "no white background"
    opaque = picture[picture[..., 3] == 255][:, :3]
    assert len(opaque), "the test-loss line is solid"
    for rgb in {tuple(c) for c in opaque.tolist()}:
        ink = "#{:02x}{:02x}{:02x}".format(*rgb)
        assert contrast_ratio(ink, "white") >= 3 and contrast_ratio(ink, "black") >= 3, ink


def html_in(widget) -> str:
    """Every HTML the app shows: HTML widgets' values, walked through the whole tree."""
    own = widget.value if isinstance(widget, W.HTML) else ""
    return own + "".join(html_in(c) for c in getattr(widget, "children", ()))


def test_text_colours_follow_the_jupyterlab_theme(app):
    """Labels were dark grey (#777, #555, #333) on JupyterLab's black: every text colour
    is a --jp-* theme variable (with a light fallback for front ends without them)."""
    html = html_in(app.widget)
    colours = re.findall(r"(?<![-\w])(?:color|fill)\s*:\s*([^;'\"]+)", html)
    assert colours, "the app colours some text"
    hard = [c for c in colours if not c.strip().startswith("var(--jp-")]
    assert hard == [], f"hard-coded text colours: {sorted(set(hard))}"
    assert "fill='#333'" not in html, "the input labels of the diagram follow the theme too"
    assert "var(--jp-border-color2" in app.widget.children[0].layout.border_bottom


def test_the_notebooks_loss_curves_read_on_both_themes_and_stay_apart():
    from browserml.playground import plots as pp
    from browserml.figures import render_png

    state = pg.PlaygroundState(pg.PlaygroundConfig(n_samples=100))
    state.step()
    fig = pp.plot_boundary(state)
    render_png(fig)
    train, test = fig.axes[1].lines
    for line in (train, test):
        assert contrast_ratio(line.get_color(), "white") >= 3 and contrast_ratio(line.get_color(), "black") >= 3
    assert (train.get_linestyle(), train.get_linewidth()) != (test.get_linestyle(), test.get_linewidth())
