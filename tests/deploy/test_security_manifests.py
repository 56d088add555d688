"""Secrets and edges in the rendered manifests: each service holds only its own signing key, the
identity provider's key set is separate from the services' keys, the certification passphrase is
a Secret of certification alone, forwarded addresses are trusted from the ingress only, and the
ingress holds the public rate limit."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.test_manifests import ROOT, SERVICES, of_kind
from tests.deploy.test_manifests import objects as objects  # the rendered-manifests fixture


def config(rendered: list[dict[str, Any]]) -> dict[str, str]:
    (cm,) = [o for o in of_kind(rendered, "ConfigMap") if o["metadata"]["name"].startswith("lms-config")]
    return dict(cm["data"])


def test_each_service_mounts_only_its_own_signing_key(objects) -> None:
    data = config(objects)
    assert data["LMS_SERVICE_KEY_FILE"].startswith("/etc/lms/service-key/")
    assert "/etc/lms/service-key" not in data["LMS_JWKS"]  # service keys are never identity-provider keys
    assert data["LMS_SERVICE_JWKS"].startswith("/etc/lms/service-jwks/")
    for deployment in of_kind(objects, "Deployment"):
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        if service not in SERVICES:
            continue  # the web app has no service key (it calls the APIs with the person's token)
        secrets = [
            v["secret"]["secretName"] for v in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v
        ]
        own = [s for s in secrets if "service-key" in s]
        assert len(own) == 1 and own[0].startswith(f"{service}-service-key"), (service, secrets)
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        has_passphrase = "LMS_CERTIFICATION_KEY_PASSPHRASE" in env
        assert has_passphrase == (service == "certification"), service
        if has_passphrase:
            assert env["LMS_CERTIFICATION_KEY_PASSPHRASE"]["valueFrom"]["secretKeyRef"]["name"].startswith(
                "certification-keys"
            )


def test_development_service_keys_are_one_per_service_and_named_for_it() -> None:
    folder = ROOT / "deploy" / "k8s" / "overlays" / "dev" / "dev-keys"
    published = {k["kid"] for k in json.loads((folder / "services-jwks.json").read_text())["keys"]}
    for service in SERVICES:
        private = json.loads((folder / f"service-{service}.jwk.json").read_text())
        assert private["kid"].startswith(f"svc-{service}-") and private["kid"] in published
    idp = {k["kid"] for k in json.loads((folder / "jwks.json").read_text())["keys"]}
    assert not idp & published


def test_forwarded_addresses_and_the_public_rate_limit(objects) -> None:
    data = config(objects)
    assert data["LMS_TRUSTED_PROXIES"] and int(data["LMS_PUBLIC_RATE_LIMIT"]) > 0
    (ingress,) = of_kind(objects, "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/limit-rpm"]) > 0
    backends = {
        path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    }
    assert backends == {f"{s}-api" for s in SERVICES}
    assert ingress["spec"]["tls"]
