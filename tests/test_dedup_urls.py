"""URL identity (crawlers/urls.py): every link to one article gives one canonical URL, different articles differ."""

from __future__ import annotations

import pytest

from core.items import doc_id_for
from crawlers.urls import canonical_url, identity_key

SAME = [
    # scheme and host case, default port, fragment, tracking parameters
    (
        "HTTP://WWW.Most.GOV.cn:80/kjbgz/202101/t20210118_1.html?utm_source=wx&utm_medium=social#top",
        "http://www.most.gov.cn/kjbgz/202101/t20210118_1.html",
    ),
    (
        "https://news.sina.com.cn:443/c/doc-abc.shtml?from=timeline&isappinstalled=0",
        "https://news.sina.com.cn/c/doc-abc.shtml",
    ),
    ("http://x.cn/a.html?spm=a2c4g.11186623&id=7", "http://x.cn/a.html?id=7"),
    ("http://x.cn/a.html?UTM_CAMPAIGN=x&Share=1", "http://x.cn/a.html"),
    # session ids, in the path or the query
    ("http://x.cn/art/1.jsp;jsessionid=0A1B2C3D?id=2", "http://x.cn/art/1.jsp?id=2"),
    ("http://x.cn/art/1.php?PHPSESSID=abc123&id=2", "http://x.cn/art/1.php?id=2"),
    # cache busters
    ("http://x.cn/list?_=1700000000000&page=2", "http://x.cn/list?page=2"),
    # index pages and trailing slashes
    ("http://www.cast.org.cn/col/col79/index.html", "http://www.cast.org.cn/col/col79"),
    ("http://www.cast.org.cn/col/col79/", "http://www.cast.org.cn/col/col79"),
    ("http://x.cn/a/default.htm", "http://x.cn/a"),
    ("http://x.cn//a///b", "http://x.cn/a/b"),
    ("http://x.cn", "http://x.cn/"),
    ("http://x.cn/index.html", "http://x.cn/"),
    # query order
    ("http://x.cn/a?b=2&a=1", "http://x.cn/a?a=1&b=2"),
    # one spelling of a non-ASCII path
    ("http://x.cn/新闻/科技.html", "http://x.cn/%E6%96%B0%E9%97%BB/%E7%A7%91%E6%8A%80.html"),
    (
        "http://x.cn/%e6%96%b0%e9%97%bb/%E7%A7%91%E6%8A%80.html",
        "http://x.cn/%E6%96%B0%E9%97%BB/%E7%A7%91%E6%8A%80.html",
    ),
]

DIFFERENT = [
    ("http://x.cn/a?id=1", "http://x.cn/a?id=2"),  # content parameters stay
    ("http://x.cn:8080/a", "http://x.cn/a"),  # a non-default port is another server
    ("http://x.cn/a", "http://www.x.cn/a"),  # www. is kept
    ("http://x.cn/a/1.html", "http://x.cn/a/2.html"),
    ("http://x.cn/a%2Fb", "http://x.cn/a/b"),  # an escaped slash is not a path separator
]


@pytest.mark.parametrize(("url", "expected"), SAME)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected  # idempotent
    assert doc_id_for(canonical_url(url)) == doc_id_for(expected)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_articles_keep_different_urls(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_identity_key_ignores_the_scheme() -> None:
    assert identity_key("http://x.cn/a?utm_source=1") == identity_key("https://X.cn:443/a/")
    assert identity_key("http://x.cn/a") != identity_key("http://x.cn/b")
