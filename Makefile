# Kibeti: two commands on a fresh machine with Python 3.11+
#   make run   - install, migrate, seed demo data and serve on the embedded default (SQLite, no Redis)
#   make test  - install, start PostgreSQL and Redis if needed, lint and run the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install services lint pytest bench load lock vulncheck clean

# Dependencies come from the hash-locked requirements-dev.lock (runtime + dev); the project itself is
# installed editable on top, without resolving anything again. `make lock` regenerates both locks.
$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kibeti db upgrade
	$(BIN)/kibeti demo
	$(BIN)/kibeti serve

services:
	@bash scripts/services.sh

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

pytest: $(STAMP) services
	$(BIN)/python -m pytest -q -p no:cacheprovider

test: $(STAMP) services lint pytest

bench: $(STAMP) services
	$(BIN)/python bench/run_all.py

# Locust's mixed traffic for a minute against a local stack; the HTML report lands in var/load/.
load: $(STAMP) services
	bash scripts/load.sh

LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -o requirements-dev.lock pyproject.toml

# Both locks against the offline PyPA advisory snapshot (../shared/data/advisories); CI runs it.
vulncheck: $(STAMP)
	$(BIN)/python scripts/vulncheck.py --lock requirements.lock
	$(BIN)/python scripts/vulncheck.py --lock requirements-dev.lock

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
