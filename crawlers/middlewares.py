"""Downloader middleware for politeness over time: ``Retry-After`` and robots.txt ``Crawl-delay``.

* A ``429`` or ``503`` answer with a ``Retry-After`` header (seconds or an HTTP date) pauses every request to that
  host until the time has passed (at most :data:`MAX_RETRY_AFTER` seconds), then asks again, up to
  :data:`RETRY_AFTER_TIMES` times; after that the answer goes on to Scrapy's retry and error handling.
* A ``Crawl-delay`` in the host's robots.txt (read with Protego, Scrapy's robots parser) spaces requests to that
  host at least that far apart (at most :data:`MAX_CRAWL_DELAY` seconds), whatever AutoThrottle would do.

The pure helpers (:func:`parse_retry_after`, :func:`crawl_delay_of`, :class:`HostPacer`) work without Scrapy.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware
from scrapy.http import Request, Response

log = logging.getLogger("techscout.polite")
MAX_RETRY_AFTER = 300.0
RETRY_AFTER_TIMES = 3
MAX_CRAWL_DELAY = 60.0
RETRY_AFTER_CODES = (429, 503)


def parse_retry_after(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); None when absent or invalid."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def crawl_delay_of(robots_body: bytes | str, user_agent: str) -> float | None:
    """The ``Crawl-delay`` a robots.txt asks of ``user_agent`` (Protego), or None."""
    from protego import Protego

    text = robots_body.decode("utf-8", "replace") if isinstance(robots_body, bytes) else robots_body
    try:
        delay = Protego.parse(text).crawl_delay(user_agent)
    except Exception:  # a malformed robots.txt asks for nothing
        return None
    return float(delay) if delay is not None else None


class HostPacer:
    """When the next request to each host may start: a minimum spacing between starts, and pauses until a time.

    :meth:`take` either grants a start now (and remembers it) or says how long to wait before asking again, so
    requests waiting for one host start one by one, each at least the spacing after the previous one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.spacing: dict[str, float] = {}
        self.last_start: dict[str, float] = {}
        self.paused_until: dict[str, float] = {}

    def set_spacing(self, host: str, seconds: float) -> None:
        self.spacing[host] = max(self.spacing.get(host, 0.0), seconds)

    def pause(self, host: str, seconds: float) -> None:
        self.paused_until[host] = max(self.paused_until.get(host, 0.0), self.clock() + seconds)

    def take(self, host: str) -> float:
        """0 and the start is booked, or the seconds to wait before asking again."""
        now = self.clock()
        wait = 0.0
        if host in self.last_start:
            wait = self.last_start[host] + self.spacing.get(host, 0.0) - now
        wait = max(wait, self.paused_until.get(host, 0.0) - now)
        if wait > 0.001:
            return wait
        self.last_start[host] = now
        return 0.0


def host_of(url: str) -> str:
    """The host (with port) a politeness delay applies to, lower-cased."""
    return (urlsplit(url).netloc or "").lower()


class PolitenessMiddleware:
    """Honours ``Retry-After`` and robots.txt ``Crawl-delay`` per host (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pacer = HostPacer()
        self.user_agent = str(crawler.settings.get("USER_AGENT") or "*")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessMiddleware:
        return cls(crawler)

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    async def process_request(self, request: Request) -> None:
        host = host_of(request.url)
        while (wait := self.pacer.take(host)) > 0:
            from scrapy.utils.defer import maybe_deferred_to_future
            from twisted.internet import reactor, task

            self._inc("techscout/polite_waits")
            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
        log.debug("polite start %s", request.url)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        host = host_of(request.url)
        if urlsplit(request.url).path == "/robots.txt" and response.status == 200:
            delay = crawl_delay_of(response.body, self.user_agent)
            if delay and delay > 0:
                self.pacer.set_spacing(host, min(delay, MAX_CRAWL_DELAY))
                if self.crawler.stats is not None:
                    self.crawler.stats.set_value("techscout/crawl_delay", min(delay, MAX_CRAWL_DELAY))
            return response
        if response.status in RETRY_AFTER_CODES:
            wait = parse_retry_after(response.headers.get(b"Retry-After"))
            times = int(request.meta.get("retry_after_times", 0))
            if wait is not None and times < RETRY_AFTER_TIMES:
                self.pacer.pause(host, min(wait, MAX_RETRY_AFTER))
                self._inc("techscout/retry_after")
                meta: dict[str, Any] = {**request.meta, "retry_after_times": times + 1}
                return request.replace(meta=meta, dont_filter=True)
        return response


# "refresh" in any encoding a page can come in: ASCII-compatible ones, UTF-16 and UTF-32 (NULs between letters)
_REFRESH = re.compile(rb"(?i)r\x00{0,3}e\x00{0,3}f\x00{0,3}r\x00{0,3}e\x00{0,3}s\x00{0,3}h")
_REFRESH_SCAN = 4 * 4096 + 4  # Scrapy reads the first 4,096 characters: at most 4 bytes each, after a BOM


class MetaRefreshMiddleware(ScrapyMetaRefreshMiddleware):
    """Scrapy's ``<meta http-equiv="refresh">`` redirects, without decoding pages that cannot hold one.

    Scrapy decodes the whole response (``response.text``) to read its first 4,096 characters for every HTML
    page, ~0.5 ms of CPU a page that the spider then decodes again in its own way. A page whose first bytes
    do not spell "refresh" has no such tag there, and is passed on undecoded; any other goes to Scrapy's.
    """

    # without Scrapy's deprecated ``spider`` argument (Scrapy passes it only to methods that take it)
    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if not _REFRESH.search(response.body, 0, _REFRESH_SCAN):
            return response
        return super().process_response(request, response)
