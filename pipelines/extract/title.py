"""The headline: which block is the title, and cutting site names from ``<title>``.

The title prefers the source's selector, then an h1/h2/title-named block that matches ``<title>`` or
og:title, then a headline-like block (short, unpunctuated, right above a dated byline), then og:title and
``<title>`` with the site name cut ("标题_人民网" → "标题").
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.extract.blocks import Block
from pipelines.extract.bylines import find_outlet
from pipelines.extract.chars import CJK, squash
from pipelines.extract.dates import find_dates
from pipelines.extract.tree import meta, metas

_TITLE_SPLIT = re.compile(r"\s*[_|｜]\s*|\s+[-–—－]\s+|\s*-{2,}\s*|\s*－－\s*|\s*—{1,2}\s*(?=[^—]{2,12}$)")
SITE_WORD = re.compile(
    r"(网|網|报|報|站|频道|頻道|新闻|新聞|中心|在线|在線|平台|政府|门户|門戶|官网|官網|杂志|雜誌|电视台|电台|日报|"
    r"晚报|时报|科协|科協|\.com|\.cn|\.net|\.org|News|Online|Times|Post|Daily)",
    re.I,
)
_OG_TITLE_KEYS = ("og:title", "twitter:title", "title", "articletitle", "headline", "dc.title")
_ORGAN = re.compile(r"(?:部|委员会|局|院|厅|办公室|政府|署|总局|中心|协会|学会)$")
_SITE_KEYS = ("sitename", "og:site_name", "application-name", "site_name", "site")
# signs that decorate headings ("■ 纪检监察", "▶ 要闻"), never part of a title
_DECORATION = "■□▪▫●○◆◇★☆▲△▼▽►▶◀◁•※→←♦♥♠♣✓✔√▍▎▏| ｜"
# badges a CMS puts before a headline: "【原创】…", "<span>原创</span>…"
_BADGES = ("原创", "独家", "首发", "转载", "置顶")
_BRACKETED_BADGE = re.compile(r"^[【\[（(]\s*(?:" + "|".join(_BADGES) + r")\s*[】\]）)]\s*")


def tidy_title(text: str, element: Any = None) -> str:
    """A headline without decorating signs and CMS badges (bracketed, or a badge element before the text)."""
    text = text.strip(" -—_|·" + _DECORATION)
    text = _BRACKETED_BADGE.sub("", text)
    if element is not None and not (element.text or "").strip():
        first = next((c for c in element if isinstance(c.tag, str)), None)
        badge = squash(first.text_content()) if first is not None else ""
        if badge in _BADGES and text.startswith(badge) and len(text) - len(badge) >= 4:
            text = text[len(badge) :].strip(" :：|")
    return text.strip(" -—_|·" + _DECORATION)


def site_names(root: Any, page_metas: dict[str, str]) -> set[str]:
    """What the page calls its site: <meta> site names, and the segments of <title> besides the headline that
    name a site or an organ (中国证券监督管理委员会, 人民网)."""
    names = {squash(page_metas[k]) for k in _SITE_KEYS if page_metas.get(k)}
    t = root.find(".//title")
    if t is not None:
        full = squash(t.text_content())
        kept = clean_title(full)
        for part in _TITLE_SPLIT.split(full):
            part = (part or "").strip()
            if part and part != kept and CJK.search(part) and (SITE_WORD.search(part) or _ORGAN.search(part)):
                names.add(part)
    return {n for n in names if len(n) >= 2}


def is_site_header(text: str, names: set[str]) -> bool:
    """The site's name, or its name with a column word (中国证券监督管理委员会 + 规章): a page header, not a title."""
    return any(text == n or (text.startswith(n) and len(text) - len(n) <= 6) for n in names)


def clean_title(title: str) -> str:
    """Cut site names from a ``<title>``: "标题_人民网" → "标题", "标题 - 新华网" → "标题"."""
    title = squash(title).strip(" -—_|·")
    if not title:
        return ""
    parts = [p for p in _TITLE_SPLIT.split(title) if p and p.strip()]
    if len(parts) <= 1:
        return title
    # drop site-like segments from the end, then from the start
    while len(parts) > 1 and len(parts[-1]) <= 24 and (SITE_WORD.search(parts[-1]) or len(parts[-1]) <= 6):
        parts.pop()
    while len(parts) > 1 and len(parts[0]) <= 16 and SITE_WORD.search(parts[0]) and len(parts[1]) >= 6:
        parts.pop(0)
    if len(parts) == 1:
        return parts[0].strip()
    longest = max(parts, key=len)
    return longest.strip() if len(longest) >= 0.5 * sum(len(p) for p in parts) else " ".join(parts).strip()


