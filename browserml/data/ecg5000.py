"""ECG5000: the heartbeats behind lesson 2's autoencoder anomaly detector.

The talk's Anomagram demo trains an autoencoder on *normal* beats only, then flags
the beats it reconstructs badly. That needs three things, all here:

- the beats themselves, offline: the UCR archive's ECG5000 files bundled under
  ``datasets/ecg5000`` and checked against their recorded sha256 before use
  (:func:`load_ucr`), plus the TensorFlow tutorial's online CSV for those who want it
  (:func:`load_tensorflow_csv`, which downloads only when called);
- a train/validation/test split: the UCR archive's own (500 train, 4,500 test) or
  Anomagram's re-split of all 5,000 beats (4,500 train, 500 test), both seeded;
- the knob Anomagram exposes: how much abnormal data leaks into the "normal-only"
  training set (:func:`training_beats`), which is how a learner sees why it matters.

Class 1 is a normal beat; classes 2-5 are the abnormal kinds, so "abnormal" is
simply ``y != NORMAL`` everywhere.
"""

from __future__ import annotations

import csv
import functools
import gzip
import http.client
import io
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal, TypeAlias

import numpy as np

from browserml.data.provenance import verify
from browserml.errors import BadInput
from browserml.paths import datasets_dir

CLASS_NAMES: dict[int, str] = {
    1: "Normal",
    2: "R-on-T premature ventricular contraction",
    3: "Premature ventricular contraction",
    4: "Supraventricular premature or ectopic beat",
    5: "Unclassified beat",
}
NORMAL = 1
N_STEPS = 140
N_COLUMNS = N_STEPS + 1  # the label, then the beat's values
DATASET_DIR_NAME = "ecg5000"
UCR_FILES: dict[str, str] = {"train": "ECG5000_TRAIN.tsv.gz", "test": "ECG5000_TEST.tsv.gz"}
ANOMAGRAM_TEST_SIZE = 500
#: The largest |value| a beat may hold. ECG5000's beats are z-normalised (every value
#: lies within ±8); 1e6 leaves room for a learner's own units (mV, µV) while keeping
#: every squared reconstruction error far inside float32 (3.4e38), so Python and TF.js
#: compute the same finite score. A value of 1e20 is a unit or parsing mistake, not a
#: beat, and squared it overflows float32 (TF.js then scores NaN, NumPy inf).
MAX_ABS_VALUE = 1e6

#: Where :func:`load_tensorflow_csv` downloads the TensorFlow tutorial's CSV from.
ONLINE_CSV_URL = "https://storage.googleapis.com/download.tensorflow.org/data/ecg.csv"
TF_CSV_LABELS = (0, 1)  # the TensorFlow CSV's last column: 1 = normal, 0 = abnormal
#: Seconds a download may wait for the server (to connect, or for the next bytes).
DOWNLOAD_TIMEOUT_S = 60

Part: TypeAlias = Literal["train", "test"]
Source: TypeAlias = "str | os.PathLike[str] | IO[str] | IO[bytes]"


class ECGDataError(BadInput):
    """A beat file or array that cannot be used: the message names the file or beat,
    the first bad line or value, and what would work."""


def first_bad_value(x: np.ndarray, limit: float = MAX_ABS_VALUE) -> tuple[int, int, str] | None:
    """``(row, column, why)`` of the first value that is NaN, infinite or beyond ±``limit``
    (checked in float64, so a finite 1e300 is named as itself, not as float32's inf)."""
    x = np.asarray(x, dtype=np.float64)
    bad = ~(np.abs(x) <= limit)  # NaN compares False, so it is caught here too
    if not bad.any():
        return None
    row, column = (int(i) for i in np.argwhere(bad)[0])
    value = x[row, column]
    why = (f"{value} is not a finite number" if not np.isfinite(value) else
           f"{value:g} is beyond ±{limit:g} (ECG beats are z-normalised, within a few units of 0; "
           "is it a unit or parsing mistake?)")
    return row, column, why


