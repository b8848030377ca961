"""The Scrapy stage (100): Page → Article, thin over :func:`extract_page`.

A page that yields no article is dropped with :class:`ArticleDropped`, whose ``reason`` is one of
:data:`DROP_REASONS` (the crawl counts drops by reason) and whose message is one line: the reason, what was
found and the URL — never the page. Policy pages get their PDF/DOCX attachments fetched through the engine.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from core.errors import ExtractionError, PageTooComplex
from core.items import Article, Page, doc_id_for
from pipelines.extract.attachments import attachment_text
from pipelines.extract.chars import nonspace
from pipelines.extract.core import MIN_BODY_CHARS, extract_article
from pipelines.extract.processes import running as extraction_processes
from pipelines.extract.result import Extraction

# why a fetched page gives no article: the code the crawl counts (its "not stored" kinds use the same names)
DROP_REASONS = {
    "empty-body": f"no article body (empty response, or fewer than {MIN_BODY_CHARS} characters of text)",
    "not-html": "the response is not a web page (an image, a PDF, an archive, unparseable markup)",
    "too-complex": "the page exceeds the extractor's budget (elements, attributes, nesting, CPU time)",
}
_FETCHABLE = {"pdf", "docx"}
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class ArticleDropped(DropItem):
    """A page dropped for a reason in :data:`DROP_REASONS` (also its ``kind``, as the crawl's counters read
    it); the message names the reason, what was found and the URL — never the page."""

    def __init__(self, reason: str, url: str, detail: str = "") -> None:
        assert reason in DROP_REASONS, reason
        self.reason = self.kind = reason
        self.url = url
        super().__init__(f"{reason}: {detail or DROP_REASONS[reason]} ({url})")


_REASON_OF_REPAIR = {"empty-input": "empty-body", "binary-input": "not-html", "unparseable-html": "not-html"}


def drop_reason(ext: Extraction) -> tuple[str, str]:
    """(reason, detail) when the extraction holds no article, ("", "") when it does."""
    for repair in ext.repairs:
        for prefix, reason in _REASON_OF_REPAIR.items():
            if repair.startswith(prefix):
                return reason, repair
    n = nonspace(ext.text)
    if n < MIN_BODY_CHARS:
        return "empty-body", f"body has {n} characters"
    return "", ""


def article_from(page: Page, ext: Extraction) -> Article:
    return Article(
        id=doc_id_for(page.url),
        url=page.url,
        final_url=page.final_url,
        source=page.source,
        fetched=page.fetched,
        title=ext.title,
        text=ext.text,
        published=ext.published,
        author=ext.author,
        outlet=ext.outlet,
        language=ext.language,
        encoding=page.encoding,
        hints=page.hints,
        repairs=list(ext.repairs),
        spam=list(ext.spam),
        fields=dict(ext.fields),
        attachments=[dict(a) for a in ext.attachments],
        etag=page.etag,
        last_modified=page.last_modified,
    )


def extract_page(page: Page) -> Extraction:
    """The extraction of a fetched page, with its source's selectors and its feed entry as evidence."""
    selectors = page.hints.get("selectors") if isinstance(page.hints.get("selectors"), dict) else None
    return extract_article(
        page.html, page.final_url or page.url, selectors=selectors, feed_entry=page.feed_entry
    )


class ExtractPipeline:
    """Page → Article; drops pages without an article body; fetches the PDF/DOCX attachments of policy pages."""

    def __init__(self, crawler: Any = None) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        try:
            ext = await self.extraction_of(item)
        except PageTooComplex as exc:
            raise ArticleDropped("too-complex", item.url, str(exc)) from None
        reason, detail = drop_reason(ext)
        if reason:
            raise ArticleDropped(reason, item.url, detail)
        article = article_from(item, ext)
        is_policy = bool(ext.fields) or item.hints.get("content_type") == "policy"
        if is_policy and article.attachments and self.crawler is not None:
            await self._fetch_attachments(article)
        return article

    async def extraction_of(self, page: Page) -> Extraction:
        """The page's extraction: in the crawl's extraction processes when it has them (:mod:`.processes`),
        else here (a distributed crawler worker runs it in its pipeline thread)."""
        pool = extraction_processes()
        if pool is not None:
            return await pool.extract(extract_page, page)
        return extract_page(page)

    async def _fetch_attachments(self, article: Article) -> None:
        from scrapy import Request
        from scrapy.utils.defer import maybe_deferred_to_future

        fetched = 0
        for att in article.attachments:
            if att.get("type") not in _FETCHABLE or fetched >= MAX_ATTACHMENTS:
                continue
            fetched += 1
            request = Request(
                att["url"], meta={"download_maxsize": MAX_ATTACHMENT_BYTES, "techscout_attachment": True}
            )
            try:
                engine = self.crawler.engine
                if hasattr(engine, "download_async"):  # Scrapy ≥ 2.14; download() is deprecated there
                    response = await engine.download_async(request)
                else:
                    response = await maybe_deferred_to_future(engine.download(request))
                if response.status != 200:
                    raise ExtractionError(f"HTTP {response.status}")
                ctype = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
                att["text"] = attachment_text(response.body, att.get("name") or att["url"], ctype)
            except Exception as exc:  # one bad attachment never loses the article
                article.repairs.append(
                    f"attachment-failed:{att.get('name') or att['url']}:{type(exc).__name__}"
                )
