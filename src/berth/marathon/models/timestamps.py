"""Marathon timestamps: UTC, millisecond precision, literal ``Z``.

The Python client parses only ``%Y-%m-%dT%H:%M:%S.%fZ`` and ``%Y-%m-%dT%H:%M:%SZ``;
``+00:00`` makes it raise, so every timestamp Berth writes goes through
``format_timestamp``. Versions are compared as values, so parsing truncates to the same
millisecond precision the text carries.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_timestamp(moment: datetime) -> str:
    """Render ``moment`` (naive means UTC) the way Marathon does.

    >>> format_timestamp(datetime(2021, 7, 27, 14, 40, 33, 123456, tzinfo=UTC))
    '2021-07-27T14:40:33.123Z'
    """
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000 on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime, truncated to milliseconds.

    Accepts ``Z`` or any offset, with or without fractional seconds; a missing offset means
    UTC. Raises ``ValueError`` on anything else.

    >>> parse_timestamp("2021-07-27T16:40:33.1234+02:00")
    datetime.datetime(2021, 7, 27, 14, 40, 33, 123000, tzinfo=datetime.timezone.utc)
    """
    if not isinstance(text, str) or "T" not in text:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}") from None
    utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
