"""The aware-datetime type of the API edge and its validation problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from services.common.types import AwareDatetime, is_aware


class Stamp(msgspec.Struct):
    at: AwareDatetime


def test_aware_timestamps_decode_and_naive_ones_are_refused() -> None:
    seoul = timezone(timedelta(hours=9))
    assert msgspec.json.decode(b'{"at": "2026-05-01T09:00:00+09:00"}', type=Stamp).at == datetime(
        2026, 5, 1, 9, tzinfo=seoul
    )
    assert msgspec.json.decode(b'{"at": "2026-05-01T00:00:00Z"}', type=Stamp).at.utcoffset() == timedelta(0)
    with pytest.raises(msgspec.ValidationError, match="timezone"):
        msgspec.json.decode(b'{"at": "2026-05-01T09:00:00"}', type=Stamp)
    assert msgspec.json.schema(Stamp)["$defs"]["Stamp"]["properties"]["at"]["format"] == "date-time"


def test_is_aware() -> None:
    assert is_aware(datetime(2026, 1, 1, tzinfo=UTC))
    assert not is_aware(datetime(2026, 1, 1))