@dataclass(frozen=True, eq=False)
class Beats:
    """Heartbeats and their labels: ``x`` float32 ``[n, 140]``, ``y`` int64 ``[n]``.

    Labels are ECG5000 classes 1..5 (see :data:`CLASS_NAMES`) for the UCR files; the
    TensorFlow CSV only has 1 (normal) and 0 (abnormal), with no class names. Either
    way ``is_abnormal`` is ``y != NORMAL``. ``eq=False`` because element-wise array
    comparison has no single truth value; two ``Beats`` are equal only if identical.
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        x = np.asarray(self.x, dtype=np.float32)
        y = np.asarray(self.y, dtype=np.int64)
        if x.ndim != 2 or x.shape[1] != N_STEPS:
            raise ECGDataError(f"Beats.x must have shape [n, {N_STEPS}], got {x.shape}")
        if y.shape != (x.shape[0],):
            raise ECGDataError(f"Beats.y must hold one label per beat, shape [{x.shape[0]}], got {y.shape}")
        bad = first_bad_value(self.x)
        if bad is not None:
            raise ECGDataError(f"beat {bad[0]}, step {bad[1]}: {bad[2]}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __repr__(self) -> str:  # arrays of 4,500 x 140 make a useless notebook repr
        return f"Beats(n={self.n}, class_counts={self.class_counts()})"

    def __len__(self) -> int:
        return self.n

    @property
    def n(self) -> int:
        """The number of beats."""
        return int(self.y.shape[0])

    @property
    def is_abnormal(self) -> np.ndarray:
        """A bool per beat: True for every class but :data:`NORMAL`."""
        return self.y != NORMAL

    def subset(self, mask_or_indices: np.ndarray | list[int] | list[bool]) -> Beats:
        """The beats picked by a bool mask (one entry per beat) or by integer indices."""
        index = np.asarray(mask_or_indices)
        if index.ndim != 1:
            raise ECGDataError(f"subset takes a 1-D mask or index array, got shape {index.shape}")
        if index.dtype == bool:
            if index.shape[0] != self.n:
                raise ECGDataError(f"a bool mask needs one entry per beat ({self.n}), got {index.shape[0]}")
        elif index.size == 0:
            index = index.astype(np.intp)
        elif not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"subset takes a bool mask or integer indices, got dtype {index.dtype}")
        return Beats(self.x[index], self.y[index])

    def class_counts(self) -> dict[int, int]:
        """``{label: count}`` for the labels present, in label order."""
        labels, counts = np.unique(self.y, return_counts=True)
        return {int(label): int(count) for label, count in zip(labels, counts)}


@dataclass(frozen=True, eq=False)
class Split:
    """Train, validation and test beats, named after the recipe that made them."""

    name: str
    train: Beats
    val: Beats
    test: Beats


# --- reading files -------------------------------------------------------------------


def ucr_dir() -> Path:
    """The folder with the bundled UCR files and their ``PROVENANCE.json``."""
    return datasets_dir() / DATASET_DIR_NAME


def load_ucr(part: Part) -> Beats:
    """The UCR archive's ECG5000 ``"train"`` (500 beats) or ``"test"`` (4,500 beats) file.

    The folder is checked against ``PROVENANCE.json`` once per process (hashing is
    cheap, but not free on every call); a mismatch raises ``DataIntegrityError``.
    """
    if part not in UCR_FILES:
        raise ECGDataError(f"part must be one of {sorted(UCR_FILES)}, got {part!r}")
    folder = ucr_dir()
    _verify_once(str(folder.resolve()))
    return read_beats(folder / UCR_FILES[part])


@functools.cache
def _verify_once(folder: str) -> None:
    verify(Path(folder))  # a failure raises, and functools.cache does not cache exceptions


def read_beats(source: Source, delimiter: str | None = None) -> Beats:
    """Read UCR-layout beats: a class label 1..5 in column 0, then 140 values per line.

    ``source`` is a path or an open file (text or bytes); gzip content is detected by
    its magic bytes, so ``.tsv.gz`` and ``.csv.gz`` work as well as plain files.
    ``delimiter=None`` takes a tab if the first line has one, else a comma. Errors are
    :class:`ECGDataError` (a ``BadInput``) naming the file and the first bad line, because
    a learner's own file is the likeliest input to be wrong. Values must be finite and
    within ±:data:`MAX_ABS_VALUE`.
    """
    name, text = _read_text(source)
    table, lines = _parse_table(text, name, delimiter)
    labels = _labels(table[:, 0], lines, name, CLASS_NAMES, "the first column must be an ECG5000 class")
    return Beats(table[:, 1:], labels)


def read_tensorflow_csv(source: Source) -> Beats:
    """Read the TensorFlow tutorial's ``ecg.csv``: 140 values, then 1 (normal) or 0 (abnormal).

    Its abnormal beats are not broken down by class, so the result's labels are 1 and
    0 and :data:`CLASS_NAMES` does not apply; ``is_abnormal`` still does.
    """
    name, text = _read_text(source)
    table, lines = _parse_table(text, name, ",")
    rule = "the last column must be 1 (normal) or 0 (abnormal)"
    labels = _labels(table[:, -1], lines, name, TF_CSV_LABELS, rule)
    return Beats(table[:, :-1], labels)


def load_tensorflow_csv(url: str | None = None, cache_dir: str | os.PathLike[str] | None = None) -> Beats:
    """The TensorFlow tutorial's ECG CSV, downloaded on the first call and cached.

    The online path, for learners who want the data TensorFlow's autoencoder tutorial
    uses; nothing in browserml calls it (the lessons and tests run offline on the UCR
    files). There is no recorded sha256 for this file, so it is parsed and checked
    before it is cached, and written atomically: an interrupted or bad download never
    leaves a half-written file to be trusted later. ``url`` defaults to
    :data:`ONLINE_CSV_URL` (read at call time), ``cache_dir`` to :func:`default_cache_dir`.
    """
    url = ONLINE_CSV_URL if url is None else url
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / _url_file_name(url)
    if path.is_file():
        return read_tensorflow_csv(path)
    data = _download(url)
    stream = io.BytesIO(data)
    stream.name = url  # so parse errors name the URL
    beats = read_tensorflow_csv(stream)
    _write_file_atomically(path, data)
    return beats


def default_cache_dir() -> Path:
    """Where downloads are cached: ``$XDG_CACHE_HOME/browserml`` (``~/.cache/browserml``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "browserml"


def _url_file_name(url: str) -> str:
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    return name or "download.csv"


def _download(url: str) -> bytes:
    """The body at ``url``; any failure is one :class:`ECGDataError` line, not a traceback.

    A refused connection, an HTTP error, a timeout (:data:`DOWNLOAD_TIMEOUT_S`) and a body
    shorter than its Content-Length (``http.client.IncompleteRead``, not an ``OSError``)
    all say what failed and that the bundled files work offline.
    """
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            return response.read()
    except (OSError, http.client.HTTPException) as err:  # urllib.error.URLError is an OSError
        reason = str(err) or type(err).__name__
        if isinstance(err, http.client.IncompleteRead):
            reason = f"the body ended after {len(err.partial)} bytes, {err.expected} more were expected"
        raise ECGDataError(
            f"could not download {url} ({reason}). "
            "The lessons work offline: use load_ucr() for the bundled files."
        ) from err


def _write_file_atomically(path: Path, data: bytes) -> None:
    """Write to a sibling temporary file, then rename it over ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def _read_text(source: Source) -> tuple[str, str]:
    """``(name for messages, decoded text)`` from a path or an open file."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return path.name, _decode(path.read_bytes(), path.name)
    name = PurePosixPath(str(getattr(source, "name", "<stream>"))).name or "<stream>"
    data = source.read()
    return name, data if isinstance(data, str) else _decode(bytes(data), name)


def _decode(data: bytes, name: str) -> str:
    if data[:2] == b"\x1f\x8b":  # gzip's magic bytes: decide by content, not by suffix
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise ECGDataError(f"{name}: looks gzip-compressed but cannot be decompressed ({err})") from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ECGDataError(f"{name}: not UTF-8 text ({err})") from err


def _parse_table(text: str, name: str, delimiter: str | None) -> tuple[np.ndarray, np.ndarray]:
    """``(float64 [n, 141] table, the 1-based line number of each row)``; blank lines skipped."""
    delimiter = delimiter or _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[float]] = []
    lines: list[int] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        rows.append(_parse_row(cells, name, reader.line_num, delimiter))
        lines.append(reader.line_num)
    if not rows:
        raise ECGDataError(f"{name}: empty file, no beats found")
    table = np.array(rows, dtype=np.float64)
    _check_finite(table, np.array(lines), name)
    return table, np.array(lines)


