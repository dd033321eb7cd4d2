"""Write Binder's environment.yml from requirements.lock (run by `make lock`).

Binder (repo2docker) builds the conda environment in its own image layer, before it
copies the repository, only when environment.yml names no local files. So every pin is
written out here, inline, instead of `-r requirements.lock` / `-e .`; postBuild then
installs tensorflowjs (--no-deps) and browserml itself. A change to the course's code
then reuses the cached environment layer; only a change to the lock rebuilds it.

    python .ci/binder_environment.py requirements.lock > environment.yml
"""

from __future__ import annotations

import sys
from pathlib import Path

PYTHON = "3.13"  # Colab's and Debian 13's; the lock covers 3.11-3.13
NODE = "20"


def main(lock: Path) -> str:
    pins = [line.strip() for line in lock.read_text().splitlines() if line.strip() and not line.startswith("#")]
    lines = [
        "# Binder / conda environment for browserml, generated from requirements.lock by `make lock`",
        "# (.ci/binder_environment.py): do not edit by hand. Every pin is inline so that Binder",
        "# caches this layer across code changes; postBuild installs tensorflowjs (--no-deps),",
        "# browserml itself and the npm packages.",
        "name: browserml",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={PYTHON}",
        f"  - nodejs={NODE}",
        "  - pip",
        "  - pip:",
        *[f'      - "{pin}"' for pin in pins],
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(main(Path(sys.argv[1])))
