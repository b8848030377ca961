"""The crawl report: what one crawl of one source did — its progress line, its summary and its run record.

The summary (and the run record, ``runs`` collection) holds: ``fetched``, ``new``, ``updated``, ``unchanged``,
``duplicates``, ``not_modified``, ``known_skipped``; ``errors`` (requests that brought no page) and ``not_stored``
(pages fetched that gave no document) by kind, each with example URLs (``error_examples``,
``not_stored_examples``; the kinds and their Chinese labels are :mod:`crawlers.errors_kinds`); ``dropped_items``
(list items that gave no article, with the list and the reason); ``new_ids`` / ``updated_ids``; the extraction
``health``; and ``status``:

* ``failed`` — nothing could be fetched, the start pages failed, or the store could not write (``store-failed``:
  those pages are not marked known, the next crawl fetches them again);
* ``partial`` — some requests failed;
* ``ok`` — everything fetched (pages not stored for a reason of their own are reported, not errors).
"""

from __future__ import annotations

import json
import logging
import resource
import time
import uuid
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from core import clock
from core.errors import TechscoutError
from crawlers.errors_kinds import drop_kind
from crawlers.health import rates_from_stats
from crawlers.logs import ProgressLine, progress_loop
from pipelines.extract import processes as extraction_processes

log = logging.getLogger(__name__)
STORE_FAILED = "store-failed"
EXAMPLES = 5


def _store_pipeline(crawler: Crawler) -> Any:
    """The crawl's store stage (the item pipeline keeping ``new_ids`` and ``failed_urls``), if any."""
    engine = getattr(crawler, "engine", None)
    itemproc = getattr(getattr(engine, "scraper", None), "itemproc", None)
    for pipe in getattr(itemproc, "middlewares", ()):
        if hasattr(pipe, "new_ids") and hasattr(pipe, "failed_urls"):
            return pipe
    return None


def stored_ids(crawler: Crawler) -> dict[str, list[str]]:
    """Ids of the documents the store pipeline added (``new_ids``) and changed (``updated_ids``) in this crawl."""
    pipe = _store_pipeline(crawler)
    if pipe is None:
        return {"new_ids": [], "updated_ids": []}
    return {"new_ids": list(pipe.new_ids), "updated_ids": list(pipe.updated_ids)}


def run_status(summary: dict[str, Any]) -> str:
    """failed: nothing fetched, the start pages failed, or the store failed; partial: some requests failed;
    ok: none did."""
    if summary.get("errors", {}).get(STORE_FAILED):
        return "failed"
    if summary.get("fetched", 0) == 0:
        return "failed"
    errors = sum(n for k, n in summary.get("errors", {}).items() if k != "robots")
    if summary.get("start_failed"):
        return "failed" if summary.get("fetched", 0) <= summary.get("start_failed", 0) else "partial"
    if summary.get("finish_reason") not in (None, "finished", "closespider_pagecount"):
        return "partial"
    return "partial" if errors else "ok"


class _Progress:
    """The process's one progress line, showing every running crawl."""

    line: ProgressLine | None = None
    reports: list[CrawlReport] = []
    loop: Any = None

    @classmethod
    def add(cls, report: CrawlReport, line: ProgressLine) -> None:
        cls.line = line
        cls.reports.append(report)
        if cls.loop is None:
            cls.loop = progress_loop(line, lambda: [r.progress_text() for r in cls.reports])

    @classmethod
    def remove(cls, report: CrawlReport) -> None:
        if report in cls.reports:
            cls.reports.remove(report)
        if cls.line is not None:
            cls.line.show("  ".join(r.progress_text() for r in [*cls.reports, report]))
        if not cls.reports:
            if cls.loop is not None and cls.loop.running:
                cls.loop.stop()
            cls.loop = None
            if cls.line is not None:
                cls.line.finish()


