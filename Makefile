# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
PYTEST_ARGS ?=

.PHONY: install browsers vendor run test lint typecheck check schema bench bench-hostile clean

$(BIN)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --compile-bytecode --quiet
	touch $@

install: $(BIN)/.installed

## Install, create the demo depot, print a token per role, serve with GraphiQL on :8000, and
## meanwhile play the simulator's day-in-the-life into the demo depot (a packet every 2 min,
## only the part of the last 24 h it has not had yet; one line when done) so the load page
## has a day to show. Log lines are text here (LOG_FORMAT=json to see what production writes).
## Ctrl+C stops at once (no load balancer to drain for: SHUTDOWN_DRAIN_SECONDS=0).
run: install
	$(BIN)/microgrid demo
	@token=$$($(BIN)/microgrid tokens create --role admin --expires-in 1h \
	    --label "make run: day-in-the-life" 2>/dev/null | tail -n 1); \
	$(BIN)/microgrid sim run day-in-the-life --url "http://127.0.0.1:$${PORT:-8000}" \
	    --token "$$token" --depot "Demo Depot" --catch-up --every 120 --quiet --wait-ready 120 & \
	trap 'kill $$! 2>/dev/null' EXIT; \
	GRAPHIQL=true INTROSPECTION=true LOG_FORMAT=$${LOG_FORMAT:-text} \
	  SHUTDOWN_DRAIN_SECONDS=$${SHUTDOWN_DRAIN_SECONDS:-0} $(BIN)/microgrid serve

## Debian's Chromium and ChromeDriver for the console's browser tests (installed when root).
browsers:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian chromium and chromium-driver for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null; \
	else echo "chromium/chromedriver missing and not root: the browser tests will skip"; fi

## uPlot for the console's load chart, pinned, from the npm registry, its tarball checked
## against the registry's dist.integrity, vendored into the static files with its licence
## (committed: nothing is fetched at `make install` or at run time).
UPLOT_VERSION := 1.6.32
UPLOT_DIR := console/static/vendor/uplot
vendor:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tarball="$$tmp/uplot-$(UPLOT_VERSION).tgz"; \
	expected=$$(npm view "uplot@$(UPLOT_VERSION)" dist.integrity); \
	(cd "$$tmp" && npm pack --silent "uplot@$(UPLOT_VERSION)" >/dev/null); \
	actual=sha512-$$($(PYTHON) -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$$tarball"); \
	if [ "$$actual" != "$$expected" ]; then \
	  echo "uplot@$(UPLOT_VERSION): integrity $$actual does not match the registry's $$expected" >&2; exit 1; fi; \
	tar -xzf "$$tarball" -C "$$tmp"; \
	mkdir -p $(UPLOT_DIR); \
	cp "$$tmp/package/dist/uPlot.esm.js" "$$tmp/package/dist/uPlot.min.css" $(UPLOT_DIR)/; \
	cp "$$tmp/package/LICENSE" $(UPLOT_DIR)/LICENSE.txt; \
	printf '%s\n' "# uPlot $(UPLOT_VERSION), vendored" "" \
	  "Source: the npm registry, \`npm pack uplot@$(UPLOT_VERSION)\`" \
	  "(https://registry.npmjs.org/uplot/-/uplot-$(UPLOT_VERSION).tgz)." \
	  "Integrity (checked against \`npm view uplot@$(UPLOT_VERSION) dist.integrity\`):" \
	  "\`$$expected\`" "" \
	  "Files: dist/uPlot.esm.js, dist/uPlot.min.css and LICENSE (MIT, as LICENSE.txt)," \
	  "unchanged. Regenerate with \`make vendor\`; do not edit by hand." \
	  > $(UPLOT_DIR)/README.md; \
	echo "vendored uplot@$(UPLOT_VERSION) into $(UPLOT_DIR) ($$expected)"

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
