"""Schedule expressions: ``every 30m`` (an interval) or a five-field cron expression (Asia/Shanghai).

One parser for the ``schedule`` setting, the ``schedule`` key of source files and the scheduler."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

TIMEZONE = "Asia/Shanghai"
_INTERVAL = re.compile(r"^every\s+(\d+(?:\.\d+)?)\s*(s|m|h|d)$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_schedule(text: str) -> tuple[str, float | str]:
    """``every 30m`` → ("interval", 1800.0); a 5-field cron expression → ("cron", text). Raises ValueError."""
    text = str(text).strip()
    m = _INTERVAL.match(text)
    if m:
        seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
        if seconds <= 0:
            raise ValueError("interval must be positive")
        return "interval", seconds
    fields_ = text.split()
    if len(fields_) == 5:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(text, timezone=TIMEZONE)
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {text!r}: {exc}") from None
        return "cron", text
    raise ValueError("expected a cron expression like '0 */2 * * *' or an interval like 'every 30m'")


def period_of(schedule: str) -> float:
    """Seconds between two runs of a schedule (for a cron expression: between its next two fire times)."""
    kind, value = parse_schedule(schedule)
    if kind == "interval":
        return float(value)
    from apscheduler.triggers.cron import CronTrigger

    trig = CronTrigger.from_crontab(str(value), timezone=TIMEZONE)
    first = trig.get_next_fire_time(None, datetime.now(UTC))
    second = trig.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return 86400.0
    return max(60.0, (second - first).total_seconds())
