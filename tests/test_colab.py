"""browserml.colab: what the Colab Setup cell does, checked without Colab.

The whole path (all five notebooks on a Colab stand-in) is `make test-colab`; these
check its pieces offline: an npm package fetched without npm must match the lock's
sha512 and stay inside its folder, and a second run installs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from browserml import colab


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _course(tmp_path: Path, name: str, data: bytes, integrity: bytes | None = None) -> Path:
    home = tmp_path / "course"
    home.mkdir()
    digest = base64.b64encode(hashlib.sha512(integrity if integrity is not None else data).digest()).decode()
    lock = {"packages": {f"node_modules/{name}": {"version": "1.0.0", "integrity": f"sha512-{digest}"}}}
    (home / "package-lock.json").write_text(json.dumps(lock))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"{name.rsplit('/', 1)[-1]}-1.0.0.tgz").write_bytes(data)
    return home


def test_an_npm_package_is_unpacked_once_and_checked(tmp_path, monkeypatch):
    data = _tarball({"package/package.json": b"{}", "package/models/m.json": b"[1]"})
    home = _course(tmp_path, "@scope/pkg", data)
    monkeypatch.setenv("BROWSERML_NPM_CACHE", str(tmp_path / "cache"))
    assert colab.fetch_npm_package(home, "@scope/pkg") is True
    assert (colab.npm_package_dir(home, "@scope/pkg") / "models" / "m.json").read_bytes() == b"[1]"
    assert colab.fetch_npm_package(home, "@scope/pkg") is False, "safe to run twice"


def test_a_tarball_that_is_not_the_locked_one_is_refused(tmp_path, monkeypatch):
    data = _tarball({"package/package.json": b"{}"})
    home = _course(tmp_path, "pkg", data, integrity=b"something else")
    monkeypatch.setenv("BROWSERML_NPM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="sha512"):
        colab.fetch_npm_package(home, "pkg")
    assert not colab.npm_package_dir(home, "pkg").exists()


def test_a_tarball_whose_paths_leave_its_folder_is_refused(tmp_path, monkeypatch):
    data = _tarball({"package/package.json": b"{}", "package/../../escaped.txt": b"x"})
    home = _course(tmp_path, "pkg", data)
    monkeypatch.setenv("BROWSERML_NPM_CACHE", str(tmp_path / "cache"))
    with pytest.raises(tarfile.TarError):
        colab.fetch_npm_package(home, "pkg")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_setup_with_everything_there_installs_nothing_and_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    assert colab.setup(tmp_path, names=["numpy"]) == []
    said = capsys.readouterr().out
    assert said.startswith("browserml is ready on Colab: nothing to install")
    assert Path.cwd() == (tmp_path / "notebooks").resolve()


def test_the_pins_come_from_both_lock_files(tmp_path):
    (tmp_path / "requirements.lock").write_text("# header\nfaiss-cpu==1.15.1\nappnope==1.0.0 ; sys_platform == 'darwin'\n")
    (tmp_path / "requirements-nodeps.txt").write_text("tensorflowjs==4.22.0\n")
    assert colab._pins(tmp_path) == {"faiss-cpu": "faiss-cpu==1.15.1", "appnope": "appnope==1.0.0",
                                     "tensorflowjs": "tensorflowjs==4.22.0"}
