"""Subscriptions (订阅, saved searches): the one validation every producer calls, and their storage.

:func:`validate_subscription` turns what a person typed — in the CLI (``techscout alerts add``), the JSON API or
the web form — into the stored record, the same record for the same input whoever produced it::

    {"id", "name", "owner", "query", "filters": {"content_type": [...], "domains": [...], "region": [...],
     "source": [...], "libraries": [...], "scitech_relevant": ["true"]}, "min_relevance": float|null,
     "notify": [Apprise URLs], "mode": "immediate"|"digest", "digest_at": "daily@08:00"|"weekly@mon 08:00"|null,
     "enabled": bool, "created": ISO, "updated": ISO}

Every field is checked; a wrong one is a :class:`~core.errors.SubscriptionError` whose ``field`` names it and
whose message (Chinese) says what was expected. The creation time is always set: it is the subscription's
watermark (documents fetched from then on are alerted), so a subscription saved at 10:00 alerts a document
fetched at 10:00:05.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import clock
from core.errors import QueryError, SubscriptionError, UrlError
from core.values import SAFE_ID, parse_bool
from search import labels
from search.alerts.channels import normalize_url
from search.query import parse_query

if TYPE_CHECKING:
    from search.backends.base import Backend

FILTER_KEYS = ("content_type", "domains", "region", "source", "libraries", "scitech_relevant")
#: other names of the filter keys (the CLI's and the API's parameter names)
FILTER_ALIASES = {"type": "content_type", "domain": "domains", "library": "libraries", "scitech": "scitech_relevant"}
MODES = {"immediate": "即时推送", "digest": "定时汇总"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_NAME = 100
MAX_QUERY = 500
MAX_NOTIFY = 10
FIELD_NAMES = {
    "id": "编号",
    "name": "名称",
    "query": "检索式",
    "filters": "筛选条件",
    "min_relevance": "最低相关度",
    "notify": "通知地址",
    "mode": "推送方式",
    "digest_at": "汇总时间",
    "enabled": "启用",
}
_DIGEST = re.compile(r"^(?:(daily)@|(weekly)@(mon|tue|wed|thu|fri|sat|sun)\s+)?(\d{1,2}):(\d{2})$")


def invalid(field: str, message: str) -> SubscriptionError:
    """A :class:`SubscriptionError` naming ``field`` (its ``field`` attribute and its message)."""
    exc = SubscriptionError(f"{FIELD_NAMES.get(field, field)}（{field}）: {message}")
    exc.field = field  # type: ignore[attr-defined]
    return exc


def parse_digest_at(value: str | None) -> tuple[int | None, int, int]:
    """``daily@08:00`` → (None, 8, 0); ``weekly@mon 08:00`` → (0, 8, 0); a bare ``08:00`` is daily."""
    text = (value or "daily@08:00").strip().lower()
    m = _DIGEST.match(text)
    if not m or int(m.group(4)) > 23 or int(m.group(5)) > 59:
        raise invalid("digest_at", f"应为 HH:MM、daily@HH:MM 或 weekly@mon HH:MM，收到 {value!r}")
    weekday = WEEKDAYS.index(m.group(3)) if m.group(2) else None
    return weekday, int(m.group(4)), int(m.group(5))


def digest_text(value: str | None) -> str:
    """The stored form of a digest time: ``daily@08:00`` or ``weekly@mon 08:00``."""
    weekday, hour, minute = parse_digest_at(value)
    when = f"{hour:02d}:{minute:02d}"
    return f"daily@{when}" if weekday is None else f"weekly@{WEEKDAYS[weekday]} {when}"


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(key, f"应为文本，收到 {type(value).__name__}")
    return value


def _values(key: str, raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [v for v in re.split(r"[,，、\s]+", raw) if v]
    if isinstance(raw, Sequence):
        out = []
        for v in raw:
            if not isinstance(v, str | int | float) or isinstance(v, bool):
                raise invalid("filters", f"{key} 的值应为文本，收到 {v!r}")
            out.append(str(v))
        return out
    raise invalid("filters", f"{key} 应为列表，收到 {type(raw).__name__}")


def parse_filters(raw: Any, taxonomy: str | None = None) -> dict[str, list[str]]:
    """Filters as stored: known keys (aliases accepted), values as codes (Chinese names accepted)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise invalid("filters", '应为对象，如 {"content_type": ["政策"]}')
    out: dict[str, list[str]] = {}
    for key_in, values in raw.items():
        key = FILTER_ALIASES.get(str(key_in), str(key_in))
        if key not in FILTER_KEYS:
            raise invalid("filters", f"不认识的筛选条件 {key_in!r}（可用：{', '.join(FILTER_KEYS)}）")
        try:
            codes = labels.filter_codes(key, _values(key, values), taxonomy)
        except QueryError as exc:
            raise invalid("filters", str(exc)) from None
        if key == "source":
            for code in codes:
                if not SAFE_ID.match(code):
                    raise invalid("filters", f"来源名称只能含字母、数字、-、_、.，收到 {code!r}")
        if codes:
            out[key] = out.get(key, []) + [c for c in codes if c not in out.get(key, [])]
    return out


