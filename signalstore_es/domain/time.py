"""Timestamps: UTC-aware and cut to milliseconds so every backend round-trips them exactly."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from signalstore_es.errors import ValidationError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: the instant utc_now_ms last returned, as (ms since the epoch, datetime): a loop of ``add``
#: asks once per record, so calls within one millisecond share one (immutable) datetime
_last: tuple[int, datetime] = (-1, _EPOCH)


def utc_now_ms() -> datetime:
    """Return the current UTC instant, truncated to milliseconds."""
    global _last
    ms = time.time_ns() // 1_000_000  # the clock datetime.now reads, a tenth of its cost
    last = _last
    if last[0] != ms:
        last = _last = (ms, from_epoch_ms(ms))
    return last[1]


def truncate_to_ms(moment: datetime) -> datetime:
    """Return ``moment`` in UTC with its microseconds cut to whole milliseconds."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def require_aware(moment: datetime, *, argument: str) -> datetime:
    """Return ``moment`` in UTC, refusing naive datetimes (whose zone would be a guess)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            f"{argument}={moment!r} is a naive datetime; pass a timezone-aware one, "
            "for example datetime(..., tzinfo=timezone.utc)"
        )
    return moment.astimezone(UTC)


def to_epoch_ms(moment: datetime) -> int:
    """Return the whole milliseconds since the Unix epoch of an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:  # naive: as astimezone reads it
        moment = moment.astimezone(UTC)
    delta = moment - _EPOCH  # aware subtraction accounts for any offset
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_epoch_ms(value: int) -> datetime:
    """Return the UTC datetime of a count of milliseconds since the Unix epoch."""
    return _EPOCH + timedelta(milliseconds=value)
