"""Write a folder all at once, or not at all, and survive being killed half-way.

An export that dies half-way (a converter error, a full disk, Ctrl-C in a notebook, a
``kill -9``) must not leave a model.json pointing at missing shards where a good export
used to be, and must not lose the good export either. Everything is written into a
hidden sibling folder; only once it is complete is it marked so (a marker file written
last) and swapped in, by two renames:

1. ``X`` -> ``.X.old-<id>`` (the previous export, complete);
2. ``.X.tmp-<id>`` -> ``X`` (the new one, complete: it carries the marker);
3. the marker is removed from ``X`` and the old folder renamed to ``.X.trash-<id>`` and deleted.

A kill between 1 and 2 leaves ``X`` absent, so every entry into :func:`atomic_directory`
first *recovers*: a missing ``X`` is restored from a complete ``.X.tmp-*`` (marked) or
else from ``.X.old-*``, and every other leftover is renamed to ``.X.trash-*`` (one
atomic step, so a half-deleted folder is never mistaken for an export) and deleted. So
whatever the kill point, ``X`` holds the old or the new export once the next run has
started. Writers of one target are serialised by an advisory lock (``.X.lock``, removed
on the way out), so a recovering writer never touches a live writer's folder.

The target is a real folder (no symlink tricks), created like any other output: mode
``0o777 & ~umask``, not the ``0o700`` of :func:`tempfile.mkdtemp`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX; elsewhere writers are not serialised (recovery still works)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

COMPLETE_MARKER = ".browserml-complete"
"""Written last into a staging folder: a ``.X.tmp-*`` folder holding it is a whole export."""

_KINDS = ("tmp", "old", "trash")
_held = threading.local()  # targets this thread holds the lock of (a nested block would deadlock)


def _leftover_pattern(name: str) -> re.Pattern[str]:
    """``.X.tmp-<id>``, ``.X.old-<id>``, ``.X.trash-<id>``, ``<id>`` without dots (so a target
    called ``X.tmp-a`` never has its folders taken for leftovers of ``X``). The ids of
    :func:`tempfile.mkdtemp`, which earlier versions used, match too: their leftovers
    are recovered as well."""
    return re.compile(rf"\.{re.escape(name)}\.({'|'.join(_KINDS)})-[A-Za-z0-9_]+")


def _sibling(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{secrets.token_hex(8)}")


def _leftovers(target: Path) -> dict[str, list[Path]]:
    """This target's hidden siblings by kind, newest first."""
    pattern = _leftover_pattern(target.name)
    found: dict[str, list[Path]] = {kind: [] for kind in _KINDS}
    for entry in target.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if match:
            found[match.group(1)].append(entry)
    for paths in found.values():
        paths.sort(key=lambda p: p.lstat().st_mtime_ns, reverse=True)
    return found


def _discard(path: Path, target: Path, kind: str) -> None:
    """Delete a leftover of ``target``: renamed to ``.X.trash-*`` first (atomic), so a kill
    during the slow delete leaves only something the next run knows is garbage."""
    if kind != "trash":
        trash = _sibling(target, "trash")
        os.rename(path, trash)
        path = trash
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def recover(target: str | Path) -> None:
    """Put a whole export back at ``target`` if a killed swap left it absent, and delete
    every other leftover of earlier runs. Call it only while holding the target's lock
    (:func:`atomic_directory` does), so no live writer's folder is touched."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    marker = target / COMPLETE_MARKER
    if target.is_dir() and marker.exists():  # killed after the swap, before the marker went
        marker.unlink()
    found = _leftovers(target)
    if not os.path.lexists(target):
        complete = [p for p in found["tmp"] if (p / COMPLETE_MARKER).is_file()]
        for candidate in complete[:1] or found["old"][:1]:  # the newer export, else the old one
            os.rename(candidate, target)
            (target / COMPLETE_MARKER).unlink(missing_ok=True)
            found = _leftovers(target)
    for kind, paths in found.items():
        for path in paths:
            _discard(path, target, kind)


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``.X.lock``, removed on release.

    The file is unlinked by the holder before it lets go; a writer that was waiting on
    the unlinked file then sees that the path no longer names what it locked, and tries
    again on a fresh file, so two writers never both believe they hold the lock.
    """
    held: set[Path] = getattr(_held, "targets", set())
    if target in held:
        raise RuntimeError(f"atomic_directory({target}) is already open in this thread; nesting it would deadlock")
    if fcntl is None:
        yield
        return
    lock_path = target.with_name(f".{target.name}.lock")
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without flock: carry on unserialised
            os.close(fd)
            yield
            return
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    _held.targets = held | {target}
    try:
        yield
    finally:
        _held.targets = held
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock_path)
        os.close(fd)


def _make_staging(target: Path) -> Path:
    """A fresh hidden sibling made by :func:`os.mkdir`, so the umask applies (0o755 under
    the usual 022) instead of :func:`tempfile.mkdtemp`'s 0o700."""
    while True:
        staging = _sibling(target, "tmp")
        try:
            os.mkdir(staging, 0o777)
            return staging
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty folder that becomes ``target`` when the block succeeds.

    On an exception the folder is removed and an existing ``target`` is left exactly as
    it was. The folder is a sibling of ``target`` so the renames never cross file
    systems. Leftovers of a run that was killed are recovered or deleted on entry (see
    the module docstring), so ``target`` always holds a whole export, old or new.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        recover(target)
        staging = _make_staging(target)
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            (staging / COMPLETE_MARKER).write_bytes(b"")
            retired = None
            if os.path.lexists(target):
                retired = _sibling(target, "old")
                os.rename(target, retired)
            os.rename(staging, target)
            (target / COMPLETE_MARKER).unlink()
            if retired is not None:
                _discard(retired, target, "old")
        except BaseException:
            with contextlib.suppress(Exception):  # an interrupted swap: put old or new back now
                recover(target)
            raise
