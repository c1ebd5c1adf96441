"""The ``/metrics`` and probes endpoint of ``streamproc run`` (issue 13, item 6): it starts once the config and the
contracts have loaded, and a port another process holds is a clear error before anything is landed, not a log line.
The real CLI, real Delta tables, a real socket holding the port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from tests.fixtures.http_source import serving, write_http_pipeline
from tests.fixtures.ops import get, metrics_port
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


def _listening(port: int) -> set[str]:
    """The IPv4 addresses a socket listens on at ``port``, as the kernel has them (``/proc/net/tcp``)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.parametrize(
    ("environment", "bound"),
    [(None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")],  # noqa: S104 - what the container image sets
    ids=["default", "STREAMPROC_OBSERVABILITY_HOST"],
)
def test_the_endpoint_binds_loopback_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: str | None, bound: str
) -> None:
    # A config that sets no observability.host (the demo's): /metrics used to listen on every interface, while the
    # demo's --no-auth catalog listens on loopback only. The image sets STREAMPROC_OBSERVABILITY_HOST=0.0.0.0.
    # A pipeline with an HTTP source runs until stopped, so its endpoint can be looked at.
    if environment is None:
        monkeypatch.delenv("STREAMPROC_OBSERVABILITY_HOST", raising=False)
    else:
        monkeypatch.setenv("STREAMPROC_OBSERVABILITY_HOST", environment)
    pipeline = write_http_pipeline(tmp_path)
    pipeline.config.write_text(yaml.safe_dump({**pipeline.document, "observability": {"port": 0}}))

    with serving(pipeline, log=tmp_path / "run.log") as served:
        port = metrics_port(served.process)
        assert _listening(port) == {bound}
        assert get(port, "/healthz")[0] == 200
