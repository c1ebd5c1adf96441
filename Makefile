# The two commands a new user runs: `make demo` and `make test` (see README.md).
# Everything is installed by this file: a virtualenv with the project, the Kafka broker jars (via Maven),
# and, for the catalog tests, PostgreSQL from Debian's packages.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install kafka test demo clean check-deploy

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

# The deployment files: promtool on the alert rules (and their unit tests), the Prometheus config and every Grafana
# query; hadolint on the Dockerfile; the Compose spec and the Kubernetes and CRD schemas on the manifests. Part of
# `make test`; this runs only them. Installs promtool (Debian's prometheus package) and go when missing (as root).
check-deploy: install
	$(PY) -m pytest tests/deploy/test_monitoring.py tests/deploy/test_container.py tests/deploy/test_compose.py tests/deploy/test_kubernetes.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
