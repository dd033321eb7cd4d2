"""Lesson 5's app: TensorFlow Playground, laid out like playground.tensorflow.org.

:class:`browserml.playground.state.PlaygroundState` holds every setting, the data and the
``tf_keras`` network; :class:`PlaygroundApp` is the thin view:

- top bar: reset, play/pause, step, the epoch counter, learning rate, activation,
  regularization and its rate, and the problem type of the chosen dataset;
- DATA: the six datasets as clickable thumbnails, the ratio of training to test data,
  noise, batch size, and "Regenerate" (new points from the next seed);
- FEATURES: the seven inputs, each a toggle beside its own small heatmap;
- HIDDEN LAYERS: +/− for layers, and +/− over each layer for its neurons;
- the network diagram: links as wide and as blue (positive) or orange (negative) as
  their weights, every neuron drawn as the heatmap of its output; hovering a neuron
  enlarges its picture and hovering a link shows its weight (plain HTML, SVG and CSS
  ``:hover``: no kernel round trip, no JavaScript);
- OUTPUT: test and training loss with a small loss curve, the decision-boundary
  heatmap with the training points (and the test points, outlined in black, when
  "Show test data" is on), and "Discretize output".

While playing, training runs in a :class:`~widgets.common.BackgroundJob` thread and
the pictures are redrawn through a :class:`~widgets.common.Throttle`, so the kernel
stays free for the controls. **Which controls pause:** everything that rebuilds the
data or the network (dataset, noise, ratio, Regenerate, features, layers, neurons,
activation, Reset) and Step *pause first*, as Playground does, then apply; the
training settings (learning rate, regularization, its rate, batch size) and the two
display toggles apply live without pausing. Nothing is disabled while playing.

Drawing is pure NumPy → PNG through Pillow (no matplotlib): the colour map and the
pictures live in :mod:`browserml.playground.pictures`; the diagram's geometry and the
weight → line width rule are plain functions here that the tests call directly.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import numpy as np

from browserml import playground as pg
from browserml.figures import NEUTRAL
from browserml.playground.pictures import (
    LEARNING_RATES,
    LINK_ZERO,
    NEGATIVE,
    NEURON_RESOLUTION,
    OUTPUT_PX,
    OUTPUT_RESOLUTION,
    POSITIVE,
    REGULARIZATION_RATES,
    ZERO,
    colour_rgb,
    data_url,
    dataset_thumbnails,
    feature_grids,
    heatmap_png,
    hex_colours,
    link_width,
    loss_curve_png,
    output_png,
    png_bytes,
)
from browserml.playground.state import PlaygroundState
from widgets.common import (
    INK,
    INK_SOFT,
    PHOTO_CLASS,
    RULE,
    BackgroundJob,
    Throttle,
    border_below,
    error_html,
    explain_labels,
    guarded,
    on_change,
    slow_slider,
)
from widgets.thumbgrid import ThumbGrid

# --------------------------------------------------------------------------- the network diagram (pure)


@dataclass(frozen=True)
class DiagramLayout:
    """Where the diagram's nodes sit: one column per layer (inputs, hidden…, output),
    nodes top-aligned; ``label_w`` leaves room for the input labels on the left."""

    columns: tuple[int, ...]
    node: int = 30
    col_w: int = 76
    row_h: int = 40
    label_w: int = 46
    top: int = 8

    def centre(self, column: int, row: int) -> tuple[float, float]:
        if not 0 <= column < len(self.columns) or not 0 <= row < self.columns[column]:
            raise IndexError(f"no node {row} in column {column} of {self.columns}")
        return (self.label_w + self.node / 2 + column * self.col_w, self.top + self.node / 2 + row * self.row_h)

    @property
    def width(self) -> int:
        # the right margin lets the last column's hover picture grow towards the left
        return int(self.label_w + self.node + (len(self.columns) - 1) * self.col_w + 12)

    @property
    def height(self) -> int:
        rows = max(self.columns)
        return int(self.top + self.node + (rows - 1) * self.row_h + 12)

    @property
    def control_offset(self) -> float:
        """Left edge of hidden layer 0's ``col_w``-wide control box, so the +/− sit over it."""
        return self.centre(1, 0)[0] - self.col_w / 2 if len(self.columns) > 2 else 0.0


