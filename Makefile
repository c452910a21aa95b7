# Kibeti: two commands on a fresh machine with Python 3.11+
#   make run   - install, migrate, seed demo data and serve on the embedded default (SQLite, no Redis)
#   make test  - install, start PostgreSQL and Redis if needed, lint and run the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install services lint pytest bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
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

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
