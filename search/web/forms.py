"""Reading what staff send (search parameters, the subscription form) and writing what they take away (links
that keep the current filters, CSV exports). Pure functions: no request, no backend.

The search parameters are the CLI's option names (``q type source domain region library since until sort page
size collapse scitech``) in the page, the API and the exports alike; :func:`build_query` is the one place that
turns them into a :class:`~search.query.Query`.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

from starlette.datastructures import QueryParams

from core.errors import QueryError
from core.values import parse_bool
from search.query import Query, SearchResult

# query parameter -> Query filter field (the same names as the CLI's options)
PARAM_FILTERS = {
    "type": "content_type",
    "source": "source",
    "domain": "domains",
    "region": "region",
    "library": "libraries",
}
FILTER_PARAMS = {v: k for k, v in PARAM_FILTERS.items()}
PAGE_FACETS = ["content_type", "domains", "region", "source", "libraries", "month"]
MAX_SIZE = 1000
MAX_PAGE = 10_000
MAX_QUERY = 500
#: the query text: no control characters (they mean nothing in a search and some are markers inside the parser)
QUERY_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_QUERY_TEXT = re.compile(QUERY_TEXT)


def build_query(
    *,
    q: str = "",
    filters: Mapping[str, Sequence[str]] | None = None,
    since: date | None = None,
    until: date | None = None,
    sort: str = "relevance",
    page: int = 1,
    size: int = 10,
    collapse: bool = False,
    scitech: bool = False,
    relevance_threshold: float = 0.5,
    facets: bool = False,
) -> Query:
    """The query the search parameters describe (filters keyed by parameter name: ``type``, ``domain`` …).

    ``scitech`` keeps only documents the classifier calls 科技相关 (relevance at or above the taxonomy's
    threshold)."""
    if len(q or "") > MAX_QUERY:
        raise QueryError(f"q: 检索式不能超过 {MAX_QUERY} 个字符")
    if not _QUERY_TEXT.match(q or ""):
        raise QueryError("q: 检索式中不能有控制字符")
    fields: dict[str, list[str]] = {}
    for param, values in (filters or {}).items():
        clean = [str(v).strip() for v in values if str(v).strip()]
        if clean:
            fields[PARAM_FILTERS.get(param, param)] = clean
    if since and until and since > until:
        raise QueryError("since: 起始日期晚于截止日期")
    return Query(
        text=q or "",
        filters=fields,
        since=since,
        until=until,
        sort="date" if sort == "date" else "relevance",
        page=page,
        size=size,
        facets=list(PAGE_FACETS) if facets else [],
        collapse=collapse,
        min_relevance=relevance_threshold if scitech else None,
    )


def _date(value: str | None, name: str) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(f"{name}: 日期格式应为 2026-12-06（年-月-日），收到 {value[:40]!r}") from None


def _int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or not value.strip():
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise QueryError(f"{name}: 应为整数，收到 {value[:40]!r}") from None
    if not low <= number <= high:
        raise QueryError(f"{name}: 应在 {low} 到 {high} 之间，收到 {number}")
    return number


def _bool(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    try:
        return parse_bool(value)
    except ValueError:
        raise QueryError(f"{name}: 应为 true 或 false，收到 {value[:40]!r}") from None


def query_from_params(
    params: QueryParams | Mapping[str, Any],
    *,
    default_size: int = 10,
    facets: bool = False,
    collapse: bool = False,
    relevance_threshold: float = 0.5,
) -> Query:
    """The :class:`Query` of a page's or an export's query string (the API's typed parameters use
    :func:`build_query` directly). Raises :class:`QueryError` with a Chinese message naming the parameter."""
    qp = params if isinstance(params, QueryParams) else QueryParams(params)
    sort = qp.get("sort") or "relevance"
    if sort not in ("relevance", "date"):
        raise QueryError(f"sort: 应为 relevance（相关度）或 date（日期），收到 {sort[:40]!r}")
    return build_query(
        q=qp.get("q") or "",
        filters={p: qp.getlist(p) for p in PARAM_FILTERS},
        since=_date(qp.get("since"), "since"),
        until=_date(qp.get("until"), "until"),
        sort=sort,
        page=_int(qp.get("page"), "page", 1, 1, MAX_PAGE),
        size=_int(qp.get("size"), "size", default_size, 0, MAX_SIZE),
        collapse=_bool(qp.get("collapse"), "collapse", collapse),
        scitech=_bool(qp.get("scitech"), "scitech", False),
        relevance_threshold=relevance_threshold,
        facets=facets,
    )


# -- links ------------------------------------------------------------------------------------------------------------
def url_with(path: str, params: QueryParams, drop: tuple[str, ...] = (), **changes: Any) -> str:
    """``path`` with the current query parameters, minus ``drop``, with ``changes`` applied.

    A change to a list value replaces every value of that parameter; ``None`` removes it."""
    items = [_pair(k, v) for k, v in params.multi_items() if k not in changes and k not in drop]
    for key, value in changes.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            items += [_pair(key, str(v)) for v in value]
        else:
            items.append(_pair(key, str(value)))
    return path + ("?" + "&".join(items) if items else "")


@functools.lru_cache(maxsize=8192)
def _pair(key: str, value: str) -> str:
    return quote_plus(key) + "=" + quote_plus(value)


def toggle_filter_url(params: QueryParams, param: str, value: str) -> str:
    current = params.getlist(param)
    values = [v for v in current if v != value] if value in current else [*current, value]
    return url_with("/search", params, drop=("page",), **{param: values})


def search_url(text: str, filters: Mapping[str, Sequence[str]] | None) -> str:
    """The search page for a saved query and its filters (filter field names as stored)."""
    items = [("q", text or "")]
    for fld, values in (filters or {}).items():
        items += [(FILTER_PARAMS.get(fld, fld), str(v)) for v in values or []]
    return "/search?" + urlencode(items)


def curl_url(base: str, path: str, params: Sequence[tuple[str, str]]) -> str:
    """An absolute URL with its query percent-encoded (UTF-8), so that it works pasted into a shell as is."""
    return base.rstrip("/") + path + "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in params)


def safe_url(url: Any) -> str:
    """``url`` when it is an http(s) URL, else ``#`` (crawled links must not become ``javascript:``)."""
    text = str(url or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else "#"


def month_range(month: str) -> tuple[str, str] | None:
    """``2024-05`` → ("2024-05-01", "2024-05-31")."""
    try:
        start = date.fromisoformat(month[:7] + "-01")
    except ValueError:
        return None
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start.isoformat(), date.fromordinal(nxt.toordinal() - 1).isoformat()


def pages_around(page: int, last: int, width: int = 2) -> list[int]:
    """Page numbers to link: first, last and ``width`` around the current one (0 marks a gap)."""
    keep = {1, last, *range(page - width, page + width + 1)}
    out: list[int] = []
    for p in sorted(n for n in keep if 1 <= n <= last):
        if out and p - out[-1] > 1:
            out.append(0)
        out.append(p)
    return out


# -- exports -----------------------------------------------------------------------------------------------------------
CSV_COLUMNS = [
    "id", "title", "published", "source", "content_type", "domains", "region", "url", "cluster_id", "cluster_size",
    "score",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: a text starting with ``= + - @``, a tab or a line break is
    prefixed with ``'`` (OWASP's advice against formula injection); numbers stay numbers; lists are joined
    with ``; `` (and then checked like any text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple):
        value = "; ".join(map(str, value))
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def hits_to_csv(result: SearchResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for hit in result.hits:
        row = hit.to_json()
        writer.writerow([csv_cell(row.get(c)) for c in CSV_COLUMNS])
    return buf.getvalue()


# -- the subscription form -----------------------------------------------------------------------------------------
def subscription_from_form(data: Mapping[str, list[str]], relevance_threshold: float) -> dict[str, Any]:
    """The subscription the form describes, in the shape :func:`validate_subscription` takes.

    Filters come from multi-select menus (codes as values); channels are one per line."""

    def one(key: str) -> str:
        return (data.get(key) or [""])[0]

    mode = one("mode") or "immediate"
    digest_at = one("digest_at").strip() or "08:00"
    weekday = one("digest_day").strip()
    if mode == "digest" and weekday:
        digest_at = f"weekly@{weekday} {digest_at}"
    elif mode == "digest":
        digest_at = f"daily@{digest_at}"
    notify = [line.strip() for v in data.get("notify", []) for line in v.splitlines() if line.strip()]
    filters = {
        p: [v.strip() for x in data.get(p, []) for v in x.replace("，", ",").split(",") if v.strip()]
        for p in PARAM_FILTERS
    }
    raw: dict[str, Any] = {
        "name": one("name"),
        "query": one("query"),
        "filters": {PARAM_FILTERS[p]: v for p, v in filters.items() if v},
        "notify": notify,
        "mode": mode,
        "digest_at": digest_at if mode == "digest" else None,
    }
    if one("id"):
        raw["id"] = one("id")
    if parse_bool_or_false(one("scitech")):
        raw["min_relevance"] = relevance_threshold
    return raw


def parse_bool_or_false(value: str) -> bool:
    try:
        return parse_bool(value)
    except ValueError:
        return False
