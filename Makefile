# Two commands do everything on a fresh machine: `make build` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: build test serve bench bench-full check chromium clean bytecode

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Gazette's own bytecode, compiled ahead: pip compiles an installed package's modules but
# not an editable one's, and where PYTHONDONTWRITEBYTECODE is set (Docker images, CI) Python
# would compile them afresh on every run, 0.05 to 0.1 s of a 0.4 s no-op build. Quick
# when nothing changed.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q builder

# Extra flags for one build, e.g. make build GAZETTE_FLAGS="--base-url https://user.github.io/news/"
GAZETTE_FLAGS ?=

build: bytecode
	$(BIN)/gazette build $(GAZETTE_FLAGS)

serve: bytecode
	$(BIN)/gazette serve

check: bytecode
	$(BIN)/gazette check

# Browser tests need Debian's Chromium; install it when it is missing and we may.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: /usr/bin/chromium missing; browser tests will be skipped (install Debian's chromium)"; fi; \
	fi

# The audit tools of tests/test_audit.py (Lighthouse, axe-core), exactly as package-lock.json
# pins them; without npm the audits are skipped locally (and fail in CI).
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund; \
	else echo "note: npm missing; audit tests will be skipped (install Node.js and npm)"; fi

test: $(STAMP) chromium node_modules/.package-lock.json
	$(BIN)/python -m pytest

# The comparison runs first: each script deletes its project as it ends, and on a disk like
# this machine's (ext4 without a journal) creating files for minutes after such a deletion
# costs kernel time, which slowed Gazette's cold builds in a comparison run straight after
# benchmarks.run by half (see benchmarks/README.md).
bench: bytecode
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m benchmarks.compare
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.preview

bench-full: bytecode
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m benchmarks.compare
	$(BIN)/python -m benchmarks.run --full
	$(BIN)/python -m benchmarks.preview

clean:
	rm -rf $(VENV) site .site-reserve .site.lock .gazette-cache .pytest_cache .hypothesis node_modules
