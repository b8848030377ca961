"""The last stage: write articles (and their library entries and URL states) to the search backend.

Writes are batched; each batch is one transaction holding the documents *and* the URL states that mark them as
known, so a crash between batches loses nothing (the unwritten articles are simply fetched again next time) and
duplicates nothing (documents are keyed by the canonical-URL id).

A write that fails (a corrupt, full, read-only or locked store, a backend that is down) is never a success: the
batch's URLs stay unmarked (the next crawl fetches them again), the failure is kept (:attr:`StorePipeline.error`,
:attr:`StorePipeline.failed_urls`) for the crawl report, which records the run as ``failed``, and the crawl is
closed (``store-failed``) rather than fetching pages it cannot keep.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from core.errors import BackendError
from core.items import Article
from search.backends.base import Backend, UrlState

log = logging.getLogger(__name__)
STORE_FAILED = "store-failed"  # the crawl's close reason and the pages' not-stored kind


class StoreFailed(DropItem):
    """An article arriving after the store failed: not stored (kind ``store-failed``)."""

    kind = STORE_FAILED


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
    """Merge the articles' library entries, then upsert the articles with their URL states. Returns ids by outcome.

    The upsert (documents and URL states in one transaction) is the commit point and comes last: if anything fails
    before or in it, no URL is marked known, so the next crawl fetches those pages again and merges their entries
    again (merging is idempotent; an entry's ids of documents not stored yet are skipped when it is shown).
    Were the entries written after the upsert, a failure between the two would leave stored documents reported as
    failed and their entries lost for good."""
    for art in articles:
        for entry in art.entries:
            entry_id = str(entry.get("id", ""))
            if not entry_id:
                continue
            backend.put_record("entries", entry_id, merge_entry(backend.get_record("entries", entry_id), entry))
    states = [url_state_of(a) for a in articles]
    result = backend.upsert(articles, states)
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
        self.failed_urls: list[str] = []  # URLs of the articles of failed writes (left unmarked)
        self.error = ""  # why the store failed ("" while it works)
        self._closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        backend = getattr(crawler.spider, "backend", None)
        if backend is None:
            raise NotConfigured("the spider has no backend to store into")
        return cls(crawler, backend)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            if self.error:
                raise StoreFailed(f"the store failed earlier in this crawl: {self.error}")
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush > self.max_wait:
                self.flush()
        return item

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        try:
            outcome = store_articles(self.backend, batch)
        except Exception as exc:  # any failure of the write: the batch is not stored, and the run says so
            self._failed(batch, exc)
            return
        stats = self.crawler.stats
        for key, ids in outcome.items():
            if stats is not None and ids:
                stats.inc_value(f"techscout/{key}", len(ids))
        self.new_ids += outcome["new"]
        self.updated_ids += outcome["updated"]

    def _failed(self, batch: list[Article], exc: BaseException) -> None:
        reason = str(exc) if isinstance(exc, BackendError) else f"{type(exc).__name__}: {exc}"
        reason = " ".join(reason.split())[:300]
        first = not self.error
        self.error = self.error or reason
        self.failed_urls += [a.url for a in batch]
        log.error("%d document(s) not stored (the next crawl fetches them again): %s", len(batch), reason)
        engine = getattr(self.crawler, "engine", None)
        if first and not self._closing and engine is not None and getattr(engine, "running", False):
            from scrapy.utils.defer import _schedule_coro

            _schedule_coro(engine.close_spider_async(reason=STORE_FAILED))

    def close_spider(self) -> None:
        self._closing = True
        self.flush()
