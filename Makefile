# Callwise. Quick start: `make run` (serve the demo branch) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run demo test bench lock clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test,bench,sim]'
	@touch $(STAMP)

install: $(STAMP)

## Serve the demo branch on http://127.0.0.1:5000 (SQLite under instance/, demo log-ins printed).
run: $(STAMP)
	$(BIN)/python -m server serve

## The demo branch with simulated customers and tellers at 30x real time (a day in 16 minutes):
## open the kiosk, display and manager pages it prints and watch queues and alerts come and go.
demo: $(STAMP)
	$(BIN)/python -m server demo --speed 30

## Every test: unit, API (SQLite and PostgreSQL), Socket.IO, concurrency, durability.
test: $(STAMP)
	@scripts/ensure-system-packages.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks, then BENCHMARKS.md from their results (bench/results/). SEEDS: simulated seeds.
SEEDS ?= 20
bench: $(STAMP)
	@date +%s > bench/results/started
	$(BIN)/python bench/http_load.py --seconds 4 --clients 1,16 --json bench/results/http_load.json
	$(BIN)/python bench/sweep.py --sizes 10x100,50x2000,500x20000 --repeat 20 --json bench/results/sweep.json
	$(BIN)/python bench/realtime.py --step 2000 --json bench/results/realtime.json
	rm -rf bench/results/charts
	$(BIN)/python bench/simulations.py --seeds $(SEEDS) --jobs 2 --json bench/results/simulations.json --plot bench/results/charts
	@date +%s >> bench/results/started
	$(BIN)/python bench/report.py

## Re-pin requirements.lock from the current virtual environment.
lock: $(STAMP)
	@{ echo "# Exact versions the tests and CI install (pip constraints). Refresh: make lock"; \
	   $(BIN)/python -m pip freeze --exclude-editable | grep -v '^callwise'; } > requirements.lock

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis test-artifacts
