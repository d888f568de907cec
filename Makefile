# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
PYTEST_ARGS ?=

.PHONY: install browsers run test lint typecheck check schema bench bench-hostile clean

$(BIN)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --compile-bytecode --quiet
	touch $@

install: $(BIN)/.installed

## Install, create the demo depot, print a token per role, serve with GraphiQL on :8000, and
## meanwhile play the simulator's day-in-the-life into the demo depot (a packet every 2 min,
## only the part of the last 24 h it has not had yet; one line when done) so the load page
## has a day to show.
run: install
	$(BIN)/microgrid demo
	@token=$$($(BIN)/microgrid tokens create --role admin --expires-in 1h \
	    --label "make run: day-in-the-life" 2>/dev/null | tail -n 1); \
	$(BIN)/microgrid sim run day-in-the-life --url "http://127.0.0.1:$${PORT:-8000}" \
	    --token "$$token" --depot "Demo Depot" --catch-up --every 120 --quiet --wait-ready 120 & \
	trap 'kill $$! 2>/dev/null' EXIT; \
	GRAPHIQL=true INTROSPECTION=true $(BIN)/microgrid serve

## Debian's Chromium and ChromeDriver for the console's browser tests (installed when root).
browsers:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian chromium and chromium-driver for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null; \
	else echo "chromium/chromedriver missing and not root: the browser tests will skip"; fi

## Install and run the whole test suite (REQUIRE_SERVICES=1 makes missing services fail).
test: install browsers
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

## Regenerate graphql/schema.graphql from the code.
schema: install
	$(BIN)/microgrid export-schema

check: lint typecheck
	$(BIN)/python ../shared/tools/check-contract

bench: install
	$(BIN)/python -m bench.run --quick

## /healthz latency while each class of hostile client attacks a local server.
bench-hostile: install
	$(BIN)/python -m bench.hostile --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache microgrid.db*
