"""The dedup stage of a crawl (after spam removal, before classification).

:class:`DedupPipeline` keeps the index in the data directory's ``dedup.sqlite`` and sets each article's
``fingerprint``, ``duplicate_of``, ``cluster_id`` and ``story_id``, one article at a time: a lookup, then the
add of the same document (prepared once). An exact duplicate of a document *from the same source* (one article
under two URLs) is dropped; a reprint from another source is kept as a cluster member.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import DedupError, TechscoutError
from core.items import Article
from core.paths import DataPaths
from core.settings import SCRAPY_KEY, Settings, of_crawler
from pipelines.dedup.index import DedupIndex, DedupResult
from pipelines.dedup.warm import warm

log = logging.getLogger(__name__)


def dedup_article(index: DedupIndex, article: Article) -> DedupResult:
    """Add an article to the index and set its ``fingerprint``, ``duplicate_of``, ``cluster_id`` and ``story_id``."""
    result = index.add(
        article.id,
        article.search_text or article.text,
        title=article.search_title or article.title,
        published=article.published,
        url=article.url,
        source=article.source,
        normalized=bool(article.search_text),
    )
    _apply(article, result)
    return result


def _apply(article: Article, result: DedupResult) -> None:
    article.fingerprint = result.fingerprint
    article.duplicate_of = result.duplicate_of
    article.cluster_id = result.cluster_id
    article.story_id = result.story_id


def open_index(path: Path, articles: Any = None) -> tuple[DedupIndex, int | None]:
    """Open the index kept in ``path``; when the file is missing, damaged or of another format (a damaged one is
    moved aside as ``<name>.damaged-<time>``), rebuild it from ``articles()`` (a callable giving the stored
    articles, e.g. ``backend.iter_articles``). Returns the index and how many articles it was rebuilt from
    (None: not rebuilt)."""
    missing = not path.exists()
    try:
        index = DedupIndex.open(path)
    except DedupError as exc:  # a damaged file is a lost one: set it aside and rebuild
        aside = path.with_name(f"{path.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        log.warning("%s; moved to %s, rebuilding", exc, aside.name)
        path.replace(aside)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        missing = True
        index = DedupIndex.open(path)
    if not missing or articles is None:
        return index, None
    try:
        return index, index.rebuild(articles())
    except BaseException:
        index.close()
        raise


class DedupPipeline:
    """Marks duplicates, clusters and stories; drops an exact duplicate of another URL of the same source.

    Built by :meth:`from_crawler` from the crawl's techscout settings (``TECHSCOUT_SETTINGS``: where the data
    directory is) and the spider's backend (the store a lost index is rebuilt from, through its protocol).
    """

    def __init__(
        self, data_dir: str | Path, stats: Any = None, settings: Settings | None = None, backend: Any = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = DataPaths(self.data_dir).dedup
        self.stats = stats
        self.settings = settings  # to open the store for a rebuild when no backend is given
        self.backend = backend  # the store of the crawl (search.backends.base.Backend)
        self.index: DedupIndex | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupPipeline:
        from scrapy.exceptions import NotConfigured

        settings = of_crawler(crawler)
        if settings is None:
            raise NotConfigured(f"the crawl has no techscout settings ({SCRAPY_KEY})")
        spider = getattr(crawler, "spider", None)
        return cls(settings.data_dir, crawler.stats, settings, getattr(spider, "backend", None))

    def open_spider(self) -> None:
        warm()  # load the kernels and tables now rather than on the first page (warns if one had to compile)
        self.index, rebuilt = open_index(self.path, self._stored_articles)
        if rebuilt:
            log.info("duplicate index rebuilt from the store: %d documents", rebuilt)

    def _stored_articles(self) -> Iterator[Article]:
        """The store's articles, to rebuild a lost index from (none when the store cannot be opened)."""
        if self.backend is not None:
            yield from self.backend.iter_articles()
            return
        if self.settings is None:
            log.warning("duplicate index not rebuilt: the crawl has no store")
            return
        if self.settings.backend == "embedded" and not self.settings.paths.store.exists():
            return  # a new data directory: nothing to rebuild from
        try:
            from search.backends import open_backend

            backend = open_backend(self.settings)
        except TechscoutError as exc:
            log.warning("duplicate index not rebuilt: the store cannot be opened: %s", exc)
            return
        try:
            yield from backend.iter_articles()
        finally:
            backend.close()

    def close_spider(self) -> None:
        if self.index is not None:
            index, self.index = self.index, None
            try:
                index.close()
            except DedupError as exc:  # e.g. a full disk: the documents are already written; only counters are lost
                log.error("duplicate index counters not saved: %s", exc)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.index is None:
            self.open_spider()
        assert self.index is not None
        text = item.search_text or item.text
        title = item.search_title or item.title
        probe = self.index.lookup(
            item.id,
            text,
            title=title,
            published=item.published,
            url=item.url,
            source=item.source,
            normalized=bool(item.search_text),
        )
        if probe.duplicate_of is not None:
            self._count()
            if probe.exact and self.index.source_of(probe.duplicate_of) == item.source:
                from scrapy.exceptions import DropItem

                raise DropItem(
                    f"duplicate: {item.url} has the same text as {probe.duplicate_of} ({item.source})"
                )
        dedup_article(self.index, item)
        return item

    def _count(self) -> None:
        if self.stats is not None:
            self.stats.inc_value("techscout/duplicates")
