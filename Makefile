# OrderSeal: `make demo` runs the scenario, `make test` runs the whole gate.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint system-deps clean bench bench-quick openapi screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

demo: $(STAMP)
	$(BIN)/orderseal demo

# The published API contract (tests/unit/orderseal/test_openapi.py fails when it drifts).
openapi: $(STAMP)
	$(BIN)/orderseal openapi --output docs/openapi.json

# The checked-in screenshots of /agent and /seller (desktop 1440x900, phone 390x844) and of the
# buyer page (phone 390x844: zh-CN and en, each QR state), written by the browser tests that
# drive the pages (small palette PNGs; Chinese glyphs from fonts-wqy-microhei).
screenshots: system-deps $(STAMP)
	ORDERSEAL_TEST_SCREENSHOTS=test-artifacts/screenshots $(BIN)/python -m pytest -q tests/browser/test_workspaces.py tests/browser/test_capture_states.py tests/browser/test_capture_label_link.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

# The suite runs on the embedded backends (SQLite + local folder), then the suites that touch
# the ledger and the store run again production-shaped (PostgreSQL at 127.0.0.1:5432 + S3 on a
# SeaweedFS the tests start on loopback). Unit, conformance, interop, fuzz and bench tests do
# not depend on the backend and run once, and so do the files marked backend_independent (the
# browser pages, HSM/KMS signing, the OpenAPI clients, headers, JSON limits, key leaks): they test
# the page, the signer or the HTTP surface, which are the same on either backend. Test files are
# spread over $(TEST_WORKERS) pytest-xdist workers (--dist loadfile: a file's module fixtures, such
# as one server per module, stay on one worker); every test has its own home, database and
# ports, so workers never share state.
BACKEND_TESTS := tests/integration tests/e2e
TEST_WORKERS ?= 3
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile
test: system-deps $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_PARALLEL); status=$$?; if [ $$status -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$status
	ORDERSEAL_TEST_DATABASE=postgres ORDERSEAL_TEST_STORAGE=s3 $(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -m 'not backend_independent' $(BACKEND_TESTS); status=$$?; if [ $$status -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$status

# Benchmarks (never part of `make test` timing): full run rewrites docs/benchmarks.md;
# the quick one (small inputs, under a minute) only writes $(BENCH_QUICK_JSON).
BENCH_QUICK_JSON ?= .bench/quick.json
bench: $(STAMP)
	$(BIN)/python -m bench --json bench/results.json --doc docs/benchmarks.md $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick --json $(BENCH_QUICK_JSON)

clean:
	rm -rf $(VENV) .orderseal .mypy_cache .ruff_cache .pytest_cache