def parse_notify(raw: Any, *, allow_private: bool) -> list[str]:
    """Notification URLs as stored (each checked by :func:`~search.alerts.channels.normalize_url`)."""
    if raw is None:
        items: list[Any] = []
    elif isinstance(raw, str):
        items = raw.split()
    elif isinstance(raw, Sequence):
        items = list(raw)
    else:
        raise invalid("notify", f"应为地址列表，收到 {type(raw).__name__}")
    urls: list[str] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        try:
            url = normalize_url(item, allow_private=allow_private)
        except UrlError as exc:
            raise invalid("notify", str(exc).removeprefix("通知地址: ")) from None
        if url not in urls:
            urls.append(url)
    if not urls:
        raise invalid("notify", "至少需要一个通知地址（电子邮件、Webhook、钉钉、企业微信或飞书）")
    if len(urls) > MAX_NOTIFY:
        raise invalid("notify", f"最多 {MAX_NOTIFY} 个通知地址")
    return urls


def validate_subscription(
    data: Mapping[str, Any],
    *,
    owner: str,
    allow_private: bool,
    existing: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    taxonomy: str | None = None,
) -> dict[str, Any]:
    """The stored ``subscriptions`` record for user input ``data``; a :class:`SubscriptionError` naming the
    field otherwise. ``existing``: the stored record being edited (its id, owner and creation time are kept)."""
    if not isinstance(data, Mapping):
        raise invalid("subscription", "应为对象")
    stamp = clock.iso(now or clock.now())

    sub_id = _text(data, "id").strip()
    if existing is not None:
        if sub_id and sub_id != existing.get("id"):
            raise invalid("id", f"与正在修改的订阅 {existing.get('id')!r} 不符")
        sub_id = str(existing["id"])
    elif not sub_id:
        sub_id = uuid.uuid4().hex[:16]
    elif not SAFE_ID.match(sub_id):
        raise invalid("id", "只能含字母、数字、-、_、.（以字母或数字开头，最长 64 个字符）")

    name = _text(data, "name").strip()
    if not name:
        raise invalid("name", "不能为空")
    if len(name) > MAX_NAME:
        raise invalid("name", f"不能超过 {MAX_NAME} 个字（现有 {len(name)} 个）")
    if re.search(r"[\x00-\x1f\x7f]", name):
        raise invalid("name", "不能含控制字符")

    query = _text(data, "query").strip()
    if len(query) > MAX_QUERY:
        raise invalid("query", f"不能超过 {MAX_QUERY} 个字")
    try:
        parse_query(query)
    except QueryError as exc:
        raise invalid("query", str(exc)) from None

    filters = parse_filters(data.get("filters"), taxonomy)
    for alias, key in FILTER_ALIASES.items():  # flat form: {"type": [...]} as the CLI and the query string say
        if alias in data and data.get(alias) not in (None, [], ""):
            extra = parse_filters({key: data[alias]}, taxonomy)
            for k, v in extra.items():
                filters[k] = filters.get(k, []) + [c for c in v if c not in filters.get(k, [])]

    rel = data.get("min_relevance")
    if rel in (None, ""):
        min_relevance = None
    else:
        try:
            min_relevance = float(rel)
        except (TypeError, ValueError):
            raise invalid("min_relevance", f"应为 0 到 1 之间的数，收到 {rel!r}") from None
        if not 0.0 <= min_relevance <= 1.0:
            raise invalid("min_relevance", f"应为 0 到 1 之间的数，收到 {rel!r}")

    urls = parse_notify(data.get("notify"), allow_private=allow_private)

    mode = _text(data, "mode").strip() or "immediate"
    mode = {label: code for code, label in MODES.items()}.get(mode, mode)
    if mode not in MODES:
        raise invalid("mode", f"应为 immediate（即时推送）或 digest（定时汇总），收到 {mode!r}")
    digest_in = _text(data, "digest_at").strip()
    digest_at = digest_text(digest_in or "daily@08:00") if mode == "digest" else None
    if mode == "immediate" and digest_in:
        parse_digest_at(digest_in)  # a wrong value is an error even when unused

    enabled_in = data.get("enabled", (existing or {}).get("enabled", True))
    try:
        enabled = parse_bool(True if enabled_in is None else enabled_in)
    except ValueError:
        raise invalid("enabled", f"应为 true 或 false，收到 {enabled_in!r}") from None

    created = (existing or {}).get("created")
    if clock.parse_time(created) is None:
        created = stamp
    return {
        "id": sub_id,
        "name": name,
        "owner": str((existing or {}).get("owner") or owner),
        "query": query,
        "filters": filters,
        "min_relevance": min_relevance,
        "notify": urls,
        "mode": mode,
        "digest_at": digest_at,
        "enabled": enabled,
        "created": created,
        "updated": stamp,
    }


