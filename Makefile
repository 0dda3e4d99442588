# Two commands: `make demo` (train, export, verify, benchmark -> artifacts/REPORT.md) and `make test`;
# `make test-fast` while working (no TensorFlow, no training).
# Both work on a fresh Debian machine: they create .venv and install the Debian data package.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FE := $(BIN)/fashion-edge
ARTIFACTS ?= artifacts
DATA_DIR := /usr/share/datasets/fashion-mnist
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EXTRAS := train,export,metadata,litert,onnx,serve,dev

# The demo's own models: what their TFLite metadata and model cards say about who made them.
ABOUT := --author fashion-edge --licence Apache-2.0

.PHONY: demo test test-fast tiny-bundles data install clean pi-check kit serve-study reload-study web chromium photos-example gl-libs loadgen

demo: web install data chromium
	$(FE) train --model linear --out $(ARTIFACTS)
	$(FE) train --model edge --out $(ARTIFACTS)
	$(FE) export $(ARTIFACTS)/linear $(ABOUT)
	$(FE) export $(ARTIFACTS)/edge $(ABOUT)
	$(FE) verify $(ARTIFACTS)/linear/bundle --mediapipe
	$(FE) verify $(ARTIFACTS)/edge/bundle --mediapipe
	$(FE) bench --artifacts $(ARTIFACTS) --min-accuracy 0.8
	$(BIN)/python -m fashion_edge.benchmarks.reliability $(ARTIFACTS)/edge/bundle
	$(MAKE) serve-study
	$(BIN)/python -m fashion_edge.benchmarks.browser $(ARTIFACTS)/edge/bundle --screenshot $(ARTIFACTS)/edge/web-app.png
	$(FE) pack $(ARTIFACTS)/edge/bundle --out $(ARTIFACTS)/dist
	$(MAKE) photos-example
	$(MAKE) reload-study
	$(FE) report --artifacts $(ARTIFACTS)
	@echo "see $(ARTIFACTS)/REPORT.md; the Raspberry Pi kit is in $(ARTIFACTS)/dist/"
	@echo "web app: $(FE) serve --bundle $(ARTIFACTS)/edge/bundle, then open its address in a browser"

# The image-folder example: 6,000 of Fashion-MNIST's training images as colour photos in class folders
# (train/examples.py), then the path a user with a folder of photos takes: train edge at 64x64x3 from
# the folder, export (calibrated and gated on the folder's own split), verify, bench, pack. The export
# records the gate's verdict instead of enforcing it: the 85%-accurate example's int8 files miss the
# 99.5% agreement gate by a few images (docs/your-model.md), and REPORT.md shows them with their verdict.
PHOTOS := $(ARTIFACTS)/photos
photos-example: install data
	rm -rf $(PHOTOS) && $(BIN)/python -m fashion_edge.train.examples $(PHOTOS)
	$(FE) train --data $(PHOTOS) --model edge --image-size 64 64 --name edge-photos --out $(ARTIFACTS)
	$(FE) export $(ARTIFACTS)/edge-photos --gate record $(ABOUT)
	$(FE) verify $(ARTIFACTS)/edge-photos/bundle --mediapipe
	$(FE) bench --bundle $(ARTIFACTS)/edge-photos/bundle
	$(FE) pack $(ARTIFACTS)/edge-photos/bundle --out $(ARTIFACTS)/dist

# The suite, then its numeric part (training + export + parity gate) again on TensorFlow's other CPU
# kernels: oneDNN on/off give other float results, as another CPU would, so a change that passes on
# one set of kernels only fails here rather than on a user's machine. Which setting is "other" depends
# on the CPU (TensorFlow's default is on for AVX-512 VNNI/AMX CPUs, off elsewhere): tests/onednn_other.py.
test: web install data chromium loadgen
	$(BIN)/pytest --durations=15
	other=$$($(BIN)/python tests/onednn_other.py 2>/dev/null) && echo "numeric rerun with TF_ENABLE_ONEDNN_OPTS=$$other" && \
	  TF_ENABLE_ONEDNN_OPTS=$$other $(BIN)/pytest -m numeric --durations=5

# The fast tier: every test not marked slow, on the tiny bundles committed under tests/data. It fails if
# TensorFlow was imported (tests/conftest.py).
test-fast: web install data
	FASHION_EDGE_TEST_TIER=fast $(BIN)/pytest -m "not slow" -p no:cacheprovider --durations=5

