import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from browserml.atomic import COMPLETE_MARKER, atomic_directory, recover


def test_folder_appears_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("new")
        assert not target.exists(), "the target must not exist before the block ends"
    assert (target / "a.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no staging folders may be left behind"


def test_failure_keeps_the_old_folder_intact(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "model.json").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_directory(target) as staging:
        (staging / "model.json").write_text("half-written")
        raise RuntimeError("boom")
    assert (target / "model.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_success_replaces_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.bin").write_text("x")
    with atomic_directory(target) as staging:
        (staging / "fresh.bin").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["fresh.bin"]


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)], ids=["022", "077", "002"])
def test_the_folder_gets_the_umask_mode_like_any_output(tmp_path: Path, umask: int, mode: int) -> None:
    """mkdtemp's 0700 made exports unreadable to a web server or another user; a folder
    made by hand (``mkdir``) gets ``0o777 & ~umask``, and so must an export."""
    previous = os.umask(umask)
    try:
        with atomic_directory(tmp_path / "out") as staging:
            (staging / "a.txt").write_text("new")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == mode


# ---------------------------------------------------------------- interrupted and killed swaps

OLD = {"model.json": "old", "old-shard.bin": "o"}
NEW = {"model.json": "new", "new-shard.bin": "n"}


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text)


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


def _next_run_sees_old_or_new_and_cleans_up(tmp_path: Path, target: Path) -> None:
    """The run after a failure: on entry the target is whole (old or new), afterwards
    nothing but the target is left in its folder."""
    with atomic_directory(target) as staging:
        assert _contents(target) in (OLD, NEW)
        _write(staging, {"model.json": "next"})
    assert _contents(target) == {"model.json": "next"}
    assert [p.name for p in tmp_path.iterdir()] == [target.name], "no leftovers after the next run"


def test_every_interrupted_rename_leaves_old_or_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in a notebook at the n-th rename of a swap, for every n: the kernel lives on,
    the export is whole right away, and the next run leaves only the target."""
    real_rename = os.rename
    n = 0
    while True:
        n += 1
        case = tmp_path / f"case{n}"
        case.mkdir()
        target = case / "export"
        target.mkdir()
        _write(target, OLD)
        calls = 0

        def interrupting_rename(src, dst, *args, kill_at=n, **kwargs):
            nonlocal calls
            calls += 1
            if calls == kill_at:
                raise KeyboardInterrupt(f"rename #{kill_at}")
            return real_rename(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "rename", interrupting_rename)
        try:
            with atomic_directory(target) as staging:
                _write(staging, NEW)
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        finally:
            monkeypatch.setattr(os, "rename", real_rename)
        assert _contents(target) in (OLD, NEW), f"rename #{n}"
        _next_run_sees_old_or_new_and_cleans_up(case, target)
        if not interrupted:
            break
    assert n >= 4, "the swap renames the old folder away, the new one in, and the old one to the trash"


KILLED_WRITER = r"""
import os, sys
from pathlib import Path
from browserml.atomic import atomic_directory

target, kill_at = Path(sys.argv[1]), int(sys.argv[2])
calls = 0

def killing(fn):
    def wrapper(*args, **kwargs):
        global calls
        calls += 1
        if calls == kill_at:
            os._exit(137)  # like kill -9: no finally, no except, no atexit
        return fn(*args, **kwargs)
    return wrapper

for name in ("rename", "unlink", "rmdir", "mkdir", "open"):
    setattr(os, name, killing(getattr(os, name)))
with atomic_directory(target) as staging:
    for name, text in {"model.json": "new", "new-shard.bin": "n"}.items():
        fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT, 0o666)
        os.write(fd, text.encode())
        os.close(fd)
"""


def test_a_kill_at_any_point_loses_nothing(tmp_path: Path) -> None:
    """A real process, killed (``os._exit``) at its n-th file-system call, for every n:
    the lock, the staging folder, each file, the marker, both renames, the deletes.
    Whatever it left, the next run starts from a whole export, old or new."""
    n = 0
    while True:
        n += 1
        case = tmp_path / f"case{n}"
        case.mkdir()
        target = case / "export"
        target.mkdir()
        _write(target, OLD)
        run = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target), str(n)], capture_output=True,
                             text=True, timeout=60, check=False)
        assert run.returncode in (0, 137), run.stderr
        _next_run_sees_old_or_new_and_cleans_up(case, target)
        if run.returncode == 0:
            break
    assert n >= 8, f"only {n - 1} kill points were reached"


def test_leftovers_of_the_old_mkdtemp_design_are_recovered(tmp_path: Path) -> None:
    """The state the previous version left after a kill between its two renames: the old
    export in ``.X.old-*``, the new one (unmarked, so not known to be whole) in ``.X.tmp-*``,
    and no ``X``. The next run brings the old export back instead of losing both."""
    target = tmp_path / "export"
    old = tmp_path / ".export.old-k2j_x9ab"
    old.mkdir()
    _write(old, OLD)
    half = tmp_path / ".export.tmp-3hq0wz1_"
    half.mkdir()
    (half / "model.json").write_text("half")
    unrelated = tmp_path / ".export.tmp-a.tmp-0123456789abcdef"  # a leftover of the target "export.tmp-a"
    unrelated.mkdir()
    with atomic_directory(target) as staging:
        assert _contents(target) == OLD
        assert not old.exists() and not half.exists() and unrelated.exists()
        _write(staging, NEW)
    assert _contents(target) == NEW


def test_a_complete_new_export_is_preferred_when_the_target_is_missing(tmp_path: Path) -> None:
    target = tmp_path / "export"
    for kind, files in (("old", OLD), ("tmp", NEW)):
        folder = tmp_path / f".export.{kind}-0123456789abcdef"
        folder.mkdir()
        _write(folder, files)
    (tmp_path / ".export.tmp-0123456789abcdef" / COMPLETE_MARKER).write_text("")
    recover(target)
    assert _contents(target) == NEW
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_concurrent_writers_are_serialised(tmp_path: Path) -> None:
    """Two threads exporting to one target: each swap is whole, and neither writer's
    recovery deletes the other's staging folder."""
    target = tmp_path / "export"
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for i in range(5):
                with atomic_directory(target) as staging:
                    _write(staging, {"model.json": f"{tag}{i}", f"{tag}.bin": tag})
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    files = _contents(target)
    assert files["model.json"][0] in "ab" and set(files) == {"model.json", f"{files['model.json'][0]}.bin"}
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_nesting_the_same_target_is_refused_not_deadlocked(tmp_path: Path) -> None:
    with atomic_directory(tmp_path / "x"), pytest.raises(RuntimeError, match="deadlock"), \
            atomic_directory(tmp_path / "x"):
        pass
