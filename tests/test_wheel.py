"""The built wheel carries the files the code reads at run time (package data) and the contracts' event decoder
(``contracts._native``, compiled from ``contracts/native/``), and an installed wheel works from them: the catalog's
Alembic migrations (``env.py``, ``script.py.mako``, the revisions), the custom OpenLineage facet schemas
(``streamproc/observe/openlineage/schemas``) and the decoder.

The wheel is built by pip (``pip wheel --no-deps``, with build isolation: the ``[build-system]`` requirements come from
the package index) from a copy of the packages, so a stale ``build/`` folder or a decoder built in the checkout
cannot leak into it. Cargo reuses the checkout's build folder for the decoder's dependencies (crates.io's, compiled
once by ``make install``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from catalog.storage.db import alembic_config

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("streamproc", "contracts", "catalog")

REQUIRED = {
    "catalog/storage/migrations/env.py",
    "catalog/storage/migrations/script.py.mako",
    "catalog/storage/migrations/versions/0001_initial_schema.py",
    "streamproc/observe/openlineage/schemas/StreamprocLoadRunFacet.json",
    "streamproc/observe/openlineage/schemas/StreamprocLoadsRunFacet.json",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "target", "_native*.so"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(source), "-w", str(work / "dist")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CARGO_TARGET_DIR": str(REPO / "contracts" / "native" / "target")},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = (work / "dist").glob("streamproc-*.whl")
    return path


def test_the_wheel_carries_the_migrations_the_facet_schemas_and_the_decoder(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert REQUIRED <= names, sorted(REQUIRED - names)
    assert any(name.startswith("contracts/_native") and name.endswith(".so") for name in names), sorted(names)
    assert not any(name.startswith("contracts/native/") for name in names), "the decoder's sources stay out"
    # every migration revision of the checkout, not only the first
    versions = REPO / "catalog" / "storage" / "migrations" / "versions"
    revisions = {f"catalog/storage/migrations/versions/{p.name}" for p in versions.glob("*.py")}
    assert revisions <= names, sorted(revisions - names)


def test_an_installed_wheel_migrates_a_catalog_database_and_decodes_events(wheel: Path, tmp_path: Path) -> None:
    """Installed (``pip install --target``) and imported from outside the checkout, the catalog creates its database
    from the wheel's migrations, the facet schemas are where the runtime looks for them, and the wheel's decoder
    decodes events."""
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    script = """
import json, sys
import catalog
from catalog.storage.db import Database
from streamproc.observe.openlineage.facets import SCHEMAS_DIR
from contracts import _native
from contracts.fast import fast_plan
from bench_contract import Order
assert _native.__file__.startswith(sys.argv[2]), _native.__file__
assert fast_plan(Order).split([b'{"id": 1}'] * 8).clean_index == list(range(8))
db = Database(sys.argv[1])
db.upgrade()
print(json.dumps({"catalog": catalog.__file__, "revision": db.current_revision(),
                  "schemas": sorted(p.name for p in SCHEMAS_DIR.glob("*.json")), "schemas_dir": str(SCHEMAS_DIR)}))
db.close()
"""
    (tmp_path / "bench_contract.py").write_text(
        "from contracts import Contract\n\nclass Order(Contract, name='wheel_orders'):\n    id: int\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{tmp_path}"}
    run = subprocess.run(
        [sys.executable, "-c", script, f"sqlite:///{tmp_path / 'catalog.db'}", str(target)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(result["catalog"]).is_relative_to(target), "imported from the wheel, not the checkout"
    assert Path(result["schemas_dir"]).is_relative_to(target)
    assert result["revision"] == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert result["schemas"] == ["StreamprocLoadRunFacet.json", "StreamprocLoadsRunFacet.json"]
