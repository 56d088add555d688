"""How many server processes `lms serve` runs: --workers, else LMS_WORKERS, else one."""

from __future__ import annotations

import pytest

from services.common.server import workers_setting


def test_workers_from_the_option_the_environment_or_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMS_WORKERS", raising=False)
    assert workers_setting(None) == 1
    monkeypatch.setenv("LMS_WORKERS", "3")
    assert workers_setting(None) == 3
    assert workers_setting(2) == 2
    assert workers_setting(0) == 1
    monkeypatch.setenv("LMS_WORKERS", "many")
    with pytest.raises(SystemExit, match="LMS_WORKERS"):
        workers_setting(None)