def similar(a: str, b: str) -> float:
    """Share of a's characters (as bigrams) found in b."""
    if not a or not b:
        return 0.0
    if a in b or b in a:
        return 1.0
    grams_a = {a[i : i + 2] for i in range(len(a) - 1)} or {a}
    grams_b = {b[i : i + 2] for i in range(len(b) - 1)} or {b}
    return len(grams_a & grams_b) / len(grams_a)


def choose_title(
    root: Any,
    blocks: list[Block],
    body_start: int,
    sel_title: str,
    feed_title: str,
    page_metas: dict[str, str] | None = None,
    table_title: str = "",
) -> tuple[str, int]:
    """The headline and the index of its block (-1 when not in a block).

    Order: the source's selector, the title a policy table states, a heading that matches <title>/og:title, a
    headline-like block above the byline, og:title, <title>, the feed entry's title. A candidate that is the
    site's own name (the page header) is never the title.
    """
    page_metas = metas(root) if page_metas is None else page_metas
    title_tag = ""
    t = root.find(".//title")
    if t is not None:
        title_tag = squash(t.text_content())
    if sel_title:
        idx = next((i for i, b in enumerate(blocks) if b.text == sel_title), -1)
        return sel_title, idx
    if table_title:
        idx = next((i for i, b in enumerate(blocks) if similar(table_title, b.text) >= 0.95), -1)
        return table_title, idx
    og = squash(meta(page_metas, _OG_TITLE_KEYS))
    reference = title_tag or og or feed_title
    names = site_names(root, page_metas)
    candidates: list[tuple[float, str, int]] = []
    window_lo = max(0, body_start - 40)
    for i, b in enumerate(blocks[: body_start + 3] if body_start >= 0 else blocks[:200]):
        if not (b.heading or b.titleish) or i < window_lo and b.heading != 1:
            continue
        text = tidy_title(b.text, b.element)
        n = len(text)
        if n < 4 or n > 120 or is_site_header(text, names):
            continue
        score = {1: 3.0, 2: 2.0, 3: 1.0}.get(b.heading, 0.5)
        if b.titleish:
            score += 1.0
        sim = similar(text, reference) * min(1.0, 1.6 * n / len(reference)) if reference else 0.0
        score += 4.0 * sim
        if b.link_density > 0.9:
            score -= 1.5
        if b.neg:
            score -= 2.0
        if text.endswith(("。", "：", ":")):
            score -= 2.0
        if body_start >= 0 and 0 <= body_start - i <= 12:
            score += 1.0
        if (n <= 8 and SITE_WORD.search(text[-2:])) or (n <= 6 and sim < 0.5):
            score -= 2.0
        candidates.append((score, text, i))
    if candidates:
        score, text, idx = max(candidates, key=lambda c: (c[0], -c[2]))
        if score >= 3.5:
            return text, idx
    headline = headline_block(blocks, body_start, clean_title(reference), names)
    if headline >= 0:
        return tidy_title(blocks[headline].text, blocks[headline].element), headline
    for fallback in (og, title_tag):
        cleaned = tidy_title(clean_title(fallback)) if fallback else ""
        if len(cleaned) >= 4 and not is_site_header(cleaned, names):
            idx = next((i for i, b in enumerate(blocks[: body_start + 3]) if b.text.strip() == cleaned), -1)
            return cleaned, idx
    if feed_title:
        return feed_title, -1
    if candidates:
        score, text, idx = max(candidates, key=lambda c: (c[0], -c[2]))
        return text, idx
    return "", -1


def headline_block(
    blocks: list[Block], body_start: int, reference: str = "", names: set[str] | None = None
) -> int:
    """A short unpunctuated block just above the body and followed by a dated byline: the headline (the one
    most like <title> when there are several)."""
    if body_start < 0:
        return -1
    found: list[tuple[float, int]] = []
    for i in range(max(0, body_start - 8), min(len(blocks), body_start + 1)):
        b = blocks[i]
        text = tidy_title(b.text, b.element)
        n = len(text)
        if not (6 <= n <= 120) or b.link_density > 0.3 or b.neg or text.endswith(("。", "：", ":", "，")):
            continue
        if (
            find_dates(text)
            or sum(ch.isdigit() for ch in text) > 0.3 * n
            or re.match(r"^\S{1,8}[:：]", text)
            or is_site_header(text, names or set())
        ):
            continue
        after = " ".join(x.text for x in blocks[i + 1 : i + 4])
        if any(h.labelled or h.has_time for h in find_dates(after)) or find_outlet(after):
            found.append((similar(text, reference) if reference else 0.0, i))
    if not found:
        return -1
    return max(found, key=lambda f: (f[0], -f[1]))[1]
