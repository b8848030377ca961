"""Crawl-level extensions: the crawl report (progress line, summary, run record)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet import task

from core import clock
from crawlers.health import rates_from_stats


def stored_ids(crawler: Crawler) -> dict[str, list[str]]:
    """Ids of the documents the store pipeline added (``new_ids``) and changed (``updated_ids``) in this crawl."""
    engine = getattr(crawler, "engine", None)
    itemproc = getattr(getattr(engine, "scraper", None), "itemproc", None)
    for pipe in getattr(itemproc, "middlewares", ()):
        if hasattr(pipe, "new_ids") and hasattr(pipe, "updated_ids"):
            return {"new_ids": list(pipe.new_ids), "updated_ids": list(pipe.updated_ids)}
    return {"new_ids": [], "updated_ids": []}


def run_status(summary: dict[str, Any]) -> str:
    """ok: no errors; partial: some requests failed; failed: nothing could be fetched."""
    if summary.get("finish_reason") not in (None, "finished", "closespider_pagecount") and summary.get("fetched", 0) == 0:
        return "failed"
    errors = sum(n for k, n in summary.get("errors", {}).items() if k != "robots")
    if summary.get("fetched", 0) == 0:
        return "failed"
    if summary.get("start_failed"):
        return "failed" if summary.get("fetched", 0) <= summary.get("start_failed", 0) else "partial"
    return "partial" if errors else "ok"


class CrawlReport:
    """Collects what one crawl of one source did; prints a progress line; records the run in the backend."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.progress = bool(crawler.settings.getbool("TECHSCOUT_PROGRESS", False))
        self.run_id = crawler.settings.get("TECHSCOUT_RUN_ID") or uuid.uuid4().hex[:12]
        self.summary: dict[str, Any] = {}
        self.started = ""
        self._loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.started = clock.now_iso()
        self.t0 = time.monotonic()
        if self.progress:
            self._loop = task.LoopingCall(self.print_progress)
            self._loop.start(2.0, now=False)

    def counts(self) -> dict[str, Any]:
        stats = self.crawler.stats
        assert stats is not None
        get = stats.get_value
        errors = {
            k.split("/", 2)[2]: int(v) for k, v in stats.get_stats().items() if k.startswith("techscout/errors/")
        }
        return {
            "fetched": int(get("response_received_count", 0) or 0),
            "new": int(get("techscout/new", 0) or 0),
            "updated": int(get("techscout/updated", 0) or 0),
            "unchanged": int(get("techscout/unchanged", 0) or 0),
            "duplicates": int(get("techscout/duplicates", 0) or 0),
            "dropped": int(get("item_dropped_count", 0) or 0),
            "not_modified": int(get("techscout/not_modified", 0) or 0),
            "known_skipped": int(get("techscout/known_skipped", 0) or 0),
            "errors": errors,
        }

    def print_progress(self) -> None:
        spider = self.crawler.spider
        c = self.counts()
        err = sum(c["errors"].values())
        sys.stderr.write(
            f"\r[{getattr(spider, 'name', '?')}] fetched {c['fetched']} · new {c['new']} · updated {c['updated']}"
            f" · duplicates {c['duplicates']} · errors {err}   "
        )
        sys.stderr.flush()

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
            self.print_progress()
            sys.stderr.write("\n")
        c = self.counts()
        examples = dict(getattr(spider, "errors", {}))
        start_urls = list(getattr(getattr(spider, "source", None), "start_urls", []))
        start_failed = sum(1 for urls in examples.values() for u in urls if u in start_urls)
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
        }
        self.summary["status"] = run_status(self.summary)
        if reason not in ("finished", "closespider_pagecount"):
            self.summary["status"] = "partial" if c["fetched"] else "failed"
        self.summary.update(stored_ids(self.crawler))
        self.summary["health"] = rates_from_stats(self.crawler.stats.get_stats() if self.crawler.stats else {})
        jobdir = self.crawler.settings.get("JOBDIR")
        if jobdir:  # tells the scheduler whether the crawl state can be resumed
            Path(jobdir).mkdir(parents=True, exist_ok=True)
            (Path(jobdir) / "closed.json").write_text(json.dumps({"reason": reason, "run": self.run_id}))
        backend = getattr(spider, "backend", None)
        touched = getattr(spider, "touched", [])
        if backend is not None:
            if touched:
                backend.record_url_states(touched)
            backend.put_record("runs", self.run_id, self.summary)
