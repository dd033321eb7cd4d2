"""A non-editable install carries everything the lessons read: no path assumes a checkout.

`pip install .` puts browserml and widgets in site-packages. The wheel must then hold the
JS runners and page templates, the in-page TF.js bundle (Colab and pip installs have no
Node to build it), the widget front ends, and the datasets (as data files, since
datasets/ is never a Python package); browserml.paths finds the datasets there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the tracked files, built in a copy (setuptools writes build/ beside the source)."""
    out, source = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("source")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, tracked.decode().split("\0")):
        if (ROOT / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, source / rel)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (found,) = out.glob("browserml-*.whl")
    return found


@pytest.mark.slow
def test_the_wheel_carries_code_bundle_front_ends_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("browserml/js/dist/tfjs-bundle.mjs", "browserml/js/dist/tfjs-backend-wasm-simd.wasm",
                   "browserml/js/dist/browserml-page.js", "browserml/js/runtime/core.js",
                   "browserml/js/runtime/package.json", "browserml/js/runtime/runner.js", "browserml/templates/anomaly_index.html",
                   "widgets/browser_runtime.js", "widgets/js/theme.js", "widgets/js/thumbgrid.js",
                   "widgets/js/thumbgrid.css", "browserml/compat.py", "browserml/colab.py"):
        assert needed in names, f"{needed} is not in the wheel"
    data = {n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n}
    for rel in sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "datasets").rglob("*") if p.is_file()):
        assert f"share/browserml/{rel}" in data, f"{rel} does not travel with a non-editable install"


@pytest.mark.slow
def test_an_installed_copy_finds_its_data_outside_a_checkout(wheel, tmp_path):
    """Unpacked as pip would (package in site-packages, data under the prefix), the ECG5000
    loader reads the copy under <prefix>/share, and exports go to the current folder."""
    site, prefix = tmp_path / "site", tmp_path / "prefix"
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            target = prefix / name.split(".data/data/", 1)[1] if ".data/data/" in name else site / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(name))
    script = ("import sys; sys.prefix = sys.argv[1]\n"
              "from browserml import paths; import widgets\n"
              "from browserml.data import ecg5000\n"
              "assert not paths.is_checkout(), paths.PACKAGE_DIR\n"
              "print(paths.datasets_dir()); print(paths.exports_dir())\n"
              "print(len(ecg5000.load_ucr('train').x))\n")
    done = subprocess.run([sys.executable, "-c", script, str(prefix)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    datasets, exports, n_train = done.stdout.split()
    assert Path(datasets) == prefix / "share" / "browserml" / "datasets"
    assert Path(exports) == tmp_path / "exports"
    assert int(n_train) > 0