def _sniff_delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if "\t" in first else ","


def _parse_row(cells: list[str], name: str, line: int, delimiter: str) -> list[float]:
    if len(cells) != N_COLUMNS:
        hint = f" (is {delimiter!r} the right delimiter?)" if len(cells) == 1 else ""
        found = f"{len(cells)} column" + ("" if len(cells) == 1 else "s")
        raise ECGDataError(
            f"{name}: line {line} has {found}; expected {N_COLUMNS} = label + {N_STEPS} values{hint}"
        )
    try:
        return [float(cell) for cell in cells]
    except ValueError:
        column, cell = next((i, c) for i, c in enumerate(cells, start=1) if not _is_number(c))
        raise ECGDataError(f"{name}: line {line}, column {column}: {cell!r} is not a number") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_finite(table: np.ndarray, lines: np.ndarray, name: str) -> None:
    """The first NaN, infinity or out-of-range value (see :data:`MAX_ABS_VALUE`), by line and column."""
    bad = first_bad_value(table)
    if bad is not None:
        row, column, why = bad
        raise ECGDataError(f"{name}: line {lines[row]}, column {column + 1}: {why}")


def _labels(
    column: np.ndarray, lines: np.ndarray, name: str, allowed: Collection[int], rule: str
) -> np.ndarray:
    """Integer labels from a float column; the first one not in ``allowed`` is an error."""
    rounded = np.rint(column)
    bad = (rounded != column) | ~np.isin(rounded, list(allowed))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ECGDataError(
            f"{name}: line {lines[row]}: label {column[row]:g} is not one of {sorted(allowed)} ({rule})"
        )
    return rounded.astype(np.int64)