@dataclass(frozen=True)
class Link:
    """One weight drawn as a curve from node ``source`` of ``column`` to node ``target`` of the next."""

    column: int
    source: int
    target: int
    weight: float
    path: str
    width: float
    colour: str


def diagram_links(layout: DiagramLayout, kernels: Sequence[np.ndarray]) -> list[Link]:
    """Every weight of every layer as a :class:`Link` (d3's diagonal: a horizontal S-curve)."""
    if len(kernels) != len(layout.columns) - 1:
        raise ValueError(f"{len(kernels)} weight matrices for {len(layout.columns)} diagram columns")
    links = []
    half = layout.node / 2
    for column, kernel in enumerate(kernels):
        kernel = np.asarray(kernel)
        expected = (layout.columns[column], layout.columns[column + 1])
        if kernel.shape != expected:
            raise ValueError(f"layer {column} weights have shape {kernel.shape}, the diagram expects {expected}")
        widths = link_width(kernel)
        colours = hex_colours(kernel, LINK_ZERO)
        for k, ((i, j), weight) in enumerate(np.ndenumerate(kernel)):
            (x1, y1), (x2, y2) = layout.centre(column, i), layout.centre(column + 1, j)
            x1, x2 = x1 + half, x2 - half
            mx = (x1 + x2) / 2
            path = f"M{x1:.1f},{y1:.1f} C{mx:.1f},{y1:.1f} {mx:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            links.append(Link(column, i, j, float(weight), path, float(widths[i, j]), colours[k]))
    return links


_uids = itertools.count()


def neuron_sprite(neurons: Sequence[np.ndarray], discretize: bool = False) -> bytes:
    """Every node's heatmap side by side in one PNG, in diagram order (column by column,
    top to bottom): one encode instead of one per neuron, which is most of a redraw's
    time with 50 neurons. ``neurons`` is :meth:`PlaygroundState.neuron_grids`' list."""
    stack = np.concatenate([np.asarray(n).reshape(-1, *np.shape(n)[-2:]) for n in neurons])
    if stack.ndim != 3 or stack.shape[1] != stack.shape[2]:
        raise ValueError(f"neuron grids must be square, got shape {stack.shape[1:]}")
    count, r = stack.shape[0], stack.shape[1]
    rgb = colour_rgb(np.sign(stack) if discretize else stack)
    return png_bytes(rgb.transpose(1, 0, 2, 3).reshape(r, count * r, 3))


