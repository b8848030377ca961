"""Publish dates in Chinese (and Western) layouts, normalised to ISO 8601 with an offset.

Pages that give no zone are read as Asia/Shanghai (+08:00). Handles ``2021-01-19 12:30:45``, ``2021/1/19``,
``2021.01.19``, ``2021年1月19日 12:30``, ``二〇二一年一月十九日``, ISO strings with zones, and labelled forms
(``发布时间：``, ``日期：``, ``成文日期：`` ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from core import clock
from pipelines.zhre import zc

SHANGHAI = clock.CHINA_OFFSET
_MIN_YEAR = 1990

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}  # fmt: skip

_SEP = r"\s*[-/.．]\s*"
# a time after the date ("2021-01-19 12:30", "2021年1月19日12时30分", "2007-08-20-23:59:59"); an offset only after
# seconds (ISO 8601), so that a time range ("10:00-12:00") is never read as a zone
_TIME = (
    r"(?:(?:[T\s]*|-)(\d{1,2})\s*[:：时]\s*(\d{1,2})"
    r"(?:\s*[:：分]\s*(\d{1,2})(?:\.\d+)?(?:\s*(Z|[+-]\d{2}:?\d{2})(?!\d))?)?\s*(?:秒)?)?"
)
DATE_RE = re.compile(
    r"(?<!\d)(?:(\d{4})" + _SEP + r"(\d{1,2})" + _SEP + r"(\d{1,2})(?!\d)"
    r"|(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*(?:[日号]|(?!\d)))" + _TIME
)
# two-digit years, believed only after a label ("发布时间：18-03-08 23:16"); Chinese order is always Y-M-D
_SHORT_DATE_RE = re.compile(
    r"(?<![\d.\-/])(\d{2})-(\d{1,2})-(\d{2})(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?(?![\d\-])"
)
_US_DATE_RE = re.compile(
    r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)
_CN_DATE_RE = re.compile(
    r"([〇零○Ｏ一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日"
)
_LABEL_RE = zc(
    r"(?:发\s*布|发\s*表|发\s*稿|刊\s*发|更\s*新|成\s*文|发\s*文|印\s*发|上\s*传|录\s*入|添\s*加|时\s*间|日\s*期|"
    r"发布于|发表于|Published|Posted|Date|Updated)\s*(?:时\s*间|日\s*期)?\s*[:：]?\s*$",
    re.I,
)
_URL_DATE = (
    re.compile(r"/(20\d{2}|19\d{2})[-/_]?(\d{2})[-/_]?(\d{2})(?:/|_|\d|\.s?html?|$)"),
    re.compile(r"[/_]t(20\d{2})(\d{2})(\d{2})_"),
    re.compile(r"/(20\d{2})[-/](\d{1,2})/(\d{1,2})/"),
)


@dataclass(frozen=True)
class DateHit:
    start: int
    end: int
    iso: str
    has_time: bool
    labelled: bool


def _cn_number(s: str) -> int:
    if all(ch in _CN_DIGITS for ch in s):
        return int("".join(str(_CN_DIGITS[ch]) for ch in s))
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + _CN_DIGITS.get(s[1], 0)
    if s.endswith("十"):
        return _CN_DIGITS.get(s[0], 0) * 10
    if "十" in s:
        a, _, b = s.partition("十")
        return _CN_DIGITS.get(a, 0) * 10 + _CN_DIGITS.get(b, 0)
    return 0


def make_iso(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, zone: str | None = None
) -> str | None:
    """ISO 8601 with offset, or None for an impossible or implausible date."""
    now = datetime.now(SHANGHAI)
    if not (_MIN_YEAR <= year <= now.year + 1):
        return None
    tz = SHANGHAI
    if zone:
        if zone == "Z":
            tz = UTC
        else:
            z = zone.replace(":", "")
            sign = -1 if z[0] == "-" else 1
            hours, minutes = int(z[1:3]), int(z[3:5])
            if hours <= 14 and minutes <= 59:  # else not an offset: the page's own zone stands
                tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        dt = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        try:
            dt = datetime(year, month, day, tzinfo=tz)
        except ValueError:
            return None
    if dt > now + timedelta(days=2):
        return None
    return dt.isoformat()


def find_dates(text: str) -> list[DateHit]:
    """Every full date (year, month, day) in ``text``, in order, with whether a label such as 发布时间 precedes it."""
    hits: list[DateHit] = []
    for m in DATE_RE.finditer(text):
        g = m.groups()
        y, mo, d = (g[0], g[1], g[2]) if g[0] else (g[3], g[4], g[5])
        hour, minute, second = g[6], g[7], g[8]
        iso = make_iso(
            int(y),
            int(mo),
            int(d),
            int(hour) if hour else 0,
            int(minute) if minute else 0,
            int(second) if second else 0,
            g[9],
        )
        if iso is None:
            continue
        before = text[max(0, m.start() - 12) : m.start()]
        hits.append(DateHit(m.start(), m.end(), iso, bool(hour), bool(_LABEL_RE.search(before))))
    for m in _US_DATE_RE.finditer(text):
        mo, d, y, hh, mi, ss, ampm = m.groups()
        hour = int(hh) if hh else 0
        if ampm and ampm.lower() == "pm" and hour < 12:
            hour += 12
        elif ampm and ampm.lower() == "am" and hour == 12:
            hour = 0
        iso = make_iso(int(y), int(mo), int(d), hour, int(mi) if mi else 0, int(ss) if ss else 0)
        if iso is None:
            continue
        before = text[max(0, m.start() - 12) : m.start()]
        hits.append(DateHit(m.start(), m.end(), iso, bool(hh), bool(_LABEL_RE.search(before))))
    for m in _SHORT_DATE_RE.finditer(text):
        before = text[max(0, m.start() - 12) : m.start()]
        if not _LABEL_RE.search(before):
            continue
        yy, mo, d, hh, mi, ss = m.groups()
        year = 2000 + int(yy) if 2000 + int(yy) <= datetime.now(SHANGHAI).year + 1 else 1900 + int(yy)
        iso = make_iso(year, int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0))
        if iso is not None:
            hits.append(DateHit(m.start(), m.end(), iso, bool(hh), True))
    for m in _CN_DATE_RE.finditer(text):
        iso = make_iso(_cn_number(m.group(1)), _cn_number(m.group(2)), _cn_number(m.group(3)))
        if iso is None:
            continue
        before = text[max(0, m.start() - 12) : m.start()]
        hits.append(DateHit(m.start(), m.end(), iso, False, bool(_LABEL_RE.search(before))))
    hits.sort(key=lambda h: h.start)
    return hits


def parse_date(value: str) -> str | None:
    """Parse one date string (meta tag, feed entry, selector text) to ISO 8601 with offset."""
    if not value:
        return None
    value = value.strip()
    hits = find_dates(value)
    if hits:
        return hits[0].iso
    try:
        from email.utils import parsedate_to_datetime

        dt = parsedate_to_datetime(value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=SHANGHAI)
        return make_iso(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.strftime("%z") or None)
    except (TypeError, ValueError, IndexError):
        pass
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?", value)
    if m:
        y, mo, d, hh, mi, ss = (int(x) if x else 0 for x in m.groups())
        return make_iso(y, mo, d, hh, mi, ss)
    return None


_MONTH_RE = re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月(?!\s*\d{1,2}\s*[日号])")


def month_date(text: str) -> str | None:
    """A date given only to the month (``2003年5月``, ``1996年6月号``) as the first of that month."""
    m = _MONTH_RE.search(text)
    if not m:
        return None
    return make_iso(int(m.group(1)), int(m.group(2)), 1)


def date_from_url(url: str) -> str | None:
    """A publish date written in the URL path (``/2021/04/08/``, ``/20210408/``, ``t20210408_``)."""
    for pattern in _URL_DATE:
        m = pattern.search(url)
        if m:
            iso = make_iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if iso:
                return iso
    return None
