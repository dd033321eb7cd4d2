# browserml: one-command set-up, run and test. See README.md.
#   make run    set up, then build every lesson's TF.js export headless (via the CLI)
#   make test   set up, then run all tests (unit, widget state, TF.js, notebooks) offline
#   make lab    set up, then open JupyterLab on notebooks/
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# The in-page TF.js bundle (widgets/browser_runtime.py), built from node_modules: no CDN.
TFJS_BUNDLE := browserml/js/dist/tfjs-bundle.mjs

.PHONY: setup run test lab serve bench lock nbclean clean screenshots

setup: $(STAMPS)/python $(STAMPS)/node $(TFJS_BUNDLE) $(STAMPS)/chromium $(STAMPS)/debian-data

$(STAMPS)/python: requirements.lock pyproject.toml
	@mkdir -p $(STAMPS)
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "browserml needs Python 3.11, got " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -c "import browserml, tensorflow, tensorflowjs, tf_keras, umap, ipywidgets, nbval, playwright"
	@touch $@

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	@command -v node >/dev/null || { echo "Node.js (>= 18) and npm are needed: apt-get install nodejs npm"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

# TF.js + wasm binaries as one ES module for the notebook page (esbuild, ~1.5 s); the file
# itself is the target, so a deleted browserml/js/dist/ is rebuilt.
$(TFJS_BUNDLE): $(STAMPS)/node $(wildcard browserml/js/runtime/*)
	node browserml/js/runtime/build.mjs

# Debian's Chromium for the headless-browser checks; browserml never downloads a browser.
$(STAMPS)/chromium:
	@mkdir -p $(STAMPS)
	@if [ ! -x /usr/bin/chromium ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; \
	fi
	/usr/bin/chromium --version
	@touch $@

# Debian's Fashion-MNIST (all 70,000 images) for lesson 3's search at scale; the 200-image
# FASHION200 subset is committed in datasets/, so the lesson itself works without it.
$(STAMPS)/debian-data:
	@mkdir -p $(STAMPS)
	@if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends dataset-fashion-mnist; \
	fi
	@touch $@

run: setup
	$(BIN)/browserml polyfit --check node chromium
	$(BIN)/browserml anomaly export --check node chromium
	$(BIN)/browserml search export --check node chromium
	$(BIN)/browserml handtrack convert --check node:wasm chromium:wasm
	$(BIN)/browserml playground --check node chromium

test: setup
	.ci/offline $(BIN)/python -m pytest --nbval-lax tests notebooks -p no:cacheprovider $(PYTEST_ARGS)

lab: setup
	$(BIN)/jupyter lab --ip=127.0.0.1 notebooks/

serve: setup
	$(BIN)/browserml serve

bench: setup
	$(BIN)/python benchmarks/run.py

# Re-resolve requirements.in in a scratch venv and pin the result.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade "pip>=24" && .lock-venv/bin/pip install -q -r requirements.in
	{ head -n 2 requirements.lock; .lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

# README pictures: each lesson's app rendered in headless JupyterLab (notebooks/images/lesson{N}_widget.png).
screenshots: setup
	$(BIN)/browserml lab screenshots --out notebooks/images

nbclean: $(STAMPS)/python
	$(BIN)/browserml nbclean

clean:
	rm -rf $(VENV) node_modules $(STAMPS) .pytest_cache
