"""Read a PyTorch state dict into NumPy arrays without PyTorch and without running its pickle.

Lesson 3's ImageNet weights ship as ``.pth`` files, and a ``.pth`` is a pickle: loading
one with :func:`pickle.load` (or ``torch.load`` without ``weights_only``) lets the
file call any Python function it names, ``os.system`` included. A state dict needs
exactly three kinds of global: ``collections.OrderedDict``, the tensor rebuilder
``torch._utils._rebuild_tensor_v2`` and the ``torch.*Storage`` classes that say a
tensor's dtype. :class:`_RestrictedUnpickler` maps those to harmless stand-ins defined
here and refuses every other global with :class:`UnsafeCheckpointError`, before it is
ever looked up, so a hostile file cannot run code; the raw tensor bytes are then read
by offset and wrapped with :func:`numpy.frombuffer`.

Sizes are checked from the headers before anything is allocated: a storage may claim at
most :data:`MAX_CHECKPOINT_BYTES` (all storages together, too), a legacy storage must fit
in what is left of the file, and a zip member's declared uncompressed size (central
directory) must be what its tensors need, so neither a pickle claiming 2^60 elements nor
a zip bomb (7 MB that inflates to GBs) gets further than its header.

Both on-disk layouts are read:

- the *legacy* format (``torch.save`` before 1.6, ``_use_new_zipfile_serialization=False``):
  pickles of the magic number, the protocol version and ``sys_info``; the object pickle;
  a pickle of the storage keys; then, per key in that order, an int64 element count and
  the storage's raw little-endian bytes;
- the *zip* format (1.6 and later): ``<archive>/data.pkl`` is the object pickle and
  ``<archive>/data/<key>`` holds each storage's raw bytes.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from browserml.errors import BadInput

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # torch.serialization.PROTOCOL_VERSION
_ZIP_SIGNATURE = b"PK\x03\x04"
_INT64 = 8
MAX_CHECKPOINT_BYTES = 256 * 2**20
"""Tensor bytes one checkpoint may hold: ten times the largest shipped (EfficientNet-Lite2,
24.7 MB), and far below what would exhaust a 2 GB Binder kernel."""
MAX_PICKLE_BYTES = 16 * 2**20
"""A zip checkpoint's ``data.pkl``: names and shapes only (EfficientNet-Lite2's is ~40 kB)."""


class CheckpointError(BadInput):
    """Not a PyTorch state dict this reader understands: truncated, malformed or another kind of file."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint's pickle names a global outside the state-dict allowlist (it could run code)."""


def _refuse_setstate(self: Any, state: Any) -> None:
    """Pickle's BUILD opcode could rewrite a record after its checks (frozen slotted dataclasses
    get a ``__setstate__`` that bypasses ``frozen``), or retarget a shared storage type."""
    raise CheckpointError(f"the pickle tries to modify a {type(self).__name__} record after creating it")


@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stands in for ``torch.FloatStorage`` and friends: only the dtype matters."""

    name: str
    dtype: np.dtype

    __setstate__ = _refuse_setstate


_STORAGE_TYPES: dict[str, _StorageType] = {
    name: _StorageType(name, np.dtype(code))
    for name, code in {
        "DoubleStorage": "<f8",
        "FloatStorage": "<f4",
        "HalfStorage": "<f2",
        "LongStorage": "<i8",
        "IntStorage": "<i4",
        "ShortStorage": "<i2",
        "CharStorage": "i1",
        "ByteStorage": "u1",
        "BoolStorage": "?",
    }.items()
}


@dataclass(frozen=True, slots=True)
class _StorageRef:
    """A storage named by a pickle's persistent id; its bytes are read after the pickle.

    ``view`` is ``(offset, size)`` for the legacy format's storage views, else None.
    """

    key: str
    dtype: np.dtype
    numel: int
    view: tuple[int, int] | None

    __setstate__ = _refuse_setstate


@dataclass(frozen=True, slots=True)
class _TensorRef:
    """What ``_rebuild_tensor_v2`` would have built: a strided window on a storage."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    __setstate__ = _refuse_setstate


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_int_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and all(_is_int(v) and v >= 0 for v in value)


