# Callwise. Quick start: `make run` (serve the demo branch) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock
# Test workers (pytest-xdist): most tests wait on servers, browsers and databases, so more workers
# than cores pays. A module whose tests share a server runs whole on one worker (tests/conftest.py).
TEST_JOBS ?= 3

.PHONY: install run demo demo-weeks test bench lock clean

# One stamp per set of extras: `make run` installs only what serving needs; `make test` and
# `make bench` add their tools on top, and none reinstalls what another already installed.
$(VENV)/.base: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Callwise's dependencies into $(VENV) (first run only, about 15 s)..."
	@$(PIP) -e .
	@echo "installed."
	@touch $@

$(VENV)/.test: $(VENV)/.base
	@echo "installing the test tools into $(VENV) (pytest, Playwright, the load client; first run only, about 15 s)..."
	@$(PIP) -e '.[test,bench]'
	@echo "installed."
	@touch $@

$(VENV)/.bench: $(VENV)/.base
	@echo "installing the benchmark tools into $(VENV) (load clients, matplotlib; first run only, about 30 s)..."
	@$(PIP) -e '.[bench,sim]'
	@echo "installed."
	@touch $@

install: $(VENV)/.base

## Serve the demo branch on http://127.0.0.1:5000 (SQLite under instance/, demo log-ins printed).
run: $(VENV)/.base
	$(BIN)/python -m server serve

## The demo branch with simulated customers and tellers at 30x real time (a day in 16 minutes);
## the simulated people talk HTTP, so it installs the simulator's tools (requests, matplotlib) too:
## open the kiosk, display and manager pages it prints and watch queues and alerts come and go.
demo: $(VENV)/.bench
	$(BIN)/python -m server demo --speed 30

## Three simulated weeks of the demo branch, its customers complaining through the complaint register,
## filled afresh into instance/demo-weeks.db (a few minutes), then served with the branch clock standing
## at the end of the last day: log in with the manager log-in it prints and open the range report it names.
demo-weeks: $(VENV)/.base
	$(BIN)/python -m server simulate-weeks --weeks 3 --database instance/demo-weeks.db --replace --serve

## Every test: unit, API (SQLite and PostgreSQL), Socket.IO, concurrency, durability, browsers,
## the multi-process deployment.
test: $(VENV)/.test
	@scripts/ensure-system-packages.sh
	@command -v espeak-ng >/dev/null || { echo "make test: espeak-ng is missing (apt-get install espeak-ng): the lobby display's server voice is tested with it" >&2; exit 1; }
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_JOBS) $(PYTEST_ARGS)

## Benchmarks, then BENCHMARKS.md from their results (bench/results/). SEEDS: simulated seeds.
## The scale-out benchmark starts its own PostgreSQL and Redis (installed here when missing).
## Also the deployment's calling race at full size (800 tickets; make test runs 200).
SEEDS ?= 20
bench: $(VENV)/.bench $(VENV)/.test
	@date +%s > bench/results/started
	$(BIN)/python bench/http_load.py --seconds 4 --clients 1,16 --json bench/results/http_load.json
	@scripts/ensure-system-packages.sh
	$(BIN)/python bench/scaleout.py --seconds 6 --rounds 3 --json bench/results/scaleout.json
	$(BIN)/python bench/sweep.py --sizes 10x100,50x2000,500x20000 --repeat 20 --json bench/results/sweep.json
	$(BIN)/python bench/realtime.py --step 2000 --json bench/results/realtime.json
	rm -rf bench/results/charts
	$(BIN)/python bench/simulations.py --seeds $(SEEDS) --jobs 2 --json bench/results/simulations.json --plot bench/results/charts
	CALLWISE_IT_TICKETS=800 $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/integration/test_deployment.py::test_eight_tellers_on_two_processes_call_each_of_the_tickets_exactly_once
	@date +%s >> bench/results/started
	$(BIN)/python bench/report.py

## Re-pin requirements.lock from the current virtual environment.
lock: $(VENV)/.test $(VENV)/.bench
	@{ echo "# Exact versions the tests and CI install (pip constraints). Refresh: make lock"; \
	   $(BIN)/python -m pip freeze --exclude-editable | grep -v '^callwise'; } > requirements.lock

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis test-artifacts
