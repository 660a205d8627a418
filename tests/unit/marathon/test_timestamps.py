"""Timestamps (reference 0): UTC, millisecond precision, literal Z, as the Python client
parses them (``%Y-%m-%dT%H:%M:%S.%fZ``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.marathon.models import format_timestamp, parse_timestamp


def test_format_is_milliseconds_and_z() -> None:
    moment = datetime(2021, 7, 27, 14, 40, 33, 123999, tzinfo=UTC)
    assert format_timestamp(moment) == "2021-07-27T14:40:33.123Z"
    assert format_timestamp(datetime(2021, 7, 27, 14, 40, 33)) == "2021-07-27T14:40:33.000Z"
    cest = datetime(2021, 7, 27, 16, 40, 33, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(cest) == "2021-07-27T14:40:33.000Z"


@pytest.mark.parametrize(
    "text",
    [
        "2021-07-27T14:40:33.123Z",
        "2021-07-27T14:40:33.123+00:00",
        "2021-07-27T16:40:33.123+02:00",
        "2021-07-27T14:40:33.123456Z",
        "2021-07-27T14:40:33.123",
    ],
)
def test_parse_accepts_iso_forms(text: str) -> None:
    assert parse_timestamp(text) == datetime(2021, 7, 27, 14, 40, 33, 123000, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", "2021-07-27", "2021-13-01T00:00:00Z"])
def test_parse_refuses_the_rest(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO-8601 timestamp"):
        parse_timestamp(text)


@given(st.datetimes(timezones=st.just(UTC)))
def test_format_is_what_the_python_client_parses(moment: datetime) -> None:
    text = format_timestamp(moment)
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert parse_timestamp(text) == parsed
