# The two commands a new user runs: `make demo` and `make test` (see README.md).
# Everything is installed by this file: a virtualenv with the project, the Kafka broker jars (via Maven),
# and, for the catalog tests, PostgreSQL from Debian's packages.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install kafka test demo clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,catalog,demo]'
	touch $@

install: $(VENV)/.installed

# Fetches Apache Kafka from Maven Central into the cache (once; later runs reuse it).
kafka: install
	$(PY) deploy/kafka/broker.py fetch

test: install kafka
	$(PY) -m pytest $(PYTEST_ARGS)

demo: install kafka
	$(PY) examples/flights/demo.py

clean:
	rm -rf $(VENV) var
