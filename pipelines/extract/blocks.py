"""Blocks: the text between block-level boundaries, each with the evidence of what it is.

The cleaned tree is cut into blocks (p, div, td, li, br, h1-h6 …), each with its character count, the share
of it inside links, its Chinese punctuation, whether it sits in a container named like page furniture (nav,
footer, comment, share, related …) or like an article (content, article, zoom …), and whether it is a
heading. Each block gets a value — positive for prose (long, punctuated, few links), negative for
navigation, link lists and furniture — and the article body is the contiguous run of blocks with the largest
total (a maximum-sum subarray), so short sub-headings inside an article are kept while menus around it are
not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lxml import etree

from pipelines.extract.budget import Deadline
from pipelines.extract.chars import ZH_PUNCT, nonspace, squash
from pipelines.extract.dates import find_dates

BLOCK_TAGS = frozenset(
    (
        "p", "div", "td", "th", "tr", "table", "tbody", "thead", "tfoot", "li", "ul", "ol", "dl", "dt", "dd",
        "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "nav", "aside", "main",
        "blockquote", "pre", "form", "center", "body", "br", "hr", "figure", "figcaption", "address", "caption",
        "fieldset", "legend", "details", "summary", "title",
    )
)  # fmt: skip
NEG_TAGS = frozenset(("nav", "footer", "aside"))
NEG_TOKENS = frozenset(
    (
        "comment", "comments", "commentlist", "cmt", "footer", "foot", "nav", "navbar", "navigation", "menu",
        "menus", "sidebar", "side", "breadcrumb", "breadcrumbs", "crumb", "crumbs", "share", "sharing",
        "bdshare", "copyright", "related", "relate", "recommend", "recommended", "advert", "ad", "ads", "adv",
        "banner", "login", "toolbar", "pagination", "pager", "reply", "replies", "hot", "rank", "ranking",
        "bottom", "xgxw", "tuijian", "fenxiang", "friend", "friendlink", "links", "footnav", "topnav", "subnav",
        "tags", "tag", "keywords", "dl_box", "right_side", "widget", "popup", "modal",
    )
)  # fmt: skip
POS_TOKENS = frozenset(
    (
        "article", "content", "contents", "text", "detail", "details", "main", "post", "entry", "story", "zoom",
        "trs_editor", "artibody", "endtext", "article_content", "articlecontent", "news_content", "newscontent",
        "main_content", "maincontent", "con_text", "content_text", "tex", "text_content", "view",
        "pages_content", "conbox",
    )
)  # fmt: skip
TITLE_TOKENS = frozenset(
    (
        "title", "headline", "biaoti", "tit", "bt", "article_title", "articletitle", "news_title", "newstitle",
        "h_title",
    )
)  # fmt: skip
_CHECK_EVERY = 2048  # elements walked between two looks at the deadline


@dataclass(slots=True)
class Block:
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


def line_block(text: str) -> Block:
    """A line of plain text as a block (no link or container evidence)."""
    return Block(
        text=text, chars=nonspace(text), link=0, punct=len(ZH_PUNCT.findall(text)), tag="p", neg=False,
        pos=False, heading=0, titleish=False,
    )  # fmt: skip


_NO_TOKENS: frozenset[str] = frozenset()


def tokens(el: Any) -> frozenset[str]:
    """The words of an element's class and id (``news_content`` gives news_content, news and content)."""
    return _class_id_tokens(el.get("class"), el.get("id"))


def _class_id_tokens(cls: str | None, ident: str | None) -> frozenset[str]:
    if not cls and not ident:
        return _NO_TOKENS
    return _split_tokens(f"{cls or ''} {ident or ''}")


def _is_titleish(toks: frozenset[str]) -> bool:
    """A class or id naming a title: title, headline, biaoti, and words containing them (dbiaoti, arttitle)."""
    return bool(toks & TITLE_TOKENS) or any(
        "title" in t or "biaoti" in t or "headline" in t for t in toks if "subtitle" not in t
    )


@lru_cache(maxsize=4096)
def _split_tokens(raw: str) -> frozenset[str]:
    low = raw.lower()
    toks = set(low.split())
    toks |= set(re.split(r"[\s_\-]+", low))
    toks.discard("")
    return frozenset(toks)