def diagram_html(layout: DiagramLayout, sprite_url: str, kernels: Sequence[np.ndarray],
                 biases: Sequence[np.ndarray], labels: Sequence[str], uid: str = "") -> str:
    """The network as HTML: an SVG of links (``<title>`` = the weight, shown on hover)
    under absolutely placed neurons; CSS ``:hover`` scales a neuron up four times,
    Playground's "show me this neuron" without a kernel round trip.

    ``sprite_url`` is :func:`neuron_sprite` as a data URL (tile ``k`` = the ``k``-th node
    in column order), sent once and cut per node with ``background-position``;
    ``biases`` has one array per non-input column; ``labels`` names the input nodes.
    """
    if len(biases) != len(layout.columns) - 1 or len(labels) != layout.columns[0]:
        raise ValueError("need one bias array per layer and one label per input")
    cls = f"bm-pg{uid or next(_uids)}"
    node, last = layout.node, len(layout.columns) - 1
    inner, total = node - 2, sum(layout.columns)  # 1 px border each side
    svg = [f"<svg width='{layout.width}' height='{layout.height}' style='position:absolute;left:0;top:0'>"]
    for link in diagram_links(layout, kernels):
        svg.append(f"<path d='{link.path}' fill='none' stroke='{link.colour}' stroke-width='{link.width:.2f}'>"
                   f"<title>Weight is {link.weight:.3f}</title></path>")
    for column, bias in enumerate(biases, start=1):  # Playground's little bias square, bottom-left of a node
        values = np.asarray(bias).reshape(-1)
        if len(values) != layout.columns[column]:
            raise ValueError(f"{len(values)} biases for the {layout.columns[column]} nodes of column {column}")
        for row, (b, colour) in enumerate(zip(values.tolist(), hex_colours(values))):
            x, y = layout.centre(column, row)
            svg.append(f"<rect x='{x - node / 2 - 8:.1f}' y='{y + node / 2 - 7:.1f}' width='6' height='6' "
                       f"fill='{colour}' stroke='{NEUTRAL}' stroke-width='0.5'><title>Bias is {b:.3f}</title></rect>")
    for row, label in enumerate(labels):
        x, y = layout.centre(0, row)
        svg.append(f"<text x='{x - node / 2 - 4:.1f}' y='{y + 4:.1f}' text-anchor='end' "
                   f"font-size='12' style='fill:{INK}'>{label}</text>")
    svg.append("</svg>")
    nodes, k = [], 0
    for column, units in enumerate(layout.columns):
        origin = "left center" if column == 0 else "right center" if column == last else "center"
        for row in range(units):
            x, y = layout.centre(column, row)
            title = labels[row] if column == 0 else "output" if column == last else f"layer {column}, neuron {row + 1}"
            nodes.append(f"<div class='{cls}-n' title='{title}' style='left:{x - node / 2:.1f}px;"
                         f"top:{y - node / 2:.1f}px;transform-origin:{origin};"
                         f"background-position:-{k * inner}px 0'></div>")
            k += 1
    style = (f"<style>.{cls}{{position:relative;width:{layout.width}px;height:{layout.height}px;overflow:visible}}"
             f".{cls}-n{{position:absolute;width:{node}px;height:{node}px;border:1px solid {NEUTRAL};"
             f"box-sizing:border-box;background-color:white;background-image:url({sprite_url});"
             f"background-size:{total * inner}px {inner}px;background-repeat:no-repeat;"
             f"transition:transform .12s;z-index:1}}"
             f".{cls}-n:hover{{transform:scale(4);z-index:10;border-color:{INK};box-shadow:0 2px 8px #0005}}</style>")
    return f"{style}<div class='{cls}'>{''.join(svg)}{''.join(nodes)}</div>"


def epoch_text(epoch: int) -> str:
    """Playground's counter: ``12`` → ``"000,012"``."""
    return format(int(epoch), "07,")


def _rate_options(rates: Sequence[float], current: float) -> list[tuple[str, float]]:
    values = sorted(set(rates) | {float(current)})
    return [(np.format_float_positional(v, trim="-"), v) for v in values]


# --------------------------------------------------------------------------- view


