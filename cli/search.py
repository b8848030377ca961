"""``techscout search`` and ``techscout runs``: reading the store."""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from datetime import date
from typing import Any

from core.errors import QueryError
from core.settings import Settings
from search import labels
from search.backends import open_backend
from search.query import Query


def _date(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{option}: 日期应为 YYYY-MM-DD（如 2026-12-06），收到 {value!r}") from None


def query_from_args(args: argparse.Namespace, taxonomy: str | None = None) -> Query:
    """The query the options describe; filter values may be codes or their Chinese names (``--type 政策``)."""
    filters: dict[str, list[str]] = {}
    for key, attr in (("content_type", "types"), ("source", "sources_filter"), ("domains", "domains"),
                      ("region", "regions"), ("libraries", "libraries"), ("scitech_relevant", "scitech")):
        values = getattr(args, attr, None)
        if isinstance(values, str):
            values = [values]
        if values:
            filters[key] = labels.filter_codes(key, values, taxonomy)
    words = args.query if isinstance(args.query, list) else [args.query or ""]
    return Query(
        text=" ".join(w for w in words if w),
        filters=filters,
        since=_date(args.since, "--since"),
        until=_date(args.until, "--until"),
        sort=args.sort,
        page=args.page,
        size=args.limit,
        collapse=args.collapse,
    )


def _plain(snippet: str) -> str:
    """Terminal form of a snippet: <mark> as brackets, entities unescaped."""
    return html.unescape(re.sub(r"</?mark>", lambda m: "【" if m.group(0) == "<mark>" else "】", snippet))


def cli_search(args: argparse.Namespace, settings: Settings) -> int:
    query = query_from_args(args, settings.taxonomy or None)
    if settings.backend == "embedded" and not (settings.paths.store).exists():
        result_json: dict[str, Any] = {"total": 0, "hits": []}
        if args.json:
            print(json.dumps(result_json, ensure_ascii=False))
        else:
            print(f"no index in {settings.data_dir} yet: run `techscout crawl` first", file=sys.stderr)
        return 0
    backend = open_backend(settings)
    try:
        result = backend.search(query)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    print(f"{result.total} result(s) ({result.took_ms:.0f} ms)")
    for i, hit in enumerate(result.hits, start=query.offset + 1):
        day = (hit.published or "")[:10] or "----------"
        extra = f" (+{hit.cluster_size - 1} reprints)" if hit.cluster_size > 1 else ""
        print(f"{i:>3}. {hit.title}{extra}\n     {day}  {hit.source}  {hit.url}\n     {_plain(hit.snippet)}")
    return 0


