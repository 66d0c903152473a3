# The two commands: `make run` (dev gateway on 127.0.0.1:$PORT) and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
# where `make run` keeps the embedded database between runs; `make reset` deletes it
SNAPSHOT ?= .dev/shop-snapshot.json
STAMP := $(VENV)/.installed

.PHONY: run reset test test-python test-miniprogram check check-ruff check-mypy check-imports bench \
        bench-nearby bench-marketing bench-insight bench-reco assistant-eval shots package deploy-plan install functions docs openapi clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(BIN)/python scripts/devserver --port $(PORT) --snapshot $(SNAPSHOT)

# forget the shop `make run` kept: the next run starts from fresh demo data
reset:
	rm -f $(SNAPSHOT) $(SNAPSHOT).tmp-*
	@echo "deleted $(SNAPSHOT): the next make run starts afresh with demo data"

# the Python suite, then the mini-program's; either failing fails `make test`
test: test-python
	$(MAKE) test-miniprogram

# pytest exits 5 when it collects no tests; that is not a failure of the suite
test-python: $(STAMP)
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

# the mini-program's component, page, end-to-end (starts the dev gateway) and size tests
test-miniprogram: $(STAMP)
	cd miniprogram && npm install --no-audit --no-fund && npm test

# PNGs of the main pages (and any other page of app.json) with the demo shop, for a person to look
# at: miniprogram/shots/<page>.png, 750 x 1624 (375 x 812 at 2x). The dev gateway on a free port,
# miniprogram-simulate, headless Chromium from Debian (installed here when apt-get can; nothing is
# downloaded at run time). SHOTS_PAGES=home,cart shoots only those.
shots: $(STAMP)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || test -n "$$CHROMIUM" || \
	  { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-microhei; } || \
	  { echo "make shots needs Chromium: sudo apt-get install -y chromium fonts-wqy-microhei (or CHROMIUM=/path/to/chrome)"; exit 1; }
	@fc-list :lang=zh | grep -q . || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-wqy-microhei; } || \
	  echo "no Chinese font: sudo apt-get install -y fonts-wqy-microhei, or the shots show boxes for Chinese text"
	cd miniprogram && npx jest -c tools/shots/jest.config.js

# ruff, mypy and the import contracts (.importlinter); all three run, any failing fails `check`
check: $(STAMP)
	$(MAKE) --no-print-directory -k check-ruff check-mypy check-imports

check-ruff: $(STAMP)
	$(BIN)/ruff check shared scripts tests

# what it checks (shared/ and scripts/*) is in pyproject.toml
check-mypy: $(STAMP)
	$(BIN)/mypy

check-imports: $(STAMP)
	$(BIN)/lint-imports

# the assistant's evaluation set (tests/assistant_eval.jsonl) on the demo shop: intent accuracy,
# top-3 retrieval hit rate, p50 latency
assistant-eval: $(STAMP)
	$(BIN)/python scripts/shopctl assistant eval

bench: $(STAMP)
	$(BIN)/python scripts/bench

# ARGS="--users 1000000" with MONGODB_URI set for the issue's 1M figures (see --help)
bench-marketing: $(STAMP)
	$(BIN)/python scripts/bench_marketing $(ARGS)

# tracking: ingest through track_events vs a bare insert_many, then the rollups; ARGS="--events
# 1000000" with MONGODB_URI set for the issue's 1M events from 100k users (--quick: 20,000)
bench-insight: $(STAMP)
	$(BIN)/python scripts/bench_insight $(ARGS)

# recommend_for_user vs list_products on 10k products and 100k shoppers (issue 16)
bench-reco: $(STAMP)
	$(BIN)/python scripts/bench_reco $(ARGS)

bench-nearby: $(STAMP)
	$(BIN)/python scripts/bench_nearby $(ARGS)

package: $(STAMP)
	$(BIN)/python scripts/package

# what scripts/deploy would create on SCF, read from nothing: no credentials needed
deploy-plan: $(STAMP)
	$(BIN)/python scripts/deploy plan --dry-run

functions: $(STAMP)
	$(BIN)/python scripts/gen_functions

# the README's function tables and docs/openapi.json, from the action table and input models
docs: $(STAMP)
	$(BIN)/python scripts/gen_docs

# docs/openapi.json only (OpenAPI 3.1)
openapi: $(STAMP)
	$(BIN)/python scripts/gen_docs openapi

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache
