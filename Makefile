# Pagoflex: `make run` serves the product on SQLite with every bundled bank simulator (see scripts/run-dev.sh);
# `make test` runs the whole suite (PostgreSQL when DATABASE_URL says so, SQLite otherwise).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format install clean bench-sweep bench

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	bash scripts/run-dev.sh

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Sweep throughput and memory at 10k and 100k pending attempts (not part of `make test`);
# SQLite unless DATABASE_URL says otherwise, e.g. BENCH_ARGS="--workers 4" on PostgreSQL.
bench-sweep: $(STAMP)
	$(BIN)/python bench/sweep_benchmark.py $(BENCH_ARGS)

# The API under load: gunicorn + PostgreSQL + the sandbox bank + a load generator, loopback only,
# bounded in requests and seconds (not part of `make test`); see docs/performance.md.
# BENCH_DATABASE_URL names the PostgreSQL database it recreates; BENCH_RUN_ARGS="--workers 5".
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_RUN_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var db.sqlite3
