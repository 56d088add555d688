from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import TEST_KEY_PASSPHRASE, Keys, admin_url, create_database, drop_databases, tune_for_tests


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session", autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> None:
    """Point every setting that could touch the developer's local state at temporary files."""
    os.environ.setdefault("LMS_DATA_DIR", str(Path.cwd() / ".lms"))
    os.environ["LMS_JWKS"] = str(keys.jwks_file)
    os.environ["LMS_SERVICE_KEY_FILE"] = str(keys.private_file)
    os.environ["LMS_DEV_KEY_FILE"] = str(keys.private_file)  # the web app's development sign-in
    os.environ["LMS_LOG_LEVEL"] = "WARNING"
    # tests run on a configured database server: outside local development, as far as the
    # certification service can tell, so it needs a real passphrase
    os.environ["LMS_CERTIFICATION_KEY_PASSPHRASE"] = TEST_KEY_PASSPHRASE
    os.environ["LMS_CERTIFICATION_WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # test receivers are local


@pytest.fixture(scope="session")
async def pg_admin() -> AsyncIterator[str]:
    url = admin_url()
    if not os.environ.get("LMS_TEST_DATABASE_URL"):
        await tune_for_tests(url)
    yield url
    await drop_databases(url)


@pytest.fixture
async def database_url(pg_admin: str, request: pytest.FixtureRequest) -> str:
    """A fresh database migrated to head for the service named by the test module's ``SERVICE``."""
    service = getattr(request.module, "SERVICE", None)
    if service is None:
        raise RuntimeError("set SERVICE = '<name>' in the test module to use database_url")
    return await create_database(pg_admin, service)
