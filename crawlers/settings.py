"""Scrapy settings shared by every crawl (``scrapy.cfg`` points at this module).

techscout's own settings are declared in :mod:`core.settings`; the per-source and per-run values (delay,
concurrency, timeout, user agent, pipelines' data directory …) are set from them by :mod:`crawlers.runner`.
"""

from __future__ import annotations

from core.settings import Settings

_DEFAULTS = Settings()  # the defaults of techscout's settings that are also Scrapy keys

BOT_NAME = "techscout"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"
USER_AGENT = _DEFAULTS.user_agent
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = _DEFAULTS.concurrency
DOWNLOAD_DELAY = _DEFAULTS.delay
RANDOMIZE_DOWNLOAD_DELAY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = _DEFAULTS.timeout
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
DEPTH_LIMIT = 8
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = _DEFAULTS.log_level
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
HTTPERROR_ALLOW_ALL = False

EXTENSIONS = {
    "crawlers.extensions.CrawlReport": 500,
    "crawlers.health.ExtractionHealth": 510,
}
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.PolitenessMiddleware": 580,  # after robots.txt (100), sees answers before retry (550)
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
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
