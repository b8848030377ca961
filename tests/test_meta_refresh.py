"""The crawl's meta-refresh middleware: Scrapy's redirects, without decoding pages that hold none.

Real Scrapy responses and Scrapy's own middleware side by side: every saved real page and the same pages with a
refresh tag put in (UTF-8, GBK, UTF-16) must come out of ours as they come out of Scrapy's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawlers import settings as crawl_settings
from crawlers.middlewares import MetaRefreshMiddleware

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))
REFRESH = '<meta http-equiv="Refresh" content="0; url=/zwgk/2021/real.html">'


def _middlewares() -> tuple[MetaRefreshMiddleware, ScrapyMetaRefresh]:
    crawler = get_crawler()
    return MetaRefreshMiddleware.from_crawler(crawler), ScrapyMetaRefresh.from_crawler(crawler)


def _response(body: bytes, ctype: str = "text/html") -> HtmlResponse:
    url = "http://www.example.gov.cn/index.html"
    return HtmlResponse(url, body=body, headers={"Content-Type": ctype}, request=Request(url))


def _outcome(result: object) -> str:
    return result.url if isinstance(result, Request) else "response"


def test_the_crawl_uses_it_in_place_of_scrapys() -> None:
    mws = crawl_settings.DOWNLOADER_MIDDLEWARES
    assert mws["scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware"] is None
    assert mws["crawlers.middlewares.MetaRefreshMiddleware"] == 580  # Scrapy's own place


@pytest.mark.parametrize(
    ("encoding", "ctype"),
    [("utf-8", "text/html; charset=utf-8"), ("gbk", "text/html; charset=gbk"), ("utf-16", "text/html; charset=utf-16")],
)
def test_a_refresh_page_is_redirected_in_every_encoding(encoding: str, ctype: str) -> None:
    ours, scrapys = _middlewares()
    page = f"<html><head><title>跳转</title>{REFRESH}</head><body>正在跳转到政务公开页面……</body></html>"
    body = page.encode(encoding)
    got = ours.process_response(_response(body, ctype).request, _response(body, ctype))
    want = scrapys.process_response(_response(body, ctype).request, _response(body, ctype))
    assert isinstance(got, Request) and got.url == "http://www.example.gov.cn/zwgk/2021/real.html"
    assert _outcome(got) == _outcome(want)


def test_a_page_without_refresh_is_passed_on_undecoded() -> None:
    ours, _ = _middlewares()
    response = _response("<html><head><title>新闻</title></head><body>科技成果转化</body></html>".encode())
    assert ours.process_response(response.request, response) is response
    assert response._cached_ubody is None  # nothing decoded it


def test_real_pages_come_out_as_from_scrapys_own() -> None:
    ours, scrapys = _middlewares()
    pages = sorted((CORPUS / "web-zh").glob("*/*.html"))[:40] + sorted((CORPUS / "zh-extraction" / "pages").glob("*"))[:20]
    assert len(pages) >= 40
    redirected = 0
    for path in pages:
        raw = path.read_bytes()
        with_tag = raw.replace(b"<head>", b"<head>" + REFRESH.encode(), 1)
        for body in (raw, with_tag):
            got = _outcome(ours.process_response(_response(body).request, _response(body)))
            want = _outcome(scrapys.process_response(_response(body).request, _response(body)))
            assert got == want, path
            redirected += got != "response"
    assert redirected >= 30  # the pages given a tag in their head were redirected
