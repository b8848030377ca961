"""The last stage: write articles (and their library entries and URL states) to the search backend.

Writes are batched; each batch is one transaction holding the documents *and* the URL states that mark them as
known, so a crash between batches loses nothing (the unwritten articles are simply fetched again next time) and
duplicates nothing (documents are keyed by the canonical-URL id).
"""

from __future__ import annotations

import time
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from core.items import Article
from search.backends.base import Backend, UrlState


def merge_entry(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Merge a library entry seen in another document: union of document ids, newer non-empty fields win."""
    if old is None:
        return dict(new) | {"doc_ids": list(dict.fromkeys(new.get("doc_ids", [])))}
    merged = dict(old)
    for key, value in new.items():
        if key == "doc_ids":
            continue
        if value not in (None, "", [], {}):
            merged[key] = value
    merged["doc_ids"] = list(dict.fromkeys([*old.get("doc_ids", []), *new.get("doc_ids", [])]))
    return merged


def url_state_of(article: Article) -> UrlState:
    """The URL state that marks a stored article as known (incremental crawling)."""
    return UrlState(
        url=article.url,
        source=article.source,
        doc_id=article.id,
        etag=article.etag,
        last_modified=article.last_modified,
        fetched=article.fetched,
        status=200,
    )


def store_articles(backend: Backend, articles: list[Article]) -> dict[str, list[str]]:
    """Upsert articles with their URL states and merge their library entries. Returns ids by outcome."""
    states = [url_state_of(a) for a in articles]
    result = backend.upsert(articles, states)
    for art in articles:
        for entry in art.entries:
            entry_id = str(entry.get("id", ""))
            if not entry_id:
                continue
            backend.put_record("entries", entry_id, merge_entry(backend.get_record("entries", entry_id), entry))
    return {"new": result.new, "updated": result.updated, "unchanged": result.unchanged}


class StorePipeline:
    batch_size = 25
    max_wait = 2.0

    def __init__(self, crawler: Crawler, backend: Backend) -> None:
        self.crawler = crawler
        self.backend = backend
        self.buffer: list[Article] = []
        self.last_flush = time.monotonic()
        self.new_ids: list[str] = []
        self.updated_ids: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        backend = getattr(crawler.spider, "backend", None)
        if backend is None:
            raise NotConfigured("the spider has no backend to store into")
        return cls(crawler, backend)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush > self.max_wait:
                self.flush()
        return item

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        outcome = store_articles(self.backend, batch)
        stats = self.crawler.stats
        for key, ids in outcome.items():
            if stats is not None and ids:
                stats.inc_value(f"techscout/{key}", len(ids))
        self.new_ids += outcome["new"]
        self.updated_ids += outcome["updated"]

    def close_spider(self) -> None:
        self.flush()
