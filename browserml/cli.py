"""``browserml``: run each lesson headless (train, export, check in TF.js).

    browserml intro [--out exports/intro] [--check node chromium]   # lesson 0's classifier
    browserml polyfit [--setting quadratic|cubic] [--out DIR] [--check node,chromium]
    browserml anomaly train|evaluate|export [--hidden 15 7 --latent 2 --epochs 100 ...] [--out DIR]
    browserml imagesearch features|query|evaluate|export [--dataset FASHION200 --backbone efficientnet-lite0 ...]
    browserml handtrack detect IMAGE|convert|benchmark [--model-type ssd320fpnlite --size small ...]
    browserml playground [--dataset spiral --features x1 x2 'sin(x1)' 'sin(x2)' --hidden 6 4 --epochs 120 ...]
    browserml check EXPORT_DIR [--runtime node:cpu node:wasm chromium:cpu ...]
    browserml serve [--port 8000]          # the project root on 127.0.0.1, for export pages
    browserml nbclean [--check] NOTEBOOK...
    browserml book [--out build/book] [--only 01 05]   # the course as static HTML, with outputs

``make run`` calls the lesson commands to build every export.

This module is longer than the project's 600 lines on purpose: it is one table of every
command's arguments, each beside the few lines that call the package for it, and splitting
it would split that table. Lesson logic stays in the lessons' packages.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypedDict

from browserml.errors import BadInput, finite_float
from browserml.paths import exports_dir, project_root

if TYPE_CHECKING:
    from browserml.anomaly.model import AutoencoderConfig
    from browserml.data.images import ImageSet

RUNTIME_CHOICES = ("node:cpu", "node:wasm", "chromium:cpu", "chromium:wasm", "chromium:webgl")


def _runtime_pairs(item: str) -> list[tuple[str, str]]:
    """``node`` -> its cpu and wasm backends; ``node:cpu`` -> itself; anything else refused."""
    if item in ("node", "chromium"):
        return [(item, "cpu"), (item, "wasm")]
    if item in RUNTIME_CHOICES:
        runtime, backend = item.split(":")
        return [(runtime, backend)]
    raise BadInput(f"unknown runtime {item!r}; use node, chromium or one of {', '.join(RUNTIME_CHOICES)}")


def _runtimes(spec: Sequence[str]) -> list[tuple[str, str]]:
    return [pair for item in spec for pair in _runtime_pairs(item)]


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (``browserml polyfit: argument --lr: ...``)
    and exit status 2, like every other expected error; ``--help`` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _argtype(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse ``type`` from a parser that raises :class:`BadInput`: the message becomes
    argparse's one-line usage error, raised while parsing, before anything runs (so a
    bad ``--check`` is refused before training, not after the export is written)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except BadInput as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = name  # argparse names the type in its message
    return convert


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise BadInput(f"must be a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise BadInput(f"must be {minimum} or more{'' if maximum is None else f' and at most {maximum}'}, "
                           f"got {value}")
        return value

    return _argtype(parse, "whole number")


def _number(low: float | None = None, high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise BadInput(f"must be a number, got {text!r}") from None
        try:
            return finite_float("", value, low, high, low_open=low_open)
        except BadInput as err:  # "argument --lr: must be ...": argparse names the option
            raise BadInput(str(err).strip()) from None

    return _argtype(parse, "number")


def _runtime(text: str) -> str:
    _runtime_pairs(text)
    return text


RUNTIME = _argtype(_runtime, "runtime")


def _checks(spec: Sequence[str]) -> list[tuple[str, str]]:
    """A lesson's ``--check`` runtimes that this machine has, saying in words what it skips:
    `make run` then works without Chromium (and without Node), as `make lab` does."""
    from browserml.tfjs_check import available_runtimes

    return available_runtimes(_runtimes(spec))


def _report(export_dir: Path, runtimes: list[tuple[str, str]], repeats: int = 20) -> int:
    from browserml.tfjs_check import check_parity

    reports = check_parity(export_dir, runtimes, repeats=repeats)
    for r in reports:
        print("  " + str(r))
    return 0 if all(r.ok for r in reports) else 1


def cmd_intro(args: argparse.Namespace) -> int:
    from browserml import intro

    classifier = intro.train_classifier(intro.ClassifierConfig(seed=args.seed))
    print(f"intro: {classifier.summary()}")
    out = intro.export_classifier(classifier, args.out)
    print(f"exported TF.js layers model to {out}")
    return _report(out, _checks(args.check)) if args.check else 0


def cmd_polyfit(args: argparse.Namespace) -> int:
    from browserml import polyfit as pf
    from browserml.seeding import seed_everything

    seed_everything(args.seed)
    setting = pf.SETTINGS[args.setting]
    data = pf.data_for(setting, seed=args.seed)
    degree = setting.degree if args.degree is None else args.degree
    lr = setting.learning_rate if args.lr is None else args.lr
    iterations = setting.iterations if args.iterations is None else args.iterations
    result = pf.fit(data, degree, lr, iterations, method=args.method, seed=args.seed)
    print(f"polyfit[{setting.name}]: {iterations} iterations, final loss {result.losses[-1]:.6f}")
    for row in pf.coefficient_table(result.coeffs, data):
        print(f"  {row['name']}: learned {row['learned']:+.4f}  target {row['target']:+.4f}  "
              f"least squares {row['least_squares']:+.4f}")
    out = pf.export_polynomial(result.coeffs, args.out, data=data)
    print(f"exported TF.js graph model to {out}")
    return _report(out, _checks(args.check)) if args.check else 0


def _anomaly_config(args: argparse.Namespace) -> AutoencoderConfig:
    from dataclasses import fields

    from browserml.anomaly.model import AutoencoderConfig

    given = {f.name: getattr(args, f.name) for f in fields(AutoencoderConfig) if getattr(args, f.name) is not None}
    return AutoencoderConfig(**given)


def cmd_anomaly(args: argparse.Namespace) -> int:
    from browserml.anomaly.browser import tfjs_scores
    from browserml.anomaly.export import export_anomaly
    from browserml.anomaly.metrics import compare, evaluate
    from browserml.anomaly.model import Trainer
    from browserml.seeding import seed_everything

    config = _anomaly_config(args)
    seed_everything(config.seed)
    trainer = Trainer(config)
    print(f"anomaly: {config.architecture}, {trainer.data.train.n} training beats ({config.split} split)")
    trainer.train()
    print(f"  {trainer.epochs_done} epochs: loss {trainer.history.loss[-1]:.5f}, "
          f"validation {trainer.history.val_loss[-1]:.5f}")
    if args.verb == "train":
        return 0
    report = compare(trainer, args.rule, args.k)
    keys = ["roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "fpr"]
    print(f"  test set ({trainer.data.split.test.n} beats), thresholds by {args.rule} on validation data:")
    for row in report.table():
        print(f"  {row['detector']:24s} " + "  ".join(f"{k} {row[k]:.4f}" for k in keys))
    if args.verb == "evaluate":
        return 0
    threshold = report.rows["Autoencoder"].threshold
    out = export_anomaly(trainer, threshold, args.out, args.rule)
    print(f"exported TF.js layers model to {out}")
    if not args.check:
        return 0
    status = _report(out, _checks(args.check))
    from browserml.tfjs_check import has_node

    if not has_node():
        return status
    test = trainer.data.split.test
    tfjs = evaluate(tfjs_scores(out, test.x), test.y, threshold)
    print(f"  scored by the export in TF.js (Node, wasm, its own preprocessing): "
          f"ROC-AUC {tfjs.metrics['roc_auc']:.4f}, F1 {tfjs.metrics['f1']:.4f}")
    return status


def _search_progress(label: str) -> Callable[[int, int], None]:
    from tqdm.auto import tqdm

    bar = tqdm(total=1, desc=label, unit="img", leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return progress


def _image_set(name_or_folder: str | None) -> ImageSet:
    """A registered set by name, or any folder of images (one subfolder per class)."""
    from browserml.data.images import IMAGE_SETS, ImageDataError, load_folder, load_image_set

    name = name_or_folder or "FASHION200"
    path = Path(name)
    if path.is_dir():
        return load_folder(path)
    if name.upper() in IMAGE_SETS:
        return load_image_set(name)
    if path.exists():
        raise ImageDataError(f"--dataset {name}: a file, not a folder of images (one subfolder per class)")
    if "/" in name or "\\" in name or name.startswith("."):
        raise ImageDataError(f"--dataset {name}: no such folder")
    raise ImageDataError(f"--dataset {name}: no such folder, and no image set of that name "
                         f"(the sets: {', '.join(IMAGE_SETS)})")


def _search_k(asked: int, available: int, name: str) -> int:
    """``--k`` capped by the images there are to rank (a small folder has fewer than 15)."""
    if available < 1:
        raise BadInput(f"{name} has {available + 1} image(s); searching needs at least 2")
    return min(asked, available)


def cmd_search(args: argparse.Namespace) -> int:
    from browserml.imagesearch import search as se
    from browserml.imagesearch.features import cached_features

    if args.verb == "export":
        return _search_export(args)
    query_image = None
    if args.verb == "query" and args.image is not None:  # checked before any model loads
        from browserml.data.images import read_image

        query_image = read_image(args.image, name=str(args.image))
    images = _image_set(args.dataset)
    _check_backbone(args.backbone)
    layers = args.layer or ["head_relu"]
    if args.verb == "evaluate":
        k = _search_k(args.k, len(images) - 1, images.name)
        print(f"search[{images.name}] {args.backbone}: mean weighted score over all {len(images)} queries "
              f"(random ranking: {se.random_score_expectation(images.labels):.3f})")
        for layer in layers:
            for pooling in args.pooling:
                feats = cached_features(images, args.backbone, _layer_arg(layer), pooling,
                                        progress=_search_progress(f"{layer}/{pooling}"))
                for metric in args.metric:
                    ev = se.evaluate(feats, images.labels, metric=metric, k=k, p=args.p)
                    print(f"  {layer:>18s} {pooling:7s} {metric:10s} score {ev.mean_score:.3f}  "
                          f"P@{k} {ev.precision_at_k:.3f}  mAP {ev.mean_average_precision:.3f}  dim {feats.shape[1]}")
        return 0
    if args.verb == "query":
        if query_image is None and args.index >= len(images):
            raise BadInput(f"--index {args.index} is out of range: {images.name} has {len(images)} images "
                           f"(0 to {len(images) - 1})")
        k = _search_k(args.k, len(images) - (query_image is None), images.name)
    feats = cached_features(images, args.backbone, _layer_arg(layers[0]), args.pooling[0],
                            progress=_search_progress("features"))
    print(f"search[{images.name}] {args.backbone} {layers[0]} {args.pooling[0]}: features {feats.shape}")
    if args.verb == "features":
        return 0
    if query_image is not None:
        from browserml.imagesearch.backbones import load_backbone
        from browserml.imagesearch.features import extract_features

        bb = load_backbone(args.backbone)
        query = extract_features(bb, _layer_arg(layers[0]), args.pooling[0], query_image[None])[0]
        label = None
    else:
        query, label = args.index, int(images.labels[args.index])
    result = se.top_k(feats, query, k=k, metric=args.metric[0], p=args.p)
    for rank, (i, d) in enumerate(zip(result.indices, result.distances), 1):
        print(f"  {rank:2d}. #{i:<4d} {images.class_names[images.labels[i]]:24s} distance {d:.4f}")
    if label is not None:
        print(f"  search result score: {se.weighted_score(images.labels[result.indices], label, k):.3f}")
    return 0


def _check_backbone(name: str) -> None:
    """An unknown ``--backbone`` named with the choices (the registry imports TensorFlow,
    so this runs after the cheap checks, not while parsing)."""
    from browserml.imagesearch.backbones import backbone_names

    if name not in backbone_names():
        raise BadInput(f"unknown backbone {name!r}; choose one of {', '.join(backbone_names())}")


def _layer_arg(layer: str) -> int | str:
    return int(layer) if layer.lstrip("-").isdigit() else layer


def _search_export(args: argparse.Namespace) -> int:
    from browserml.imagesearch.export import DEFAULT_DATASET, export_imagesearch, variant_dirs

    dataset = _image_set(args.dataset or DEFAULT_DATASET)
    _check_backbone(args.backbone)
    rows = export_imagesearch(args.out, backbone=args.backbone, layer=_layer_arg((args.layer or ["head_relu"])[0]),
                              pooling=args.pooling[0], dataset=dataset, metric=args.metric[0],
                              progress=_search_progress("features"))
    print(f"exported TF.js feature extractor, gallery and page to {args.out}")
    for r in rows:
        print(f"  {r.variant:8s} {r.bytes / 1e6:6.2f} MB in {r.shards} shard(s)  max feature error "
              f"{r.max_feature_error:.2e}  search score {r.mean_score:.3f}")
    status = 0
    if args.check:
        for variant, folder in variant_dirs(args.out).items():
            print(f"  {variant}:")
            status |= _report(folder, _checks(args.check), repeats=3)  # a CNN on the cpu backend takes seconds
    return status


def cmd_handtrack(args: argparse.Namespace) -> int:
    from browserml.handtrack import detect as hd

    if args.verb == "convert":
        if args.image is not None:
            raise BadInput(f"IMAGE is for detect only; convert takes none (got {args.image})")
        from browserml.handtrack.convert import format_rows
        from browserml.handtrack.page import export_handtrack

        rows = export_handtrack(args.out, model_type=args.model_type)
        print(f"re-converted {args.model_type} to TF.js (4 MiB shards) in {args.out}, with its page")
        print(format_rows(rows))
        status = 0
        for row in rows if args.check else []:
            print(f"  {row.variant}:")
            status |= _report(row.folder, _checks(args.check), repeats=3)
        return status
    image = None
    if args.verb == "detect":  # the image is read (and refused) before the model loads
        if args.image is None:
            raise BadInput("detect needs an IMAGE: browserml handtrack detect photo.jpg")
        from browserml.data.images import read_image

        image = read_image(args.image, name=str(args.image))
    elif args.image is not None:
        raise BadInput(f"IMAGE is for detect only; {args.verb} takes none (got {args.image})")
    params = {"scoreThreshold": args.score, "iouThreshold": args.iou, "maxNumBoxes": args.max_boxes,
              "flipHorizontal": args.flip}
    detector = hd.load(args.model_type, args.size, **params)
    if image is not None:
        detector.detect(image)  # warm-up: the first call builds the graph
        found, ms = detector.timed_detect(image)
        print(f"{args.image}: {len(found)} detection(s) in {ms:.1f} ms ({args.model_type}, size {args.size})")
        for d in found:
            print(f"  {d['label']:9s} score {d['score']:.3f}  bbox [x, y, w, h] = "
                  + ", ".join(f"{v:.1f}" for v in d["bbox"]))
        return 0
    from browserml.handtrack.images import scenes
    from browserml.imagesearch.backbones import resize_images

    frame = resize_images(scenes()["two_open_hands"], (240, 320)).astype("uint8")[0]
    result = detector.benchmark(frame, n=args.repeats)
    print(f"Python detect() at 320x240, {args.model_type} {args.size}: {result['ms']:.1f} ms median "
          f"= {result['fps']:.1f} FPS over {result['n']} runs (handtrack.js's Python anchor: 21 FPS)")
    return 0


class _PlaygroundDefault(TypedDict):
    dataset: str
    features: list[str]
    hidden: list[int]
    activation: str
    learning_rate: float
    epochs: int


PLAYGROUND_DEFAULT: _PlaygroundDefault = {
    "dataset": "spiral", "features": ["x1", "x2", "sin(x1)", "sin(x2)"], "hidden": [6, 4],
    "activation": "tanh", "learning_rate": 0.1, "epochs": 120,
}
"""``browserml playground``'s default: the spiral, unrolled by the sin features, with 10
hidden neurons; 120 epochs at learning rate 0.1 take ~5-8 s on 2 cores and put 98% of the
test points on the right side."""


def cmd_playground(args: argparse.Namespace) -> int:
    from browserml import playground as pg
    from browserml.playground.run import check_pages, train_and_export

    try:
        config = pg.PlaygroundConfig(
            dataset=args.dataset, noise=args.noise, train_ratio=args.train_ratio, batch_size=args.batch_size,
            features=tuple(args.features), hidden=tuple(args.hidden), activation=args.activation,
            learning_rate=args.learning_rate, regularization=args.regularization,
            regularization_rate=args.regularization_rate, seed=args.seed)
    except ValueError as err:
        raise SystemExit(f"browserml playground: {err}") from None
    if args.epochs < 0:
        raise SystemExit(f"browserml playground: --epochs must be 0 or more, got {args.epochs}")
    _, out = train_and_export(config, args.epochs, args.out, report=print)
    if not args.check:
        return 0
    runtimes = _checks(args.check)
    status = _report(out, runtimes)
    for page in check_pages(out, [b for r, b in runtimes if r == "chromium"]):
        print(page.line())
        status |= 0 if page.ok else 1
    return status


def cmd_check(args: argparse.Namespace) -> int:
    """Judge an export someone else may have written: a folder that is broken, contradicts
    its contract or that TF.js cannot load is the expected answer here, said in one line."""
    from browserml.tfjs_check import TfjsRuntimeError, _checked_export

    folder = _checked_export(args.export_dir)
    print(f"{args.export_dir}:")
    try:
        return _report(folder, _runtimes(args.runtime))
    except TfjsRuntimeError as err:
        if isinstance(err, BadInput):
            raise
        raise BadInput(f"TF.js could not run {args.export_dir}: {str(err).splitlines()[0]}") from err


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from browserml.serve import serve

    with serve({"/": project_root()}, port=args.port) as base:
        print(f"serving {project_root()} at {base}/  (Ctrl-C to stop)")
        for page in sorted(exports_dir().glob("*/index.html")):
            print(f"  {base}/exports/{page.parent.name}/")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def cmd_nbclean(args: argparse.Namespace) -> int:
    from browserml.notebooks import clean_file, is_clean

    paths = [Path(p) for p in args.notebooks] or sorted((project_root() / "notebooks").glob("*.ipynb"))
    if args.check:
        dirty = [p for p in paths if not is_clean(p)]
        for p in dirty:
            print(f"{p}: stored with outputs or not in canonical form; run `make nbclean`")
        return 1 if dirty else 0
    for p in paths:
        if clean_file(p):
            print(f"cleaned {p}")
    return 0


def cmd_book(args: argparse.Namespace) -> int:
    import time

    from browserml import book

    started = time.monotonic()
    notebooks = book.lesson_notebooks(project_root() / "notebooks", args.only)
    if not notebooks:
        raise BadInput(f"no lesson notebook name contains any of {' '.join(args.only)}")
    try:
        pages = book.build(args.out, notebooks, timeout_s=args.timeout)
    except book.BookError as err:
        print(f"browserml book: {err}", file=sys.stderr)
        return 1
    out = args.out if args.out is not None else book.default_out()
    print(f"book: {len(pages)} lessons in {time.monotonic() - started:.0f} s; open {out / 'index.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="browserml", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("intro", help="lesson 0: the small Fashion-MNIST classifier the learner's page runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=exports_dir() / "intro")
    p.add_argument("--check", nargs="*", default=["node"], metavar="RUNTIME", type=RUNTIME,
                   help="TF.js runtimes to verify the export in (default: node); none to skip")
    p.set_defaults(func=cmd_intro)

    p = sub.add_parser("polyfit", help="lesson 1: fit a polynomial with the Ops API and export it to TF.js")
    p.add_argument("--setting", choices=["quadratic", "cubic"], default="quadratic")
    p.add_argument("--degree", type=_whole(0), help="model degree (default: the setting's)")
    p.add_argument("--lr", type=_number(0, low_open=True), help="SGD learning rate (default: the setting's)")
    p.add_argument("--iterations", type=_whole(1), help="SGD iterations (default: the setting's)")
    p.add_argument("--method", choices=["minimize", "tape"], default="minimize")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=exports_dir() / "polynomial")
    p.add_argument("--check", nargs="*", default=["node"], metavar="RUNTIME", type=RUNTIME,
                   help="TF.js runtimes to verify the export in (default: node); none to skip")
    p.set_defaults(func=cmd_polyfit)

    p = sub.add_parser("anomaly", help="lesson 2: the Anomagram autoencoder on ECG5000")
    p.add_argument("verb", choices=["train", "evaluate", "export"],
                   help="train; train and evaluate against baselines; or all that and export to TF.js")
    p.add_argument("--hidden", type=_whole(1), nargs="+", help="encoder hidden layer widths (default 15 7, the talk's)")
    p.add_argument("--latent", type=_whole(1))
    p.add_argument("--activation", choices=["relu", "elu", "selu", "tanh", "sigmoid", "linear"],
                   help="the hidden layers' activation (default relu)")
    p.add_argument("--latent-activation", dest="latent_activation",
                   choices=["relu", "elu", "selu", "tanh", "sigmoid", "linear"],
                   help="the bottleneck's activation (default linear, as in Anomagram)")
    p.add_argument("--output-activation", dest="output_activation",
                   choices=["relu", "elu", "selu", "tanh", "sigmoid", "linear"])
    p.add_argument("--optimizer", choices=["adam", "adamax", "adadelta", "rmsprop", "momentum", "sgd"])
    p.add_argument("--lr", dest="learning_rate", type=_number())
    p.add_argument("--regularizer", choices=["none", "l1", "l2", "l1l2"])
    p.add_argument("--reg-rate", dest="regularizer_rate", type=_number())
    p.add_argument("--batch-size", dest="batch_size", type=_whole(1))
    p.add_argument("--epochs", type=_whole(1))
    p.add_argument("--train-size", dest="train_size", type=_whole(1))
    p.add_argument("--abnormal-share", dest="abnormal_share", type=_number())
    p.add_argument("--split", choices=["ucr", "anomagram"])
    p.add_argument("--val-fraction", dest="val_fraction", type=_number())
    p.add_argument("--seed", type=int)
    p.add_argument("--rule", choices=["best_f1", "mean_k_sigma"], default="best_f1")
    p.add_argument("--k", type=_number(0), default=3.0, help="k of the mean+kσ rule")
    p.add_argument("--out", type=Path, default=exports_dir() / "anomaly")
    p.add_argument("--check", nargs="*", default=["node"], metavar="RUNTIME", type=RUNTIME)
    p.set_defaults(func=cmd_anomaly)

    # named like its package (browserml.imagesearch); "search", its first name, still works
    p = sub.add_parser("imagesearch", aliases=["search"],
                       help="lesson 3: layer-wise CNN image search (ConvNet Playground)")
    p.add_argument("verb", choices=["features", "query", "evaluate", "export"],
                   help="features: extract (cached); query: top-k for one image; evaluate: scores; export: TF.js")
    p.add_argument("--dataset", help="FASHION200 (default), PHOTOS200, CIFAR10-200, TINYIMAGENET-200, or a folder "
                   "of images with one subfolder per class")
    p.add_argument("--backbone", default="efficientnet-lite0")
    p.add_argument("--layer", nargs="+", help="layer names or indices (default head_relu)")
    p.add_argument("--pooling", nargs="+", default=["avg"], choices=["flatten", "avg", "max"])
    p.add_argument("--metric", nargs="+", default=["cosine"], choices=["cosine", "euclidean", "squared", "minkowski"])
    p.add_argument("--p", type=float, default=3.0, help="the p of the minkowski metric")
    p.add_argument("--k", type=_whole(1), default=15, help="results per query (capped by the images there are)")
    p.add_argument("--index", type=_whole(0), default=0, help="query: the gallery image to search from")
    p.add_argument("--image", type=Path, help="query: an image file to search with instead")
    p.add_argument("--out", type=Path, default=exports_dir() / "imagesearch")
    p.add_argument("--check", nargs="*", default=["node"], metavar="RUNTIME", type=RUNTIME)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("handtrack", help="lesson 4: the handtrack.js hand detector in Python, re-converted")
    p.add_argument("verb", choices=["detect", "convert", "benchmark"],
                   help="detect IMAGE: boxes like handtrack.js; convert: re-convert to TF.js; benchmark: FPS")
    p.add_argument("image", nargs="?", type=Path)
    p.add_argument("--model-type", dest="model_type", default="ssd320fpnlite",
                   choices=["ssd320fpnlite", "ssd640fpnlite"])
    p.add_argument("--size", default="small", choices=["small", "medium", "large"],
                   help="handtrack.js modelSize: small = int8 (default), medium = float16, large = float32")
    p.add_argument("--score", type=_number(0, 1), default=0.6, help="score threshold")
    p.add_argument("--iou", type=_number(0, 1), default=0.2, help="NMS IoU threshold")
    p.add_argument("--max-boxes", dest="max_boxes", type=_whole(0), default=20)
    p.add_argument("--flip", action="store_true", help="flipHorizontal")
    p.add_argument("--repeats", type=_whole(1), default=50, help="benchmark: timed runs")
    p.add_argument("--out", type=Path, default=exports_dir() / "handtrack")
    p.add_argument("--check", nargs="*", default=["node"], metavar="RUNTIME", type=RUNTIME)
    p.set_defaults(func=cmd_handtrack)

    from browserml import playground as pg

    d = PLAYGROUND_DEFAULT
    p = sub.add_parser("playground", help="lesson 5: train a TensorFlow Playground network and export its page",
                       description="Train one of Playground's datasets with Playground's network and SGD, then "
                       "export it to TF.js with a page that draws the decision boundary. Quote features with "
                       "parentheses in the shell: --features x1 x2 'sin(x1)'.")
    p.add_argument("--dataset", choices=pg.DATASETS, default=d["dataset"])
    p.add_argument("--features", nargs="+", choices=pg.FEATURES, default=d["features"], metavar="FEATURE",
                   help=f"input features, from {', '.join(pg.FEATURES)} (default: {' '.join(d['features'])})")
    p.add_argument("--hidden", type=int, nargs="*", default=d["hidden"], metavar="N",
                   help=f"neurons per hidden layer, 0-{pg.MAX_LAYERS} layers of 1-{pg.MAX_NEURONS} "
                   "(default: 6 4; `--hidden` alone: none)")
    p.add_argument("--activation", choices=pg.ACTIVATIONS, default=d["activation"])
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument("--learning-rate", dest="learning_rate", type=float, default=d["learning_rate"])
    p.add_argument("--batch-size", dest="batch_size", type=int, default=10)
    p.add_argument("--noise", type=float, default=0.0, help="0 to 0.5 (Playground's 0-50 slider / 100)")
    p.add_argument("--train-ratio", dest="train_ratio", type=float, default=0.5, help="0.1 to 0.9")
    p.add_argument("--regularization", choices=pg.REGULARIZATIONS, default="none")
    p.add_argument("--regularization-rate", dest="regularization_rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=exports_dir() / "playground")
    p.add_argument("--check", nargs="*", default=["node"], metavar="RUNTIME", type=RUNTIME,
                   help="TF.js runtimes for the parity check; chromium ones also open the export's page")
    p.set_defaults(func=cmd_playground)

    p = sub.add_parser("check", help="run an export's parity sample in real TF.js")
    p.add_argument("export_dir")
    p.add_argument("--runtime", nargs="+", default=["node", "chromium"], metavar="RUNTIME", type=RUNTIME)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("serve", help="serve the project on 127.0.0.1 so export pages can load TF.js")
    p.add_argument("--port", type=_whole(0, 65535), default=8000)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("nbclean", help="strip outputs and write notebooks in canonical form")
    p.add_argument("--check", action="store_true", help="only report notebooks that are not clean")
    p.add_argument("notebooks", nargs="*")
    p.set_defaults(func=cmd_nbclean)

    p = sub.add_parser("book", help="run every lesson offline and write the course as static HTML with outputs")
    p.add_argument("--out", type=Path, help="the site's folder (default: build/book)")
    p.add_argument("--only", nargs="+", default=[], metavar="TEXT",
                   help="only the lessons whose file name contains TEXT (e.g. 01 05)")
    p.add_argument("--timeout", type=_number(0, low_open=True), default=900.0,
                   help="seconds one cell may run (default 900)")
    p.set_defaults(func=cmd_book)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. An expected error (:class:`~browserml.errors.BadInput`) is one line on
    stderr and exit status 2; anything else is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BadInput as err:
        said = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())  # one line, always
        print(f"browserml {args.command}: {said}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
