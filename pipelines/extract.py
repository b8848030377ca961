"""Article extraction: one fetched page → title, body, publish time, outlet, author, language, repairs.

How it works, for a page whose text is Chinese (or Japanese/Korean):

1. The decoded HTML is parsed with lxml; scripts, styles, forms and hidden elements are dropped.
2. The document is cut into *blocks* (the text between block-level boundaries: p, div, td, li, br, h1-h6 ...),
   each with its character count, the share of it inside links, its Chinese punctuation and whether it sits
   in a container named like page furniture (nav, footer, comment, share, related ...).
3. Each block gets a value — positive for prose (long, punctuated, few links), negative for navigation,
   link lists and furniture — and the article body is the contiguous run of blocks with the largest total
   (a maximum-sum subarray), so short sub-headings inside an article are kept while menus around it are not.
4. Boilerplate lines (credits, share widgets, copyright) are removed at the edges and within the body.
5. The title prefers the headline (source selector, og:title, h1, a headline-like block) over ``<title>``,
   whose site suffix ("标题_人民网") is cut; the publish time, outlet and author come from the byline area
   around the headline (发布时间/来源/作者 in all common layouts), then meta tags, the URL, the feed entry and
   htmldate.

Pages in other scripts go through trafilatura (given the already-decoded, already-parsed tree), with the same
title, date and byline evidence added. Plain text "as scraped" goes through :func:`clean_text_document`, which
applies the same block valuation to lines.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from core.errors import ExtractionError
from core.items import Article, Page, doc_id_for
from pipelines.attachments import ATTACHMENT_TYPES, find_attachments
from pipelines.boilerplate import is_boilerplate
from pipelines.bylines import find_author, find_editor, find_outlet
from pipelines.dates import date_from_url, find_dates, month_date, parse_date
from pipelines.decode import decode_html
from pipelines.normalize import strip_pinyin_annotations
from pipelines.policy import policy_fields
from pipelines.spam import clean_spam

log = logging.getLogger(__name__)

MAX_HTML_CHARS = 4_000_000  # larger pages are cut before parsing (repair "oversized-input-truncated")
MIN_BODY_CHARS = 40  # a body shorter than this (non-space characters) is no article
THIN_TEXT = 1000  # below this many characters a Western page's fast reading is checked against the fallbacks

_DROP_TAGS = (
    "script", "style", "noscript", "template", "iframe", "select", "option", "textarea", "button", "input",
    "svg", "canvas", "object", "embed", "head", "map", "area", "audio", "video", "source", "datalist",
)  # fmt: skip
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "td",
        "th",
        "tr",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "blockquote",
        "pre",
        "form",
        "center",
        "body",
        "br",
        "hr",
        "figure",
        "figcaption",
        "address",
        "caption",
        "fieldset",
        "legend",
        "details",
        "summary",
        "title",
    ]
)
_NEG_TAGS = frozenset(("nav", "footer", "aside"))
_NEG_TOKENS = frozenset(
    [
        "comment",
        "comments",
        "commentlist",
        "cmt",
        "footer",
        "foot",
        "nav",
        "navbar",
        "navigation",
        "menu",
        "menus",
        "sidebar",
        "side",
        "breadcrumb",
        "breadcrumbs",
        "crumb",
        "crumbs",
        "share",
        "sharing",
        "bdshare",
        "copyright",
        "related",
        "relate",
        "recommend",
        "recommended",
        "advert",
        "ad",
        "ads",
        "adv",
        "banner",
        "login",
        "toolbar",
        "pagination",
        "pager",
        "reply",
        "replies",
        "hot",
        "rank",
        "ranking",
        "bottom",
        "xgxw",
        "tuijian",
        "fenxiang",
        "friend",
        "friendlink",
        "links",
        "footnav",
        "topnav",
        "subnav",
        "tags",
        "tag",
        "keywords",
        "dl_box",
        "right_side",
        "widget",
        "popup",
        "modal",
    ]
)
_POS_TOKENS = frozenset(
    [
        "article",
        "content",
        "contents",
        "text",
        "detail",
        "details",
        "main",
        "post",
        "entry",
        "story",
        "zoom",
        "trs_editor",
        "artibody",
        "endtext",
        "article_content",
        "articlecontent",
        "news_content",
        "newscontent",
        "main_content",
        "maincontent",
        "con_text",
        "content_text",
        "tex",
        "text_content",
        "view",
        "pages_content",
        "conbox",
    ]
)
_TITLE_TOKENS = frozenset(
    [
        "title",
        "headline",
        "biaoti",
        "tit",
        "bt",
        "article_title",
        "articletitle",
        "news_title",
        "newstitle",
        "h_title",
    ]
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]")
_ZH_PUNCT = re.compile(r"[，。！？；：、“”‘’（）《》,.!?;]")
_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0\u2002\u2003\u2009\u200b\u3000\ufeff]+")
_TITLE_SPLIT = re.compile(r"\s*[_|｜]\s*|\s+[-–—－]\s+|\s*-{2,}\s*|\s*－－\s*|\s*—{1,2}\s*(?=[^—]{2,12}$)")
_SITE_WORD = re.compile(
    r"(网|網|报|報|站|频道|頻道|新闻|新聞|中心|在线|在線|平台|政府|门户|門戶|官网|官網|杂志|雜誌|电视台|电台|日报|"
    r"晚报|时报|科协|科協|\.com|\.cn|\.net|\.org|News|Online|Times|Post|Daily)",
    re.I,
)
_META_DATE_KEYS = (
    "article:published_time", "og:published_time", "og:release_date", "publishdate", "pubdate", "publish_date",
    "publishtime", "publish-date", "published_time", "datepublished", "date", "dc.date", "dc.date.issued",
    "dcterms.created", "sailthru.date", "parsely-pub-date", "firstpublishedtime", "created", "citation_date",
    "citation_publication_date", "weibo: article:create_at", "article:modified_time",
)  # fmt: skip
_META_AUTHOR_KEYS = ("author", "article:author", "dc.creator", "byl", "sailthru.author", "parsely-author")
_META_OUTLET_KEYS = ("source", "og:site_name", "contentsource", "mediaid", "publisher", "application-name")
_LANG_ATTR = re.compile(r"^[a-zA-Z]{2,3}")
_ORIGINAL_TITLE = re.compile(r"^\s*[【\[]?\s*原\s*[标標]\s*[题題]\s*[】\]]?\s*[:：]\s*(.{4,80})$")


@dataclass
class Extraction:
    """What one page yields."""

    title: str = ""
    text: str = ""  # paragraphs separated by "\n\n"
    published: str | None = None  # ISO 8601 with offset
    author: str = ""
    outlet: str = ""
    language: str = ""
    repairs: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # policy fields: 发文字号, 发文机关, 成文日期 ...
    attachments: list[dict[str, Any]] = field(default_factory=list)  # {"url", "name", "type"}
    spam: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Block:
    text: str
    chars: int
    link: int
    punct: int
    tag: str
    neg: bool
    pos: bool
    heading: int  # 1..6 inside h1..h6, else 0
    titleish: bool  # inside an element whose class/id names a title
    element: Any = None

    @property
    def link_density(self) -> float:
        return self.link / self.chars if self.chars else 0.0


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _nonspace(text: str) -> int:
    return len(text) - text.count(" ") - text.count("\n")


_NO_TOKENS: frozenset[str] = frozenset()


def _tokens(el: Any) -> frozenset[str]:
    cls = el.get("class")
    ident = el.get("id")
    if not cls and not ident:
        return _NO_TOKENS
    return _split_tokens(f"{cls or ''} {ident or ''}")


@lru_cache(maxsize=4096)
def _split_tokens(raw: str) -> frozenset[str]:
    low = raw.lower()
    toks = set(low.split())
    toks |= set(re.split(r"[\s_\-]+", low))
    toks.discard("")
    return frozenset(toks)


def _parse(html: str) -> Any:
    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        try:
            root = lxml_html.fromstring(html.encode("utf-8", "replace"))
        except (etree.ParserError, ValueError):
            return None
    return root


def _clean_tree(root: Any) -> None:
    etree.strip_tags(root, etree.Comment, etree.ProcessingInstruction)  # keeps the text after them
    for el in root.xpath("//" + " | //".join(_DROP_TAGS)):
        if el.getparent() is not None and el.tag != "head":
            el.drop_tree()
    for el in root.xpath("//*[@hidden or contains(translate(@style,' ',''),'display:none')]"):
        if el.getparent() is not None and el.tag not in ("html", "body"):
            el.drop_tree()


def _blocks(root: Any) -> list[_Block]:
    """Cut the (cleaned) tree into text blocks in document order."""
    out: list[_Block] = []
    buf: list[str] = []
    link_chars = 0
    # context stack: (is_link, neg, pos, heading, titleish)
    stack: list[tuple[bool, bool, bool, int, bool]] = [(False, False, False, 0, False)]
    current_el: list[Any] = [root]

    def flush() -> None:
        nonlocal buf, link_chars
        if buf:
            text = _squash("".join(buf))
            if text:
                n = _nonspace(text)
                _, neg, pos, heading, titleish = stack[-1]
                out.append(
                    _Block(
                        text=text,
                        chars=n,
                        link=min(link_chars, n),
                        punct=len(_ZH_PUNCT.findall(text)),
                        tag=str(current_el[-1].tag),
                        neg=neg,
                        pos=pos,
                        heading=heading,
                        titleish=titleish,
                        element=current_el[-1],
                    )
                )
        buf = []
        link_chars = 0

    def add(text: str | None, in_link: bool) -> None:
        nonlocal link_chars
        if text:
            buf.append(text)
            if in_link:
                link_chars += _nonspace(_squash(text))

    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag
        if not isinstance(tag, str):  # comments, processing instructions
            if event == "end":
                add(el.tail, stack[-1][0])
            continue
        tag = tag.lower()
        if event == "start":
            is_block = tag in _BLOCK_TAGS
            if is_block:
                flush()
            parent = stack[-1]
            toks = _tokens(el)
            own_neg = tag in _NEG_TAGS or bool(toks & _NEG_TOKENS)
            own_pos = bool(toks & _POS_TOKENS)
            # an article container inside a furniture-named wrapper ("main-side" ...) is content again
            neg = own_neg or (parent[1] and not own_pos)
            pos = parent[2] or own_pos
            heading = int(tag[1]) if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" else parent[3]
            titleish = parent[4] or bool(toks & _TITLE_TOKENS)
            stack.append((parent[0] or tag == "a", neg, pos, heading, titleish))
            if is_block:
                current_el.append(el)
            if tag == "br" or tag == "img":
                pass
            else:
                add(el.text, stack[-1][0])
        else:
            is_block = tag in _BLOCK_TAGS
            if is_block:
                flush()
                current_el.pop()
            stack.pop()
            add(el.tail, stack[-1][0])
    flush()
    return out


def _value(b: _Block) -> float:
    """How much a block looks like article prose (positive) or page furniture (negative)."""
    n = b.chars
    if b.neg:
        return -0.5 * n - 5
    ld = b.link_density
    if ld >= 0.5:
        return -max(float(b.link), 8.0)
    nonlink = n - b.link
    v = float(nonlink)
    if b.punct == 0 and nonlink < 40:
        v *= 0.3
    elif nonlink < 25:
        v *= 0.5
    if b.pos:
        v *= 1.2
    return v - 12.0 - 2.0 * b.link


def _best_run(values: list[float]) -> tuple[int, int]:
    """Maximum-sum contiguous run [start, end] (inclusive); (0, -1) when every value is negative."""
    best, best_range = 0.0, (0, -1)
    total, start = 0.0, 0
    for i, v in enumerate(values):
        if total <= 0:
            total, start = v, i
        else:
            total += v
        if total > best:
            best, best_range = total, (start, i)
    return best_range


_LETTER = re.compile(r"[^\W\d_]")
_TAG = re.compile(r"<[^>]*>")


def _is_cjk_text(text: str) -> bool:
    sample = text[:8000]
    cjk = len(_CJK.findall(sample))
    letters = len(_LETTER.findall(sample))
    return letters > 0 and cjk / letters > 0.25


def _language(root: Any, text: str) -> str:
    sample = text[:5000]
    kana = len(re.findall(r"[\u3040-\u30ff]", sample))
    hangul = len(re.findall(r"[\uac00-\ud7af]", sample))
    cjk = len(re.findall(r"[\u4e00-\u9fff]", sample))
    letters = len(_LETTER.findall(sample)) or 1
    if kana > 0.05 * letters:
        return "ja"
    if hangul > 0.2 * letters:
        return "ko"
    if cjk > 0.25 * letters:
        return "zh"
    if root is not None:
        lang = root.get("lang") or root.get("xml:lang") or ""
        if not lang:
            metas = root.xpath(
                "//meta[@http-equiv='content-language' or @http-equiv='Content-Language']/@content"
            )
            lang = metas[0] if metas else ""
        m = _LANG_ATTR.match(lang.strip())
        if m:
            return m.group(0).lower()
    return ""


# ---------------------------------------------------------------------------------------------------------------
# titles
# ---------------------------------------------------------------------------------------------------------------
def clean_title(title: str) -> str:
    """Cut site names from a ``<title>``: "标题_人民网" → "标题", "标题 - 新华网" → "标题"."""
    title = _squash(title).strip(" -—_|·")
    if not title:
        return ""
    parts = [p for p in _TITLE_SPLIT.split(title) if p and p.strip()]
    if len(parts) <= 1:
        return title
    # drop site-like segments from the end, then from the start
    while len(parts) > 1 and len(parts[-1]) <= 24 and (_SITE_WORD.search(parts[-1]) or len(parts[-1]) <= 6):
        parts.pop()
    while len(parts) > 1 and len(parts[0]) <= 16 and _SITE_WORD.search(parts[0]) and len(parts[1]) >= 6:
        parts.pop(0)
    if len(parts) == 1:
        return parts[0].strip()
    longest = max(parts, key=len)
    return longest.strip() if len(longest) >= 0.5 * sum(len(p) for p in parts) else " ".join(parts).strip()


def _similar(a: str, b: str) -> float:
    """Share of a's characters (as bigrams) found in b."""
    if not a or not b:
        return 0.0
    if a in b or b in a:
        return 1.0
    grams_a = {a[i : i + 2] for i in range(len(a) - 1)} or {a}
    grams_b = {b[i : i + 2] for i in range(len(b) - 1)} or {b}
    return len(grams_a & grams_b) / len(grams_a)


