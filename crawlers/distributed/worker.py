"""``techscout worker``: a crawler worker taking work from the shared frontier in Redis.

A worker is one long-lived process (one Twisted reactor, and one thread for the item pipelines). Every
:data:`POLL_SECONDS` it looks at the active crawls (``techscout crawl NAME --enqueue`` or the scheduler put them there) and joins
each one it is not yet part of, up to ``--max-crawls`` at a time: one Scrapy crawler per source, whose scheduler
is the shared leased frontier (:mod:`crawlers.distributed`). A crawler leaves its crawl when nothing is queued
or leased any more; the worker that sees this first ends the crawl. Any number of workers on any number of
machines may run at once; a worker that dies loses nothing (its leased requests return to the frontier).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, cast

from core.settings import Settings
from crawlers.distributed.connection import connect, job_key, redis_url_of, source_key, worker_id
from crawlers.distributed.frontier import LEASE_SECONDS, LeasedQueue
from crawlers.distributed.gate import DEFAULT_HANDLER
from crawlers.distributed.jobs import active_jobs, finish_job, job_pending, take_page_budget
from crawlers.distributed.state import RedisUrlStates
from crawlers.sources import Source
from crawlers.spiders.generic import GenericSpider

log = logging.getLogger(__name__)

MAX_STALL = 300.0  # seconds without a reactor beat after which a worker stops extending its leases
BEAT_SECONDS = 0.1  # how often a crawler looks for queued work while it has nothing in flight
POLL_SECONDS = 0.25  # how often a worker looks for crawls to join
HEARTBEAT_SECONDS = 2.0  # how often a worker extends its leases and reaps expired ones
GATE_HANDLER = "crawlers.distributed.gate.HostGateHandler"


class DistributedSpider(GenericSpider):
    """The generic spider on the shared frontier: no start requests of its own (the crawl's were enqueued),
    the page bound is shared by every worker, and it stays open while the crawl has work queued or leased."""

    def __init__(
        self,
        source: Source,
        *,
        server: Any,
        run_id: str,
        lease_seconds: float = LEASE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(source, **kwargs)
        self.server = server
        self.run_id = run_id
        self.lease_seconds = float(lease_seconds)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> DistributedSpider:
        from scrapy import signals

        spider: DistributedSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        for _ in ():
            yield None

    def _budget(self) -> bool:
        if take_page_budget(self.server, self.source.name, self.max_pages):
            self.requests_made += 1
            return True
        if not self.bounded:
            self.bounded = True
            self.logger.info("%s: page bound %d reached", self.source.name, self.max_pages)
            if self.crawler.stats:
                self.crawler.stats.set_value("techscout/bounded", True)
        return False

    def job_is_current(self) -> bool:
        raw = self.server.hget(job_key(self.source.name), "run_id")
        return raw is not None and raw.decode() == self.run_id

    def on_idle(self) -> None:
        from scrapy.exceptions import DontCloseSpider

        if not self.job_is_current():
            return  # the crawl ended (another worker saw it done): close
        scheduler = self.crawler.engine.scheduler if self.crawler.engine else None
        queue = getattr(scheduler, "queue", None)
        if isinstance(queue, LeasedQueue):
            queue.reap()
        if job_pending(self.server, self.source.name) == 0 and finish_job(
            self.server, self.source.name, self.run_id
        ):
            self.logger.info("%s: crawl %s finished", self.source.name, self.run_id)
            return
        raise DontCloseSpider


class LeaseKeeper:
    """Extension (distributed mode): acknowledges a leased request once its response and every item it produced
    have been processed, keeps this worker's leases alive, returns expired ones to the frontier and wakes the
    engine when work is queued."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._loop: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseKeeper:
        from scrapy import signals

        redis_url_of(crawler)  # NotConfigured without Redis
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def queue(self) -> LeasedQueue | None:
        engine = self.crawler.engine
        queue = getattr(engine.scheduler if engine else None, "queue", None)
        return queue if isinstance(queue, LeasedQueue) else None

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        scraper = self.crawler.engine.scraper
        slot = scraper.slot
        finish = slot.finish_response

        def finish_and_ack(result: Any, request: Any) -> None:
            finish(result, request)
            token = request.meta.pop("lease", None)
            queue = self.queue()
            if token and queue is not None:
                queue.ack(token)

        slot.finish_response = finish_and_ack
        self._beats = 0
        self._last_beat = time.monotonic()
        self._loop = task.LoopingCall(self.beat)
        self._loop.start(BEAT_SECONDS, now=False)
        # leases are extended from a thread: a reactor busy for a while (a slow pipeline, a locked store) must not
        # let them expire; a process stalled for MAX_STALL seconds is taken for dead and extends nothing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._extend_leases, name="lease-keeper", daemon=True)
        self._thread.start()

    def _extend_leases(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            queue = self.queue()
            if queue is None or time.monotonic() - self._last_beat > MAX_STALL:
                continue
            try:
                queue.extend()
            except Exception as exc:  # Redis briefly away: try again next time
                log.warning("lease upkeep failed: %s", exc)

    def beat(self) -> None:
        self._last_beat = time.monotonic()
        queue = self.queue()
        engine = self.crawler.engine
        if queue is None or engine is None or engine._slot is None:
            return
        self._beats += 1
        try:
            if self._beats % max(1, int(HEARTBEAT_SECONDS / BEAT_SECONDS)) == 0:
                queue.reap()
            if not engine.needs_backout() and len(queue):
                engine._slot.nextcall.schedule()
        except Exception as exc:  # Redis briefly away: try again next beat
            log.warning("lease upkeep failed: %s", exc)

    def spider_closed(self, spider: Any) -> None:
        self._stop.set()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        touched = getattr(spider, "touched", [])
        known = getattr(spider, "known", None)
        if touched and isinstance(known, RedisUrlStates):
            known.record(touched)


def worker_scrapy_settings(settings: Settings, source: Source, *, run_id: str, max_pages: int) -> Any:
    """The Scrapy settings of one source's crawl in a worker: the local ones, with the shared frontier,
    dupefilter, politeness gate and shared pipelines."""
    from crawlers.runner import scrapy_settings

    s = scrapy_settings(settings, source, run_id=run_id, max_pages=max_pages)
    delay = settings.delay if source.delay is None else float(source.delay)
    concurrency = settings.concurrency if source.concurrency is None else source.concurrency
    s.set("SCHEDULER", "crawlers.distributed.frontier.LeasingScheduler", priority="cmdline")
    s.set("SCHEDULER_QUEUE_CLASS", "crawlers.distributed.frontier.LeasedQueue", priority="cmdline")
    s.set("SCHEDULER_QUEUE_KEY", source_key("%(spider)s", "requests"), priority="cmdline")
    s.set("SCHEDULER_DUPEFILTER_KEY", source_key("%(spider)s", "seen"), priority="cmdline")
    s.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="cmdline")
    s.set("SCHEDULER_SERIALIZER", "crawlers.distributed.serializer", priority="cmdline")
    s.set("SCHEDULER_PERSIST", True, priority="cmdline")
    s.set("REDIS_URL", settings.redis_url, priority="cmdline")
    s.set("HOST_GATE_DELAY", max(delay, 0.0), priority="cmdline")
    # the shared gate spaces requests to a host; locally only the concurrency bound remains
    s.set("DOWNLOAD_DELAY", 0, priority="cmdline")
    s.set("DOWNLOAD_DELAY_JITTER", 0.0, priority="cmdline")
    s.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
    # lease only what can be fetched now, and let nothing wait in a downloader slot after passing the gate (a
    # request held there would leave at a time the gate did not choose): the crawl's bound is the per-site one
    s.set("CONCURRENT_REQUESTS", max(1, concurrency), priority="cmdline")
    s.set("CONCURRENT_REQUESTS_PER_DOMAIN", max(1, concurrency) + 1, priority="cmdline")
    s.set("CLOSESPIDER_PAGECOUNT", 0, priority="cmdline")  # the shared page bound applies
    # the shared gate is taken in the download handler, right before the request is sent: nothing that runs
    # between claim and download (middlewares, a busy reactor) can bring two requests to a host closer together
    handlers = dict(s.getdict("DOWNLOAD_HANDLERS"))
    inner = handlers.get("http") or DEFAULT_HANDLER
    s.set("HOST_GATE_HANDLER", inner, priority="cmdline")
    handlers.update({"http": GATE_HANDLER, "https": GATE_HANDLER})
    s.set("DOWNLOAD_HANDLERS", handlers, priority="cmdline")
    # robots.txt is fetched by one worker and shared with the others through Redis
    mws = dict(s.getdict("DOWNLOADER_MIDDLEWARES"))
    mws["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] = None
    mws["crawlers.distributed.robots.SharedRobotsTxt"] = 100
    s.set("DOWNLOADER_MIDDLEWARES", mws, priority="cmdline")
    # pages are extracted, classified and stored in a thread of their own, so the reactor stays free to send
    s.set("ITEM_PROCESSOR", "crawlers.distributed.pipelines.ThreadedItemPipelines", priority="cmdline")
    exts = dict(s.getdict("EXTENSIONS"))
    exts["crawlers.distributed.worker.LeaseKeeper"] = 520
    s.set("EXTENSIONS", exts, priority="cmdline")
    pipes = dict(s.getdict("ITEM_PIPELINES"))
    for local, shared in (
        ("pipelines.dedup.DedupPipeline", "crawlers.distributed.dedup.SharedDedupPipeline"),
        ("pipelines.store.StorePipeline", "crawlers.distributed.pipelines.SharedStorePipeline"),
        ("pipelines.extract.ExtractPipeline", "crawlers.distributed.pipelines.ThreadedExtractPipeline"),
    ):
        if local in pipes:
            pipes[shared] = pipes.pop(local)
    s.set("ITEM_PIPELINES", pipes, priority="cmdline")
    return s


def warm_up() -> None:
    """Load what the pipelines load lazily (modules, jieba's dictionary) before any request is let through the
    host gate: seconds of loading inside the reactor would hold requests that already passed it."""
    import importlib

    from crawlers import settings as scrapy_module

    for path in scrapy_module.ITEM_PIPELINES:
        importlib.import_module(path.rsplit(".", 1)[0])
    import jieba

    from crawlers.runner import warm_up as load_models

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    load_models()


class Worker:
    """Joins active crawls as they appear; one Scrapy crawler per source at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_crawls: int = 8,
        until_idle: bool = False,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.settings = settings
        self.max_crawls = max_crawls
        self.until_idle = until_idle
        self.lease_seconds = lease_seconds
        self.server = connect(settings.redis_url)
        self.id = worker_id()
        self.running: dict[str, Any] = {}  # source name -> crawler
        self.summaries: list[dict[str, Any]] = []
        self.stopping = False
        self.idle_beats = 0

    def run(self) -> int:
        from scrapy.crawler import CrawlerRunner
        from scrapy.utils.reactor import install_reactor
        from twisted.internet import task

        from crawlers.guard import GuardedResolver
        from crawlers.runner import base_settings
        from search.backends import open_backend

        warm_up()
        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        from twisted.internet import reactor

        # every connection of the worker goes to an address checked by the outbound-URL guard
        GuardedResolver(reactor, self.settings).install_on_reactor()
        self.runner = CrawlerRunner(base_settings(self.settings))
        self.backend = open_backend(self.settings)
        self._reactor: Any = cast(Any, reactor)
        loop = task.LoopingCall(self.poll)
        loop.start(POLL_SECONDS, now=True)

        def on_signal(signum: int, frame: Any) -> None:
            self._reactor.callFromThread(self.stop)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        log.info("worker %s waiting for crawls on %s", self.id, self.settings.redis_url)
        self._reactor.run(installSignalHandlers=False)
        self.backend.close()
        return 0 if all(s.get("status") != "failed" for s in self.summaries) else 1

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        stopped: Any = self.runner.stop()
        stopped.addBoth(lambda _: self._reactor.stop())

    def poll(self) -> None:
        if self.stopping:
            return
        try:
            jobs = active_jobs(self.server)
        except Exception as exc:
            log.warning("cannot read the active crawls: %s", exc)
            return
        for name, job in jobs.items():
            if name in self.running or len(self.running) >= self.max_crawls:
                continue
            self.join(job["source"], job["run_id"], job["max_pages"])
        if self.until_idle:
            self.idle_beats = self.idle_beats + 1 if not jobs and not self.running else 0
            if self.idle_beats >= 2:
                self.stop()

    def join(self, source: Source, run_id: str, max_pages: int) -> None:
        from scrapy.crawler import Crawler

        s = worker_scrapy_settings(self.settings, source, run_id=f"{run_id}-{self.id}", max_pages=max_pages)
        crawler = Crawler(DistributedSpider, s)
        known = RedisUrlStates(self.server, source.name)
        self.running[source.name] = crawler
        log.info("%s: joining crawl %s", source.name, run_id)
        dfd = self.runner.crawl(
            crawler,
            source=source,
            known=known,
            max_pages=max_pages,
            revisit_days=self.settings.revisit_days,
            backend=self.backend,
            server=self.server,
            run_id=run_id,
            lease_seconds=self.lease_seconds,
        )

        def done(result: Any) -> Any:
            self.running.pop(source.name, None)
            from crawlers.extensions import CrawlReport

            reports = [m for m in crawler.extensions.middlewares if isinstance(m, CrawlReport)]
            if reports and reports[0].summary:
                self.summaries.append(dict(reports[0].summary))
            return None

        dfd.addBoth(done)
