"""The body: the lines of the best block run without headline, bylines and furniture; trafilatura for
pages in other scripts."""

from __future__ import annotations

import re
from typing import Any

from pipelines.extract.blocks import NEG_TAGS, NEG_TOKENS, TITLE_TOKENS, Block, tokens
from pipelines.extract.boilerplate import is_boilerplate
from pipelines.extract.bylines import has_credit
from pipelines.extract.chars import nonspace, squash, strip_glyphs
from pipelines.extract.dates import find_dates, parse_date
from pipelines.extract.policy import is_date_line, is_document_header, is_signature_line
from pipelines.extract.title import similar
from pipelines.normalize import strip_pinyin_annotations

_SIGNATURE_REACH = 8  # blocks after the body run searched for a document's signature
THIN_TEXT = 1000  # below this many characters a Western page's fast reading is checked against the fallbacks


def body_lines(
    blocks: list[Block], start: int, end: int, title: str, keep: frozenset[int] = frozenset()
) -> tuple[list[str], int]:
    """The kept lines of blocks[start:end+1] and how many were removed (headline, bylines, furniture).

    Blocks whose index is in ``keep`` (an official document's header and signature) are kept as they are.
    """
    chosen = [
        (i, blocks[i]) for i in range(start, end + 1) if not blocks[i].neg and blocks[i].link_density < 0.5
    ]
    removed = 0
    # drop the headline and byline lines at the head, credits and widgets anywhere, furniture at the edges
    kept: list[str] = []
    last = len(chosen) - 1
    for k, (i, b) in enumerate(chosen):
        line = b.text
        if i in keep:
            kept.append(line)
            continue
        edge = k < 4 or k > last - 4
        if title and (line == title or (len(line) <= len(title) + 4 and similar(title, line) > 0.9)):
            removed += 1
            continue
        if is_boilerplate(strip_pinyin_annotations(line), edge=edge):
            removed += 1
            continue
        if edge and len(line) <= 100 and is_byline(line):
            removed += 1
            continue
        kept.append(line)
    return kept, removed


def document_bounds(blocks: list[Block], start: int, end: int) -> tuple[int, int, frozenset[int]]:
    """The body run widened to an official document's own header and signature, and the blocks to keep.

    An order's header (``中华人民共和国主席令`` / ``第四十三号``) or a number line (``国发〔2018〕43号``) right
    above the run, and the signature right below or at its end — the issuing organs on their own lines and
    the date of writing — belong to the document, though alone each looks like a byline.
    """
    if end < start:
        return start, end, frozenset()
    keep: set[int] = set()
    i = start - 1
    while i >= 0 and start - i <= 3 and is_document_header(blocks[i].text):
        keep.add(i)
        i -= 1
    start = min([start, *keep])
    for i in range(start, min(end + 1, start + 6)):
        if is_document_header(blocks[i].text):
            keep.add(i)
    # the signature: organ lines, then the date, at the run's end or within a few blocks after it (a closing
    # formula, a contact line or an attachment list may stand between: they belong to the document too)
    hi = min(len(blocks) - 1, end + _SIGNATURE_REACH)
    for d in range(hi, max(start, end - 6), -1):
        if not is_date_line(blocks[d].text):
            continue
        k = d - 1
        organs = []
        while k >= start and d - k <= 3 and is_signature_line(blocks[k].text):
            organs.append(k)
            k -= 1
        if organs:
            keep.update(organs)
            keep.add(d)
            end = max(end, d)
            break
    return start, end, frozenset(keep)


def is_byline(line: str) -> bool:
    """A line that states when, where from or by whom (a labelled date, a source or editor credit)."""
    line = strip_pinyin_annotations(line)
    hits = find_dates(line)
    if any(h.labelled for h in hits) and len(line) <= 100:
        return True
    credit = has_credit(line)
    if hits and (credit or len(line) - (hits[0].end - hits[0].start) < 20):
        return True
    return credit and len(line) < 50


def clean_lines(lines: list[str]) -> list[str]:
    """Stripped, non-empty lines, a paragraph given twice (mobile and desktop copies) kept once."""
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if len(line) >= 12 and line in seen:
            continue
        seen.add(line)
        out.append(line)
    return out


def heading_blocks(root: Any) -> list[Block]:
    """h1-h3 and title-named elements as blocks, in document order (for pages read by trafilatura)."""
    out: list[Block] = []
    for el in root.iter("h1", "h2", "h3"):
        text = squash(el.text_content())
        if not text or len(text) > 200:
            continue
        n = nonspace(text)
        link = sum(nonspace(squash(a.text_content())) for a in el.iter("a"))
        neg = False
        titleish = bool(tokens(el) & TITLE_TOKENS)
        parent = el.getparent()
        depth = 0
        while parent is not None and depth < 8:
            if parent.tag in NEG_TAGS or tokens(parent) & NEG_TOKENS:
                neg = True
                break
            parent = parent.getparent()
            depth += 1
        out.append(Block(text, n, min(link, n), 0, el.tag, neg, False, int(el.tag[1]), titleish, el))
    return out


#: the languages whose justext stop words trafilatura's last fallback counts on a page of unknown language (by
#: default it loads all 100 of justext's lists, about 23 MB in every crawl process): those of the countries
#: whose science and technology news and papers a Chinese watcher reads besides Chinese (which has no list)
JUSTEXT_LANGUAGES = ("English", "German", "French", "Spanish", "Portuguese", "Italian", "Russian", "Korean", "Dutch")


def _justext_stoplist() -> None:
    """Give trafilatura's justext fallback the stop words of :data:`JUSTEXT_LANGUAGES` (once per process)."""
    from trafilatura import external

    if getattr(external, "JT_STOPLIST", None) is None:
        from justext import get_stoplist

        stoplist: Any = tuple({w for lang in JUSTEXT_LANGUAGES for w in get_stoplist(lang)})
        external.JT_STOPLIST = stoplist


def trafilatura_body(root: Any, url: str) -> tuple[str, str, str, str | None]:
    """(text, title, author, date) from trafilatura on the parsed tree; empty strings when it finds nothing."""
    try:
        import trafilatura

        _justext_stoplist()

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
    text = strip_glyphs(str(get("text") or ""))
    text = re.sub(r"\n+", "\n\n", text).strip()
    date = get("date")
    return text, str(get("title") or ""), str(get("author") or ""), parse_date(str(date)) if date else None
