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
from collections.abc import Callable
from typing import Any

from pipelines.extract.attachments import find_attachments
from pipelines.extract.blocks import Block, blocks_of, body_run
from pipelines.extract.body import body_lines, clean_lines, document_bounds, heading_blocks, trafilatura_body
from pipelines.extract.boilerplate import is_boilerplate
from pipelines.extract.budget import DEFAULT_BUDGET, Deadline, PageBudget, check_markup
from pipelines.extract.bylines import clean_author, clean_outlet, find_author, find_editor, find_outlet
from pipelines.extract.chars import CJK, count_cjk, is_cjk_text, squash
from pipelines.extract.dates import date_from_url, find_dates, month_date, parse_date
from pipelines.extract.decode import decode_html
from pipelines.extract.metadata import (
    META_AUTHOR_KEYS,
    META_OUTLET_KEYS,
    byline_window,
    htmldate_of,
    language_of,
    meta_dates,
    plausible_author,
    window_dates,
)
from pipelines.extract.policy import policy_fields, read_table
from pipelines.extract.result import Extraction
from pipelines.extract.text import clean_text_document
from pipelines.extract.title import choose_title, clean_title
from pipelines.extract.tree import clean_tree, meta, metas, parse_html, select
from pipelines.normalize import strip_pinyin_annotations

MIN_BODY_CHARS = 40  # a body shorter than this (non-space characters) is no article
_TAG = re.compile(r"<[^>]*>")
_SCRIPTS = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_WINDOW = 80_000  # characters of markup read to tell a Western page from a CJK one


def _reads_western(markup: str, n_cjk: int) -> bool:
    """Whether markup with ``n_cjk`` CJK characters in its first 80,000 reads as a Western page."""
    return n_cjk < 20 or (n_cjk < 300 and not is_cjk_text(_TAG.sub(" ", markup[:_WINDOW])))


def is_western_page(html: str) -> bool:
    """Whether a page's text is in a Western script, read from its markup without parsing.

    CJK characters in the first 80,000 characters decide at once; when there are few, the page may still be
    Chinese with its text after a head of scripts and styles (news sites ship 100-700 KB of them), so the
    count is taken again over the markup without scripts, styles and comments — unless the whole page has too
    few CJK characters for that to matter."""
    n_cjk = count_cjk(html, 0, _WINDOW)
    if not _reads_western(html, n_cjk):
        return False
    if n_cjk + count_cjk(html, _WINDOW) < 20:
        return True  # without scripts there would be fewer still
    text = _SCRIPTS.sub(" ", html)
    return _reads_western(text, count_cjk(text, 0, _WINDOW))


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
    # pages in other scripts: trafilatura reads the tree as the page gave it (it copies before pruning)
    traf: tuple[str, str, str, str | None] | None = None
    western = is_western_page(html)
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
    elements = [b.element for b in blocks]
    table = read_table(lines, elements)

    body_text = ""
    body_start, body_end = -1, -1
    keep: frozenset[int] = frozenset()
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
        if table.fields and start <= table.last:  # the metadata table heads the page; the article follows it
            start, end = (table.last + 1, end) if end > table.last else body_run(blocks, table.last + 1)
        start, end, keep = document_bounds(blocks, start, end)
        body_start, body_end = start, end
        if not cjk:
            deadline.check("trafilatura")
            text, traf_title, traf_author, traf_date = traf or trafilatura_body(root, url)
            if len(text) >= MIN_BODY_CHARS:
                body_text = text
        elif traf is not None and traf[0]:
            # a page guessed Western but read as CJK: the longer reading wins when ours is thin
            kept, _ = body_lines(blocks, start, end, "", keep) if end >= start else ([], 0)
            if sum(len(x) for x in kept) < 0.3 * len(traf[0]):
                body_text = traf[0]
                traf_title, traf_author, traf_date = traf[1], traf[2], traf[3]

    title, title_idx = choose_title(
        root, blocks, body_start, sel_title, str(feed_entry.get("title") or ""), page_metas,
        table.fields.get("标题", ""),
    )  # fmt: skip
    if not title and traf_title:
        title = clean_title(traf_title)
    result.title = title

    if not body_text and body_end >= body_start >= 0:
        kept, removed = body_lines(blocks, body_start, body_end, title, keep)
        kept = clean_lines(kept)
        if removed:
            result.repairs.append("boilerplate-removed")
        body_text = "\n\n".join(kept)
    result.text = body_text
    paragraphs = body_text.split("\n\n") if body_text else []
    result.fields = policy_fields(lines, paragraphs, elements, table) if table.fields or paragraphs else {}

    window = byline_window(lines, title_idx, body_start)
    result.published = _publish_time(
        result, root, url, window, lines, paragraphs, body_end, page_metas, sel_date, traf_date,
        traf is not None, cjk, feed_entry, deadline,
    )  # fmt: skip

    window_text = strip_pinyin_annotations("\n".join(window))
    head_text = body_text[:300]
    after_body = lines[body_end + 1 : body_end + 10] if body_end >= 0 else []
    tail = body_text[-300:] + "\n" + "\n".join(x for x in after_body if len(x) < 200)
    result.outlet = (
        find_outlet(window_text) or find_outlet(tail) or clean_outlet(meta(page_metas, META_OUTLET_KEYS))
    )
    author = clean_author(sel_author) or ("" if cjk else clean_author(traf_author))
    author = author or find_author(window_text) or find_author(head_text) or find_author(tail)
    if not author:
        author = clean_author(str(feed_entry.get("author") or "")) or plausible_author(
            meta(page_metas, META_AUTHOR_KEYS)
        )
    if not author:
        author = find_editor(window_text) or find_editor(tail)
    result.author = author[:80]
    result.attachments = attachments
    return result


