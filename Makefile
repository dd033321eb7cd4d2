# browserml: one-command set-up, run and test. See README.md.
#   make run        set up, then build every lesson's TF.js export headless (via the CLI)
#   make test       set up (+ Chromium and Debian's Fashion-MNIST), lint, then every test, offline
#   make test-fast  the quick tier for your own loop: no notebooks, no headless browser, no slow tests
#   make lint       ruff and mypy on browserml/ and widgets/ (config in pyproject.toml)
#   make lab        set up, then open JupyterLab on notebooks/
# Needs no root: any Python 3.11-3.13 (.ci/find-python, or PYTHON=...), and Node.js where present.
# Only `make test` (and lesson 3's 70,000-image section) need Chromium and Fashion-MNIST from apt.
SHELL := /bin/bash
PYTHON_FOUND := $(shell .ci/find-python)
VENV ?= .venv
BIN := $(VENV)/bin
STAMPS := .stamps/$(notdir $(VENV))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
PYTEST := .ci/offline $(BIN)/python -m pytest -p no:cacheprovider
# uv installs the ~170 pinned wheels in parallel (minutes faster than pip); itself one wheel.
UV_VERSION := 0.13.9
# The in-page TF.js bundle (browserml/inbrowser/bundle.py) ships inside the package (committed),
# so Colab and pip installs need no Node; `make bundle` rebuilds it from node_modules.
TFJS_BUNDLE := browserml/js/dist/tfjs-bundle.mjs
HAVE_NODE := $(shell command -v node >/dev/null && echo yes)

.PHONY: setup run test test-fast test-parity test-colab lint lab serve bench bench-memory lock bundle nbclean clean screenshots test-deps book

setup: $(STAMPS)/python $(if $(HAVE_NODE),.stamps/node)

$(STAMPS)/python: requirements.lock requirements-nodeps.txt pyproject.toml
	@test -n "$(PYTHON_FOUND)" || { .ci/find-python; exit 1; }
	@mkdir -p $(STAMPS)
	$(PYTHON_FOUND) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -r requirements-nodeps.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	$(BIN)/python -c "import browserml.compat as c, tensorflow, tf_keras, umap, ipywidgets, nbval, playwright; c.import_tensorflowjs()"
	@touch $@

# node_modules is shared by every venv.
.stamps/node: package.json package-lock.json
	@mkdir -p .stamps
	npm ci --no-audit --no-fund
	@touch $@

# Maintainers: rebuild the committed TF.js bundle after changing package.json or
# browserml/js/runtime/ (esbuild, ~2 s); tests/test_front_door.py checks it is current.
bundle: .stamps/node
	node browserml/js/runtime/build.mjs

# Debian's Chromium and Fashion-MNIST, for the tests only; browserml never downloads a browser.
test-deps: .stamps/chromium .stamps/debian-data

.stamps/chromium:
	@mkdir -p .stamps
	@if [ ! -x /usr/bin/chromium ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; \
	fi
	/usr/bin/chromium --version
	@touch $@

# All 70,000 Fashion-MNIST images for lesson 3's search at scale; the 200-image
# FASHION200 subset is committed in datasets/, so the lesson itself works without it.
.stamps/debian-data:
	@mkdir -p .stamps
	@if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends dataset-fashion-mnist; \
	fi
	@touch $@

run: setup
	$(BIN)/browserml intro --check node chromium
	$(BIN)/browserml polyfit --check node chromium
	$(BIN)/browserml anomaly export --check node chromium
	$(BIN)/browserml imagesearch export --check node chromium
	$(BIN)/browserml handtrack convert --check node:wasm chromium:wasm
	$(BIN)/browserml playground --check node chromium

# Which test is slow, needs Chromium or JupyterLab is decided in tests/conftest.py (one table).
# Two workers, each taking whole files (a notebook's cells share one kernel; a module its
# fixtures): the suite waits on Node, Chromium and JupyterLab about half the time.
TEST_WORKERS ?= 2
test: setup test-deps lint
	$(PYTEST) --nbval-lax -n $(TEST_WORKERS) --dist loadfile tests notebooks $(PYTEST_ARGS)

# Unit and widget-state tests: no notebook, no browser, no long training (under 3 minutes on 2 cores).
test-fast: setup
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile tests -m "not slow and not chromium" -q $(PYTEST_ARGS)

# What is checked, and why some rules are off: [tool.ruff] and [tool.mypy] in pyproject.toml.
lint: setup
	$(BIN)/ruff check browserml widgets
	$(BIN)/python -m mypy

# The export and parity tests (every export run in real TF.js, Node and Chromium) on a
# second Python: `make test-parity PYTHON=python3.11 VENV=.venv-3.11`. The headless-JupyterLab
# runs of the in-page runtime stay in `make test`: they test the notebook page, not the Python.
test-parity: setup test-deps
	$(PYTEST) tests -m "tfjs and not jupyterlab" $(PYTEST_ARGS)

# All five notebooks top to bottom through their Colab path, on a Python 3.13 venv built
# from Colab's own versions, with a stand-in google.colab, no Node and no Chromium.
# The wheels the Setup cell installs are fetched first; the run itself is offline.
COLAB_VENV := .venv-colab
COLAB_VERSIONS ?= .ci/colab-versions.txt
test-colab:
	PY=$$(PYTHON= PYTHON_VERSIONS=3.13 .ci/find-python) && .ci/colab-venv "$$PY" $(COLAB_VENV) $(COLAB_VERSIONS)
	$(COLAB_VENV)/bin/python .ci/run_colab_notebooks.py --wheelhouse .wheelhouse-colab --download-only
	.ci/offline $(COLAB_VENV)/bin/python .ci/run_colab_notebooks.py --wheelhouse .wheelhouse-colab notebooks/*.ipynb

lab: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 notebooks/

serve: setup
	$(BIN)/browserml serve

bench: setup
	$(BIN)/python benchmarks/run.py

# Peak kernel memory of each notebook (Binder's limit), as a table.
bench-memory: setup
	BROWSERML_BROWSER_RUNTIME=off $(BIN)/python benchmarks/bench_memory.py

# Re-resolve requirements.in for Python 3.11-3.13 at once (one universal lock), and the
# Binder environment from it. Needs uv (pip install uv).
lock:
	@command -v uv >/dev/null || { echo "make lock needs uv: pip install uv"; exit 1; }
	{ sed -n '1,/^$$/p' requirements.lock; \
	  uv pip compile -q --universal --python-version 3.11 --no-header --no-annotate requirements.in; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	$(PYTHON_FOUND) .ci/binder_environment.py requirements.lock > environment.yml

# README pictures: each lesson's app rendered in headless JupyterLab (notebooks/images/lesson{N}_widget.png).
screenshots: setup test-deps
	PYTHONPATH=tests $(BIN)/python -m tools.lab screenshots --out notebooks/images

# The course as a static HTML site with every output (build/book/index.html), offline: each lesson
# runs top to bottom in a fresh kernel with the in-page runtime off (%%tfjs cells run under Node),
# and nothing is written back into notebooks/. A failing cell fails the build in one line.
book: setup
	.ci/offline $(BIN)/browserml book

nbclean: $(STAMPS)/python
	$(BIN)/browserml nbclean

clean:
	rm -rf $(VENV) $(COLAB_VENV) node_modules .stamps .pytest_cache
