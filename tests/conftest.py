"""Shared fixtures. Fixture code lives in tests/fixtures/ and is registered here as plugins."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.quarantine", "tests.fixtures.workers"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only (aiokafka is asyncio-based)."""
    return "asyncio"
