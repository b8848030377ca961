"""Which links of a list page are its items: the repeated block of dated records, found from the page's structure.

A list page (a channel, a 政府信息公开 column, a court's case list, search results) shows its items as a *data
region*: one container whose children repeat the same shape — ``<li>`` after ``<li>``, ``<tr>`` after ``<tr>`` —
each child (a *record*) holding one main link, often a date beside it. Navigation, breadcrumbs, footer columns and
sidebars are repeated blocks too; they lose on what the records hold: items carry dates, their links share one URL
pattern (``./201710/t20171020_398361.html``, ``/viewAjxxGz/33695866855874353-JD0-``) and their anchors read like
titles or document numbers, while a menu's links point each to another directory under two- to four-character
labels. This is the idea of MDR/DEPTA data-region mining and of GNE's list extractor, scored on those signals; it
needs neither headline-like anchor text nor article-like URLs, so a list of case numbers (（2016）粤13民终2456号) or
of 文号 is found like any other.

Pagination is read from the page too: 下一页/page-number links and the JavaScript pagers of government CMSs
(``createPageHTML(21, 0, "index", "html")``, ``var countPage = 2``) whose links exist only after their script runs.

Pure functions on a parsed tree (lxml); the spider calls them through :func:`crawlers.pagetype.read_page`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import median
from urllib.parse import urljoin, urlsplit

import lxml.html

# a full date anywhere in a record (2017-10-20, 2017/10/20, 2017.10.20, 2017年10月20日)
_FULL_DATE = re.compile(r"(?:19|20)\d{2}\s*[-/.年]\s*[01]?\d\s*[-/.月]\s*[0-3]?\d")
# a month-day date that is a whole text node of its own (<td>10-19</td>, <span>[09-30]</span>)
_SHORT_DATE = re.compile(r"^[\[(（【]?\s*[01]?\d\s*[-/.月]\s*[0-3]?\d\s*日?\s*[\])）】]?$")
_DIGITS = re.compile(r"\d+")
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "#", "data:")
_WS = re.compile(r"\s+")

# JavaScript pagers of government CMSs (TRS WCM and its copies): createPageHTML(count, current, "index", "html"),
# sometimes with an element id first or extra trailing numbers; and the countPage/currentPage variables.
_CREATE_PAGE = re.compile(r"createPageHTML\s*\(([^)]*)\)", re.I)
_COUNT_PAGE = re.compile(r"\bcountPage\s*=\s*(\d+)")
_CURRENT_PAGE = re.compile(r"\bcurrentPage\s*=\s*(\d+)")
_PAGE_EXTS = ("html", "htm", "shtml", "jhtml", "xhtml")

# the least a data region must show to be taken for the page's list
MIN_RECORDS = 3
MIN_QUALITY = 0.55
MIN_TITLE = 7  # median characters of an undated list's item anchors


@dataclass
class ListRegion:
    """The page's list: its items in page order and how it was recognised."""

    items: list[tuple[str, str]]  # (absolute URL, anchor text)
    records: int
    dated: float  # share of records with a date
    pattern: float  # share of item URLs of the most common URL pattern
    quality: float
    score: float
    where: str = ""  # a readable locator of the container, for reports


@dataclass
class _Candidate:
    container: lxml.html.HtmlElement
    signature: tuple[str, str]
    records: list[lxml.html.HtmlElement]
    items: list[tuple[str, str]] = field(default_factory=list)
    dated: float = 0.0
    pattern: float = 0.0
    text_len: float = 0.0
    per_record: float = 1.0
    quality: float = 0.0
    score: float = 0.0


def _text(el: lxml.html.HtmlElement) -> str:
    return _WS.sub(" ", el.text_content() or "").strip()