def save_subscription(backend: Backend, record: Mapping[str, Any]) -> dict[str, Any]:
    """Store a validated record (from :func:`validate_subscription`)."""
    sub = dict(record)
    backend.put_record("subscriptions", sub["id"], sub)
    return sub


def stored_subscription(record: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record read back with every field present (records written by older versions included);
    raises :class:`SubscriptionError` when it cannot be used (its deliveries then fail with that error)."""
    sub = dict(record)
    sub_id = str(sub.get("id") or "").strip()
    if not sub_id:
        raise invalid("id", "订阅没有编号")
    sub["filters"] = parse_filters(sub.get("filters"))
    sub["query"] = str(sub.get("query") or "")
    try:
        parse_query(sub["query"])
    except QueryError as exc:
        raise invalid("query", str(exc)) from None
    notify_in = sub.get("notify") or []
    sub["notify"] = [notify_in] if isinstance(notify_in, str) else [str(u) for u in notify_in if str(u).strip()]
    mode = sub.get("mode") or "immediate"
    if mode not in MODES:
        raise invalid("mode", f"应为 immediate 或 digest，收到 {mode!r}")
    sub["mode"] = mode
    sub["digest_at"] = digest_text(sub.get("digest_at")) if mode == "digest" else None
    rel = sub.get("min_relevance")
    sub["min_relevance"] = None if rel in (None, "") else float(rel)
    sub["enabled"] = sub.get("enabled", True) is not False
    sub.setdefault("name", sub_id)
    sub.setdefault("owner", "")
    return sub


def load_subscriptions(backend: Backend, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every usable enabled subscription. One without ``created`` (written before it was always set) gets it
    now, once."""
    out = []
    for record in backend.list_records("subscriptions", limit=1_000_000, newest_first=False):
        try:
            sub = stored_subscription(record)
        except (SubscriptionError, ValueError, TypeError):
            continue
        if not sub["enabled"]:
            continue
        if clock.parse_time(sub.get("created")) is None:
            sub["created"] = clock.iso(now or clock.now())
            backend.put_record("subscriptions", sub["id"], {**record, "created": sub["created"]})
        out.append(sub)
    return out