class PlaygroundApp:
    """playground.tensorflow.org as ipywidgets (see the module docstring for which
    controls pause training first and which apply live)."""

    def __init__(self, state: PlaygroundState | None = None, redraw_every_s: float = 0.1) -> None:
        self.state = state or PlaygroundState()
        self.redraw_every_s = redraw_every_s
        #: ``play`` trains until paused; a number stops it after that many epochs (tests use it).
        self.max_epochs: int | None = None
        self.output = W.Output()
        self.errors = W.HTML()
        # the training thread's own line: a button's guarded callback clears ``errors`` when
        # it returns, which may be after a thread that failed at once has written its message
        self.job_errors = W.HTML()
        self.job = BackgroundJob(self.job_errors)
        self._syncing: int | None = None  # the thread rewriting controls from the state
        self._uid = f"{next(_uids)}"
        self._hidden_shown: tuple[int, ...] | None = None
        c = self.state.config
        small = W.Layout(width="30px", padding="0")

        # top bar
        self.reset_button = W.Button(description="", icon="undo", tooltip="Reset the network",
                                     layout=W.Layout(width="40px"))
        self.play_button = W.Button(description="Play", icon="play", button_style="primary",
                                    tooltip="Run/pause training", layout=W.Layout(width="90px"))
        self.step_button = W.Button(description="", icon="step-forward", tooltip="One epoch",
                                    layout=W.Layout(width="40px"))
        self.epoch_label = W.HTML()
        self.learning_rate = W.Dropdown(options=_rate_options(LEARNING_RATES, c.learning_rate),
                                        value=c.learning_rate, layout=W.Layout(width="100px"))
        self.activation = W.Dropdown(options=[(a.capitalize(), a) for a in pg.ACTIVATIONS], value=c.activation,
                                     layout=W.Layout(width="100px"))
        self.regularization = W.Dropdown(options=[("None", "none"), ("L1", "l1"), ("L2", "l2")],
                                         value=c.regularization, layout=W.Layout(width="90px"))
        self.regularization_rate = W.Dropdown(options=_rate_options(REGULARIZATION_RATES, c.regularization_rate),
                                              value=c.regularization_rate, layout=W.Layout(width="90px"))
        self.problem_type = W.HTML()
        # DATA
        self.dataset = ThumbGrid(tile=48, columns=3)
        self.dataset.show(dataset_thumbnails(48), captions=list(pg.DATASETS),
                          tooltips=[f"{d} ({pg.task_of(d)})" for d in pg.DATASETS])
        self.train_ratio = slow_slider(W.FloatSlider, value=c.train_ratio, min=0.1, max=0.9, step=0.1,
                                       readout_format=".0%", layout=W.Layout(width="220px"))
        self.noise = slow_slider(W.FloatSlider, value=c.noise, min=0.0, max=0.5, step=0.05, readout_format=".2f",
                                 layout=W.Layout(width="220px"))
        self.batch_size = slow_slider(W.IntSlider, value=c.batch_size, min=pg.BATCH_SIZES[0],
                                      max=pg.BATCH_SIZES[1], layout=W.Layout(width="220px"))
        self.regenerate_button = W.Button(description="Regenerate", icon="refresh", layout=W.Layout(width="120px"))
        # FEATURES
        grids = feature_grids()
        self.feature_toggles = {f: W.ToggleButton(value=f in c.features, description=pg.FEATURE_LABELS[f],
                                                  tooltip=f"use {pg.FEATURE_LABELS[f]} as an input",
                                                  layout=W.Layout(width="76px"))
                                for f in pg.FEATURES}
        self.feature_images = {f: W.Image(value=heatmap_png(grids[f]), format="png", width=30, height=30)
                               for f in pg.FEATURES}
        # HIDDEN LAYERS
        self.add_layer_button = W.Button(description="+", tooltip="add a hidden layer", layout=small)
        self.remove_layer_button = W.Button(description="−", tooltip="remove the last hidden layer", layout=small)
        self.layers_label = W.HTML()
        self.layer_controls: list[tuple[W.Button, W.Button]] = []
        self.layer_box = W.HBox()
        self.diagram = W.HTML()
        # OUTPUT
        self.loss_label = W.HTML()
        self.loss_curve = W.Image(format="png", width=280, height=48)
        self.output_image = W.Image(format="png", width=OUTPUT_PX, height=OUTPUT_PX)
        self.output_image.add_class(PHOTO_CLASS)  # the network's output over the plane: colours are data
        self.show_test_data = W.Checkbox(value=self.state.show_test_data, description="Show test data", indent=False)
        self.discretize = W.Checkbox(value=self.state.discretize, description="Discretize output", indent=False)
        legend = (f"<div style='width:{OUTPUT_PX}px;max-width:100%;font-size:11px;color:{INK_SOFT}'>"
                  "Colours show data, neuron and weight values."
                  f"<div style='height:8px;background:linear-gradient(to right,{NEGATIVE},{ZERO},{POSITIVE});"
                  f"border:1px solid {RULE}'></div><div style='display:flex;justify-content:space-between'>"
                  "<span>−1</span><span>0</span><span>1</span></div></div>")

        self._wire()
        head = f"font-weight:bold;color:{INK_SOFT};letter-spacing:1px;margin:4px 0"
        top = border_below(W.HBox([self.reset_button, self.play_button, self.step_button, self.epoch_label,
                                   self._labelled("Learning rate", self.learning_rate),
                                   self._labelled("Activation", self.activation),
                                   self._labelled("Regularization", self.regularization),
                                   self._labelled("Regularization rate", self.regularization_rate),
                                   self._labelled("Problem type", self.problem_type)],
                                  layout=W.Layout(align_items="flex-end", flex_flow="row wrap",
                                                  padding="4px 0 8px 0")), f"1px solid {RULE}")
        note = f"font-size:12px;line-height:1.3;color:{INK_SOFT}"
        data = W.VBox([W.HTML(f"<div style='{head}'>DATA</div><div style='{note}'>Which dataset do you want to use?"
                              "</div>"), self.dataset,
                       self._labelled("Ratio of training to test data", self.train_ratio, margin="0"),
                       self._labelled("Noise", self.noise, margin="0"),
                       self._labelled("Batch size", self.batch_size, margin="0"), self.regenerate_button],
                      layout=W.Layout(width="230px", margin="0 12px 0 0"))
        features = W.VBox([W.HTML(f"<div style='{head}'>FEATURES</div><div style='{note}'>Which properties do you "
                                  "want to feed in?</div>")]
                          + [W.HBox([self.feature_images[f], self.feature_toggles[f]],
                                    layout=W.Layout(align_items="center")) for f in pg.FEATURES],
                          layout=W.Layout(width="130px", margin="0 12px 0 0"))
        network = W.VBox([W.HBox([self.add_layer_button, self.remove_layer_button, self.layers_label],
                                 layout=W.Layout(align_items="center")), self.layer_box, self.diagram],
                         layout=W.Layout(flex="1 1 auto", min_width="300px", overflow="visible"))
        out = W.VBox([W.HTML(f"<div style='{head}'>OUTPUT</div>"), self.loss_label, self.loss_curve,
                      self.output_image, W.HTML(legend), W.HBox([self.show_test_data, self.discretize])],
                     layout=W.Layout(width=f"{OUTPUT_PX + 16}px"))
        self.widget = W.VBox([top, W.HBox([data, features, network, out], layout=W.Layout(flex_flow="row wrap")),
                              self.errors, self.job_errors, self.output])
        explain_labels(self.widget)
        self._sync_controls()
        guarded(self.redraw, self.output, self.errors)()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @staticmethod
    def _labelled(title: str, widget: W.Widget, margin: str = "0 0 0 14px") -> W.VBox:
        return W.VBox([W.HTML(f"<span style='font-size:11px;color:{INK_SOFT}'>{title}</span>"), widget],
                      layout=W.Layout(margin=margin))

    # ---- wiring
    def _wire(self) -> None:
        out, err = self.output, self.errors

        def live(name: str) -> Callable[[Any], None]:
            return lambda value: self._apply(lambda: self.state.set(**{name: value}), rebuild=False)

        def rebuilding(name: str) -> Callable[[Any], None]:
            return lambda value: self._apply(lambda: self.state.set(**{name: value}), rebuild=True)

        def toggling(feature: str) -> Callable[[bool], None]:
            return lambda on: self._apply(lambda: self.state.toggle_feature(feature, on))

        for widget, name in ((self.learning_rate, "learning_rate"), (self.regularization, "regularization"),
                             (self.regularization_rate, "regularization_rate"), (self.batch_size, "batch_size")):
            on_change(widget, live(name), out, err)
        for widget, name in ((self.activation, "activation"), (self.train_ratio, "train_ratio"),
                             (self.noise, "noise")):
            on_change(widget, rebuilding(name), out, err)
        for feature, toggle in self.feature_toggles.items():
            on_change(toggle, toggling(feature), out, err)
        on_change(self.show_test_data, lambda v: self._display_toggle("show_test_data", v), out, err)
        on_change(self.discretize, lambda v: self._display_toggle("discretize", v), out, err)
        self.dataset.observe(guarded(lambda change: self._pick_dataset(change["new"]), out, err), names="clicked")
        self.play_button.on_click(guarded(lambda _b: self.toggle_play(), out, err))
        self.step_button.on_click(guarded(lambda _b: self._apply(self.state.step), out, err))
        self.reset_button.on_click(guarded(lambda _b: self._apply(self.state.reset), out, err))
        self.regenerate_button.on_click(guarded(lambda _b: self._apply(
            lambda: self.state.set(seed=self.state.config.seed + 1)), out, err))
        self.add_layer_button.on_click(guarded(lambda _b: self._apply(self.state.add_layer), out, err))
        self.remove_layer_button.on_click(guarded(lambda _b: self._apply(self.state.remove_layer), out, err))

    def _mine(self) -> bool:
        """Whether this change came from :meth:`_sync_controls` (not the learner) on this thread."""
        return self._syncing == threading.get_ident()

    def _apply(self, change: Callable[[], Any], rebuild: bool = True) -> None:
        """Apply a learner's change: pause first if it rebuilds (or steps), then redraw.

        A refused change (``ValueError``) puts the controls back to the state's values
        and re-raises, so :func:`guarded` shows the message and nothing else changed
        (training that was playing stays paused, as after any rebuilding click).
        """
        if self._mine():
            return
        if rebuild:
            self.pause()
        try:
            change()
        except Exception:
            self._sync_controls()
            raise
        self._sync_controls()
        if rebuild:
            self.redraw()
        else:
            self._draw_counters()

    def _pick_dataset(self, tile: int) -> None:
        if tile < 0 or self._mine():
            return
        self._apply(lambda: self.state.set(dataset=pg.DATASETS[tile]))

    def _display_toggle(self, name: str, value: bool) -> None:
        if self._mine():
            return
        setattr(self.state, name, bool(value))
        self.redraw()

    def _sync_controls(self) -> None:
        """Every control shows the state's value (after a change, or a refused one)."""
        c, previous = self.state.config, self._syncing
        self._syncing = threading.get_ident()
        try:
            for dropdown, rates, value in ((self.learning_rate, LEARNING_RATES, c.learning_rate),
                                           (self.regularization_rate, REGULARIZATION_RATES, c.regularization_rate)):
                options = _rate_options(rates, value)
                if list(dropdown.options) != options:
                    dropdown.options = options
                dropdown.value = value
            self.activation.value, self.regularization.value = c.activation, c.regularization
            self.train_ratio.value, self.noise.value, self.batch_size.value = c.train_ratio, c.noise, c.batch_size
            for feature, toggle in self.feature_toggles.items():
                toggle.value = feature in c.features
                toggle.button_style = "info" if toggle.value else ""
            self.show_test_data.value, self.discretize.value = self.state.show_test_data, self.state.discretize
            self.dataset.highlight([pg.DATASETS.index(c.dataset)], [NEUTRAL])
            self.problem_type.value = f"<b>{c.task.capitalize()}</b>"
            n = len(c.hidden)
            self.layers_label.value = f"<b>{n} HIDDEN LAYER{'S' if n != 1 else ''}</b>"
            if c.hidden != self._hidden_shown:
                self._build_layer_controls(c.hidden)
        finally:
            self._syncing = previous

    def _build_layer_controls(self, hidden: tuple[int, ...]) -> None:
        """Playground's +/− over each hidden layer, in boxes as wide as a diagram column."""
        layout = DiagramLayout(self._columns(hidden))
        boxes: list[W.Widget] = [W.Box(layout=W.Layout(width=f"{layout.control_offset:.0f}px"))]
        self.layer_controls = []
        for i, width in enumerate(hidden):
            plus = W.Button(description="+", tooltip=f"add a neuron to layer {i + 1}",
                            layout=W.Layout(width="26px", padding="0", margin="0"))
            minus = W.Button(description="−", tooltip=f"remove a neuron from layer {i + 1}",
                             layout=W.Layout(width="26px", padding="0", margin="0"))
            plus.on_click(guarded(lambda _b, i=i: self._apply(lambda: self.state.add_neuron(i)),
                               self.output, self.errors))
            minus.on_click(guarded(lambda _b, i=i: self._apply(lambda: self.state.remove_neuron(i)),
                                self.output, self.errors))
            self.layer_controls.append((plus, minus))
            label = W.HTML(f"<span style='font-size:11px'>{width} neuron{'s' if width != 1 else ''}</span>")
            boxes.append(W.VBox([W.HBox([plus, minus]), label],
                                layout=W.Layout(width=f"{layout.col_w}px", align_items="center", margin="0")))
        self.layer_box.children = boxes
        self._hidden_shown = hidden

    def _columns(self, hidden: tuple[int, ...] | None = None) -> tuple[int, ...]:
        c = self.state.config
        return (len(c.features), *(c.hidden if hidden is None else hidden), 1)

    # ---- play, pause
    @property
    def playing(self) -> bool:
        return self.job.running

    def toggle_play(self) -> bool:
        """Playground's play/pause button: start training in the background, or pause it.
        Returns whether it is playing afterwards."""
        if self.job.running:
            self.pause()
            return False
        redraw = Throttle(self.redraw, self.redraw_every_s)
        counters = Throttle(self._draw_counters, 0.05)  # cheap, but not a message per epoch

        def on_epoch(_stats: pg.EpochStats) -> None:
            counters()
            redraw()

        def done() -> None:  # in the training thread: no Output.capture here, so report by hand
            self.play_button.description, self.play_button.icon = "Play", "play"
            try:
                self.redraw()
            except Exception as err:  # noqa: BLE001  (shown to the learner, not swallowed)
                self.job_errors.value = error_html(err)

        self.play_button.description, self.play_button.icon = "Pause", "pause"
        started = self.job.start(lambda: self.state.play(on_epoch, self.max_epochs), on_done=done)
        if not started:
            self.play_button.description, self.play_button.icon = "Play", "play"
        return started

    def pause(self) -> None:
        """Stop training and wait for the thread (one epoch at most). Asked again until the
        thread has gone, because a pause that lands before ``play`` starts would be lost."""
        if self.job.thread is threading.current_thread():
            self.state.pause()
            return
        while self.job.running:
            self.state.pause()
            self.job.join(0.05)

    # ---- drawing
    def render(self) -> dict[str, Any]:
        """Everything the view shows, computed from the state under its lock (so a redraw
        never reads weights halfway through a training step): PNG bytes and HTML."""
        s = self.state
        with s._lock:  # the state's own lock: step() holds it for each epoch
            c = s.config
            grid = s.grid(OUTPUT_RESOLUTION)
            neurons = s.neuron_grids(NEURON_RESOLUTION)
            weights = s.network.weights()
            points = s.points()
            history = list(s.history)
            epoch = s.epoch
            discretize = s.discretize
        layout = DiagramLayout(self._columns(c.hidden))
        sprite = data_url(neuron_sprite(neurons, discretize))
        diagram = diagram_html(layout, sprite, [k for k, _ in weights], [b for _, b in weights],
                               [pg.FEATURE_LABELS[f] for f in c.features], uid=self._uid)
        return {"output": output_png(grid, points), "diagram": diagram, "loss_curve": loss_curve_png(history),
                "epoch": epoch, "last": history[-1]}

    def redraw(self) -> None:
        """Re-render the diagram, the output, the losses and the counter from the state."""
        picture = self.render()
        self.output_image.value = picture["output"]
        self.diagram.value = picture["diagram"]
        self.loss_curve.value = picture["loss_curve"]
        self._draw_counters(picture["epoch"], picture["last"])

    def _draw_counters(self, epoch: int | None = None, last: pg.EpochStats | None = None) -> None:
        if last is None or epoch is None:  # both from the state, read together
            last = self.state.history[-1]
            epoch = self.state.epoch
        self.epoch_label.value = (f"<div style='line-height:1.1'><span style='font-size:11px;color:{INK_SOFT}'>"
                                  f"Epoch</span><br><span style='font-size:22px'>{epoch_text(epoch)}</span></div>")
        self.loss_label.value = (f"<div style='font-size:12px'>Test loss <b>{last.test_loss:.3f}</b><br>"
                                 f"Training loss <b>{last.train_loss:.3f}</b></div>")
