"""deploy/k8s/: every manifest validates against the Kubernetes OpenAPI schemas (kubernetes-validate's bundled
schemas, strict: unknown fields are errors), the ServiceMonitor and ScaledObject against their projects' own CRD
schemas (fetched as Go modules, made strict the same way), and the manifests agree with each other and with the
pipeline config they run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from streamproc.config import load_config
from tests.fixtures.ops import go_module_file

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
REPO = K8S.parents[1]
KUBERNETES_VERSION = "1.33.0"
PARTITIONS = 6  # the flights topic's partitions (docker-compose.yml's kafka-init creates it so)

# Upstream CRDs, pinned: the projects' Go modules carry them (verified against sum.golang.org by `go`).
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
    ),
    ("keda.sh/v1alpha1", "ScaledObject"): (
        "github.com/kedacore/keda/v2",
        "v2.21.0",
        "config/crd/bases/keda.sh_scaledobjects.yaml",
    ),
}


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for _, d in _documents() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, (kind, name, len(matches))
    return matches[0]


def _strict(schema: Any) -> Any:
    """kubeconform's strict mode for CRD schemas: objects with declared properties allow no others."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    module, version, path = CRDS[(api_version, kind)]
    crd = yaml.safe_load(go_module_file(module, version, path).read_text())
    served = api_version.split("/")[1]
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == served)["schema"]["openAPIV3Schema"]
    schema = _strict(copy.deepcopy(schema))
    schema["properties"]["metadata"] = {"type": "object"}  # ObjectMeta is checked by the API server, not the CRD
    return schema


@pytest.mark.parametrize(("file", "doc"), _documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_manifest_validates_against_its_schema(file: str, doc: dict[str, Any]) -> None:
    key = (doc["apiVersion"], doc["kind"])
    if key in CRDS:
        jsonschema.Draft7Validator(_crd_schema(*key)).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_typo_is_caught_by_the_same_validation() -> None:
    deployment = copy.deepcopy(_one("Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    monitor = copy.deepcopy(_one("ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(_crd_schema("monitoring.coreos.com/v1", "ServiceMonitor")).validate(monitor)


def test_kustomization_lists_existing_files() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"], "example secrets must not be applied"


def test_deployment_fits_the_pipeline_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = _one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    configmap = _one("ConfigMap", "streamproc-pipeline")
    (tmp_path / "pipeline.yaml").write_text(configmap["data"]["pipeline.yaml"])
    monkeypatch.delenv("STREAMPROC_OBSERVABILITY_HOST", raising=False)  # the config itself says where to listen
    for variable in container["env"]:
        monkeypatch.setenv(variable["name"], variable.get("value", "from-a-secret"))
    config = load_config(tmp_path / "pipeline.yaml")

    assert deployment["spec"]["replicas"] <= PARTITIONS
    grace = pod["terminationGracePeriodSeconds"]
    shutdown = config.shutdown_grace_seconds + (config.lineage.flush_timeout_seconds if config.lineage.enabled else 0)
    assert shutdown + 5 <= grace <= shutdown + 15, "SIGKILL must come after a graceful stop, not much later"
    port = config.observability.port
    assert container["ports"][0]["containerPort"] == port
    assert config.observability.host == "0.0.0.0", "the kubelet and Prometheus reach it at the pod's IP"  # noqa: S104
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"] == ["/etc/streamproc/pipeline.yaml"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert configmap["data"]["flights_contract.py"] == (REPO / "examples/flights/flights_contract.py").read_text()

    secrets = {(d["metadata"]["name"], key) for _, d in _documents() if d["kind"] == "Secret"
               for key in d["stringData"]}
    refs = {(v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
            for v in container["env"] if "valueFrom" in v}
    assert {("streamproc-storage", "access-key-id"), ("streamproc-storage", "secret-access-key")} <= refs
    assert any(name == "streamproc-write-keys" for name, _ in refs)
    assert refs <= secrets, f"secret references without an example: {refs - secrets}"


def test_selectors_and_scaling_agree() -> None:
    deployment = _one("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    service, monitor, budget = _one("Service"), _one("ServiceMonitor"), _one("PodDisruptionBudget")
    scaled = _one("ScaledObject")
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert scaled["spec"]["maxReplicaCount"] <= PARTITIONS
    pipeline = yaml.safe_load(_one("ConfigMap", "streamproc-pipeline")["data"]["pipeline.yaml"])
    trigger = scaled["spec"]["triggers"][0]["metadata"]
    assert trigger["consumerGroup"] == pipeline["source"]["consumer_group"]
    assert trigger["topic"] in pipeline["source"]["topics"]