def _metas(root: Any) -> dict[str, str]:
    """Every <meta> key (property/name/itemprop/http-equiv, lower-cased) → its first non-empty content."""
    out: dict[str, str] = {}
    for el in root.iter("meta"):
        content = (el.get("content") or "").strip()
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = el.get(attr)
            if key:
                out.setdefault(key.strip().lower(), content)
    return out


def _meta(metas: dict[str, str], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = metas.get(key)
        if value:
            return value
    return ""


def _select(root: Any, selector: str | None) -> list[Any]:
    if not selector:
        return []
    try:
        return list(root.cssselect(selector))
    except Exception:  # an invalid selector from a source file is ignored, not fatal
        try:
            return list(root.xpath(selector))
        except Exception:
            return []


def _choose_title(
    root: Any, blocks: list[_Block], body_start: int, sel_title: str, feed_title: str
) -> tuple[str, int]:
    """The headline and the index of its block (-1 when not in a block)."""
    title_tag = ""
    t = root.find(".//title")
    if t is not None:
        title_tag = _squash(t.text_content())
    if sel_title:
        idx = next((i for i, b in enumerate(blocks) if b.text == sel_title), -1)
        return sel_title, idx
    og = _squash(
        _meta(_metas(root), ("og:title", "twitter:title", "title", "articletitle", "headline", "dc.title"))
    )
    reference = title_tag or og or feed_title
    candidates: list[tuple[float, str, int]] = []
    window_lo = max(0, body_start - 40)
    for i, b in enumerate(blocks[: body_start + 3] if body_start >= 0 else blocks[:200]):
        if not (b.heading or b.titleish) or i < window_lo and b.heading != 1:
            continue
        text = b.text.strip(" -—_|·")
        n = len(text)
        if n < 4 or n > 120:
            continue
        score = {1: 3.0, 2: 2.0, 3: 1.0}.get(b.heading, 0.5)
        if b.titleish:
            score += 1.0
        sim = _similar(text, reference) * min(1.0, 1.6 * n / len(reference)) if reference else 0.0
        score += 4.0 * sim
        if b.link_density > 0.9:
            score -= 1.5
        if b.neg:
            score -= 2.0
        if text.endswith(("。", "：", ":")):
            score -= 2.0
        if body_start >= 0 and 0 <= body_start - i <= 12:
            score += 1.0
        if (n <= 8 and _SITE_WORD.search(text[-2:])) or (n <= 6 and sim < 0.5):
            score -= 2.0
        candidates.append((score, text, i))
    if candidates:
        score, text, idx = max(candidates, key=lambda c: (c[0], -c[2]))
        if score >= 3.5:
            return text, idx
    headline = _headline_block(blocks, body_start)
    if headline >= 0:
        return blocks[headline].text.strip(" -—_|·"), headline
    if og:
        cleaned = clean_title(og)
        if len(cleaned) >= 4:
            return cleaned, -1
    if title_tag:
        cleaned = clean_title(title_tag)
        if cleaned:
            idx = next((i for i, b in enumerate(blocks[: body_start + 3]) if b.text.strip() == cleaned), -1)
            return cleaned, idx
    if feed_title:
        return feed_title, -1
    if candidates:
        score, text, idx = max(candidates, key=lambda c: (c[0], -c[2]))
        return text, idx
    return "", -1


def _headline_block(blocks: list[_Block], body_start: int) -> int:
    """A short unpunctuated block just above the body and followed by a dated byline: the headline."""
    if body_start < 0:
        return -1
    for i in range(max(0, body_start - 8), min(len(blocks), body_start + 1)):
        b = blocks[i]
        n = len(b.text)
        if not (6 <= n <= 80) or b.link_density > 0.3 or b.neg or b.text.endswith(("。", "：", ":", "，")):
            continue
        if (
            find_dates(b.text)
            or sum(ch.isdigit() for ch in b.text) > 0.3 * n
            or re.match(r"^\S{1,8}[:：]", b.text)
        ):
            continue
        after = " ".join(x.text for x in blocks[i + 1 : i + 4])
        if any(h.labelled or h.has_time for h in find_dates(after)) or find_outlet(after):
            return i
    return -1


# ---------------------------------------------------------------------------------------------------------------
# bylines and dates around the headline
# ---------------------------------------------------------------------------------------------------------------
def _pick_date(lines: list[str]) -> str | None:
    labelled: str | None = None
    timed: str | None = None
    plain: str | None = None
    for line in lines:
        for hit in find_dates(line):
            if hit.labelled and labelled is None:
                labelled = hit.iso
            elif hit.has_time and timed is None:
                timed = hit.iso
            elif plain is None:
                plain = hit.iso
    return labelled or timed or plain


def _byline_window(lines: list[str], title_idx: int, body_start: int) -> list[str]:
    if title_idx >= 0:
        lo, hi = max(0, title_idx - 4), min(len(lines), max(title_idx + 14, body_start + 1))
    elif body_start >= 0:
        lo, hi = max(0, body_start - 12), min(len(lines), body_start + 2)
    else:
        lo, hi = 0, min(len(lines), 30)
    return [line for line in lines[lo:hi] if len(line) <= 240]


def _plausible_author(value: str) -> str:
    """A meta author that names a person, not a site, a team or a keyword list."""
    value = _squash(value)
    if not value or len(value) > 40 or value.count(",") + value.count("，") >= 2:
        return ""
    if re.search(r"(?i)team|powered|discuz|wordpress|admin|copyright|有限公司|网|報|报社|出版社", value):
        return ""
    return value


def _htmldate(root: Any, url: str) -> str | None:
    try:
        from htmldate import find_date

        found = find_date(
            root, url=url or None, extensive_search=False, original_date=True, outputformat="%Y-%m-%d"
        )
    except Exception:  # htmldate is a last resort; its failures are not ours
        return None
    return parse_date(found) if found else None


# ---------------------------------------------------------------------------------------------------------------
# body
# ---------------------------------------------------------------------------------------------------------------
def _body_lines(blocks: list[_Block], start: int, end: int, title: str) -> tuple[list[str], int]:
    chosen = [b for b in blocks[start : end + 1] if not b.neg and b.link_density < 0.5]
    lines = [b.text for b in chosen]
    removed = 0
    # drop the headline and byline lines at the head, credits and widgets anywhere, furniture at the edges
    kept: list[str] = []
    last = len(lines) - 1
    for i, line in enumerate(lines):
        edge = i < 4 or i > last - 4
        if title and (line == title or (len(line) <= len(title) + 4 and _similar(title, line) > 0.9)):
            removed += 1
            continue
        if is_boilerplate(strip_pinyin_annotations(line), edge=edge):
            removed += 1
            continue
        if edge and len(line) <= 100 and _is_byline(line):
            removed += 1
            continue
        kept.append(line)
    return kept, removed


def _is_byline(line: str) -> bool:
    line = strip_pinyin_annotations(line)
    hits = find_dates(line)
    if any(h.labelled for h in hits) and len(line) <= 100:
        return True
    credit = bool(find_outlet(line) or find_editor(line))
    if hits and (credit or len(line) - (hits[0].end - hits[0].start) < 20):
        return True
    return credit and len(line) < 50


def _clean_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if len(line) >= 12 and line in seen:  # the same paragraph twice (mobile + desktop copies)
            continue
        seen.add(line)
        out.append(line)
    return out


def _is_post_header(text: str) -> bool:
    """A line that is only a timestamp (or a labelled date): the header of the next post or comment."""
    for hit in find_dates(text):
        rest = len(text) - (hit.end - hit.start)
        if (hit.has_time and rest <= 14) or (hit.labelled and rest <= 24):
            return True
    return False


def _cut_posts(blocks: list[_Block], start: int, end: int) -> int:
    """End of the first article when the run spans several posts (blogs, forums): a timestamp line after
    the article has started opens the next post, whose title just above it goes with it."""
    seen = 0
    for i in range(start, end + 1):
        b = blocks[i]
        if seen >= 150 and b.chars <= 60 and _is_post_header(b.text):
            cut = i - 1
            for j in (i - 1, i - 2):
                if (
                    j > start
                    and blocks[j].chars <= 40
                    and not blocks[j].text.endswith(("。", "！", "？", "."))
                ):
                    cut = j - 1
                    break
            return max(start, cut)
        if b.link_density < 0.5 and not b.neg:
            seen += b.chars - b.link
    return end


def _extract_cjk(blocks: list[_Block]) -> tuple[int, int]:
    values = [_value(b) for b in blocks]
    start, end = _best_run(values)
    if end >= start:
        end = _cut_posts(blocks, start, end)
    return start, end


def _trafilatura_body(root: Any, url: str) -> tuple[str, str, str, str | None]:
    """(text, title, author, date) from trafilatura on the parsed tree; empty strings when it finds nothing."""
    try:
        import trafilatura

        doc = trafilatura.bare_extraction(
            root, url=url or None, with_metadata=True, include_comments=False, fast=True
        )
        if doc is None or len(str(getattr(doc, "text", "") or "")) < THIN_TEXT:
            # a thin reading: let trafilatura compare with its fallback extractors (slower, better recall)
            full = trafilatura.bare_extraction(root, url=url or None, include_comments=False)
            if (
                full is not None
                and doc is not None
                and not isinstance(doc, dict)
                and not isinstance(full, dict)
            ):
                doc.text = full.text
            elif full is not None:
                doc = full
    except Exception:  # trafilatura raises on odd trees; the page then gets our own block extraction
        return "", "", "", None
    if doc is None:
        return "", "", "", None
    get = doc.get if isinstance(doc, dict) else lambda k: getattr(doc, k, None)
    text = str(get("text") or "")
    text = re.sub(r"\n+", "\n\n", text).strip()
    date = get("date")
    return text, str(get("title") or ""), str(get("author") or ""), parse_date(str(date)) if date else None


# ---------------------------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------------------------
def extract_article(
    html: str,
    url: str = "",
    *,
    selectors: dict[str, str] | None = None,
    feed_entry: dict[str, Any] | None = None,
) -> Extraction:
    """Extract one decoded HTML page. Never raises for bad input: an empty result says what went wrong."""
    selectors = selectors or {}
    feed_entry = feed_entry or {}
    result = Extraction()
    if not html or not html.strip():
        result.repairs.append("empty-input")
        return result
    head = html[:4096]
    if sum(1 for ch in head if ch < " " and ch not in "\t\n\r\f") > 0.02 * len(head):
        result.repairs.append("binary-input:text")
        return result
    if "<" not in head:  # plain text (a text/plain response or a dump): read it line by line
        return clean_text_document(html)
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
        result.repairs.append("oversized-input-truncated")
    if "\x00" in html[:4096]:
        html = html.replace("\x00", "")
        result.repairs.append("nul-bytes-removed")
    root = _parse(html)
    if root is None:
        result.repairs.append("unparseable-html")
        return result
    # evidence read before cleaning
    sel_title = _squash(" ".join(e.text_content() for e in _select(root, selectors.get("title"))[:1]))
    sel_body_els = _select(root, selectors.get("body"))
    sel_date = _squash(" ".join(e.text_content() for e in _select(root, selectors.get("date"))[:1]))
    sel_author = _squash(" ".join(e.text_content() for e in _select(root, selectors.get("author"))[:1]))
    attachments = find_attachments(root, url)
    metas = _metas(root)
    meta_date = parse_date(_meta(metas, _META_DATE_KEYS))
    meta_author = _meta(metas, _META_AUTHOR_KEYS)
    meta_outlet = _meta(metas, _META_OUTLET_KEYS)
    # pages in other scripts: trafilatura reads the tree as the page gave it (it copies before pruning)
    traf: tuple[str, str, str, str | None] | None = None
    n_cjk = len(_CJK.findall(html, 0, 80_000))
    western = n_cjk < 20 or (n_cjk < 300 and not _is_cjk_text(_TAG.sub(" ", html[:80_000])))
    if not sel_body_els and western:
        traf = _trafilatura_body(root, url)
        if len(traf[0]) >= MIN_BODY_CHARS and not _is_cjk_text(traf[0]):
            return _western(
                result, root, url, traf, metas, attachments, sel_title, sel_date, sel_author, feed_entry
            )
    _clean_tree(root)
    body_el = root.find("body")
    blocks = _blocks(body_el if body_el is not None else root)
    all_text = "\n".join(b.text for b in blocks)
    language = _language(root, all_text)
    result.language = language
    lines = [b.text for b in blocks]

    body_text = ""
    body_start, body_end = -1, -1
    if sel_body_els:
        sel_blocks: list[_Block] = []
        for el in sel_body_els:
            sel_blocks.extend(_blocks(el))
        body_lines = [b.text for b in sel_blocks if b.link_density < 0.5]
        if sum(len(x) for x in body_lines) >= MIN_BODY_CHARS:
            body_text = "\n\n".join(_clean_lines([x for x in body_lines if not is_boilerplate(x, edge=True)]))
            first = sel_blocks[0].text if sel_blocks else ""
            body_start = next((i for i, b in enumerate(blocks) if b.text == first), -1)
            body_end = body_start
            result.repairs.append("selector-body")
    traf_title = traf_author = ""
    traf_date: str | None = None
    cjk = language in ("zh", "ja", "ko") or _is_cjk_text(all_text)
    if not body_text:
        start, end = _extract_cjk(blocks)
        body_start, body_end = start, end
        if not cjk:
            text, traf_title, traf_author, traf_date = traf or _trafilatura_body(root, url)
            if len(text) >= MIN_BODY_CHARS:
                body_text = text
        elif traf is not None and traf[0]:
            # a page guessed Western but read as CJK: the longer reading wins when ours is thin
            kept, _ = _body_lines(blocks, start, end, "") if end >= start else ([], 0)
            if sum(len(x) for x in kept) < 0.3 * len(traf[0]):
                body_text = traf[0]
                traf_title, traf_author, traf_date = traf[1], traf[2], traf[3]

    title, title_idx = _choose_title(root, blocks, body_start, sel_title, str(feed_entry.get("title") or ""))
    if not title and traf_title:
        title = clean_title(traf_title)
    if title and not sel_title and len(title) > 8:
        # "原标题：..." inside the body names the headline when the page's own is a rewrite
        pass
    result.title = title

    if not body_text and body_end >= body_start >= 0:
        kept, removed = _body_lines(blocks, body_start, body_end, title)
        kept = _clean_lines(kept)
        if removed:
            result.repairs.append("boilerplate-removed")
        body_text = "\n\n".join(kept)
    result.text = body_text

    # date: selector, byline area, meta tags, feed entry, URL, whole page labels, htmldate
    window = _byline_window(lines, title_idx, body_start)
    published = parse_date(sel_date) if sel_date else None
    if published is None and not cjk and traf_date:
        published = traf_date  # htmldate's reading of Western pages
    if published is None:
        published = _pick_date(window)
    if published is None and meta_date:
        published = meta_date
    if published is None and feed_entry.get("published"):
        published = parse_date(str(feed_entry["published"]))
    if published is None and traf_date:
        published = traf_date
    if published is None:
        published = date_from_url(url)
    if published is None:
        labelled = [h for line in lines for h in find_dates(line) if h.labelled]
        if labelled:
            published = labelled[0].iso
    if published is None and traf is None:  # trafilatura already asked htmldate
        published = _htmldate(root, url)
    if published is None:
        # documents dated only to the month: "2003年5月" under the headline, "——《杂志》1996年6月号" at the end
        paragraphs = body_text.split("\n\n")
        following = lines[body_end + 1 : body_end + 4] if body_end >= 0 else []
        for line in window + paragraphs[:3] + paragraphs[-3:] + following:
            if len(line) <= 40 and (published := month_date(line)):
                result.repairs.append("date-month-only")
                break
    result.published = published

    window_text = strip_pinyin_annotations("\n".join(window))
    head = body_text[:300]
    after_body = lines[body_end + 1 : body_end + 10] if body_end >= 0 else []
    tail = body_text[-300:] + "\n" + "\n".join(x for x in after_body if len(x) < 200)
    result.outlet = find_outlet(window_text) or find_outlet(tail) or meta_outlet
    author = sel_author or ("" if cjk else traf_author)
    author = author or find_author(window_text) or find_author(head) or find_author(tail)
    if not author:
        author = str(feed_entry.get("author") or "") or _plausible_author(meta_author)
    if not author:
        author = find_editor(window_text) or find_editor(tail)
    result.author = author[:80]

    result.fields = policy_fields(all_text)
    result.attachments = attachments
    return result


def _heading_blocks(root: Any) -> list[_Block]:
    """h1-h3 and title-named elements as blocks, in document order (for pages read by trafilatura)."""
    out: list[_Block] = []
    for el in root.iter("h1", "h2", "h3"):
        text = _squash(el.text_content())
        if not text or len(text) > 200:
            continue
        n = _nonspace(text)
        link = sum(_nonspace(_squash(a.text_content())) for a in el.iter("a"))
        neg = False
        titleish = bool(_tokens(el) & _TITLE_TOKENS)
        parent = el.getparent()
        depth = 0
        while parent is not None and depth < 8:
            if parent.tag in _NEG_TAGS or _tokens(parent) & _NEG_TOKENS:
                neg = True
                break
            parent = parent.getparent()
            depth += 1
        out.append(_Block(text, n, min(link, n), 0, el.tag, neg, False, int(el.tag[1]), titleish, el))
    return out


def _western(
    result: Extraction,
    root: Any,
    url: str,
    traf: tuple[str, str, str, str | None],
    metas: dict[str, str],
    attachments: list[dict[str, Any]],
    sel_title: str,
    sel_date: str,
    sel_author: str,
    feed_entry: dict[str, Any],
) -> Extraction:
    """A page in a Western script: trafilatura's body, our headline choice, dates and bylines."""
    text, traf_title, traf_author, traf_date = traf
    result.text = text
    title, _ = _choose_title(root, _heading_blocks(root), -1, sel_title, str(feed_entry.get("title") or ""))
    result.title = title or clean_title(traf_title)
    published = parse_date(sel_date) if sel_date else None
    published = published or traf_date or parse_date(_meta(metas, _META_DATE_KEYS))
    if published is None and feed_entry.get("published"):
        published = parse_date(str(feed_entry["published"]))
    result.published = published or date_from_url(url)
    result.author = (
        sel_author
        or traf_author
        or str(feed_entry.get("author") or "")
        or _plausible_author(_meta(metas, _META_AUTHOR_KEYS))
    )[:80]
    result.outlet = _meta(metas, _META_OUTLET_KEYS)
    result.language = _language(root, text)
    result.attachments = attachments
    result.fields = policy_fields(text) if _CJK.search(text[:3000]) else {}
    return result


def extract_bytes(body: bytes, url: str = "", content_type: str | None = None, **kw: Any) -> Extraction:
    """Decode (listing decoding repairs), then extract. Binary or empty bodies give an empty extraction."""
    if not body:
        return Extraction(repairs=["empty-input"])
    kind = binary_kind(body)
    if kind:
        return Extraction(repairs=[f"binary-input:{kind}"])
    decoded = decode_html(body, content_type)
    result = extract_article(decoded.text, url, **kw)
    result.repairs = decoded.repairs + result.repairs
    return result


_MAGIC = (
    (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"\xff\xd8\xff", "jpeg"), (b"%PDF", "pdf"), (b"PK\x03\x04", "zip"),
    (b"\x1f\x8b", "gzip"), (b"RIFF", "riff"), (b"\xd0\xcf\x11\xe0", "ole"), (b"BM", "bmp"), (b"\x00\x00\x01\x00", "ico"),
    (b"OggS", "ogg"), (b"ID3", "mp3"), (b"\x7fELF", "elf"), (b"MZ", "exe"),
)  # fmt: skip


_CONTROL_BYTES = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32)])


