# LayerScope — every set-up step lives here so a fresh machine needs only `make run` / `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= $(abspath ../shared)
# The corpus images and archives are built outside the checkout (../shared is read-only in CI).
CORPUS_OUT ?= $(HOME)/.cache/layerscope-corpus
export LAYERSCOPE_SHARED := $(SHARED)
export CORPUS_OUT

# The large-image tests (pyml, node: dive needs 30+ minutes on node) run with `make test-slow`.
PYTEST_ARGS ?= -m "not slow"

.PHONY: run test test-unit test-slow services corpus lint format bench screenshots fuzz clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# Bytecode now: the TUI starts ~0.15 s sooner than when it compiles its modules itself.
	$(BIN)/python -m compileall -q explorer
	touch $@

# Open the TUI. IMAGE=<reference or archive>; with none, the bundled sample image (with a note on
# opening an engine image when an engine is running).
run: $(BIN)/.installed
	$(BIN)/layerscope $(IMAGE)

# The whole suite: unit, conformance (dive data and the dive binary), engine integration, TUI.
test: lint services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The conformance tests on the large corpus images (build them first: see README).
test-slow: $(BIN)/.installed services
	$(BIN)/python -m pytest -m slow

# Tests that need neither the engine nor the corpus.
test-unit: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not engine and not corpus" $(PYTEST_ARGS)

# A real Docker engine and the small corpus images (idempotent: skips what is up to date).
services:
	bash $(SHARED)/corpus/start-dockerd.sh
	@# the registry tests start registries of their own: Debian's docker-registry, skopeo to
	@# push to them, htpasswd (apache2-utils) for basic auth
	command -v docker-registry >/dev/null && command -v skopeo >/dev/null && command -v htpasswd >/dev/null || { \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo apache2-utils >/dev/null; }
	bash tests/engine/start-podman.sh install
	mkdir -p $(CORPUS_OUT)
	bash $(SHARED)/corpus/build.sh > $(CORPUS_OUT).build.log 2>&1 || { tail -30 $(CORPUS_OUT).build.log; exit 1; }

# Style (ruff), the layering (import-linter's contracts in pyproject.toml) and types (mypy).
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Side by side with dive: --json (bench/results.md), then the TUIs in tmux (bench/tui-results.md):
# first screen, cold and warm re-opens from the archive and the engine, a second image sharing
# the base layer; then an image read from a local registry against docker pull + dive
# (bench/registry-results.md). TUI_BENCH_ARGS: e.g. --dive-timeout 60, --no-dive, --repeat 5.
TUI_BENCH_ARGS ?=
# Measured as installed: with its bytecode (pip compiles a wheel's modules; an editable checkout
# under PYTHONDONTWRITEBYTECODE=1 would compile every module again on each start).
bench: $(BIN)/.installed
	$(BIN)/python -m compileall -q explorer
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/tui_bench.py $(TUI_BENCH_ARGS)
	$(BIN)/python bench/registry_bench.py
	$(BIN)/python bench/compare_screen_bench.py

# The README's screenshots, from the sample, dive's test data ($(SHARED)) and the corpus: a shot
# whose image is missing is not taken, and the run says which and fails.
screenshots: $(BIN)/.installed
	$(BIN)/python -m explorer.tui.screenshots screenshots

# Property-based fuzzing, the long run (make test runs a short one).
fuzz: $(BIN)/.installed
	LAYERSCOPE_FUZZ=long $(BIN)/python -m pytest tests/fuzz -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
