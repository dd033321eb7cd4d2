from pathlib import Path

import pytest

from browserml.atomic import atomic_directory


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
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(target) as staging:
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
