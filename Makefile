# Haulbridge: two commands on a fresh machine.
#   make run    the whole platform (embedded PostgreSQL + Kafka-protocol broker, services, simulators, demo city)
#   make test   every test (creates the environment first)
#   make bench  benchmarks: ratios against a baseline measured in the same run (not tests)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench contracts clean

$(STAMP): requirements-dev.txt $(wildcard */pyproject.toml */*/pyproject.toml)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m devstack

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m benchmarks

# Regenerate the committed OpenAPI documents from the code (a test fails while they differ).
contracts: $(STAMP)
	$(PY) -m devstack.contracts write

clean:
	rm -rf $(VENV) .run .pytest_cache