def _publish_time(
    result: Extraction,
    root: Any,
    url: str,
    window: list[str],
    lines: list[str],
    paragraphs: list[str],
    body_end: int,
    page_metas: dict[str, str],
    sel_date: str,
    traf_date: str | None,
    traf_asked: bool,
    cjk: bool,
    feed_entry: dict[str, Any],
    deadline: Deadline,
) -> str | None:
    """The publish time, from the strongest evidence the page gives.

    The source's selector; the 发布日期 of a policy table; (Western pages: trafilatura's reading); the page's
    own date line (a labelled date in the byline area); the <meta> publish time; a timestamp in the byline
    area; the feed entry; the URL; a plain date in the byline area; the <meta> update time; the date of
    writing (成文日期); any labelled date on the page; htmldate; a date given only to the month. Dates in
    running text (sentences of the article) are never the page's date line.
    """
    labelled, timed, plain = window_dates(window)
    meta_published, meta_updated = meta_dates(page_metas)
    fields = result.fields
    candidates: list[Callable[[], str | None]] = [
        lambda: parse_date(sel_date) if sel_date else None,
        lambda: parse_date(fields["发布日期"]) if fields.get("发布日期") else None,
        lambda: None if cjk else traf_date,
        lambda: labelled,
        lambda: meta_published,
        lambda: timed,
        lambda: parse_date(str(feed_entry["published"])) if feed_entry.get("published") else None,
        lambda: date_from_url(url),
        lambda: plain,
        lambda: meta_updated,
        lambda: parse_date(fields["成文日期"]) if fields.get("成文日期") else None,
        lambda: next((h.iso for line in lines for h in find_dates(line) if h.labelled), None),
        lambda: traf_date,
    ]
    for candidate in candidates:
        found = candidate()
        if found:
            if "T00:00:00" in found:  # a day without a time: another reading of the same day may have one
                same_day = [
                    d
                    for d in (labelled, timed, plain, meta_published, traf_date)
                    if d and d[:10] == found[:10]
                ]
                return next((d for d in same_day if "T00:00:00" not in d), found)
            return found
    if not traf_asked:  # trafilatura already asked htmldate
        deadline.check("htmldate")
        found = htmldate_of(root, url)
        if found:
            return found
    # documents dated only to the month: "2003年5月" under the headline, "——《杂志》1996年6月号" at the end
    following = lines[body_end + 1 : body_end + 4] if body_end >= 0 else []
    for line in window + paragraphs[:3] + paragraphs[-3:] + following:
        if len(line) <= 40 and (month := month_date(line)):
            result.repairs.append("date-month-only")
            return month
    return None


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
    title, _ = choose_title(
        root, heading_blocks(root), -1, sel_title, str(feed_entry.get("title") or ""), page_metas
    )
    result.title = title or clean_title(traf_title)
    published = parse_date(sel_date) if sel_date else None
    meta_published, meta_updated = meta_dates(page_metas)
    published = published or traf_date or meta_published or meta_updated
    if published is None and feed_entry.get("published"):
        published = parse_date(str(feed_entry["published"]))
    result.published = published or date_from_url(url)
    result.author = (
        clean_author(sel_author)
        or clean_author(traf_author)
        or clean_author(str(feed_entry.get("author") or ""))
        or plausible_author(meta(page_metas, META_AUTHOR_KEYS))
    )[:80]
    result.outlet = clean_outlet(meta(page_metas, META_OUTLET_KEYS))
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
