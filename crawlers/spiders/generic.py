"""The generic spider: one instance per source.

From the source's start URLs it reads list pages (with pagination), RSS/Atom feeds and sitemaps, follows the
links that look like articles, and yields a :class:`~core.items.Page` for each article page. It stays on the
source's hosts, obeys robots.txt (Scrapy's middleware), bounds pages and list depth so traps end, and skips
articles it already knows (incremental) or asks for them conditionally (ETag / Last-Modified).

It also keeps the account of the crawl's outcomes that the crawl report records: errors by kind (with example
URLs), pages fetched but not stored by reason, and which article pages were items of which list (so a list item
that gave no article is reported with its reason). With a ``JOBDIR`` the spider's bookkeeping (requested URLs,
page counts) is part of the crawl state, so a resumed crawl neither requests a URL again nor exceeds its bound.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import scrapy
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from core import clock
from core.items import Page
from crawlers.errors_kinds import kind_of
from crawlers.pagetype import (
    PageReading,
    looks_like_article_url,
    read_feed,
    read_page,
    read_sitemap,
    sniff_kind,
)
from crawlers.sources import Source
from crawlers.urls import canonical_url
from pipelines.extract.decode import Decoded, decode_html
from search.backends.base import UrlState

_BINARY_TYPES = re.compile(r"^(image|audio|video|font)/|application/(octet-stream|zip|x-rar|pdf|msword|vnd\.)", re.I)



EXAMPLES = 5  # example URLs kept per error kind and per not-stored reason
MAX_DROPPED_ITEMS = 200  # list items without an article listed one by one in a run record


def error_kind(failure: Failure) -> str:
    """A short stable name for why a request failed (see :mod:`crawlers.errors_kinds`)."""
    return kind_of(failure)


class GenericSpider(scrapy.Spider):
    name = "generic"

    def __init__(
        self,
        source: Source,
        *,
        known: dict[str, UrlState] | None = None,
        max_pages: int = 500,
        revisit_days: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=source.name, **kwargs)
        self.source = source
        self.allowed_domains = list(source.allowed_domains)
        self.known = known or {}
        self.max_pages = max_pages
        self.revisit_after = timedelta(days=revisit_days)
        self.requested: set[str] = set()
        self.requests_made = 0
        self.list_pages = 0
        self.bounded = False
        self.touched: list[UrlState] = []  # URL states refreshed without a new document (304 / unchanged)
        self.errors: dict[str, list[str]] = {}  # error kind → example URLs
        self.not_stored: dict[str, list[str]] = {}  # not-stored reason → example URLs
        self.list_items: dict[str, str] = {}  # canonical URL of a list item → the list page it was found on
        self.outcomes: dict[str, str] = {}  # canonical URL → why it gave no document (error kind or reason)
        self._allow = [re.compile(p) for p in source.allow]
        self._deny = [re.compile(p) for p in source.deny]

    # -- requests -------------------------------------------------------------------------------------------------
    def _meta(self, **extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = dict(extra)
        if self.source.render_js:
            meta["playwright"] = True
        return meta

    def _budget(self) -> bool:
        if self.requests_made >= self.max_pages:
            if not self.bounded:
                self.bounded = True
                self.logger.info("%s: page bound %d reached", self.source.name, self.max_pages)
                if self.crawler.stats:
                    self.crawler.stats.set_value("techscout/bounded", True)
            return False
        self.requests_made += 1
        self._save_state()
        return True

    def _save_state(self) -> None:
        """Keep the bookkeeping in ``self.state`` (Scrapy saves it in the JOBDIR when the crawl stops)."""
        state = getattr(self, "state", None)
        if isinstance(state, dict):
            state["requested"] = self.requested
            state["requests_made"] = self.requests_made
            state["list_pages"] = self.list_pages
            state["list_items"] = self.list_items
            state["outcomes"] = self.outcomes

    def _restore_state(self) -> bool:
        """Take over the bookkeeping of the stopped crawl this one resumes; True when there was one."""
        state = getattr(self, "state", None)
        if not isinstance(state, dict) or "requested" not in state:
            return False
        self.requested = set(state["requested"])
        self.requests_made = int(state.get("requests_made", 0))
        self.list_pages = int(state.get("list_pages", 0))
        self.list_items = dict(state.get("list_items") or {})
        self.outcomes = dict(state.get("outcomes") or {})
        self._save_state()  # the state now holds this crawl's objects
        return True

    async def start(self) -> AsyncIterator[Any]:
        if self._restore_state():
            # a resumed crawl: its start pages were read, their links are in the resumed queue
            self.logger.info("%s: resuming (%d requests made before)", self.source.name, self.requests_made)
            return
        for url in self.source.start_urls:
            self.requested.add(canonical_url(url))
            self.requests_made += 1
            self._save_state()
            yield Request(
                url,
                callback=self.parse_listing,
                errback=self.on_error,
                meta=self._meta(list_depth=0, role="start"),
                priority=100,
            )

    def _denied(self, url: str) -> bool:
        return any(p.search(url) for p in self._deny)

    def _list_request(self, url: str, depth: int, role: str = "list") -> Request | None:
        canon = canonical_url(url)
        if canon in self.requested or self._denied(canon):
            return None
        if depth > self.source.max_list_pages or self.list_pages >= self.source.max_list_pages:
            return None
        if not self._budget():
            return None
        self.requested.add(canon)
        self.list_pages += 1
        self._save_state()
        return Request(
            url.split("#", 1)[0],  # fetched as linked; identified by its canonical form
            callback=self.parse_listing,
            errback=self.on_error,
            meta=self._meta(list_depth=depth, role=role),
            priority=50,
        )

    def _article_request(
        self, url: str, depth: int, feed_entry: dict[str, Any] | None = None, *, item_of: str = ""
    ) -> Request | None:
        """A request for an article candidate; ``item_of``: the list (page, feed, sitemap) it is an item of."""
        canon = canonical_url(url)
        if canon in self.requested or self._denied(canon):
            return None
        if self._allow and not any(p.search(canon) for p in self._allow):
            return None
        self.requested.add(canon)
        if item_of:
            self.list_items[canon] = item_of
        headers: dict[str, str] = {}
        state = self.known.get(canon)
        if state is not None:
            fetched = clock.parse_time(state.fetched)
            if fetched and clock.now() - fetched < self.revisit_after:
                if self.crawler.stats:
                    self.crawler.stats.inc_value("techscout/known_skipped")
                return None
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        if not self._budget():
            return None
        return Request(
            url.split("#", 1)[0],  # fetched as linked; identified by its canonical form
            callback=self.parse_article,
            errback=self.on_error,
            headers=headers or None,
            meta=self._meta(list_depth=depth, role="article", feed_entry=feed_entry or {}, handle_httpstatus_list=[304]),
        )

    # -- responses ------------------------------------------------------------------------------------------------
    def _decode(self, response: Response) -> Decoded | None:
        ctype = _content_type(response)
        if _BINARY_TYPES.search(ctype) or b"\x00" in response.body[:1024]:
            if response.meta.get("role") == "article":
                self.note_not_stored("not-html", _request_url(response))
            else:
                self._error("not-html", response.url)
            return None
        return decode_html(response.body, ctype)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        decoded = self._decode(response)
        if decoded is None:
            return
        text = decoded.text
        depth = int(response.meta.get("list_depth", 0))
        ctype = _content_type(response)
        kind = sniff_kind(text, ctype)
        if kind == "feed":
            for entry in read_feed(text, response.url):
                req = self._article_request(
                    entry.url, depth, {"title": entry.title, "published": entry.published, "author": entry.author},
                    item_of=response.url,
                )
                if req is not None:
                    yield req
            return
        if kind == "sitemap":
            pages, children = read_sitemap(text, response.url)
            for url in pages:
                req = self._article_request(url, depth, item_of=response.url)
                if req is not None:
                    yield req
            for url in children:
                lreq = self._list_request(url, depth + 1)
                if lreq is not None:
                    yield lreq
            return
        sel = self.source.selectors
        reading = read_page(
            text,
            response.url,
            self.allowed_domains,
            link_selector=sel.get("links", ""),
            next_selector=sel.get("next_page", ""),
        )
        yield from self._follow_list(reading, response.meta.get("role", "list"), depth, response.url)

    def _follow_list(self, reading: PageReading, role: str, depth: int, page_url: str) -> Iterator[Request]:
        """Follow a list page's items and pagination; from a start page without a list, its channels.

        A channel link (``role == "section"``) is read as a list only if it is one; the start page's channel links
        are read when the source says ``follow_sections: true``, or by default when the start page has no list of
        its own (a home page) — then also the feeds it announces.
        """
        has_list = bool(reading.article_links)
        if role == "section" and not has_list:
            if self.crawler.stats:
                self.crawler.stats.inc_value("techscout/sections_without_list")
            return
        for url, _anchor in reading.article_links:
            req = self._article_request(url, depth + 1, item_of=page_url)
            if req is not None:
                yield req
        for url in reading.next_pages:
            lreq = self._list_request(url, depth + 1)
            if lreq is not None:
                yield lreq
        if role != "start":
            return
        if not has_list:
            for url in reading.feeds:
                lreq = self._list_request(url, depth + 1)
                if lreq is not None:
                    yield lreq
        follow = self.source.follow_sections
        if follow is None:
            follow = not has_list
        if follow:
            for url in reading.sections:
                lreq = self._list_request(url, depth + 1, role="section")
                if lreq is not None:
                    yield lreq

    def parse_article(self, response: Response) -> Iterator[Any]:
        canon = canonical_url(response.request.url if response.request else response.url)
        if response.status == 304:
            state = self.known.get(canon)
            if state is not None:
                state.fetched = clock.now_iso()
                state.status = 304
                self.touched.append(state)
            if self.crawler.stats:
                self.crawler.stats.inc_value("techscout/not_modified")
            return
        decoded = self._decode(response)
        if decoded is None:
            return
        text = decoded.text
        ctype = _content_type(response)
        if sniff_kind(text, ctype) != "html":
            yield from self.parse_listing(response)
            return
        if looks_like_article_url(canon):
            # the common case: a dated/numbered article URL; the extraction stage decides whether it has a body
            yield self._page(response, decoded, canon)
            return
        sel = self.source.selectors
        reading = read_page(
            text, response.url, self.allowed_domains, link_selector=sel.get("links", ""), next_selector=""
        )
        if reading.kind == "list":
            # an item that is itself a list (a sub-channel, a topic page): not an article, and not followed — the
            # crawl stays in the list the source points at; reported as a page not stored
            if self.crawler.stats:
                self.crawler.stats.inc_value("techscout/list_like_pages")
            self.note_not_stored("list-page", canon)
            return
        yield self._page(response, decoded, canon)

    def _page(self, response: Response, decoded: Decoded, canon: str) -> Page:
        headers = {
            k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
            for k, v in response.headers.items()
            if k.lower() in (b"content-type", b"etag", b"last-modified", b"content-language", b"date")
        }
        return Page(
            url=canon,
            final_url=response.url,
            status=response.status,
            html=decoded.text,
            encoding=decoded.encoding,
            source=self.source.name,
            fetched=clock.now_iso(),
            headers=headers,
            etag=headers.get("etag", ""),
            last_modified=headers.get("last-modified", ""),
            hints=self.source.hints,
            feed_entry=dict(response.meta.get("feed_entry") or {}),
            rendered=bool(response.meta.get("playwright")),
        )

    # -- outcomes: errors, pages not stored ---------------------------------------------------------------------
    def _error(self, kind: str, url: str) -> None:
        examples = self.errors.setdefault(kind, [])
        if len(examples) < EXAMPLES and url not in examples:
            examples.append(url)
        self.outcomes.setdefault(canonical_url(url), kind)
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"techscout/errors/{kind}")

    def note_not_stored(self, reason: str, url: str) -> None:
        """A page that was fetched but gave no document, and why (see :data:`crawlers.errors_kinds.NOT_STORED_KINDS`)."""
        examples = self.not_stored.setdefault(reason, [])
        if len(examples) < EXAMPLES and url not in examples:
            examples.append(url)
        self.outcomes[canonical_url(url)] = reason
        if self.crawler.stats:
            self.crawler.stats.inc_value(f"techscout/not_stored/{reason}")

    def dropped_list_items(self) -> list[dict[str, str]]:
        """The list items that gave no article: ``{"url", "list", "reason"}`` (at most :data:`MAX_DROPPED_ITEMS`)."""
        out = [
            {"url": url, "list": self.list_items[url], "reason": self.outcomes[url]}
            for url in self.list_items
            if url in self.outcomes and self.outcomes[url] != "not-modified"
        ]
        return out[:MAX_DROPPED_ITEMS]

    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        hops = list(request.meta.get("redirect_urls") or []) if request is not None else []
        kind = error_kind(failure)
        if kind in ("connection", "error") and self.source.render_js:
            from crawlers.guard import GUARD

            if url in GUARD.browser_blocked:
                kind = "blocked-private"  # the browser's navigation was aborted by the guard
        first = hops[0] if hops else url  # a redirect hop's failure is the failure of the link that led to it
        self._error(kind, first)
        if kind == "robots":
            self.logger.debug("%s forbidden by robots.txt", url)
        else:
            args = getattr(failure.value, "args", None)
            detail = f" (after redirects, at {url})" if hops else ""
            if args and kind not in ("timeout", "dns", "connection-refused") and not kind.startswith("http-"):
                detail += f" ({' '.join(str(args[0]).split())[:200]})"
            self.logger.warning("%s failed: %s%s", first, kind, detail)


def _request_url(response: Response) -> str:
    return response.request.url if response.request is not None else response.url


def _content_type(response: Response) -> str:
    value = response.headers.get(b"Content-Type")
    return value.decode("latin-1") if value else ""
