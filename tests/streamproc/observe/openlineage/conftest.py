"""The lineage tests' real catalog: ``streamproc catalog serve`` on a free loopback port with an SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.lineage import CatalogServer


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogServer]:
    server = CatalogServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.close()
