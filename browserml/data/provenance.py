"""Check a data folder against its ``PROVENANCE.json`` before anything reads it.

A lesson's claims ("292 normal beats in TRAIN", an anomaly threshold, a parity
sample) hold only for the exact bytes they were computed from. Each data folder
records, per file, the sha256 of the file as stored and (for ``.gz`` files) of its
uncompressed content; :func:`verify` recomputes both and names the file and the two
hashes on any difference, so a corrupted clone or an edited file fails loudly.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from browserml.errors import BadInput
from browserml.jsonfile import read_json

PROVENANCE_FILE = "PROVENANCE.json"
_CHUNK = 1 << 20


class DataIntegrityError(BadInput):
    """A data file is missing, or its bytes are not the ones its provenance records."""


def verify(dataset_dir: Path) -> dict[str, Any]:
    """Check every file listed in ``dataset_dir/PROVENANCE.json``; return the provenance.

    Raises :class:`DataIntegrityError` for a missing or malformed provenance, a listed
    file that is missing, a file name that leaves the folder, or a sha256 mismatch.
    """
    folder = Path(dataset_dir)
    provenance = read_provenance(folder)
    for entry in provenance["files"]:
        _verify_entry(folder, entry)
    return provenance


def read_provenance(dataset_dir: Path) -> dict[str, Any]:
    """Parse ``PROVENANCE.json`` and check it lists files with a name and a sha256."""
    path = Path(dataset_dir) / PROVENANCE_FILE
    data = read_json(path, DataIntegrityError, f"{path} is missing: every data folder needs its provenance")
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not files:
        raise DataIntegrityError(f"{path}: needs a non-empty 'files' list")
    for entry in files:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("sha256"):
            raise DataIntegrityError(
                f"{path}: every entry in 'files' needs a 'name' and a 'sha256', got {entry!r}"
            )
    return data


def sha256_file(path: Path, *, decompress: bool = False) -> str:
    """The sha256 of a file's bytes, or of its gzip-decompressed content."""
    opener = gzip.open if decompress else open
    with opener(path, "rb") as stream:
        return _sha256_stream(stream)  # type: ignore[arg-type]


def _sha256_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _verify_entry(folder: Path, entry: dict[str, Any]) -> None:
    path = _listed_path(folder, str(entry["name"]))
    if not path.is_file():
        raise DataIntegrityError(f"{path} is listed in {PROVENANCE_FILE} but missing")
    _compare(path, "sha256", str(entry["sha256"]), sha256_file(path))
    expected_inner = entry.get("sha256_uncompressed")
    if expected_inner and path.suffix == ".gz":
        try:
            actual_inner = sha256_file(path, decompress=True)
        except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
            raise DataIntegrityError(f"{path}: cannot be decompressed ({err})") from err
        _compare(path, "sha256 of the uncompressed content", str(expected_inner), actual_inner)


def _listed_path(folder: Path, name: str) -> Path:
    """Resolve a listed name, refusing anything but a plain name inside the folder."""
    if PurePosixPath(name).name != name or name in ("", ".", ".."):
        raise DataIntegrityError(
            f"{PROVENANCE_FILE}: file name {name!r} must be a plain file name in {folder}"
        )
    return folder / name


def _compare(path: Path, what: str, expected: str, actual: str) -> None:
    if actual.lower() != expected.lower():
        raise DataIntegrityError(
            f"{path}: {what} is {actual}, but {PROVENANCE_FILE} records {expected}. "
            "The file was changed or corrupted; restore it (e.g. `git checkout -- datasets/`)."
        )
