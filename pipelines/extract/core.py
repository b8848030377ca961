"""Article extraction: one fetched page → title, body, publish time, outlet, author, language, repairs.

How it works, for a page whose text is Chinese (or Japanese/Korean):

1. The decoded HTML is checked against the page budget (:mod:`.budget`), parsed with lxml (:mod:`.tree`);
   scripts, styles, forms and hidden elements are dropped.
2. The document is cut into *blocks* and the body is the best-valued run of them (:mod:`.blocks`).
3. Boilerplate lines (credits, share widgets, copyright) are removed at the edges and within the body
   (:mod:`.body`, :mod:`.boilerplate`).
4. The title (:mod:`.title`), the publish time, outlet and author (:mod:`.metadata`, :mod:`.bylines`,
   :mod:`.dates`), the policy fields (:mod:`.policy`) and the attachments (:mod:`.attachments`).

Pages in other scripts go through trafilatura (given the already-decoded, already-parsed tree), with the same
title, date and byline evidence added. Plain text "as scraped" goes through :mod:`.text`.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.extract.attachments import find_attachments
from pipelines.extract.blocks import Block, blocks_of, body_run
from pipelines.extract.body import body_lines, clean_lines, heading_blocks, trafilatura_body
from pipelines.extract.boilerplate import is_boilerplate
from pipelines.extract.budget import DEFAULT_BUDGET, Deadline, PageBudget, check_markup
from pipelines.extract.bylines import find_author, find_editor, find_outlet
from pipelines.extract.chars import CJK, is_cjk_text, squash
from pipelines.extract.dates import date_from_url, find_dates, month_date, parse_date
from pipelines.extract.decode import decode_html
from pipelines.extract.metadata import (
    META_AUTHOR_KEYS,
    META_DATE_KEYS,
    META_OUTLET_KEYS,
    byline_window,
    htmldate_of,
    language_of,
    pick_date,
    plausible_author,
)
from pipelines.extract.policy import policy_fields
from pipelines.extract.result import Extraction
from pipelines.extract.text import clean_text_document
from pipelines.extract.title import choose_title, clean_title
from pipelines.extract.tree import clean_tree, meta, metas, parse_html, select
from pipelines.normalize import strip_pinyin_annotations

MIN_BODY_CHARS = 40  # a body shorter than this (non-space characters) is no article
_TAG = re.compile(r"<[^>]*>")


def extract_article(
    html: str,
    url: str = "",
    *,
    selectors: dict[str, str] | None = None,
    feed_entry: dict[str, Any] | None = None,
    budget: PageBudget = DEFAULT_BUDGET,
) -> Extraction:
    """Extract one decoded HTML page.

    Bad input never raises: an empty result's ``repairs`` say what went wrong. A page over the budget raises
    :class:`core.errors.PageTooComplex`.
    """
    deadline = Deadline(budget)
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
        return clean_text_document(html[: budget.max_chars])
    if len(html) > budget.max_chars:
        html = html[: budget.max_chars]
        result.repairs.append("oversized-input-truncated")
    check_markup(html, budget)
    if "\x00" in html[:4096]:
        html = html.replace("\x00", "")
        result.repairs.append("nul-bytes-removed")
    root = parse_html(html)
    if root is None:
        result.repairs.append("unparseable-html")
        return result
    deadline.check("parse")
    # evidence read before cleaning
    sel_title = squash(" ".join(e.text_content() for e in select(root, selectors.get("title"))[:1]))
    sel_body_els = select(root, selectors.get("body"))
    sel_date = squash(" ".join(e.text_content() for e in select(root, selectors.get("date"))[:1]))
    sel_author = squash(" ".join(e.text_content() for e in select(root, selectors.get("author"))[:1]))
    attachments = find_attachments(root, url)
    page_metas = metas(root)
    meta_date = parse_date(meta(page_metas, META_DATE_KEYS))
    meta_author = meta(page_metas, META_AUTHOR_KEYS)
    meta_outlet = meta(page_metas, META_OUTLET_KEYS)
    # pages in other scripts: trafilatura reads the tree as the page gave it (it copies before pruning)
    traf: tuple[str, str, str, str | None] | None = None
    n_cjk = len(CJK.findall(html, 0, 80_000))
    western = n_cjk < 20 or (n_cjk < 300 and not is_cjk_text(_TAG.sub(" ", html[:80_000])))
    if not sel_body_els and western:
        traf = trafilatura_body(root, url)
        deadline.check("trafilatura")
        if len(traf[0]) >= MIN_BODY_CHARS and not is_cjk_text(traf[0]):
            return _western(
                result, root, url, traf, page_metas, attachments, sel_title, sel_date, sel_author, feed_entry
            )
    clean_tree(root)
    body_el = root.find("body")
    blocks = blocks_of(body_el if body_el is not None else root, deadline)
    all_text = "\n".join(b.text for b in blocks)
    language = language_of(root, all_text)
    result.language = language
    lines = [b.text for b in blocks]

    body_text = ""
    body_start, body_end = -1, -1
    if sel_body_els:
        sel_blocks: list[Block] = []
        for el in sel_body_els:
            sel_blocks.extend(blocks_of(el, deadline))
        sel_lines = [b.text for b in sel_blocks if b.link_density < 0.5]
        if sum(len(x) for x in sel_lines) >= MIN_BODY_CHARS:
            body_text = "\n\n".join(clean_lines([x for x in sel_lines if not is_boilerplate(x, edge=True)]))
            first = sel_blocks[0].text if sel_blocks else ""
            body_start = next((i for i, b in enumerate(blocks) if b.text == first), -1)
            body_end = body_start
            result.repairs.append("selector-body")
    traf_title = traf_author = ""
    traf_date: str | None = None
    cjk = language in ("zh", "ja", "ko") or is_cjk_text(all_text)
    if not body_text:
        start, end = body_run(blocks)
        body_start, body_end = start, end
        if not cjk:
            deadline.check("trafilatura")
            text, traf_title, traf_author, traf_date = traf or trafilatura_body(root, url)
            if len(text) >= MIN_BODY_CHARS:
                body_text = text
        elif traf is not None and traf[0]:
            # a page guessed Western but read as CJK: the longer reading wins when ours is thin
            kept, _ = body_lines(blocks, start, end, "") if end >= start else ([], 0)
            if sum(len(x) for x in kept) < 0.3 * len(traf[0]):
                body_text = traf[0]
                traf_title, traf_author, traf_date = traf[1], traf[2], traf[3]

    title, title_idx = choose_title(root, blocks, body_start, sel_title, str(feed_entry.get("title") or ""))
    if not title and traf_title:
        title = clean_title(traf_title)
    result.title = title

    if not body_text and body_end >= body_start >= 0:
        kept, removed = body_lines(blocks, body_start, body_end, title)
        kept = clean_lines(kept)
        if removed:
            result.repairs.append("boilerplate-removed")
        body_text = "\n\n".join(kept)
    result.text = body_text

    # date: selector, byline area, meta tags, feed entry, URL, whole page labels, htmldate
    window = byline_window(lines, title_idx, body_start)
    published = parse_date(sel_date) if sel_date else None
    if published is None and not cjk and traf_date:
        published = traf_date  # htmldate's reading of Western pages
    if published is None:
        published = pick_date(window)
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
        deadline.check("htmldate")
        published = htmldate_of(root, url)
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
    head_text = body_text[:300]
    after_body = lines[body_end + 1 : body_end + 10] if body_end >= 0 else []
    tail = body_text[-300:] + "\n" + "\n".join(x for x in after_body if len(x) < 200)
    result.outlet = find_outlet(window_text) or find_outlet(tail) or meta_outlet
    author = sel_author or ("" if cjk else traf_author)
    author = author or find_author(window_text) or find_author(head_text) or find_author(tail)
    if not author:
        author = str(feed_entry.get("author") or "") or plausible_author(meta_author)
    if not author:
        author = find_editor(window_text) or find_editor(tail)
    result.author = author[:80]

    result.fields = policy_fields(all_text)
    result.attachments = attachments
    return result


def _western(
    result: Extraction,
    root: Any,
    url: str,
    traf: tuple[str, str, str, str | None],
    page_metas: dict[str, str],
    attachments: list[dict[str, Any]],
    sel_title: str,
    sel_date: str,
    sel_author: str,
    feed_entry: dict[str, Any],
) -> Extraction:
    """A page in a Western script: trafilatura's body, our headline choice, dates and bylines."""
    text, traf_title, traf_author, traf_date = traf
    result.text = text
    title, _ = choose_title(root, heading_blocks(root), -1, sel_title, str(feed_entry.get("title") or ""))
    result.title = title or clean_title(traf_title)
    published = parse_date(sel_date) if sel_date else None
    published = published or traf_date or parse_date(meta(page_metas, META_DATE_KEYS))
    if published is None and feed_entry.get("published"):
        published = parse_date(str(feed_entry["published"]))
    result.published = published or date_from_url(url)
    result.author = (
        sel_author
        or traf_author
        or str(feed_entry.get("author") or "")
        or plausible_author(meta(page_metas, META_AUTHOR_KEYS))
    )[:80]
    result.outlet = meta(page_metas, META_OUTLET_KEYS)
    result.language = language_of(root, text)
    result.attachments = attachments
    result.fields = policy_fields(text) if CJK.search(text[:3000]) else {}
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
