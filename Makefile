# Two entry points, each self-contained on a fresh machine with Python 3.11+ and make:
#   make demo   set up and run the whole demo
#   make test   set up and run lint, type checks and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean chromium postgresql

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crm-ferry demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Debian's chromium for the browser tests (the report, the review page); skipped, and said, when it cannot be installed.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 \
	      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } \
	  || echo "chromium not installed: the browser tests (the report, the review page) will be skipped"

# Debian's postgresql for the tests of the journal's PostgreSQL backend (they start servers of
# their own from its binaries, not the cluster the package may start); skipped, and said,
# when it cannot be installed.
postgresql:
	@{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 \
	    || { apt-get update -qq >/dev/null 2>&1 \
	      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1; }; }; } \
	  || echo "postgresql not installed: the PostgreSQL tests (the journal's PostgreSQL backend) will be skipped"

test: lint chromium postgresql
	$(BIN)/pytest -n auto

bench: $(STAMP)
	$(BIN)/python bench/read_bundle.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