def _rebuild_tensor_v2(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> _TensorRef:
    """The allowlisted stand-in for ``torch._utils._rebuild_tensor_v2``: checks and records."""
    if not isinstance(storage, _StorageRef):
        raise CheckpointError(f"a tensor's storage is a {type(storage).__name__}, not a storage reference")
    offset_ok = _is_int(storage_offset) and storage_offset >= 0
    if not (offset_ok and _is_int_tuple(size) and _is_int_tuple(stride)):
        raise CheckpointError(
            f"a tensor has a malformed layout: offset {storage_offset!r}, size {size!r}, stride {stride!r}"
        )
    if len(size) != len(stride):
        raise CheckpointError(f"a tensor's size {size} and stride {stride} have different lengths")
    return _TensorRef(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a state dict needs, to local stand-ins."""

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file)
        self.source = source
        self.storages: dict[str, _StorageRef] = {}
        self.claimed = 0  # bytes all storages referenced so far need

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        raise UnsafeCheckpointError(
            f"{self.source}: refusing to load the global {module}.{name}: a state dict needs only "
            "collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.*Storage, and any "
            "other global could run code. Is this file really a plain state dict?"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        # legacy: ('storage', type, key, location, numel, view_metadata); zip: the first five.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CheckpointError(f"{self.source}: unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view_metadata = pid[5] if len(pid) == 6 else None
        well_formed = isinstance(storage_type, _StorageType) and isinstance(key, str) and _is_int(numel)
        if not (well_formed and numel >= 0):
            raise CheckpointError(f"{self.source}: malformed storage reference {pid!r}")
        view = None
        if view_metadata is not None:
            if not (isinstance(view_metadata, tuple) and len(view_metadata) == 3
                    and _is_int_tuple(tuple(view_metadata[1:]))):
                raise CheckpointError(f"{self.source}: malformed storage view {view_metadata!r}")
            view = (view_metadata[1], view_metadata[2])
        if key not in self.storages:
            _check_size(self.source, f"storage {key}", numel, storage_type.dtype,
                        self.claimed + numel * storage_type.dtype.itemsize)
            self.claimed += numel * storage_type.dtype.itemsize
        seen = self.storages.setdefault(key, _StorageRef(key, storage_type.dtype, numel, None))
        if (seen.dtype, seen.numel) != (storage_type.dtype, numel):
            raise CheckpointError(f"{self.source}: storage {key} is referenced with two dtypes or sizes")
        return _StorageRef(key, storage_type.dtype, numel, view)


def _check_size(source: str, what: str, numel: int, dtype: np.dtype, total: int) -> None:
    """Refuse a storage (or all of them, ``total`` bytes) beyond :data:`MAX_CHECKPOINT_BYTES`,
    from the metadata alone: nothing of that size has been allocated yet."""
    if numel * dtype.itemsize > MAX_CHECKPOINT_BYTES or total > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"{source}: {what} claims {numel} {dtype.name} elements ({total / 2**20:.0f} MiB of tensors in all); "
            f"more than the {MAX_CHECKPOINT_BYTES // 2**20} MiB a checkpoint may hold here, so it is refused "
            "before reading (is the file damaged or crafted?)"
        )


def _unpickle(stream: IO[bytes], source: str) -> tuple[Any, dict[str, _StorageRef]]:
    """One restricted pickle from ``stream``, and the storages it referenced."""
    unpickler = _RestrictedUnpickler(stream, source)
    try:
        return unpickler.load(), unpickler.storages
    except CheckpointError as err:
        if source in str(err):
            raise
        raise type(err)(f"{source}: {err}") from err
    except Exception as err:  # a damaged pickle fails in many ways (EOFError, UnpicklingError, ...)
        raise CheckpointError(
            f"{source}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})"
        ) from err


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """A PyTorch state dict file as ``{name: array}``, in the file's order, without running its pickle.

    Arrays are native-endian, C-contiguous copies with the tensors' shapes (PyTorch's
    layouts: NCHW activations, ``(out, in, kh, kw)`` conv kernels). Raises
    :class:`UnsafeCheckpointError` for a pickle that names any global beyond a state
    dict's, and :class:`CheckpointError` for a missing, truncated or foreign file.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise CheckpointError(f"{source} is missing (or not a file)")
    with path.open("rb") as stream:
        is_zip = stream.read(len(_ZIP_SIGNATURE)) == _ZIP_SIGNATURE
    obj, buffers = _read_zip(path, source) if is_zip else _read_legacy(path, source)
    return _materialize(obj, buffers, source)


def _read_legacy(path: Path, source: str) -> tuple[Any, dict[str, np.ndarray]]:
    with path.open("rb") as stream:
        magic, _ = _unpickle(stream, source)
        if magic != LEGACY_MAGIC:
            raise CheckpointError(f"{source}: not a PyTorch checkpoint (no torch.save magic number)")
        protocol, _ = _unpickle(stream, source)
        if protocol != LEGACY_PROTOCOL:
            raise CheckpointError(
                f"{source}: unsupported torch.save protocol {protocol!r} (expected {LEGACY_PROTOCOL})"
            )
        sys_info, _ = _unpickle(stream, source)
        if not (isinstance(sys_info, dict) and sys_info.get("little_endian") is True):
            raise CheckpointError(
                f"{source}: only little-endian checkpoints are supported (sys_info {sys_info!r})"
            )
        obj, storages = _unpickle(stream, source)
        keys, _ = _unpickle(stream, source)
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise CheckpointError(f"{source}: the storage key list is malformed")
        buffers = {}
        for key in keys:
            if key not in storages:
                raise CheckpointError(f"{source}: storage {key} is listed but no tensor uses it")
            buffers[key] = _read_legacy_storage(stream, storages[key], source)
    missing = sorted(set(storages) - set(buffers))
    if missing:
        raise CheckpointError(f"{source}: storages {missing} are used but not stored")
    return obj, buffers


def _read_legacy_storage(stream: IO[bytes], ref: _StorageRef, source: str) -> np.ndarray:
    header = stream.read(_INT64)
    if len(header) < _INT64:
        raise CheckpointError(f"{source}: truncated before storage {ref.key}")
    count = int.from_bytes(header, "little", signed=True)
    if count != ref.numel:
        raise CheckpointError(
            f"{source}: storage {ref.key} holds {count} elements, its tensors say {ref.numel}"
        )
    nbytes = count * ref.dtype.itemsize
    left = os.fstat(stream.fileno()).st_size - stream.tell()
    if left < nbytes:  # refused before a read of that size is even tried
        raise CheckpointError(f"{source}: truncated in storage {ref.key} ({left} of {nbytes} bytes left in the file)")
    data = stream.read(nbytes)
    if len(data) < nbytes:
        raise CheckpointError(f"{source}: truncated in storage {ref.key} ({len(data)} of {nbytes} bytes)")
    return np.frombuffer(data, dtype=ref.dtype, count=count)


def _read_zip(path: Path, source: str) -> tuple[Any, dict[str, np.ndarray]]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                raise CheckpointError(
                    f"{source}: a zip checkpoint needs one <archive>/data.pkl, found {pickles}"
                )
            _check_declared_sizes(archive, pickles[0], source)
            prefix = pickles[0][: -len("data.pkl")]
            if prefix + "byteorder" in names and _read_member(archive, prefix + "byteorder", 16).strip() != b"little":
                raise CheckpointError(f"{source}: only little-endian checkpoints are supported")
            obj, storages = _unpickle(io.BytesIO(_read_member(archive, pickles[0], MAX_PICKLE_BYTES)), source)
            buffers = {key: _read_zip_storage(archive, prefix, ref, source) for key, ref in storages.items()}
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:  # a damaged archive or member
        raise CheckpointError(f"{source}: a damaged zip checkpoint ({err})") from err
    return obj, buffers


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a member. ``archive.read`` would inflate a member whole
    in one call, up to 2 GiB, even when the central directory declares it small."""
    with archive.open(name) as member:
        return member.read(limit)


def _check_declared_sizes(archive: zipfile.ZipFile, data_pkl: str, source: str) -> None:
    """What the central directory says the members inflate to, checked before any is read."""
    pickle_size = archive.getinfo(data_pkl).file_size
    if pickle_size > MAX_PICKLE_BYTES:
        raise CheckpointError(
            f"{source}: {data_pkl} declares {pickle_size} bytes uncompressed; a state dict's pickle is far "
            f"smaller (at most {MAX_PICKLE_BYTES // 2**20} MiB here), so the file is refused before inflating it"
        )
    total = sum(info.file_size for info in archive.infolist())
    if total > MAX_CHECKPOINT_BYTES + MAX_PICKLE_BYTES:
        raise CheckpointError(
            f"{source}: its members declare {total / 2**20:.0f} MiB uncompressed, more than the "
            f"{MAX_CHECKPOINT_BYTES // 2**20} MiB a checkpoint may hold here; refused before inflating (a zip bomb?)"
        )


def _read_zip_storage(archive: zipfile.ZipFile, prefix: str, ref: _StorageRef, source: str) -> np.ndarray:
    member = f"{prefix}data/{ref.key}"
    try:
        declared = archive.getinfo(member).file_size
    except KeyError as err:
        raise CheckpointError(f"{source}: storage {member} is used but not stored") from err
    nbytes = ref.numel * ref.dtype.itemsize
    if declared != nbytes:  # from the central directory: nothing inflated yet
        raise CheckpointError(
            f"{source}: storage {member} declares {declared} bytes, its tensors need {nbytes}"
        )
    data = _read_member(archive, member, nbytes)  # stops at the declared size, checking the CRC there
    if len(data) != nbytes:
        raise CheckpointError(
            f"{source}: storage {member} holds {len(data)} bytes, its tensors need {nbytes}"
        )
    return np.frombuffer(data, dtype=ref.dtype, count=ref.numel)


def _materialize(obj: Any, buffers: Mapping[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Turn the unpickled ``{name: _TensorRef}`` into ``{name: array}``, checking every bound."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{source}: holds a {type(obj).__name__}, not a state dict (a name -> tensor mapping)"
        )
    arrays = {}
    for name, ref in obj.items():
        if not isinstance(name, str) or not isinstance(ref, _TensorRef):
            raise CheckpointError(
                f"{source}: entry {name!r} is a {type(ref).__name__}, not a tensor; "
                "expected a flat state dict (name -> tensor)"
            )
        arrays[name] = _tensor(ref, buffers[ref.storage.key], f"{source}: tensor {name}")
    return arrays


def _tensor(ref: _TensorRef, storage: np.ndarray, where: str) -> np.ndarray:
    if ref.storage.view is not None:
        start, length = ref.storage.view
        if start + length > storage.size:
            raise CheckpointError(f"{where}: its storage view ends past the storage")
        storage = storage[start : start + length]
    native = storage.dtype.newbyteorder("=")
    if 0 in ref.size:
        return np.zeros(ref.size, dtype=native)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
    if last >= storage.size:
        raise CheckpointError(f"{where}: reads element {last} of a {storage.size}-element storage")
    if math.prod(ref.size) > storage.size:  # only stride-0 broadcasting could; a copy could exhaust memory
        raise CheckpointError(f"{where}: has more elements {ref.size} than its storage ({storage.size})")
    strides = [s * storage.itemsize for s in ref.stride]
    window = np.lib.stride_tricks.as_strided(storage[ref.offset :], ref.size, strides, writeable=False)
    return np.array(window, dtype=native, order="C")
