"""Invariants of the rendered Kubernetes manifests and the compose file (no cluster needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("placement", "progress", "certification")
APPS = (*SERVICES, "web")  # the web app: no database, no migration
_spec = importlib.util.spec_from_file_location("deploy_kubectl", ROOT / "deploy" / "tools" / "kubectl.py")
assert _spec and _spec.loader
kubectl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kubectl)


@pytest.fixture(scope="module", params=["dev", "prod"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all(kubectl.render(request.param)) if o]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"]) for o in objects if o["kind"] in {"Deployment", "Job"}
    ]


def test_every_container_has_limits_and_a_non_root_read_only_context(objects) -> None:
    for name, spec in pod_specs(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{name}/{container['name']}"
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where


def test_every_service_container_has_three_probes_on_health_endpoints(objects) -> None:
    deployments = of_kind(objects, "Deployment")
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted([*(f"{s}-api" for s in SERVICES), "web-app"])
    for deployment in deployments:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["args"] == ["serve", deployment["metadata"]["labels"]["app.kubernetes.io/name"]]


def test_every_service_has_a_migration_job_and_waits_for_it(objects) -> None:
    jobs = {j["metadata"]["labels"]["app.kubernetes.io/name"]: j for j in of_kind(objects, "Job")}
    assert set(jobs) == set(SERVICES)
    for service, job in jobs.items():
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["alembic", "-n", service, "upgrade", "head"]
        secret = container["env"][0]["valueFrom"]["secretKeyRef"]["name"]
        assert secret.startswith(f"{service}-db")
    for deployment in of_kind(objects, "Deployment"):
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        if service == "web":
            assert "initContainers" not in deployment["spec"]["template"]["spec"]
            continue
        (gate,) = deployment["spec"]["template"]["spec"]["initContainers"]
        assert gate["args"][:3] == ["migrate", service, "--wait"]


def test_scaling_objects_target_each_deployment(objects) -> None:
    names = {d["metadata"]["name"] for d in of_kind(objects, "Deployment")}
    assert {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")} == names
    assert len(of_kind(objects, "PodDisruptionBudget")) == len(names)
    for deployment in of_kind(objects, "Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/name"] in APPS  # selectors never overlap across services


def test_network_policies_allow_only_the_designed_peer_paths(objects) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    assert any(
        p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in policies
    )
    pod_paths = set()
    for policy in policies:
        target = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                source = peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                if source:
                    pod_paths.add((source, target))
    assert pod_paths == {("placement", "progress"), ("progress", "certification"), ("web", None)}
    # the web app reaches nothing but the APIs, DNS and (HTTPS) its identity provider: never PostgreSQL
    web_egress = [
        rule
        for p in policies
        if "Egress" in p["spec"]["policyTypes"] and selects_web(p["spec"]["podSelector"])
        for rule in p["spec"].get("egress", [])
    ]
    ports = {port["port"] for rule in web_egress for port in rule["ports"]}
    assert ports == {53, 8000, 443}
    api_rule = next(r for r in web_egress if any(p["port"] == 8000 for p in r["ports"]))
    assert api_rule["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "api"}}}]


def selects_web(selector: dict[str, Any]) -> bool:
    labels = selector.get("matchLabels", {})
    if labels.get("app.kubernetes.io/name") not in (None, "web"):
        return False
    for expression in selector.get("matchExpressions", []):
        if expression["operator"] == "NotIn" and "web" in expression["values"]:
            return False
    return not labels or labels.get("app.kubernetes.io/name") == "web"


def test_compose_runs_migrations_before_services() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    for service in SERVICES:
        depends = compose[service]["depends_on"]
        assert depends[f"migrate-{service}"]["condition"] == "service_completed_successfully"
        assert compose[f"migrate-{service}"]["command"] == ["migrate", service]
        assert compose[f"migrate-{service}"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        # the image's HEALTHCHECK probes /health/live on LMS_PORT
        assert compose[service]["environment"]["LMS_PORT"] == str(8001 + SERVICES.index(service))
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()
    assert compose["web"]["command"] == ["serve", "web"] and compose["web"]["environment"]["LMS_PORT"] == "8000"
    assert {s for s in compose["web"]["depends_on"]} == set(SERVICES)