class CrawlReport:
    """Collects what one crawl of one source did; draws the progress line; records the run in the backend."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        progress = crawler.settings.get("TECHSCOUT_PROGRESS")
        self.progress: ProgressLine | None = progress if isinstance(progress, ProgressLine) else None
        self.run_id = crawler.settings.get("TECHSCOUT_RUN_ID") or uuid.uuid4().hex[:12]
        self.summary: dict[str, Any] = {}
        self.started = ""
        self.t0 = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(ext.request_scheduled, signal=signals.request_scheduled)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.started = clock.now_iso()
        self.t0 = time.monotonic()
        if self.progress is not None:
            _Progress.add(self, self.progress)
        backend = getattr(spider, "backend", None)
        if backend is not None:  # the run is under way (a launcher can tell a crawl that began from one that did not)
            try:
                current = backend.get_record("runs", self.run_id) or {}
                backend.put_record("runs", self.run_id, {**current, "id": self.run_id, "source": spider.name,
                                                         "status": "running", "started": self.started,
                                                         "crawling": True})
            except Exception as exc:  # a broken store shows when the crawl stores its first documents
                log.warning("%s: the run could not be recorded as started: %s", spider.name, exc)

    # -- outcomes of pages and requests ----------------------------------------------------------------------------
    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any) -> None:
        """A pipeline stage dropped a page: not stored, for the stage's reason."""
        reason = drop_kind(exception)
        if reason == "duplicate" and self.crawler.stats is not None:
            self.crawler.stats.inc_value("techscout/duplicates_dropped")
        note = getattr(spider, "note_not_stored", None)
        if note is not None:
            note(reason, str(getattr(item, "url", "") or getattr(response, "url", "")))

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        """A pipeline stage failed on a page (e.g. the extractor's budget): not stored, and the crawl goes on."""
        exc = getattr(failure, "value", failure)
        reason = drop_kind(exc) if isinstance(exc, BaseException) else "pipeline-error"
        if reason == "dropped":
            reason = "pipeline-error"
        note = getattr(spider, "note_not_stored", None)
        if note is not None:
            note(reason, str(getattr(item, "url", "") or getattr(response, "url", "")))

    def request_dropped(self, request: Any, spider: Any) -> None:
        """A redirect to a URL already requested ends in the duplicate filter: a redirect loop."""
        hops = request.meta.get("redirect_urls") or []
        if hops:
            error = getattr(spider, "_error", None)
            if error is not None:
                error("redirect-loop", str(hops[0]))
                spider.logger.warning("%s failed: redirect-loop (back to %s)", hops[0], request.url)

    def request_scheduled(self, request: Any, spider: Any) -> None:
        """A redirect off the source's hosts is dropped by Scrapy's offsite filter without a word: say so."""
        if not request.meta.get("redirect_urls") or request.dont_filter or request.meta.get("allow_offsite"):
            return
        engine = getattr(self.crawler, "engine", None)
        manager = getattr(getattr(engine, "downloader", None), "middleware", None)
        for mw in getattr(manager, "middlewares", ()):
            follow = getattr(mw, "should_follow", None)
            if type(mw).__name__ == "OffsiteMiddleware" and follow is not None and not follow(request, spider):
                error = getattr(spider, "_error", None)
                if error is not None:
                    first = str(request.meta["redirect_urls"][0])
                    error("off-site", first)
                    spider.logger.warning("%s failed: off-site (redirected to %s)", first, request.url)
                return

    # -- counts, progress, summary ---------------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        stats = self.crawler.stats
        assert stats is not None
        get = stats.get_value

        def by_prefix(prefix: str) -> dict[str, int]:
            return {k[len(prefix):]: int(v) for k, v in stats.get_stats().items() if k.startswith(prefix)}

        return {
            "fetched": int(get("response_received_count", 0) or 0),
            "new": int(get("techscout/new", 0) or 0),
            "updated": int(get("techscout/updated", 0) or 0),
            "unchanged": int(get("techscout/unchanged", 0) or 0),
            "duplicates": int(get("techscout/duplicates", 0) or 0),
            "dropped": int(get("item_dropped_count", 0) or 0),
            "not_modified": int(get("techscout/not_modified", 0) or 0),
            "known_skipped": int(get("techscout/known_skipped", 0) or 0),
            "errors": by_prefix("techscout/errors/"),
            "not_stored": by_prefix("techscout/not_stored/"),
        }

    def progress_text(self) -> str:
        spider = self.crawler.spider
        c = self.counts()
        err = sum(c["errors"].values())
        return (f"[{getattr(spider, 'name', '?')}] fetched {c['fetched']} · new {c['new']} · updated {c['updated']}"
                f" · not stored {sum(c['not_stored'].values())} · errors {err}")

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.progress is not None:
            _Progress.remove(self)
        c = self.counts()
        store = _store_pipeline(self.crawler)
        examples = {k: list(v) for k, v in dict(getattr(spider, "errors", {})).items()}
        not_stored_examples = {k: list(v) for k, v in dict(getattr(spider, "not_stored", {})).items()}
        if store is not None and (store.failed_urls or store.error):
            # the store's failed writes: pages left unmarked (fetched again next time), and an error of the run
            failed = list(dict.fromkeys(store.failed_urls))
            c["not_stored"][STORE_FAILED] = c["not_stored"].get(STORE_FAILED, 0) + len(failed)
            not_stored_examples[STORE_FAILED] = [*not_stored_examples.get(STORE_FAILED, []), *failed][:EXAMPLES]
            c["errors"][STORE_FAILED] = c["not_stored"][STORE_FAILED] or 1
            examples[STORE_FAILED] = [store.error]
            outcomes = getattr(spider, "outcomes", None)
            if isinstance(outcomes, dict):
                outcomes.update(dict.fromkeys(failed, STORE_FAILED))
        start_urls = list(getattr(getattr(spider, "source", None), "start_urls", []))
        start_failed = sum(1 for urls in examples.values() for u in urls if u in start_urls)
        dropped_items = spider.dropped_list_items() if hasattr(spider, "dropped_list_items") else []
        self.summary = {
            "id": self.run_id,
            "source": spider.name,
            "started": self.started,
            "finished": clock.now_iso(),
            "seconds": round(time.monotonic() - self.t0, 2),
            "finish_reason": reason,
            "bounded": bool(getattr(spider, "bounded", False)),
            "start_failed": start_failed,
            **c,
            "error_examples": examples,
            "not_stored_examples": not_stored_examples,
            "list_items": len(getattr(spider, "list_items", {})),
            "dropped_items": dropped_items,
            # the crawl process's peak resident memory so far (MB): the scheduler sizes its slots by it
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            # pages were extracted in this many processes beside the crawl (0: in the crawl process)
            "extraction_processes": extraction_processes.count(),
        }
        self.summary["status"] = run_status(self.summary)
        self.summary.update(stored_ids(self.crawler))
        self.summary["health"] = rates_from_stats(self.crawler.stats.get_stats() if self.crawler.stats else {})
        jobdir = self.crawler.settings.get("JOBDIR")
        if jobdir:  # tells the launcher whether the crawl state can be resumed
            Path(jobdir).mkdir(parents=True, exist_ok=True)
            (Path(jobdir) / "closed.json").write_text(json.dumps({"reason": reason, "run": self.run_id}))
        backend = getattr(spider, "backend", None)
        touched = getattr(spider, "touched", [])
        if backend is None:
            return
        try:
            if touched:
                backend.record_url_states(touched)
            backend.put_record("runs", self.run_id, self.summary)
        except Exception as exc:  # a broken store: the summary is still printed, and the run is a failure
            message = str(exc) if isinstance(exc, TechscoutError) else f"{type(exc).__name__}: {exc}"
            log.error("%s: the run could not be recorded: %s", spider.name, message)
            self.summary["status"] = "failed"
            self.summary["record_error"] = message[:300]
