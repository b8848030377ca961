"""A crawl's logging: one line per event, never a page body, and a progress line that log lines do not break.

* :class:`CrawlLogFormatter` (Scrapy's ``LOG_FORMATTER``) logs a page that was not stored, or that a stage
  failed on, as one line with its URL and the reason — Scrapy's own formatter writes the whole item (the page's
  HTML) into the log;
* :func:`configure_logging` sets one level for every handler (so Scrapy's DEBUG lines stay out at INFO), quiets
  the components whose messages the crawl summary already carries (retries, redirects, robots.txt, duplicate
  requests), writes the log of each source's crawl to its log file when asked, and keeps the progress line
  (:class:`ProgressLine`) intact: a log line clears it, is written, and the progress line is drawn again below.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from scrapy.logformatter import LogFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: loggers whose messages the crawl summary carries already (each failure is logged once, by the spider)
QUIET = {
    "scrapy.core.engine": logging.WARNING,
    "scrapy.middleware": logging.WARNING,
    "scrapy.extensions.logstats": logging.WARNING,
    "scrapy.extensions.telnet": logging.WARNING,
    "scrapy.crawler": logging.WARNING,
    "scrapy.addons": logging.WARNING,
    "scrapy.utils.log": logging.WARNING,
    "scrapy.statscollectors": logging.WARNING,
    "scrapy.spidermiddlewares": logging.WARNING,
    "scrapy.dupefilters": logging.WARNING,
    "scrapy.downloadermiddlewares.redirect": logging.WARNING,
    "scrapy.downloadermiddlewares.retry": logging.CRITICAL,  # the spider reports the final failure by kind
    "scrapy.downloadermiddlewares.robotstxt": logging.CRITICAL,  # an unreachable robots.txt is not an error
    "scrapy.core.downloader.handlers.http11": logging.ERROR,  # too-large pages are reported by kind
    "scrapy.downloadermiddlewares.httpcompression": logging.ERROR,  # decompression bombs: ditto
    "scrapy_redis": logging.WARNING,
    "apscheduler": logging.ERROR,  # the service logs job events itself
    "jieba": logging.WARNING,
    "asyncio": logging.WARNING,
}
MAX_REASON = 300  # characters of an exception message shown in a log line


def _url_of(item: Any, response: Any = None) -> str:
    url = getattr(item, "final_url", "") or getattr(item, "url", "")
    if not url and response is not None:
        url = getattr(response, "url", "")
    return str(url) or "?"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


class CrawlLogFormatter(LogFormatter):
    """Scrapy's log formatter without page bodies: an item is named by its URL, never written out."""

    def scraped(self, item: Any, response: Any, spider: Any) -> Any:
        return {"level": logging.DEBUG, "msg": "stored: %(url)s", "args": {"url": _url_of(item, response)}}

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> Any:
        from crawlers.errors_kinds import drop_kind

        return {
            "level": logging.INFO,
            "msg": "not stored: %(url)s (%(kind)s: %(reason)s)",
            "args": {"url": _url_of(item, response), "kind": drop_kind(exception), "reason": _short(exception)},
        }

    def item_error(self, item: Any, exception: BaseException, response: Any, spider: Any) -> Any:
        return {
            "level": logging.ERROR,
            "msg": "processing %(url)s failed: %(error)s: %(reason)s",
            "args": {"url": _url_of(item, response), "error": type(exception).__name__,
                     "reason": _short(exception)},
        }


class ProgressLine:
    """One status line at the bottom of a terminal, redrawn in place; log lines go above it."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.text = ""
        self.shown = False
        self.lock = threading.RLock()

    def show(self, text: str) -> None:
        with self.lock:
            self.text = text
            self._draw()

    def _draw(self) -> None:
        if self.text:
            self.stream.write("\r" + self.text + "\x1b[K")
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        with self.lock:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.shown = False

    def redraw(self) -> None:
        with self.lock:
            self._draw()

    def finish(self) -> None:
        """Leave the last progress line on the screen and go to the next line."""
        with self.lock:
            if self.shown:
                self.stream.write("\n")
                self.stream.flush()
            self.shown = False
            self.text = ""


class _ProgressAwareHandler(logging.StreamHandler):
    def __init__(self, stream: IO[str], progress: ProgressLine) -> None:
        super().__init__(stream)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        with self.progress.lock:
            self.progress.clear()
            super().emit(record)
            self.progress.redraw()


class _QuietFilter(logging.Filter):
    """Drops the records of :data:`QUIET` components below their level (a handler filter: Scrapy's own logging
    set-up resets logger levels, not handler filters)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        while name:
            quiet = QUIET.get(name)
            if quiet is not None:
                return record.levelno >= quiet
            name = name.rpartition(".")[0]
        return True


class _SourceFilter(logging.Filter):
    """Records of one source's crawl (those naming another source's spider go to that source's log)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source

    def filter(self, record: logging.LogRecord) -> bool:
        spider = getattr(record, "spider", None)
        name = getattr(spider, "name", None)
        return name is None or name == self.source


_INSTALLED: list[logging.Handler] = []


def configure_logging(
    level: str,
    *,
    progress: ProgressLine | None = None,
    files: Mapping[str, Path] | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Configure the process's logging for a crawl (or a service running crawls): ``level`` for every handler,
    the quiet components, the progress line, and one log file per source (``files``: source → path)."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    root = logging.getLogger()
    for handler in _INSTALLED:
        root.removeHandler(handler)
        handler.close()
    _INSTALLED.clear()
    out = stream or sys.stderr
    console: logging.Handler = _ProgressAwareHandler(out, progress) if progress else logging.StreamHandler(out)
    handlers = [console]
    for source, path in (files or {}).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(path, encoding="utf-8")
        fh.addFilter(_SourceFilter(source))
        handlers.append(fh)
    for handler in handlers:
        handler.setLevel(numeric)
        handler.addFilter(_QuietFilter())
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        _INSTALLED.append(handler)
    root.setLevel(numeric)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, numeric))
    logging.captureWarnings(True)


def progress_loop(line: ProgressLine, texts: Callable[[], list[str]], every: float = 2.0) -> Any:
    """A reactor loop drawing ``texts()`` (one part per running crawl) on the progress line every ``every`` s."""
    from twisted.internet import task

    def draw() -> None:
        parts = texts()
        if parts:
            line.show("  ".join(parts))

    loop = task.LoopingCall(draw)
    loop.start(every, now=False)
    return loop
