"""Run every notebook top to bottom through its Colab path, on a stand-in for Colab.

Run with the Python of the venv that `.ci/colab-venv` built from Colab's own versions
(Python 3.13, TensorFlow 2.20, ipywidgets 7.7.1, ipykernel 6.17). Each kernel gets:

- a stand-in ``google.colab`` (with ``google.colab.output``, as anywidget looks for it),
  imported at start-up as Colab does, so the Setup cell takes its Colab branch;
- ``BROWSERML_HOME`` pointing at this checkout, so the Setup cell's clone finds the
  course in place; browserml reaches the kernel only through that cell's ``sys.path``;
- no Node and no Chromium (PATH without them), as on Colab;
- pip with no index, only a wheelhouse downloaded beforehand (``--download-only``), so
  the Setup cell really installs what Colab lacks, offline.

It fails when a cell fails, when Colab's TensorFlow, numpy, protobuf, ipykernel or
ipywidgets changed, when the first Setup cell installed nothing or a later one installed
something (it must be safe to run twice), or when a cell's output shows TensorFlow's C++
logs, the YDF advert, or the HDF5 / compiled-metrics warnings. It prints each notebook's
time and peak kernel memory.

    python .ci/run_colab_notebooks.py --wheelhouse DIR --download-only
    python .ci/run_colab_notebooks.py --wheelhouse DIR notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL_ENV = dict(os.environ)  # before browserml sets TensorFlow's variables in this process
sys.path.insert(0, str(ROOT))

from browserml import colab  # noqa: E402
from browserml.notebooks import log_noise, run_notebook  # noqa: E402

HIDDEN_TOOLS = re.compile(r"^(node|nodejs|npm|npx|corepack|chromium.*|chrome|google-chrome.*)$")

GOOGLE_COLAB = {
    "google/colab/__init__.py": '"""Stand-in for Colab\'s google.colab (browserml\'s Colab-like test)."""\n'
                                "from google.colab import output  # noqa: F401\n",
    "google/colab/output/__init__.py": (
        '"""Stand-in for google.colab.output: records that the custom widget manager was enabled."""\n'
        "from google.colab.output import _widgets  # noqa: F401\n"
        "custom_widget_manager_enabled = False\n\n\n"
        "def enable_custom_widget_manager():\n"
        "    global custom_widget_manager_enabled\n"
        "    custom_widget_manager_enabled = True\n"
    ),
    "google/colab/output/_widgets.py": '_installed_url = "https://colab.example/widget-manager.js"\n',
}


NPM_FOR_LESSONS = ("handtrackjs", "@tensorflow-models/mobilenet")  # lesson 4's models, lesson 3's class names


def fake_colab(folder: Path) -> Path:
    for rel, text in GOOGLE_COLAB.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def path_without_node_or_chromium(folder: Path) -> str:
    """A PATH with everything the machine's PATH has, except Node and Chromium."""
    folder.mkdir(parents=True, exist_ok=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir() or ".venv" in directory:
            continue
        for tool in Path(directory).iterdir():
            link = folder / tool.name
            if not HIDDEN_TOOLS.match(tool.name) and not link.exists() and not link.is_symlink():
                link.symlink_to(tool)
    return f"{Path(sys.executable).parent}{os.pathsep}{folder}"


def pins() -> list[str]:
    found = colab._pins(ROOT)
    return [found.get(name, name) for name in colab.COLAB_LACKS]


def fetch_tarball(folder: Path, name: str) -> None:
    """Keep the npm tarball of ``name`` in ``folder`` (what the Setup cell downloads on Colab)."""
    import urllib.request

    tgz_name, url, _ = colab.npm_tarball(ROOT, name)
    if not (folder / tgz_name).is_file():
        urllib.request.urlretrieve(url, folder / tgz_name)


def kept_versions() -> dict[str, str | None]:
    out = {}
    for name in colab.NEVER_REPLACE:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--wheelhouse", type=Path, required=True)
    parser.add_argument("--download-only", action="store_true")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--out", type=Path, help="keep each executed notebook here, to read")
    args = parser.parse_args()

    if args.download_only:
        args.wheelhouse.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                        "-d", str(args.wheelhouse), *pins()], check=True)
        for name in NPM_FOR_LESSONS:
            fetch_tarball(args.wheelhouse, name)
        return 0

    # Start each run as a fresh Colab runtime would: none of what browserml adds is there.
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *colab.COLAB_LACKS],
                   check=False, capture_output=True)
    shutil.rmtree(ROOT / colab.NPM_PACKAGES_DIR, ignore_errors=True)
    before = kept_versions()
    failures: list[str] = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="colab-") as tmp:
        env = {k: v for k, v in KERNEL_ENV.items() if not k.startswith(("TF_", "BROWSERML_", "PYTHON", "VIRTUAL_ENV"))}
        env.update({
            "PATH": path_without_node_or_chromium(Path(tmp) / "bin"),
            "PYTHONPATH": str(fake_colab(Path(tmp) / "site")),
            "BROWSERML_HOME": str(ROOT),
            "BROWSERML_CHROMIUM": str(Path(tmp) / "no-chromium"),
            "BROWSERML_NODE_MODULES": str(Path(tmp) / "no-node-modules"),  # a Colab clone has no npm ci
            "BROWSERML_NPM_CACHE": str(args.wheelhouse.resolve()),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(args.wheelhouse.resolve()),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        })
        for i, path in enumerate(args.notebooks):
            run = run_notebook(path, env=env, timeout_s=args.timeout,
                               kernel_args=["--IPKernelApp.exec_lines=import google.colab"])
            out = run.stream_text("stdout") + run.stream_text("stderr")
            if args.out:
                import nbformat

                args.out.mkdir(parents=True, exist_ok=True)
                nbformat.write(run.nb, args.out / path.name)
            said = [line for line in out.splitlines() if line.startswith("browserml is ready on Colab")]
            problems = []
            if run.error:
                problems.append(f"cell failed: {run.error[:300]}")
                print(re.sub(r"\x1b\[[0-9;]*m", "", run.traceback or "")[-3000:], flush=True)
            if "04_handtrack" in path.name and not (ROOT / colab.NPM_PACKAGES_DIR / "handtrackjs" / "package.json").is_file():
                problems.append("lesson 4's Setup did not unpack handtrackjs")
            if len(said) != 1:
                problems.append(f"the Setup cell said {said!r}")
            elif i == 0 and "nothing to install" in said[0]:
                problems.append("the first Setup cell installed nothing")
            elif i > 0 and re.search(r"installed (?!npm )", said[0]):
                problems.append(f"a second Setup run installed again: {said[0]}")
            problems += [f"in the output: {noise}" for noise in log_noise(out)]
            rows.append((path.name, run.seconds, run.peak_rss_bytes))
            print(f"{path.name}: {run.seconds:.0f} s, peak kernel memory "
                  f"{(run.peak_rss_bytes or 0) / 2**30:.2f} GiB" + ("" if not problems else " -- FAILED"), flush=True)
            failures += [f"{path.name}: {p}" for p in problems]
    shutil.rmtree(ROOT / colab.NPM_PACKAGES_DIR, ignore_errors=True)  # leave the checkout as it was
    after = kept_versions()
    if after != before:
        failures.append(f"Colab's own packages changed: {before} -> {after}")
    print("\n| notebook (Colab-like: Python 3.13, TF 2.20, ipywidgets 7.7.1, ipykernel 6.17) | time | peak kernel memory |")
    print("|---|---|---|")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.0f} s | {(peak or 0) / 2**30:.2f} GiB |")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
