"""Metadata around the article: publish time, author, outlet and language, and the order of evidence.

The publish time comes from the source's selector, the byline area around the headline (labelled
发布时间/日期/时间 first, then timestamps, then plain dates), ``<meta>`` tags, the feed entry, the URL
(``/2021/04/08/``, ``t20210408_``), any labelled date on the page, htmldate, and finally a date given only to
the month. Outlet and author come from the byline area and the lines after the body, then meta tags.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.extract.bylines import clean_author
from pipelines.extract.chars import LETTER, squash
from pipelines.extract.dates import find_dates, parse_date

# <meta> names of publish times, read by what they say: "article:published_time", "PubDate", "publishdate",
# "apub:time", "firstpublishedtime", "weibo: article:create_at" … (an update time is weaker evidence; the
# time a page was generated or expires is none)
_META_PUBLISHED = re.compile(
    r"publish|pub[_:.\-]?(?:date|time)|release|issued|create|first|posted|(?:^|[:._\- ])(?:date|time)$"
)
_META_UPDATED = re.compile(r"modif|updat|dateupdate|revised")
_META_NOT_PUBLISHED = re.compile(r"make|generat|expir|effective|valid|build|crawl|index|copyright")
META_AUTHOR_KEYS = ("author", "article:author", "dc.creator", "byl", "sailthru.author", "parsely-author")
META_OUTLET_KEYS = ("source", "og:site_name", "contentsource", "mediaid", "publisher", "application-name")
_LANG_ATTR = re.compile(r"^[a-zA-Z]{2,3}")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def language_of(root: Any, text: str) -> str:
    """ISO code of the text's language: zh/ja/ko by script, else the page's lang attribute."""
    sample = text[:5000]
    kana = len(_KANA.findall(sample))
    hangul = len(_HANGUL.findall(sample))
    cjk = len(_HAN.findall(sample))
    if not kana and not hangul and cjk > 0.25 * len(sample):
        return "zh"  # whatever the count of letters (slow to take), it is no more than the characters
    letters = len(LETTER.findall(sample)) or 1
    if kana > 0.05 * letters:
        return "ja"
    if hangul > 0.2 * letters:
        return "ko"
    if cjk > 0.25 * letters:
        return "zh"
    if root is not None:
        lang = root.get("lang") or root.get("xml:lang") or ""
        if not lang:
            found = root.xpath(
                "//meta[@http-equiv='content-language' or @http-equiv='Content-Language']/@content"
            )
            lang = found[0] if found else ""
        m = _LANG_ATTR.match(lang.strip())
        if m:
            return m.group(0).lower()
    return ""


def meta_dates(found: dict[str, str]) -> tuple[str | None, str | None]:
    """(publish time, update time) stated by the page's <meta> tags."""
    published: str | None = None
    updated: str | None = None
    for key, value in found.items():
        if _META_NOT_PUBLISHED.search(key):
            continue
        if _META_UPDATED.search(key):
            updated = updated or parse_date(value)
        elif _META_PUBLISHED.search(key):
            published = published or parse_date(value)
    return published, updated


def is_running_text(line: str) -> bool:
    """A line of prose (a sentence, not a byline): the dates it mentions are not the page's date."""
    return len(line) >= 50 and ("。" in line or line.count("，") >= 2)


def window_dates(lines: list[str]) -> tuple[str | None, str | None, str | None]:
    """(first labelled date, first timestamp, first plain date) of the byline lines, prose skipped."""
    labelled: str | None = None
    timed: str | None = None
    plain: str | None = None
    for line in lines:
        if is_running_text(line):
            continue
        for hit in find_dates(line):
            if hit.labelled and labelled is None:
                labelled = hit.iso
            elif hit.has_time and timed is None:
                timed = hit.iso
            elif plain is None:
                plain = hit.iso
    return labelled, timed, plain


def pick_date(lines: list[str]) -> str | None:
    """The first labelled date of the lines, else the first timestamp, else the first plain date."""
    labelled, timed, plain = window_dates(lines)
    return labelled or timed or plain


def byline_window(lines: list[str], title_idx: int, body_start: int) -> list[str]:
    """The lines around the headline where bylines sit."""
    if title_idx >= 0:
        lo, hi = max(0, title_idx - 4), min(len(lines), max(title_idx + 14, body_start + 1))
    elif body_start >= 0:
        lo, hi = max(0, body_start - 12), min(len(lines), body_start + 2)
    else:
        lo, hi = 0, min(len(lines), 30)
    return [line for line in lines[lo:hi] if len(line) <= 240]


def plausible_author(value: str) -> str:
    """A meta author that names a person, not a site, a team, an account or a keyword list."""
    value = squash(value)
    if not value or len(value) > 40 or value.count(",") + value.count("，") >= 2:
        return ""
    if re.search(r"(?i)team|powered|discuz|wordpress|admin|copyright|有限公司|网|報|报社|出版社", value):
        return ""
    return clean_author(value)


def htmldate_of(root: Any, url: str) -> str | None:
    """htmldate's reading of the page (a last resort)."""
    try:
        from htmldate import find_date

        found = find_date(
            root, url=url or None, extensive_search=False, original_date=True, outputformat="%Y-%m-%d"
        )
    except Exception:  # htmldate is a last resort; its failures are not ours
        return None
    return parse_date(found) if found else None