def link_url(a: lxml.html.HtmlElement, base_url: str) -> str | None:
    """The absolute URL of an ``<a href>``, without fragment; None for script, mail and in-page links."""
    href = (a.get("href") or "").strip()
    if not href or href.lower().startswith(_SKIP_SCHEMES):
        return None
    absolute = urljoin(base_url, href).split("#", 1)[0]
    if not absolute.startswith(("http://", "https://")):
        return None
    return absolute


def url_pattern(url: str) -> str:
    """A URL with its numbers blanked: the items of one list share it (``/zwyw/0/t0_0.html``)."""
    parts = urlsplit(url)
    query = "&".join(sorted(p.split("=", 1)[0] for p in parts.query.split("&") if p))
    return _DIGITS.sub("0", parts.path) + ("?" + query if query else "")


def _is_dated(record: lxml.html.HtmlElement) -> bool:
    text = _text(record)
    if _FULL_DATE.search(text):
        return True
    return any(_SHORT_DATE.match(node.strip()) for node in record.itertext())


def _signature(el: lxml.html.HtmlElement) -> tuple[str, str]:
    return (str(el.tag), " ".join(sorted((el.get("class") or "").split())))


def _locator(el: lxml.html.HtmlElement) -> str:
    parts = []
    for node in [el, *el.iterancestors()][:4]:
        sig = str(node.tag)
        if node.get("id"):
            sig += "#" + str(node.get("id"))
        elif node.get("class"):
            sig += "." + ".".join((node.get("class") or "").split())
        parts.append(sig)
    return " < ".join(parts)


def _candidates(root: lxml.html.HtmlElement, eligible: Callable[[lxml.html.HtmlElement], str | None]) -> list[_Candidate]:
    """Every container with three or more children of one shape that hold links."""
    found: list[_Candidate] = []
    for container in root.iter():
        if not isinstance(container.tag, str) or container.tag == "a":
            continue
        groups: dict[tuple[str, str], list[lxml.html.HtmlElement]] = {}
        for child in container:
            if isinstance(child.tag, str):
                groups.setdefault(_signature(child), []).append(child)
        for signature, children in groups.items():
            if len(children) < MIN_RECORDS:
                continue
            records = [c for c in children if any(eligible(a) for a in _anchors_in(c))]
            if len(records) >= MIN_RECORDS:
                found.append(_Candidate(container, signature, records))
    return found


def _anchors_in(el: lxml.html.HtmlElement) -> Iterable[lxml.html.HtmlElement]:
    if el.tag == "a":
        yield el
    yield from el.iter("a")


def _measure(cand: _Candidate, eligible: Callable[[lxml.html.HtmlElement], str | None]) -> None:
    items: list[tuple[str, str]] = []
    per_record: list[int] = []
    text_lens: list[int] = []
    dated = 0
    for record in cand.records:
        links: dict[str, str] = {}
        for a in _anchors_in(record):
            url = eligible(a)
            if url is None:
                continue
            text = _text(a) or (a.get("title") or "").strip()
            previous = links.get(url)
            if previous is None or len(text) > len(previous):
                links[url] = text
        if not links:
            continue
        per_record.append(len(links))
        main_url, main_text = max(links.items(), key=lambda kv: len(kv[1]))
        items.append((main_url, main_text))
        text_lens.append(len(main_text))
        dated += _is_dated(record)
    n = len(items)
    cand.items = items
    if n == 0:
        return
    patterns = Counter(url_pattern(u) for u, _ in items)
    cand.pattern = patterns.most_common(1)[0][1] / n
    cand.dated = dated / n
    cand.text_len = median(text_lens)
    cand.per_record = median(per_record)
    distinct = len({u for u, _ in items}) / n
    cand.quality = (0.2 + 0.4 * cand.dated + 0.25 * cand.pattern + 0.15 * min(1.0, cand.text_len / 8)) * distinct
    if cand.per_record > 2:
        cand.quality *= 2 / cand.per_record
    cand.score = n * cand.quality


