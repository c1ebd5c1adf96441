"""The Prometheus alert rules and config, and the Grafana dashboard, checked with promtool against the metrics
streamproc actually defines."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from streamproc.observe import metrics
from tests.fixtures.ops import promtool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "streamproc.json"

# Metrics other parts of the process feed (HTTP source, OpenLineage) and the process collector's.
EXTERNAL = re.compile(r"^(process_|python_|up$)")


def _run(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True)


def _exposed_names() -> dict[str, str]:
    """Every sample name streamproc exposes (``_total``, ``_bucket``, ...) → its family's name."""
    names: dict[str, str] = {}
    for attribute in metrics.__all__:
        metric = getattr(metrics, attribute)
        if not isinstance(metric, MetricWrapperBase):
            continue
        for family in metric.describe():
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
            names.update({family.name + suffix: family.name for suffix in suffixes})
    return names


def _dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel.get("targets", [])]


def _referenced(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:streamproc|process|python)_[a-z0-9_]+|up)\b(?=\s*[{\[)]|\s*$|\s*[<>=!])", expr))


def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    check = _run("check", "rules", "alerts.yml")
    assert check.returncode == 0, check.stdout + check.stderr
    tests = _run("test", "rules", "alerts.test.yml")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "SUCCESS" in tests.stdout


def test_prometheus_config_is_valid() -> None:
    check = _run("check", "config", "prometheus.yml")
    assert check.returncode == 0, check.stdout + check.stderr


def test_alerts_cover_the_four_failure_modes_and_use_real_metrics() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert {"StreamprocConsumerLagGrowing", "StreamprocHighQuarantineRatio", "StreamprocDeltaCommitsFailing",
            "StreamprocNoProgress"} <= names
    exposed = _exposed_names()
    for rule in rules:
        unknown = {n for n in _referenced(rule["expr"]) if n not in exposed and not EXTERNAL.match(n)}
        assert not unknown, (rule["alert"], unknown)


def test_dashboard_queries_parse_and_cover_every_streamproc_metric(tmp_path: Path) -> None:
    exprs = _dashboard_exprs()
    # promtool parses PromQL when it checks rules: each panel query becomes a recording rule, Grafana's variables
    # replaced by what Grafana would send.
    substitutions = {"$__rate_interval": "5m", "$__range": "1h", "$pipeline": ".*", "$instance": ".*", "$job": ".*"}
    rules = []
    for n, (_, expr) in enumerate(exprs):
        for variable, value in substitutions.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:panel_{n}", "expr": expr})
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    check = _run("check", "rules", str(rule_file), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr

    exposed = _exposed_names()
    referenced = set().union(*(_referenced(expr) for _, expr in exprs))
    unknown = {name for name in referenced if name not in exposed and not EXTERNAL.match(name)}
    assert not unknown, f"dashboard queries metrics streamproc does not expose: {sorted(unknown)}"
    families = set(exposed.values())
    shown = {exposed[name] for name in referenced if name in exposed}
    assert families - shown == set(), f"metrics without a dashboard panel: {sorted(families - shown)}"


def test_dashboard_layout_and_provisioning() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "streamproc"
    boxes = [(p["title"], p["gridPos"]) for p in dashboard["panels"]]
    for i, (title, a) in enumerate(boxes):
        assert a["x"] + a["w"] <= 24, title
        for other, b in boxes[i + 1:]:
            overlap = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and \
                b["y"] < a["y"] + a["h"]
            assert not overlap, (title, other)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "pipeline", "instance", "job"} <= variables
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "streamproc.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["type"] == "prometheus"


@pytest.mark.parametrize("path", sorted(PROMETHEUS.glob("*.yml")), ids=lambda p: p.name)
def test_prometheus_files_are_yaml(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict)