# --- splits --------------------------------------------------------------------------


def ucr_split(val_fraction: float = 0.2, seed: int = 0) -> Split:
    """The UCR archive's own split: train and validation from TRAIN, test = all of TEST.

    Validation is carved from the 500 TRAIN beats, stratified by class; the 4,500 TEST
    beats stay untouched, so results compare with published ECG5000 numbers.
    """
    _check_val_fraction(val_fraction)
    rng = np.random.default_rng(seed)
    train, val = _carve_val(load_ucr("train"), val_fraction, rng)
    return Split("ucr", train, val, load_ucr("test"))


def anomagram_split(val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Anomagram's re-split: all 5,000 beats pooled and shuffled, 4,500 train and 500 test.

    Training an autoencoder on 500 beats (fewer than 300 of them normal) is thin;
    Anomagram trains on most of the data instead. Validation is then carved from the
    4,500, stratified by class, exactly as in :func:`ucr_split`.
    """
    _check_val_fraction(val_fraction)
    pooled = _concat(load_ucr("train"), load_ucr("test"))
    rng = np.random.default_rng(seed)
    order = rng.permutation(pooled.n)
    n_train = pooled.n - ANOMAGRAM_TEST_SIZE
    train_pool = pooled.subset(np.sort(order[:n_train]))
    test = pooled.subset(np.sort(order[n_train:]))
    train, val = _carve_val(train_pool, val_fraction, rng)
    return Split("anomagram", train, val, test)


def _concat(*parts: Beats) -> Beats:
    return Beats(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))


def _check_val_fraction(val_fraction: float) -> None:
    if not 0 <= val_fraction < 1:
        raise ECGDataError(f"val_fraction must be in [0, 1), got {val_fraction!r}")


def _carve_val(beats: Beats, val_fraction: float, rng: np.random.Generator) -> tuple[Beats, Beats]:
    """``(train, val)``: ``val_fraction`` of the beats, stratified by class, kept in file order."""
    _check_val_fraction(val_fraction)
    in_val = np.zeros(beats.n, dtype=bool)
    in_val[_stratified_pick(beats.y, val_fraction, rng)] = True
    return beats.subset(~in_val), beats.subset(in_val)


def _stratified_pick(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``round(n * fraction)`` beats, each class contributing its share."""
    classes, counts = np.unique(y, return_counts=True)
    quotas = _largest_remainder(counts, fraction)
    picks = [rng.choice(np.flatnonzero(y == c), size=int(q), replace=False) for c, q in zip(classes, quotas)]
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, dtype=np.intp)


