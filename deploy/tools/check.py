"""Validate the deployment without a cluster or a Docker engine (run by `python3 dev.py test`).

kubectl kustomize     renders each overlay
kubernetes-validate   strict schema validation of the rendered manifests
checkov               security policy checks (skips, each justified, in checkov.yaml)
hadolint              the Dockerfile
yamllint              every YAML file under deploy/
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from kubectl import ROOT, render  # noqa: E402

BIN = Path(sys.executable).parent
OVERLAYS = ("dev", "prod")
K8S_VERSION = "1.33.0"


def step(name: str, cmd: list[str]) -> bool:
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    ok = result.returncode == 0
    print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
    if not ok:
        print((result.stdout + result.stderr)[-6000:])
    return ok


def main() -> int:
    out = ROOT / ".lms" / "deploy-render"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for overlay in OVERLAYS:
        target = out / f"{overlay}.yaml"
        target.write_text(render(overlay))
        print(f"ok   kubectl kustomize overlays/{overlay} ({target.read_text().count('kind:')} objects)")
        results.append(
            step(
                f"kubernetes-validate --strict {overlay}",
                [str(BIN / "kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(target)],
            )
        )
        results.append(
            step(
                f"checkov {overlay}",
                [
                    str(BIN / "checkov"),
                    "--quiet",
                    "--compact",
                    "--skip-download",
                    "--config-file",
                    str(HERE / "checkov.yaml"),
                    "--framework",
                    "kubernetes",
                    "-f",
                    str(target),
                ],
            )
        )
    results.append(
        step(
            "checkov Dockerfile",
            [
                str(BIN / "checkov"),
                "--quiet",
                "--compact",
                "--skip-download",
                "--config-file",
                str(HERE / "checkov.yaml"),
                "--framework",
                "dockerfile",
                "-f",
                "Dockerfile",
            ],
        )
    )
    results.append(step("hadolint Dockerfile", [str(BIN / "hadolint"), "Dockerfile"]))
    results.append(
        step("yamllint deploy/", [str(BIN / "yamllint"), "--strict", "-c", str(HERE / "yamllint.yaml"), "deploy"])
    )
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
