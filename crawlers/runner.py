"""Run crawls: build one Scrapy crawler per source with that source's settings, run them, report.

``techscout crawl`` runs this in the foreground; the scheduler runs ``techscout crawl NAME`` in a subprocess
per crawl (a Twisted reactor cannot restart).
"""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path
from typing import Any

from core.settings import Settings
from crawlers.sources import Source


def scrapy_settings(settings: Settings, source: Source, *, run_id: str, max_pages: int,
                    progress: bool, jobdir: str | None = None) -> Any:
    """The Scrapy settings of one crawl of one source."""
    from scrapy.settings import Settings as ScrapySettings

    s = ScrapySettings()
    s.setmodule("crawlers.settings", priority="project")
    delay = settings.delay if source.delay is None else float(source.delay)
    concurrency = settings.concurrency if source.concurrency is None else source.concurrency
    s.set("USER_AGENT", settings.user_agent, priority="cmdline")
    s.set("DOWNLOAD_DELAY", delay, priority="cmdline")
    s.set("CONCURRENT_REQUESTS_PER_DOMAIN", concurrency, priority="cmdline")
    if delay <= 0:
        s.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
        s.set("RANDOMIZE_DOWNLOAD_DELAY", False, priority="cmdline")
    else:
        s.set("AUTOTHROTTLE_START_DELAY", delay, priority="cmdline")
    s.set("CLOSESPIDER_PAGECOUNT", max_pages + 50, priority="cmdline")
    s.set("URLLENGTH_LIMIT", 1024, priority="cmdline")
    # pagination chains are bounded by max_list_pages; the depth limit only has to stop what that does not
    s.set("DEPTH_LIMIT", source.max_list_pages + 3, priority="cmdline")
    s.set("DOWNLOAD_TIMEOUT", settings.timeout, priority="cmdline")
    s.set("LOG_LEVEL", settings.log_level, priority="cmdline")
    for key, value in settings.as_env().items():
        s.set(key, value, priority="cmdline")
    s.set("TECHSCOUT_SETTINGS", settings, priority="cmdline")
    s.set("TECHSCOUT_RUN_ID", run_id, priority="cmdline")
    s.set("TECHSCOUT_PROGRESS", progress, priority="cmdline")
    if jobdir:
        s.set("JOBDIR", str(Path(jobdir) / source.name), priority="cmdline")
    if source.render_js:
        handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        s.set("DOWNLOAD_HANDLERS", {"http": handler, "https": handler}, priority="cmdline")
        s.set(
            "PLAYWRIGHT_LAUNCH_OPTIONS",
            {"headless": True, "executable_path": settings.chromium, "args": s.getlist("CHROMIUM_ARGS")},
            priority="cmdline",
        )
        s.set("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", 30_000, priority="cmdline")
    return s


def crawl(
    settings: Settings,
    sources: list[Source],
    *,
    max_pages: int | None = None,
    run_id: str | None = None,
    progress: bool = False,
    jobdir: str | None = None,
) -> list[dict[str, Any]]:
    """Crawl the sources in this process (once: the reactor cannot restart). Returns one summary per source."""
    from scrapy.crawler import Crawler, CrawlerProcess

    from crawlers.extensions import CrawlReport
    from crawlers.spiders.generic import GenericSpider
    from search.backends import open_backend

    if not sources:
        return []
    run_id = run_id or uuid.uuid4().hex[:12]
    backend = open_backend(settings)
    from scrapy.settings import Settings as ScrapySettings

    base = ScrapySettings()
    base.setmodule("crawlers.settings", priority="project")
    base.set("LOG_LEVEL", settings.log_level, priority="cmdline")
    process = CrawlerProcess(base, install_root_handler=False)
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger().setLevel(getattr(logging, settings.log_level.upper(), logging.INFO))
    logging.getLogger("scrapy.core.scraper").setLevel(logging.WARNING)
    logging.getLogger("scrapy.spidermiddlewares").setLevel(logging.WARNING)
    # an unreachable site is reported in the crawl summary; its robots.txt failure needs no traceback
    logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
    for noisy in ("scrapy.core.engine", "scrapy.middleware", "scrapy.extensions.logstats", "scrapy.crawler",
                  "scrapy.addons", "scrapy.utils.log", "scrapy.extensions.telnet", "scrapy.statscollectors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    crawlers: list[tuple[Source, Crawler]] = []
    for source in sources:
        bound = max_pages or source.max_pages or settings.max_pages
        s = scrapy_settings(settings, source, run_id=f"{run_id}-{source.name}", max_pages=bound,
                            progress=progress, jobdir=jobdir)
        crawler = Crawler(GenericSpider, s, init_reactor=not crawlers)
        known = backend.url_states(source.name)
        process.crawl(crawler, source=source, known=known, max_pages=bound, revisit_days=settings.revisit_days,
                      backend=backend)
        crawlers.append((source, crawler))
    warm_up()
    process.start()
    summaries = []
    for source, crawler in crawlers:
        reports = [m for m in crawler.extensions.middlewares if isinstance(m, CrawlReport)]
        summary = dict(reports[0].summary) if reports else {}
        if not summary:
            summary = {"source": source.name, "status": "failed", "fetched": 0, "new": 0, "updated": 0,
                       "duplicates": 0, "errors": {"not-started": 1}}
        summaries.append(summary)
    backend.close()
    return summaries


_SAMPLE_PAGE = (
    "<html><head><title>科研团队研发新型储能材料_科技频道</title></head><body><h1>科研团队研发新型储能材料</h1>"
    "<p>发布时间：2024-05-01 来源：科技日报</p><p>近日，某大学科研团队在新型储能材料研究方面取得进展，"
    "相关成果发表在国际期刊上。研究人员表示，该材料有望应用于新能源汽车和电网储能。</p></body></html>"
)


def warm_up() -> None:
    """Load what the pipelines load lazily (models, dictionaries, converters) before the crawl starts, so the
    first pages of a crawl do not pay for it."""
    from pipelines.classify import classify
    from pipelines.dedup import DedupIndex
    from pipelines.extract import extract_article
    from pipelines.normalize import normalize_text

    extract_article(
        "<html><head><title>Battery research</title></head><body><article><h1>New storage material</h1><p>"
        + "Researchers report a new material for grid-scale energy storage, published in a journal. " * 6
        + "</p></article></body></html>",
        "http://example.com/news/2024/05/01/storage.html",
    )
    extraction = extract_article(_SAMPLE_PAGE, "http://example.cn/a/2024/0501/1.html")
    text = normalize_text(extraction.text)
    classify(normalize_text(extraction.title), text)
    DedupIndex().add("warm-up", text, title=extraction.title, published=extraction.published)


