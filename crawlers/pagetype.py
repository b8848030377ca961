"""Pure functions that read a fetched page: what kind it is, which links are articles, which are pagination.

No Scrapy here: the spider calls these on decoded text. A page is one of:

* ``feed`` — RSS or Atom; ``sitemap`` — a sitemap or sitemap index;
* ``article`` — one piece of prose (long paragraphs, few headline links), or any page without a list;
* ``list`` — a page whose content is a list of items (a channel, an index, search results): a data region found
  by :mod:`crawlers.listing`, with little prose of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from crawlers.listing import ListRegion, find_list, link_url, script_pages

PageKind = Literal["feed", "sitemap", "article", "list"]

_CJK = re.compile(r"[\u3400-\u9fff]")
_BINARY_EXT = re.compile(
    r"\.(jpe?g|png|gif|bmp|webp|svg|ico|css|js|json|zip|rar|7z|gz|tar|exe|apk|dmg|mp[34]|avi|mov|flv|wmv|"
    r"pdf|docx?|xlsx?|pptx?|wps|ofd|txt|xml|rss)$",
    re.I,
)
_NAV_TEXT = re.compile(
    r"^(首页|主页|返回|更多|more|登录|注册|退出|关于我们|联系我们|网站地图|站点地图|隐私|版权|免责|English|繁体|简体|"
    r"上一页|下一页|尾页|末页|第一页|前一页|后一页|上页|下页|\d+|>|<|»|«|›|‹|打印|关闭|收藏|分享|订阅|rss|搜索|[\s·|]+)$",
    re.I,
)
_NEXT_TEXT = re.compile(r"^\s*(下一页|下页|后页|后一页|next|next\s*page|›|»|>|>>|＞)\s*$", re.I)
_PAGE_NUM = re.compile(r"^\s*\[?\s*(\d{1,4})\s*\]?\s*$")
_ARTICLE_URL = re.compile(
    r"(/20\d{2}[-/_]?[01]?\d[-/_]?[0-3]?\d/|/t20\d{6}_|/20\d{2}[01]\d/|/20\d{6}/|[/_-](content|detail|article|"
    r"show|view|info|news|art)[/_-]?\d+|/\d{5,}\.s?html?$|_\d{4,}\.s?html?$|/c\d+-\d+\.html|[?&](id|aid|articleid|"
    r"newsid|contentid|docid)=\d+|/(?:19|20)\d{2}/[^/]*\d{3,}[^/]*\.s?html?$)",
    re.I,
)
_PAGINATION_URL = re.compile(r"([?&](page|p|pn|pageno|pageindex|currentpage|start|offset)=\d+|[/_-](index|list|page)[_-]\d+\.s?html?$|/page/\d+/?$)", re.I)
# channel paths: a directory, an index page, or one short path segment (/kjdt/, /news/index.html, /xwzx)
_SECTION_URL = re.compile(r"^/(?:[\w.-]+/){0,3}(?:(?:index|list|default)[\w-]*\.s?html?|[\w-]*)?$", re.I)
_MORE_TEXT = re.compile(r"^\s*(更多|更多>+|更多»|more|more>+|>>|»)\s*$", re.I)
_PROSE_PUNCT = re.compile(r"[，。、；：！？,.;:!?“”]")


@dataclass
class PageReading:
    kind: PageKind
    prose_chars: int = 0  # characters of prose paragraphs (not inside links)
    headline_links: int = 0
    article_links: list[tuple[str, str]] = field(default_factory=list)  # the list's items: (absolute url, anchor text)
    next_pages: list[str] = field(default_factory=list)
    title: str = ""
    feeds: list[str] = field(default_factory=list)  # RSS/Atom feeds the page announces (<link rel=alternate>)
    sections: list[str] = field(default_factory=list)  # same-site channel links (short anchors, section paths)
    region: ListRegion | None = None  # the page's list (its repeated block of items), when it has one


def looks_like_article_url(url: str) -> bool:
    """URLs shaped like one article: a date or a long numeric id in the path, ``content_123``, ``?id=123``."""
    return bool(_ARTICLE_URL.search(url)) and not _PAGINATION_URL.search(url)


def sniff_kind(text: str, content_type: str = "") -> Literal["feed", "sitemap", "html"]:
    head = text.lstrip()[:2000].lower()
    ct = content_type.lower()
    if "<urlset" in head or "<sitemapindex" in head:
        return "sitemap"
    if "<rss" in head or "<rdf:rdf" in head or ("<feed" in head and "xmlns" in head) or "atom+xml" in ct or "rss+xml" in ct:
        return "feed"
    return "html"


def parse_html(text: str) -> lxml.html.HtmlElement | None:
    """Parse HTML leniently; None for an empty or unparsable document."""
    text = text.strip()
    if not text:
        return None
    try:
        # lxml refuses str with an encoding declaration
        text = re.sub(r"^<\?xml[^>]*\?>", "", text)
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None
    return root


def _text_of(el: lxml.html.HtmlElement) -> str:
    return re.sub(r"\s+", " ", el.text_content() or "").strip()


def _is_prose(text: str) -> bool:
    if len(text) < 30:
        return False
    cjk = len(_CJK.findall(text))
    punct = len(_PROSE_PUNCT.findall(text))
    if cjk >= 20 and punct >= 1:
        return True
    return cjk < 5 and len(text.split()) >= 12 and punct >= 1


_INLINE = frozenset(("b", "strong", "em", "i", "font", "span", "u"))


def _own_text(el: lxml.html.HtmlElement) -> str:
    """The element's own text and inline children's text, not counting links or nested blocks."""
    parts = [el.text or ""]
    for c in el:
        if c.tag in _INLINE and not c.findall(".//a"):
            parts.append(c.text_content() or "")
        parts.append(c.tail or "")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _has_own_text(el: lxml.html.HtmlElement) -> bool:
    if el.text and el.text.strip():
        return True
    return any((c.tail and c.tail.strip()) or c.tag in _INLINE for c in el)


def prose_blocks(root: lxml.html.HtmlElement) -> tuple[int, int]:
    """(total prose characters, prose characters of the richest container).

    Prose = paragraph-like text with sentence punctuation, outside links. An article's paragraphs share one
    container; a list page's summaries are spread over many items, each with its own headline link.
    """
    total = 0
    buckets: dict[lxml.html.HtmlElement, int] = {}
    for el in root.iter("p", "td", "div", "section", "article", "span", "font", "li", "dd", "blockquote"):
        if not _has_own_text(el):
            continue
        own = _own_text(el)
        if not _is_prose(own):
            continue
        total += len(own)
        parent = el.getparent() if el.tag in ("p", "span", "font", "blockquote") else el
        if parent is None:
            parent = el
        buckets[parent] = buckets.get(parent, 0) + len(own)
    if not buckets:
        return total, 0
    # headline links inside each container, counted once per anchor by walking its ancestors
    links: dict[lxml.html.HtmlElement, int] = {}
    for a in root.iter("a"):
        if len(_CJK.findall(a.text_content() or "")) >= 6:
            for anc in a.iterancestors():
                if anc in buckets:
                    links[anc] = links.get(anc, 0) + 1
    best = 0
    for container, chars in buckets.items():
        n = links.get(container, 0)
        # a container whose prose comes with many headline links is a list with summaries
        effective = chars if n <= 3 else chars - 60 * n
        best = max(best, effective)
    return total, best


def prose_chars(root: lxml.html.HtmlElement) -> int:
    return prose_blocks(root)[0]


@lru_cache(maxsize=4096)
def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@lru_cache(maxsize=4096)
def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in allowed)


def _drop_boilerplate(root: lxml.html.HtmlElement) -> None:
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()


def read_page(
    text: str,
    url: str,
    allowed_domains: list[str],
    *,
    link_selector: str = "",
    next_selector: str = "",
) -> PageReading:
    """Classify an HTML page; find its list (items and pagination) and its channel links.

    The items are the records of the page's data region (:func:`crawlers.listing.find_list`), or the links a
    source's ``selectors.links`` picks; a page without a list has none — its channel links (``sections``) are where
    its lists may be.
    """
    root = parse_html(text)
    if root is None:
        return PageReading(kind="list")
    scripts = [s.text_content() or "" for s in root.iter("script")]
    _drop_boilerplate(root)
    base = root.xpath("//base/@href")
    base_url = urljoin(url, str(base[0])) if base else url
    title_el = root.find(".//title")
    title = _text_of(title_el) if title_el is not None else ""
    allowed = tuple(allowed_domains)

    def same_site(link: str) -> bool:
        return _host_allowed(_host(link), allowed)

    anchors: list[tuple[str, str, lxml.html.HtmlElement]] = []
    for a in root.iter("a"):
        absolute = link_url(a, base_url)
        if absolute is not None:
            anchors.append((absolute, _text_of(a) or (a.get("title") or "").strip(), a))

    prose, block = prose_blocks(root)
    headline_links = sum(1 for _u, anchor, _a in anchors if _is_headline(anchor))
    region = find_list(root, base_url, same_site, skip=lambda link: bool(_BINARY_EXT.search(urlsplit(link).path)))

    candidates: list[tuple[str, str]] = []
    if link_selector:
        selected = {
            urljoin(base_url, str(h)).split("#", 1)[0]
            for h in root.cssselect(link_selector + " a[href], " + link_selector + "[href]")
            for h in [h.get("href")]
            if h
        }
        seen: set[str] = set()
        for absolute, anchor, _a in anchors:
            if absolute in selected and absolute not in seen and same_site(absolute):
                seen.add(absolute)
                candidates.append((absolute, anchor))
    elif region is not None:
        candidates = list(region.items)
    items = {u for u, _ in candidates}

    here = url.split("#", 1)[0].rstrip("/")
    next_pages: list[str] = []
    if next_selector:
        for el in root.cssselect(next_selector):
            href = el.get("href") or next((a.get("href") for a in el.iter("a") if a.get("href")), None)
            if href:
                next_pages.append(urljoin(base_url, href).split("#", 1)[0])
    else:
        folder = _folder(url)
        for absolute, anchor, _a in anchors:
            if absolute in items or not same_site(absolute) or absolute.rstrip("/") == here:
                continue
            # 下一页 may lead anywhere on the site; a page number or an index_2.html-style link only within the
            # list's own folder (a site's "index_2166.html" app page is no page of this list)
            is_pagination = bool(
                _NEXT_TEXT.match(anchor)
                or (
                    (_PAGE_NUM.match(anchor) or (_PAGINATION_URL.search(absolute) and len(anchor) <= 6))
                    and _folder(absolute) == folder
                )
            )
            if is_pagination:
                next_pages.append(absolute)
        next_pages.extend(u for u in script_pages(scripts, base_url) if same_site(u) and u.rstrip("/") != here)
    next_pages = list(dict.fromkeys(next_pages))

    feeds = [
        urljoin(base_url, str(link.get("href")))
        for link in root.xpath("//link[@rel='alternate'][@href]")
        if "rss" in (link.get("type") or "").lower() or "atom" in (link.get("type") or "").lower()
    ]
    feeds = [f for f in dict.fromkeys(feeds) if same_site(f)]
    taken = items | set(next_pages)
    sections: list[str] = []
    for absolute, anchor, _a in anchors:
        if absolute in taken or absolute in sections or not same_site(absolute):
            continue
        path = urlsplit(absolute).path
        if absolute.rstrip("/") == here or _BINARY_EXT.search(path) or not _SECTION_URL.search(path):
            continue
        if path in ("", "/") or looks_like_article_url(absolute):
            continue
        if _MORE_TEXT.match(anchor) or (2 <= len(anchor) <= 12 and not _NAV_TEXT.match(anchor)):
            sections.append(absolute)

    kind = _kind(prose, block, headline_links, region)
    return PageReading(
        kind=kind,
        prose_chars=prose,
        headline_links=headline_links,
        article_links=candidates,
        next_pages=next_pages,
        title=title,
        feeds=feeds,
        sections=sections,
        region=region,
    )


def _folder(url: str) -> str:
    """Scheme, host and path up to the last slash: the folder a page and its sibling pages share."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/', 1)[0]}/"


