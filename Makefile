# netvigil: `make demo` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# nodejs and npm build the dashboard (tests/web/test_bundle.py rebuilds it); systemd-analyze and
# pipx check the units and the wheel (tests/test_deploy_docs.py, tests/test_packaging.py); bird2 runs
# the lab's BGP routers.
APT_PACKAGES := iproute2 iptables iputils-ping procps gcc libssl-dev prometheus-blackbox-exporter chromium \
	nodejs npm systemd pipx prometheus bird2

.PHONY: all venv system-deps demo cluster-demo test lint typecheck format frontend screenshots clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests, the lab and the benchmarks need; installed only when missing.
# A package whose command is on PATH counts as present (NodeSource's nodejs carries npm and
# conflicts with Debian's npm package).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || \
	    command -v $$p >/dev/null || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "missing system packages:$$missing (install them with apt-get as root)" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

# pytest runs on two workers (pytest-xdist; tests/conftest.py keeps the tests that make network
# namespaces on one of them, one after another): about 55 % of the time of one process.
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: venv system-deps lint typecheck
	$(BIN)/pytest -n $(TEST_WORKERS)

format: venv
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

demo: venv system-deps
	$(BIN)/python -m netvigil.demo

# The scale-out mode on this machine (loopback only): `netvigil cluster up` (every process,
# then a service stopped for 30 s and back, and the incident found), then `cluster down`, also
# after Ctrl-C. Its folder is new under /tmp (PostgreSQL, run as nobody under root, must reach it).
cluster-demo: venv
	@dir=$$(mktemp -d /tmp/netvigil-cluster-demo.XXXXXX) && chmod 711 "$$dir" || exit 1; \
	trap 'true' INT TERM; \
	$(BIN)/netvigil cluster up --dir "$$dir/cluster"; status=$$?; \
	if [ -f "$$dir/cluster/cluster.json" ]; then $(BIN)/netvigil cluster down --dir "$$dir/cluster"; fi; \
	rmdir "$$dir" 2>/dev/null; exit $$status

# Rebuild the dashboard into src/netvigil/web/static/ (needs Node.js 18+ and npm; the output is
# committed, and tests/web/test_bundle.py fails when it differs from a fresh build).
frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run check && npm run build

# Refresh the README's screenshots in docs/screenshots/ from the browser tests.
screenshots: venv
	NETVIGIL_SCREENSHOTS=1 $(BIN)/pytest tests/web/test_dashboard_e2e.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
