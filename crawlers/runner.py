"""Run crawls in this process: one Scrapy crawler per source with that source's settings, all in one
``CrawlerProcess``; return one summary per source.

``techscout crawl`` runs this in the foreground; the launcher (:mod:`crawlers.launch`) runs ``techscout crawl
NAME`` in a process of its own per crawl (a Twisted reactor cannot restart). The Scrapy settings of a crawl are
generated here from the one :class:`~core.settings.Settings` object, which the components receive whole
(``TECHSCOUT_SETTINGS``, read with :func:`crawlers.settings.settings_of`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from core.settings import SCRAPY_KEY, Settings
from crawlers.logs import ProgressLine, configure_logging
from crawlers.sources import Source

POLITE_JITTER = 0.2  # waits between requests to a site vary by ±20 % around 1.25 × delay: never below delay


def base_settings(settings: Settings) -> Any:
    """The Scrapy settings shared by every crawl of the process (the reactor's resolver reads them)."""
    from scrapy.settings import Settings as ScrapySettings

    s = ScrapySettings()
    s.setmodule("crawlers.settings", priority="project")
    s.set("LOG_LEVEL", settings.log_level, priority="cmdline")
    s.set(SCRAPY_KEY, settings, priority="cmdline")
    return s


def scrapy_settings(settings: Settings, source: Source, *, run_id: str, max_pages: int,
                    progress: ProgressLine | None = None, jobdir: str | None = None) -> Any:
    """The Scrapy settings of one crawl of one source, generated from ``settings``."""
    s = base_settings(settings)
    delay = settings.delay if source.delay is None else float(source.delay)
    concurrency = settings.concurrency if source.concurrency is None else source.concurrency
    s.set("USER_AGENT", settings.user_agent, priority="cmdline")
    # ``delay`` is the least time between two requests to a site: Scrapy draws each wait from
    # DOWNLOAD_DELAY × [1 - jitter, 1 + jitter], so the waits here are drawn from [delay, 1.5 × delay]
    s.set("DOWNLOAD_DELAY", delay / (1 - POLITE_JITTER), priority="cmdline")
    s.set("DOWNLOAD_DELAY_JITTER", POLITE_JITTER, priority="cmdline")
    s.set("CONCURRENT_REQUESTS_PER_DOMAIN", concurrency, priority="cmdline")
    # no more requests in the downloader than the source's sites take at once: requests waiting there for their
    # politeness delay would all be fetched, one delay apart, before a stopped crawl could close and checkpoint
    hosts = max(1, len(set(source.allowed_domains)))
    s.set("CONCURRENT_REQUESTS", max(1, min(16, concurrency * hosts)), priority="cmdline")
    if delay <= 0:
        s.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
        s.set("DOWNLOAD_DELAY_JITTER", 0.0, priority="cmdline")
    else:
        s.set("AUTOTHROTTLE_START_DELAY", delay / (1 - POLITE_JITTER), priority="cmdline")
    s.set("CLOSESPIDER_PAGECOUNT", max_pages + 50, priority="cmdline")
    s.set("URLLENGTH_LIMIT", 1024, priority="cmdline")
    # pagination chains are bounded by max_list_pages; the depth limit only has to stop what that does not
    s.set("DEPTH_LIMIT", source.max_list_pages + 3, priority="cmdline")
    s.set("DOWNLOAD_TIMEOUT", settings.timeout, priority="cmdline")
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
        # a rendered page loads its scripts and their requests too: never less than 30 s
        s.set("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT", max(30, settings.timeout) * 1000, priority="cmdline")
    return s


def not_started(source: Source, reason: str = "") -> dict[str, Any]:
    """The summary of a source whose crawl could not start."""
    return {"source": source.name, "status": "failed", "fetched": 0, "new": 0, "updated": 0, "duplicates": 0,
            "errors": {"not-started": 1}, "error_examples": {"not-started": [reason or "see the crawl log"]}}


def crawl(
    settings: Settings,
    sources: list[Source],
    *,
    max_pages: int | None = None,
    run_id: str | None = None,
    progress: ProgressLine | None = None,
    jobdir: str | None = None,
    log_files: dict[str, Path] | None = None,
) -> list[dict[str, Any]]:
    """Crawl the sources in this process (once: the reactor cannot restart). Returns one summary per source.

    ``progress``: the terminal's progress line; ``log_files``: source name → its crawl log (the log of the
    crawl is written there besides stderr). Raises :class:`~core.errors.BackendError` when the store cannot
    be opened (corrupt, locked, unreachable) — before anything is fetched."""
    from scrapy.crawler import Crawler, CrawlerProcess

    from crawlers.extensions import CrawlReport
    from crawlers.spiders.generic import GenericSpider
    from pipelines.extract import processes as extraction
    from search.backends import open_backend

    if not sources:
        return []
    run_id = run_id or uuid.uuid4().hex[:12]
    configure_logging(settings.log_level, progress=progress, files=log_files)
    backend = open_backend(settings)
    try:
        process = CrawlerProcess(base_settings(settings))
        configure_logging(settings.log_level, progress=progress, files=log_files)  # over Scrapy's own set-up
        crawlers: list[tuple[Source, Crawler]] = []
        for source in sources:
            bound = max_pages or source.max_pages or settings.max_pages
            s = scrapy_settings(settings, source, run_id=f"{run_id}-{source.name}", max_pages=bound,
                                progress=progress, jobdir=jobdir)
            crawler = Crawler(GenericSpider, s, init_reactor=not crawlers)
            known = backend.url_states(source.name)
            process.crawl(crawler, source=source, known=known, max_pages=bound,
                          revisit_days=settings.revisit_days, backend=backend)
            crawlers.append((source, crawler))
        warm_up()
        extraction.start(settings.extract_processes)  # forked here: after the warm-up, before the reactor runs
        process.start()
        summaries = []
        for source, crawler in crawlers:
            extensions = getattr(crawler, "extensions", None)
            reports = [m for m in getattr(extensions, "middlewares", ()) if isinstance(m, CrawlReport)]
            summary = dict(reports[0].summary) if reports else {}
            summaries.append(summary or not_started(source))
    finally:
        extraction.stop()
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
    from pipelines.route.lexicon import load_people

    extract_article(
        "<html><head><title>Battery research</title></head><body><article><h1>New storage material</h1><p>"
        + "Researchers report a new material for grid-scale energy storage, published in a journal. " * 6
        + "</p></article></body></html>",
        "http://example.com/news/2024/05/01/storage.html",
    )
    extraction = extract_article(_SAMPLE_PAGE, "http://example.cn/a/2024/0501/1.html")
    text = normalize_text(extraction.text)
    classify(normalize_text(extraction.title), text)
    classify(normalize_text(extraction.title), "")  # a headline alone: short texts have a head of their own
    DedupIndex().add("warm-up", text, title=extraction.title, published=extraction.published)
    load_people()  # the routing stage's lexicon of people (read when a document names someone)


