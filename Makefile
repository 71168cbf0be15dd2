# Haulbridge: two commands on a fresh machine.
#   make run    the whole platform (embedded PostgreSQL + Kafka-protocol broker, services, simulators, demo city)
#   make test   every test (creates the environment first; installs Debian's chromium for the browser tests)
#   make bench  benchmarks: ratios against a baseline measured in the same run (not tests)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench contracts vendor-js clean

# Debian's Chromium, for the console's browser tests (Playwright drives it; its own browser
# downloads do not work on these machines). Installed once, with sudo when not root.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(STAMP): requirements-dev.txt $(wildcard */pyproject.toml */*/pyproject.toml)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m devstack

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# Two workers (pytest-xdist), each with its own embedded PostgreSQL and broker, a test file at a
# time: most of a test's time is waiting on processes and the broker, so this halves the run.
TEST_WORKERS ?= 2

test: $(STAMP) $(CHROMIUM)
	HAULBRIDGE_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(PY) -m benchmarks

# Regenerate the committed OpenAPI documents from the code (a test fails while they differ).
contracts: $(STAMP)
	$(PY) -m devstack.contracts write

# The console's JavaScript (htmx, Chart.js) and the tests' axe-core, from the npm registry at the
# versions in services/ops/package.json, into the committed static files (no CDN).
vendor-js:
	cd services/ops && npm ci --no-audit --no-fund
	cp services/ops/node_modules/htmx.org/dist/htmx.min.js services/ops/ops/static/vendor/
	cp services/ops/node_modules/chart.js/dist/chart.umd.min.js services/ops/ops/static/vendor/
	cp services/ops/node_modules/axe-core/axe.min.js tests/browser/vendor/

clean:
	rm -rf $(VENV) .run .pytest_cache
