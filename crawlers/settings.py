"""Scrapy settings shared by every crawl (``scrapy.cfg`` points at this module).

techscout's own settings are declared once in :mod:`core.settings`; :func:`crawlers.runner.scrapy_settings`
generates each crawl's Scrapy settings from that one :class:`~core.settings.Settings` object (delay, concurrency,
timeout, user agent per source) and hands the object itself to the components under ``TECHSCOUT_SETTINGS``:
a component reads what it needs with :func:`settings_of` in its ``from_crawler``, never from the environment.
"""

from __future__ import annotations

from typing import Any

from core.settings import Settings, of_crawler

_DEFAULTS = Settings()  # the defaults of techscout's settings that are also Scrapy keys

BOT_NAME = "techscout"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"
USER_AGENT = _DEFAULTS.user_agent
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
CONCURRENT_REQUESTS = 16
# Scrapy starts this many tasks for every response's output, however little it yields (a page yields one item,
# a list page its links): 100, the default, cost ~1 ms of CPU a page in a crawl
CONCURRENT_ITEMS = 16
# the spiders' callbacks are known; Scrapy would otherwise parse their source again for every response (its
# cache holds bound methods weakly), ~0.7 ms of CPU a page
WARN_ON_GENERATOR_RETURN_VALUE = False
CONCURRENT_REQUESTS_PER_DOMAIN = _DEFAULTS.concurrency
DOWNLOAD_DELAY = _DEFAULTS.delay
DOWNLOAD_DELAY_JITTER = 0.2  # crawlers.runner sets each crawl's delay so that no wait is below ``delay``
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = _DEFAULTS.timeout
# the per-page budget in bytes: a page (after decompression: a gzip bomb is cut here too) larger than this is not
# read further and is reported as ``too-large``; article pages of the sites techscout reads are far below it
PAGE_MAX_BYTES = 8 * 1024 * 1024
DOWNLOAD_MAXSIZE = PAGE_MAX_BYTES
DOWNLOAD_WARNSIZE = 0  # the budget is reported per page (``too-large``), not warned about in the log
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
DEPTH_LIMIT = 8
COOKIES_ENABLED = False
# no remote control of a crawl process: Scrapy's telnet console and its HTTP remote control (which also writes
# token files into the user's state directory) stay off in every crawl
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = _DEFAULTS.log_level
LOG_INSTALL_ROOT_HANDLER = False  # crawlers.logs configures logging (one line per event, no page bodies)
LOG_FORMATTER = "crawlers.logs.CrawlLogFormatter"
LOG_VERSIONS: list[str] = []  # the library versions are not part of a crawl's log
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# every connection goes to an address checked by the outbound-URL guard (core.netguard)
TWISTED_DNS_RESOLVER = "crawlers.guard.GuardedResolver"
FEED_EXPORT_ENCODING = "utf-8"
HTTPERROR_ALLOW_ALL = False

EXTENSIONS = {
    "crawlers.extensions.CrawlReport": 500,
    "crawlers.health.ExtractionHealth": 510,
}
DOWNLOADER_MIDDLEWARES = {
    # before robots.txt (100): a request to a private address is refused before anything is sent for it
    "crawlers.guard.OutboundGuardMiddleware": 50,
    "crawlers.middlewares.PolitenessMiddleware": 580,  # after robots.txt (100), sees answers before retry (550)
    # Scrapy's meta-refresh redirects (580), without decoding pages that hold none
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawlers.middlewares.MetaRefreshMiddleware": 580,
}
ITEM_PIPELINES = {
    "pipelines.extract.ExtractPipeline": 100,
    "pipelines.normalize.NormalizePipeline": 200,
    "pipelines.spam.SpamPipeline": 300,
    "pipelines.dedup.DedupPipeline": 400,
    "pipelines.classify.ClassifyPipeline": 500,
    "pipelines.route.RoutePipeline": 600,
    "pipelines.store.StorePipeline": 900,
}

PLAYWRIGHT_BROWSER_TYPE = "chromium"
# every request the browser makes for a page is checked by the outbound-URL guard first
PLAYWRIGHT_ABORT_REQUEST = "crawlers.guard.browser_request_blocked"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def settings_of(crawler: Any) -> Settings:
    """The crawl's techscout settings (the one :class:`~core.settings.Settings` object the runner handed to
    Scrapy); the defaults when a component runs outside a techscout crawl (unit tests)."""
    return of_crawler(crawler) or _DEFAULTS
