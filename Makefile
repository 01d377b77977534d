# Callwise. Quick start: `make run` (serve the demo branch) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lock clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test,bench]'
	@touch $(STAMP)

install: $(STAMP)

## Serve the demo branch on http://127.0.0.1:5000 (SQLite under instance/, demo log-ins printed).
run: $(STAMP)
	$(BIN)/python -m server serve

## Every test: unit, API (SQLite and PostgreSQL), Socket.IO, concurrency, durability.
test: $(STAMP)
	@scripts/ensure-system-packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Re-pin requirements.lock from the current virtual environment.
lock: $(STAMP)
	@{ echo "# Exact versions the tests and CI install (pip constraints). Refresh: make lock"; \
	   $(BIN)/python -m pip freeze --exclude-editable | grep -v '^callwise'; } > requirements.lock

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis test-artifacts