def binary_kind(body: bytes) -> str:
    """A short name for bytes that are not text (PNG, PDF, ZIP ...), or "" for text."""
    head = body[:16]
    for magic, name in _MAGIC:
        if head.startswith(magic) and not body[:512].lstrip().startswith(b"<"):
            return name
    sample = body[:8192]
    half = max(1, len(sample) // 2)
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        max(odd, even) > 0.3 * half and min(odd, even) < 0.02 * half
    ):
        return ""  # UTF-16 text
    controls = sum(sample.count(bytes([c])) for c in _CONTROL_BYTES)
    if controls > len(sample) * 0.02:
        return "binary"
    return ""


# ---------------------------------------------------------------------------------------------------------------
# plain text "as scraped"
# ---------------------------------------------------------------------------------------------------------------
def clean_text_document(text: str) -> Extraction:
    """Turn a plain-text page dump (navigation + article + credits + spam) into an extraction.

    Lines play the role of blocks (no link information): the article is the best-valued run of lines; the
    title is the line introducing the byline (the line before 作者/来源/发布时间), a "原标题：" line, or a
    line repeated at the top; spam phrases are removed and listed.
    """
    result = Extraction()
    if not text or not text.strip():
        result.repairs.append("empty-input")
        return result
    raw_lines = [_squash(x) for x in text.replace("\r", "\n").split("\n")]
    # a line holding several paragraphs joined by ideographic-space indents is split
    lines: list[str] = []
    for line in raw_lines:
        if not line:
            continue
        lines.append(line)
    blocks = [
        _Block(text=x, chars=_nonspace(x), link=0, punct=len(_ZH_PUNCT.findall(x)), tag="p", neg=False,
               pos=False, heading=0, titleish=False)
        for x in lines
    ]  # fmt: skip
    # spam lines (e.g. an injected porn headline) must not become the title or body
    clean = [clean_spam("", x) for x in lines]
    for b, c in zip(blocks, clean, strict=True):
        if c.found and len(c.text.strip()) < 0.3 * len(b.text):
            b.neg = True
    start, end = _best_run([_value(b) for b in blocks])
    title = ""
    title_idx = -1
    for i, line in enumerate(lines[: max(start, 0) + 3]):
        m = _ORIGINAL_TITLE.match(line)
        if m:
            title, title_idx = m.group(1).strip(), i
            break
    if not title:
        for i in range(min(len(lines), max(start, 0) + 2)):
            line = lines[i]
            if blocks[i].neg or not (4 <= len(line) <= 100) or line.endswith(("。", "：", ":")):
                continue
            following = strip_pinyin_annotations(" ".join(lines[i + 1 : i + 3]))
            hits = find_dates(following)
            if hits and (
                any(h.labelled for h in hits)
                or find_outlet(following)
                or find_author(following)
                or _is_byline(following)
            ):
                title, title_idx = line.strip(" -—_|·"), i
                break
    result.title = title
    result.language = _language(None, text)
    window = (
        lines[max(0, title_idx) : max(0, title_idx) + 6]
        if title_idx >= 0
        else lines[max(0, start - 8) : start + 2]
    )
    if end >= start >= 0:
        kept, removed = _body_lines(blocks, start, end, title)
        if title:
            kept = [k for k in kept if not _ORIGINAL_TITLE.match(k)]
        if removed:
            result.repairs.append("boilerplate-removed")
        result.text = "\n\n".join(_clean_lines(kept))
    window = [strip_pinyin_annotations(x) for x in window]
    result.published = _pick_date(window) or _pick_date([result.text[-200:]])
    window_text = "\n".join(window)
    result.outlet = find_outlet(window_text) or find_outlet(text[-2000:])
    result.author = find_author(window_text) or find_author(result.text[:200]) or find_editor(text)
    result.fields = policy_fields(text)
    spam = clean_spam(result.title, result.text)
    if spam.found:
        result.title, result.text = spam.title, spam.text
        result.spam = spam.found
        result.repairs.append("spam-removed")
    return result