@lru_cache(maxsize=4096)
def _attr_flags(cls: str | None, ident: str | None) -> tuple[bool, bool, bool]:
    """(furniture-named, article-named, title-named) of an element's raw class and id: elements repeat the same
    few class names, so each is judged once (one cache lookup per element)."""
    toks = _class_id_tokens(cls, ident)
    return bool(toks & NEG_TOKENS), bool(toks & POS_TOKENS), _is_titleish(toks)


_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_TOP = (False, False, False, 0, False)  # context: (in a link, neg, pos, heading, titleish)


def blocks_of(root: Any, deadline: Deadline | None = None) -> list[Block]:
    """Cut the (cleaned) tree into text blocks in document order.

    One pass over lxml's start/end events with the running block's text pieces, the characters of them inside
    links, and a stack of the context each element opens (in a link, furniture- or article-named, heading
    level, title-named); a block boundary (a start or end of a block-level element) closes the running block.
    """
    out: list[Block] = []
    buf: list[str] = []
    link_chars = 0
    stack: list[tuple[bool, bool, bool, int, bool]] = [_TOP]
    current_el: list[Any] = [root]
    ctx = _TOP
    block_tags, neg_tags, headings = BLOCK_TAGS, NEG_TAGS, _HEADINGS

    def flush() -> None:
        text = squash("".join(buf))
        if text:
            n = nonspace(text)
            _, neg, pos, heading, titleish = stack[-1]
            el = current_el[-1]
            out.append(
                Block(text, n, min(link_chars, n), len(ZH_PUNCT.findall(text)), str(el.tag), neg, pos, heading,
                      titleish, el)
            )  # fmt: skip

    walked = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag
        if tag.__class__ is not str:  # comments, processing instructions
            if event == "end":
                text = el.tail
                if text:
                    buf.append(text)
                    if ctx[0]:
                        link_chars += nonspace(squash(text))
            continue
        tag = tag.lower()
        if event == "start":
            walked += 1
            if deadline is not None and walked % _CHECK_EVERY == 0:
                deadline.check("blocks")
            is_block = tag in block_tags
            if is_block and buf:
                flush()
                buf.clear()
                link_chars = 0
            tok_neg, own_pos, tok_title = _attr_flags(el.get("class"), el.get("id"))
            # an article container inside a furniture-named wrapper ("main-side" ...) is content again
            ctx = (
                ctx[0] or tag == "a",
                tok_neg or tag in neg_tags or (ctx[1] and not own_pos),
                ctx[2] or own_pos,
                headings.get(tag, ctx[3]),
                ctx[4] or tok_title,
            )
            stack.append(ctx)
            if is_block:
                current_el.append(el)
            if tag != "br" and tag != "img":
                text = el.text
                if text:
                    buf.append(text)
                    if ctx[0]:
                        link_chars += nonspace(squash(text))
        else:
            if tag in block_tags:
                if buf:
                    flush()
                    buf.clear()
                    link_chars = 0
                current_el.pop()
            stack.pop()
            ctx = stack[-1]
            text = el.tail
            if text:
                buf.append(text)
                if ctx[0]:
                    link_chars += nonspace(squash(text))
    if buf:
        flush()
    return out


def block_value(b: Block) -> float:
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


def best_run(values: list[float]) -> tuple[int, int]:
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


def _is_post_header(text: str) -> bool:
    """A line that is only a timestamp (or a labelled date): the header of the next post or comment."""
    for hit in find_dates(text):
        rest = len(text) - (hit.end - hit.start)
        if (hit.has_time and rest <= 14) or (hit.labelled and rest <= 24):
            return True
    return False


def _cut_posts(blocks: list[Block], start: int, end: int) -> int:
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


def body_run(blocks: list[Block], first: int = 0) -> tuple[int, int]:
    """The blocks [start, end] of the article body among blocks[first:]: the best-valued run, cut before a
    second post."""
    start, end = best_run([block_value(b) for b in blocks[first:]])
    start, end = start + first, end + first
    if end >= start:
        end = _cut_posts(blocks, start, end)
    return start, end
