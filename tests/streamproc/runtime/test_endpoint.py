"""The ``/metrics`` and probes endpoint of ``streamproc run`` (issue 13, item 6): it starts once the config and the
contracts have loaded, and a port another process holds is a clear error before anything is landed, not a log line.
The real CLI, real Delta tables, a real socket holding the port."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.fixtures.pipelines import run_cli, write_file_pipeline


def test_a_contract_that_does_not_load_stops_the_run_before_the_endpoint_listens(tmp_path: Path) -> None:
    config = write_file_pipeline(
        tmp_path,
        events=10,
        name="endpoint",
        contract="tests.fixtures.order_contracts:NoSuchContract",
        observability={"host": "127.0.0.1", "port": 0},
    )

    result = run_cli("run", str(config))

    assert result.returncode == 2, result.stderr
    assert "NoSuchContract" in result.stderr
    assert "serving /metrics" not in result.stderr
    assert not (tmp_path / "lake").exists()


def test_a_taken_port_is_a_clear_error_before_anything_lands(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = write_file_pipeline(
            tmp_path, events=10, name="endpoint", observability={"host": "127.0.0.1", "port": port}
        )

        result = run_cli("run", str(config))

    assert result.returncode == 1, result.stderr
    assert f"cannot listen for /metrics, /healthz and /readyz on 127.0.0.1:{port}" in result.stderr
    assert "observability.port" in result.stderr  # what to do about it
    assert "stopped by error" in result.stderr and "stopped by signal" not in result.stderr  # nobody sent one
    assert not (tmp_path / "lake" / "orders").exists()