def _is_headline(anchor: str) -> bool:
    cjk = len(_CJK.findall(anchor))
    return (cjk >= 6 or (cjk == 0 and len(anchor) >= 20)) and not _NAV_TEXT.match(anchor)


def _kind(prose: int, block: int, headline_links: int, region: ListRegion | None) -> PageKind:
    """A list is a page with a list (a data region of items) and little prose of its own; an article is a page
    with substantial prose that outweighs the headline links around it — or any page without a list: a short
    notice, a table of figures or a page of attachments is no list, and the extraction stage judges its body."""
    if region is None:
        return "article"
    if block >= 150 or (prose >= 500 and prose >= 12 * headline_links) or (block >= 80 and headline_links <= 5):
        return "article"
    return "list"


@dataclass
class FeedEntry:
    url: str
    title: str = ""
    published: str = ""
    author: str = ""


_TAG = re.compile(r"^\{[^}]*\}")


def _local(tag: object) -> str:
    return _TAG.sub("", tag).lower() if isinstance(tag, str) else ""


def read_feed(text: str, url: str) -> list[FeedEntry]:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom feed (lenient: recovers from broken XML)."""
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = lxml.etree.fromstring(text.encode("utf-8"), parser=parser)
    except lxml.etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    entries: list[FeedEntry] = []
    for el in root.iter():
        name = _local(el.tag)
        if name not in ("item", "entry"):
            continue
        link = ""
        title = published = author = ""
        for child in el:
            cname = _local(child.tag)
            if cname == "link":
                href = child.get("href")
                if href and child.get("rel", "alternate") == "alternate":
                    link = href
                elif not href and (child.text or "").strip():
                    link = (child.text or "").strip()
            elif cname == "guid" and not link and (child.text or "").startswith("http") and child.get("isPermaLink", "true") != "false":
                link = (child.text or "").strip()
            elif cname == "title":
                title = (child.text or "").strip()
            elif cname in ("pubdate", "published", "updated", "date", "issued") and not published:
                published = (child.text or "").strip()
            elif cname in ("author", "creator"):
                author = (child.findtext("{*}name") or child.text or "").strip()
        if link:
            entries.append(FeedEntry(urljoin(url, link), title, published, author))
    return entries


def read_sitemap(text: str, url: str) -> tuple[list[str], list[str]]:
    """(page URLs, child sitemap URLs) of a sitemap or sitemap index."""
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True)
    try:
        root = lxml.etree.fromstring(text.encode("utf-8"), parser=parser)
    except lxml.etree.XMLSyntaxError:
        return [], []
    if root is None:
        return [], []
    pages: list[str] = []
    children: list[str] = []
    is_index = _local(root.tag) == "sitemapindex"
    for loc in root.iter("{*}loc", "loc"):
        value = (loc.text or "").strip()
        if value:
            (children if is_index else pages).append(urljoin(url, value))
    return pages, children