# Re-export the tiny bundles after an exporter change (tests/test_tiny_bundles.py says when); --retrain
# (by hand) retrains their models too.
tiny-bundles: install data
	$(BIN)/python tests/data/make_bundles.py

# Debian's dataset-fashion-mnist: the real data, no download from a dataset URL at run time.
data: $(DATA_DIR)/t10k-labels-idx1-ubyte.gz
$(DATA_DIR)/t10k-labels-idx1-ubyte.gz:
	$(SUDO) apt-get update
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist

# `fashion-edge serve` under load: Debian's wrk (and hey, a cross-check) against a real server on loopback at concurrency 1/8/32
# beside the in-process latency of the same photo, then a 20,000-request soak with malformed requests
# mixed in -> artifacts/edge/serve.json (benchmarks/load.py). A few minutes; not part of `make test`.
serve-study: install loadgen
	$(BIN)/python -m fashion_edge.benchmarks.load $(ARTIFACTS)/edge/bundle

# Hot reload under load: 20 reloads (15 good ones alternating the edge bundle and the image-folder example's
# 64x64 RGB bundle, 3 corrupt, 2 tampered) while wrk keeps 8 connections busy, every answer checked
# -> artifacts/edge/reload.json (benchmarks/reload_study.py). About a minute.
reload-study: install loadgen
	$(BIN)/python -m fashion_edge.benchmarks.reload_study $(ARTIFACTS)/edge/bundle $(ARTIFACTS)/edge-photos/bundle

# Debian's load generators: wrk measures (and records every answer in the reload study), hey cross-checks.
loadgen:
	command -v hey >/dev/null && command -v wrk >/dev/null || { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y hey wrk; }

# The web app's runtime files (LiteRT.js, onnxruntime-web) copied out of node_modules into
# apps/web/vendor/; before `install`, which puts them in the wheel for `fashion-edge serve`.
web: apps/web/vendor/files.json
apps/web/vendor/files.json: apps/web/package.json apps/web/package-lock.json apps/web/build.mjs
	cd apps/web && npm ci --ignore-scripts --no-audit --no-fund && node build.mjs

# Debian's chromium for the web app's browser test (Playwright drives it: no browser download).
chromium: /usr/bin/chromium
/usr/bin/chromium:
	$(SUDO) apt-get update
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# Heavy dependencies are installed once per pyproject.toml change; the package itself is reinstalled
# (not editable) every time, so tests always run against what a user would install.
$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet ".[$(EXTRAS)]"
	touch $@

# mediapipe's native library (the metadata extra: TFLite metadata, MediaPipe's ImageClassifier) links
# EGL and GLES even when it computes on the CPU: Debian's libegl1 and libgles2.
gl-libs:
	ldconfig -p | grep -q 'libEGL.so.1 ' && ldconfig -p | grep -q 'libGLESv2.so.2 ' || \
	  { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y libegl1 libgles2; }

install: gl-libs $(VENV)/.deps
	rm -rf build
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --force-reinstall .

# Raspberry Pi userland (Debian bookworm arm64 under qemu-user): installs the wheel with [litert] and
# [onnx] from PyPI inside it and checks predictions against this host. Root; about 15 min, more the first time (debootstrap).
PI_ARTIFACTS := .pi-check
pi-check: install data $(PI_ARTIFACTS)/edge/model.keras
	# always re-exported: the bundle must come from this checkout's exporter. A device check, not a model
	# check: the quick model's parity verdict is recorded in the manifest rather than enforced.
	$(FE) export $(PI_ARTIFACTS)/edge --gate record
	bash deploy/pi-check.sh $(PI_ARTIFACTS)/edge/bundle

# The quick recipe's model (the test suite's fixture recipe), retrained when the model zoo changes.
# One epoch: the emulated Pi checks that its runtimes reproduce this host's outputs, whatever the accuracy.
$(PI_ARTIFACTS)/edge/model.keras: train/models.py train/trainer.py
	$(FE) train --model edge --quick --epochs 1 --out $(PI_ARTIFACTS)

# The Raspberry Pi deploy kit for the edge model (docs/raspberry-pi.md).
kit: install
	$(FE) pack $(ARTIFACTS)/edge/bundle --out $(ARTIFACTS)/dist

clean:
	rm -rf build *.egg-info $(ARTIFACTS)
