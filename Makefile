# Every target sets up its own environment from the lock file (uv.lock) on a fresh machine.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
GRAPHIQL := gateway/graphiql

.PHONY: demo test lint fmt typecheck setup browser promtool assets schema clean chaos bench soak diagram node-tools bench-progressive

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet --extra backends
	@touch $@

setup: $(VENV)/.synced assets node-tools

# GraphiQL's bundle is built at set-up from the npm registry (esbuild; dist/ is gitignored and
# carried by the wheel), never loaded from a CDN at page load.
assets: $(GRAPHIQL)/dist/graphiql.js
$(GRAPHIQL)/dist/graphiql.js: $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json \
		$(GRAPHIQL)/build.mjs $(GRAPHIQL)/src/main.jsx
	cd $(GRAPHIQL) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

# Node tooling the suite drives (federation composition, Hive Gateway, Apollo Client 4, the
# graphql-http audit), from tests/node/package-lock.json (decisions 0019, 0020, 0021).
NODE_TOOLS := tests/node
node-tools: $(NODE_TOOLS)/node_modules/.installed
$(NODE_TOOLS)/node_modules/.installed: $(NODE_TOOLS)/package.json $(NODE_TOOLS)/package-lock.json
	cd $(NODE_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's chromium drives the browser test (playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# promtool (Debian's prometheus package) checks the alert rules (tests/test_monitoring.py).
promtool:
	@command -v promtool >/dev/null || { \
	  echo "installing Debian prometheus for promtool"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

demo: setup
	$(PY) -m gateway demo

test: setup browser promtool lint
	$(PY) -m pytest -q -p no:cacheprovider

# Every backend × fault (down, hang, 500, malformed, slow, flapping) plus a Redis outage,
# under load against the live stack; prints a table and writes bench/results/chaos-*.json.
# Bounded: ~6 min; the timeout stops everything (SIGTERM unwinds like Ctrl-C) if it hangs.
chaos: setup
	timeout --kill-after=30 600 $(PY) -m bench.chaos --redis $(CHAOS_ARGS)

# Load benchmark (bench/load.py, method in bench/README.md): the four shipped operations,
# Strawberry baseline vs default vs APQ, backends at 0 and 20±5 ms, gateway on CPU 0, wrk on 1;
# writes bench/results/<ts>.{json,md,png}. ~12 min; the timeout stops everything if it hangs.
bench: setup
	@command -v wrk >/dev/null || { \
	  echo "installing Debian wrk for the benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	timeout --kill-after=30 1800 $(PY) -m bench.load --profile $(BENCH_ARGS)

# 5 minutes of Discovery at half of saturation, RSS sampled every 10 s; fails when RSS grows
# more than 10 % after the first minute. Writes bench/results/soak-<ts>.{json,png}.
soak: setup
	@command -v wrk >/dev/null || { \
	  echo "installing Debian wrk for the soak"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	timeout --kill-after=30 480 $(PY) -m bench.load --soak $(SOAK_ARGS)

# The learning loop against a simulated population (decision 0018): hierarchical vs flat
# priors vs uniform random, live over HTTP and in process, and the off-policy check over 20
# seeds; writes docs/results/simulation.{json,png}. Bounded by the timeout; long on a busy
# machine (20,000 pages per live policy). The fast version is tests/simulation in make test.
# Hostile clients (decision 0016): the hostile-document campaign (every DoS class, CPU per
# document; writes tests/security/results/fuzz.{md,json}), schemathesis against the live
# stack, and graphql-cop when GRAPHQL_COP_DIR points at a checkout of it. Under 10 minutes.
.PHONY: fuzz
FUZZ_EXAMPLES ?= 200
fuzz: setup
	timeout --kill-after=10 200 $(PY) -m tests.security.campaign --examples $(FUZZ_EXAMPLES)
	timeout --kill-after=10 300 $(PY) -m pytest -q -p no:cacheprovider -o timeout=280 tests/fuzz
	PGW_DIFFERENTIAL_EXAMPLES=400 timeout --kill-after=10 600 $(PY) -m pytest -q -p no:cacheprovider -o timeout=580 tests/compiled/test_differential.py
	if [ -n "$(GRAPHQL_COP_DIR)" ]; then \
	  timeout --kill-after=10 100 $(PY) -m tests.security.graphql_cop "$(GRAPHQL_COP_DIR)"; fi

.PHONY: simulate
simulate: setup
	timeout --kill-after=30 7200 $(PY) -m backends simulate $(SIM_ARGS)

# Progressive pages (decision 0021): Apollo Client 4 asks for 60 Discovery pages with @defer,
# ranking slowed to 150 ms; when the first and the last result arrive, p50/p95; writes
# bench/results/progressive.json. ~1-2 min; the timeout stops everything if it hangs.
bench-progressive: setup
	timeout --kill-after=30 600 $(PY) -m bench.progressive $(PROGRESSIVE_ARGS)

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy gateway schema resolvers clients tools

fmt: $(VENV)/.synced
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schema: $(VENV)/.synced
	$(PY) -m gateway schema export

clean:
	rm -rf $(VENV) $(TOOLS) $(GRAPHIQL)/node_modules $(GRAPHIQL)/dist $(NODE_TOOLS)/node_modules

# The layout picture (docs/architecture/layout.svg) rendered from its Graphviz source, with the
# source's sha256 written into it: tests/test_architecture_diagram.py fails when they drift.
diagram:
	@command -v dot >/dev/null || { \
	  echo "installing Debian graphviz for the layout diagram"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; }
	dot -Tsvg docs/architecture/layout.dot \
	  | sed "1a <!-- layout.dot sha256: $$(sha256sum docs/architecture/layout.dot | cut -d' ' -f1) -->" \
	  > docs/architecture/layout.svg
