"""Which subscriptions a batch of new documents matches: the backend percolates (its Protocol method), this
module applies what is the subscriptions' own (the watermark, one message per near-duplicate cluster)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core import clock
from core.items import Article
from search.query import Query

if TYPE_CHECKING:
    from search.backends.base import Backend


def match_subscriptions(
    backend: Backend, subscriptions: Sequence[Mapping[str, Any]], articles: Sequence[Article]
) -> dict[str, list[Article]]:
    """Subscription id → the articles of the batch it matches (query, filters, relevance floor)."""
    if not subscriptions or not articles:
        return {}
    by_id = {a.id: a for a in articles}
    raw = backend.percolate(list(articles), list(subscriptions))
    return {sid: [by_id[d] for d in ids if d in by_id] for sid, ids in raw.items() if ids}


def naive_match(backend: Backend, sub: Mapping[str, Any], doc_ids: Sequence[str]) -> list[str]:
    """The saved query run over the given documents by the backend's search (one search per subscription):
    the reference percolation must agree with."""
    query = Query(
        text=str(sub.get("query") or ""),
        filters={k: list(v) for k, v in (sub.get("filters") or {}).items() if v},
        ids=list(doc_ids),
        min_relevance=sub.get("min_relevance"),
        size=min(1000, max(1, len(doc_ids))),
        highlight=False,
    )
    return [h.id for h in backend.search(query).hits]


def eligible(sub: Mapping[str, Any], article: Article) -> bool:
    """Only documents fetched at or after the subscription's watermark (``created``)."""
    created = clock.parse_time(sub.get("created"))
    fetched = clock.parse_time(article.fetched)
    return created is None or fetched is None or fetched >= created