def find_list(
    root: lxml.html.HtmlElement,
    base_url: str,
    same_site: Callable[[str], bool],
    skip: Callable[[str], bool] = lambda url: False,
) -> ListRegion | None:
    """The page's list of items, or None when the page has no data region that looks like one.

    ``same_site(url)`` says whether a link may be followed at all; ``skip(url)`` drops links that are never items
    (binary files). The region with the best score wins; sibling containers of the same shape (a list split into
    several ``<ul>``) are merged into it.
    """
    page = base_url.split("#", 1)[0].rstrip("/")
    cache: dict[lxml.html.HtmlElement, str | None] = {}

    def eligible(a: lxml.html.HtmlElement) -> str | None:
        if a in cache:
            return cache[a]
        url = link_url(a, base_url)
        if url is not None and (not same_site(url) or skip(url) or url.rstrip("/") == page):
            url = None
        cache[a] = url
        return url

    candidates = _candidates(root, eligible)
    for cand in candidates:
        _measure(cand, eligible)
    candidates = [c for c in candidates if len(c.items) >= MIN_RECORDS]
    if not candidates:
        return None
    best = max(candidates, key=lambda c: (c.score, c.dated, len(c.items)))
    # dated records make a list; undated ones only with one URL pattern and title-like anchors (a menu of
    # /col/col123/index.html channels shares a pattern too, but its labels are two to six characters)
    if best.quality < MIN_QUALITY or (best.dated < 0.5 and (best.pattern < 0.6 or best.text_len < MIN_TITLE)):
        return None
    members = [best]
    parent = best.container.getparent()
    for cand in candidates:
        if (
            cand is not best
            and parent is not None
            and cand.container.getparent() is parent
            and _signature(cand.container) == _signature(best.container)
            and cand.signature == best.signature
            and cand.quality >= 0.8 * best.quality
        ):
            members.append(cand)
    members.sort(key=lambda c: c.container.sourceline or 0)
    items: list[tuple[str, str]] = []
    seen: set[str] = set()
    for member in members:
        for url, text in member.items:
            if url not in seen:
                seen.add(url)
                items.append((url, text))
    records = sum(len(m.items) for m in members)
    return ListRegion(
        items=items,
        records=records,
        dated=best.dated,
        pattern=best.pattern,
        quality=best.quality,
        score=sum(m.score for m in members),
        where=_locator(best.container),
    )


def script_pages(scripts: Iterable[str], page_url: str) -> list[str]:
    """Next pages announced only by a JavaScript pager (TRS ``createPageHTML``, ``countPage``/``currentPage``).

    The pager writes ``index_1.html``, ``index_2.html`` … next to ``index.html``; the page after the current one is
    returned (the rest follow one by one, each page announcing its successor).
    """
    out: list[str] = []
    for script in scripts:
        for m in _CREATE_PAGE.finditer(script):
            args = [a.strip().strip("'\"") for a in m.group(1).split(",")]
            numbers = [int(a) for a in args if a.isdigit()]
            strings = [a for a in args if a and not a.isdigit()]
            ext_at = next((i for i, s in enumerate(strings) if s.lower() in _PAGE_EXTS), None)
            if len(numbers) < 2 or ext_at is None or ext_at == 0:
                continue
            count, current = numbers[0], numbers[1]
            name, ext = strings[ext_at - 1], strings[ext_at]
            if current + 1 < count and re.fullmatch(r"[\w-]+", name):
                out.append(urljoin(page_url, f"{name}_{current + 1}.{ext}"))
        counted = _COUNT_PAGE.search(script)
        current_m = _CURRENT_PAGE.search(script)
        if counted and current_m and "index" in script:
            count, current = int(counted.group(1)), int(current_m.group(1))
            ext = "shtml" if ".shtml" in script or '"shtml"' in script else "html"
            if current + 1 < count:
                out.append(urljoin(page_url, f"index_{current + 1}.{ext}"))
    return list(dict.fromkeys(out))