def _largest_remainder(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Integer quotas summing to ``round(total * fraction)``, each as close to its share as can be.

    Rounding each class on its own would make the validation set a beat or two off the
    requested size; the largest-remainder method keeps the total exact.
    """
    exact = counts * fraction
    quotas = np.floor(exact).astype(np.int64)
    missing = round(float(counts.sum()) * fraction) - int(quotas.sum())
    if missing > 0:
        quotas[np.argsort(-(exact - quotas), kind="stable")[:missing]] += 1
    return quotas


# --- the autoencoder's training set --------------------------------------------------


def training_beats(beats: Beats, size: int | None, abnormal_share: float, seed: int = 0) -> Beats:
    """The autoencoder's training beats: normal only, or with ``abnormal_share`` of abnormal ones.

    An autoencoder trained on normal beats reconstructs abnormal ones badly, which is
    the whole detector; Anomagram lets the learner leak abnormal beats into training
    to see the separation shrink. ``size=None`` takes as many beats as the share
    allows. The picks are seeded and returned in the order of ``beats``.
    """
    if not 0 <= abnormal_share < 1:
        raise ECGDataError(f"abnormal_share must be in [0, 1), got {abnormal_share!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0):
        raise ECGDataError(f"size must be a non-negative int or None, got {size!r}")
    normal = np.flatnonzero(~beats.is_abnormal)
    abnormal = np.flatnonzero(beats.is_abnormal)
    total = _largest_mix(normal.size, abnormal.size, abnormal_share) if size is None else int(size)
    n_normal, n_abnormal = _mix_counts(total, abnormal_share)
    if total == 0:
        raise ECGDataError(
            f"empty selection: {normal.size} normal and {abnormal.size} abnormal beats available, "
            f"size={size!r}, abnormal_share={abnormal_share!r}"
        )
    if n_normal > normal.size or n_abnormal > abnormal.size:
        raise ECGDataError(
            f"size {total} with abnormal_share {abnormal_share} needs {n_normal} normal and {n_abnormal} "
            f"abnormal beats, but only {normal.size} normal and {abnormal.size} abnormal are available "
            "(size=None takes as many as there are)"
        )
    rng = np.random.default_rng(seed)
    picked = np.concatenate([
        rng.choice(normal, size=n_normal, replace=False),
        rng.choice(abnormal, size=n_abnormal, replace=False),
    ])
    return beats.subset(np.sort(picked))


def _mix_counts(total: int, abnormal_share: float) -> tuple[int, int]:
    """``(normal, abnormal)`` counts for ``total`` beats at ``abnormal_share``."""
    n_abnormal = round(total * abnormal_share)
    return total - n_abnormal, n_abnormal


def _largest_mix(n_normal: int, n_abnormal: int, abnormal_share: float) -> int:
    """The largest total whose mix at ``abnormal_share`` fits in the beats available.

    A positive share with no abnormal beat in the result (too few beats to round up to
    one) gives 0: silently training on normal beats only would not be what was asked.
    """
    if abnormal_share == 0:
        return n_normal
    # Rounding the abnormal count moves each side by at most half a beat, so no total
    # above this bound fits; walk down from it to the largest one that does.
    total = int(min((n_normal + 0.5) / (1 - abnormal_share), (n_abnormal + 0.5) / abnormal_share)) + 1
    while total > 0:
        need_normal, need_abnormal = _mix_counts(total, abnormal_share)
        if need_normal <= n_normal and need_abnormal <= n_abnormal:
            return total if need_abnormal > 0 else 0
        total -= 1
    return 0
