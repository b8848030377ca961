"""The clock: the one place that asks for the time, and the product's time zone.

Stored times are ISO 8601 in UTC with seconds (``2026-12-06T01:02:03+00:00``); staff see them in Asia/Shanghai
with the zone shown (``2026-12-06 09:02 (北京时间)``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
#: the fixed +08:00 offset given to page dates without a zone (the same as TZ since 1991, and stable for hashing)
CHINA_OFFSET = timezone(timedelta(hours=8))
ZONE_LABEL = "北京时间"


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """``dt`` as stored: ISO 8601 in UTC, to the second (a naive ``dt`` is taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def iso_precise(dt: datetime) -> str:
    """``dt`` in UTC with microseconds (for ordering writes within one second)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    """The current time as stored (ISO 8601, UTC, seconds)."""
    return iso(now())


def parse_time(value: object) -> datetime | None:
    """A stored time back as an aware datetime (naive values are UTC); None when empty or not a time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def local(value: object) -> datetime | None:
    """A stored time in Asia/Shanghai."""
    dt = parse_time(value)
    return dt.astimezone(TZ) if dt else None


def local_text(value: object, seconds: bool = False) -> str:
    """A stored time as staff read it: ``2026-12-06 09:02 (北京时间)``; empty when there is no time."""
    dt = local(value)
    if dt is None:
        return ""
    return dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + f" ({ZONE_LABEL})"


def local_date(value: object) -> str:
    """The day of a stored time in Asia/Shanghai, ``2026-12-06``; empty when there is no time."""
    dt = local(value)
    return dt.strftime("%Y-%m-%d") if dt else ""
