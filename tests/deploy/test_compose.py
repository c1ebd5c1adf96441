"""docker-compose.yml validates against the Compose specification's JSON schema (as vendored by check-jsonschema),
and its services agree with the files they mount, the pipeline they run and the Prometheus config scraping them.

(``docker compose config`` would need the Compose plugin, which a machine without Docker lacks; the schema is the
specification that command enforces.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamproc.config import load_config

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _seconds(duration: str) -> float:
    value, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", duration).groups()  # type: ignore[union-attr]
    return float(value) * {"ms": 0.001, "s": 1, "m": 60}[unit]


def test_compose_file_validates_against_the_compose_spec() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_broken_compose_file_fails_the_same_check(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["streamproc"]["stop_grace_periodd"] = "30s"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    check = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )
    assert check.returncode != 0


def test_the_stack_has_every_service() -> None:
    services = _compose()["services"]
    assert {"kafka", "streamproc", "catalog", "postgres", "minio", "prometheus", "grafana"} <= services.keys()
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert services["catalog"]["entrypoint"] == ["streamproc", "catalog", "serve"]
    assert "postgresql" in services["catalog"]["environment"]["CATALOG_DATABASE_URL"]


def test_consumers_scale_and_stop_gracefully(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = _compose()["services"]["streamproc"]
    # `--scale streamproc=N` needs no fixed container name and no published host port.
    assert "container_name" not in service
    assert "ports" not in service
    mounts = {m.split(":")[1]: REPO / m.split(":")[0] for m in service["volumes"]}
    for target, source in mounts.items():
        assert source.is_file(), f"{source} (mounted at {target}) is missing"
    config_file = mounts["/etc/streamproc/pipeline.yaml"]
    (tmp_path / "pipeline.yaml").write_text(config_file.read_text())
    (tmp_path / "flights_contract.py").write_text(mounts["/etc/streamproc/flights_contract.py"].read_text())
    monkeypatch.delenv("STREAMPROC_OBSERVABILITY_HOST", raising=False)  # the config itself says where to listen
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, str(value))
    config = load_config(tmp_path / "pipeline.yaml")
    assert config.sink.table_uri.startswith("s3://")
    shutdown = config.shutdown_grace_seconds + (config.lineage.flush_timeout_seconds if config.lineage.enabled else 0)
    assert _seconds(service["stop_grace_period"]) >= shutdown + 5
    assert service["command"] == ["/etc/streamproc/pipeline.yaml"]

    partitions = next(int(a.split("=")[1]) for a in _compose()["services"]["kafka-init"]["command"]
                      if a.startswith("--partitions="))
    assert partitions >= 2, "more than one consumer must have work"

    prometheus = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    discovery = jobs["streamproc"]["dns_sd_configs"][0]
    assert discovery["names"] == ["streamproc"] and discovery["port"] == config.observability.port
    assert config.observability.host == "0.0.0.0", "Prometheus scrapes it from another container"  # noqa: S104
    assert jobs["catalog"]["static_configs"][0]["targets"] == [
        f"catalog:{_compose()['services']['catalog']['environment']['CATALOG_PORT']}"
    ]


def test_grafana_and_prometheus_mount_the_deploy_folders() -> None:
    services = _compose()["services"]
    for service in ("prometheus", "grafana"):
        for volume in services[service]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).is_dir(), source