# ---------------------------------------------------------------------------------------------------------------
# Scrapy pipeline
# ---------------------------------------------------------------------------------------------------------------
_FETCHABLE = {"pdf", "docx"}
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


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
        from scrapy.exceptions import DropItem

        ext = await self.extraction_of(item)
        reason = no_body_reason(item.html, ext)
        if reason:
            raise DropItem(f"no article body: {reason} ({item.url})")
        article = article_from(item, ext)
        is_policy = bool(ext.fields) or item.hints.get("content_type") == "policy"
        if is_policy and article.attachments and self.crawler is not None:
            await self._fetch_attachments(article)
        return article

    async def extraction_of(self, page: Page) -> Extraction:
        """The page's extraction (a crawler worker runs it off the reactor)."""
        return extract_page(page)

    async def _fetch_attachments(self, article: Article) -> None:
        from scrapy import Request
        from scrapy.utils.defer import maybe_deferred_to_future

        from pipelines.attachments import attachment_text

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


def no_body_reason(html: str, ext: Extraction) -> str:
    """Why a page is not an article ("" when it is)."""
    if any(r.startswith(("binary-input", "empty-input", "unparseable-html")) for r in ext.repairs):
        return ext.repairs[0]
    n = _nonspace(ext.text)
    if n < MIN_BODY_CHARS:
        return f"body has {n} characters"
    return ""


__all__ = [
    "ATTACHMENT_TYPES",
    "ExtractPipeline",
    "Extraction",
    "binary_kind",
    "clean_text_document",
    "clean_title",
    "extract_article",
    "extract_bytes",
]
