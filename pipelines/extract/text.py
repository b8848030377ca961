"""Plain text "as scraped" (page chrome + article + credits + spam) turned into an extraction.

Lines play the role of blocks (no link information): the article is the best-valued run of lines; the title
is a "原标题：" line or the line introducing the byline (the line before 作者/来源/发布时间); spam lines
(e.g. an injected porn headline) never become the title or the body.
"""

from __future__ import annotations

import re

from pipelines.extract.blocks import best_run, block_value, line_block
from pipelines.extract.body import body_lines, clean_lines, document_bounds, is_byline
from pipelines.extract.bylines import find_author, find_editor, find_outlet
from pipelines.extract.chars import squash
from pipelines.extract.dates import find_dates, parse_date
from pipelines.extract.metadata import language_of, pick_date
from pipelines.extract.policy import (
    ORDER_NUMBER,
    is_document_header,
    is_metadata_line,
    is_signature_line,
    policy_fields,
)
from pipelines.extract.result import Extraction
from pipelines.normalize import strip_pinyin_annotations
from pipelines.spam import clean_spam

ORIGINAL_TITLE = re.compile(r"^\s*[【\[]?\s*原\s*[标標]\s*[题題]\s*[】\]]?\s*[:：]\s*(.{4,80})$")


def _could_be_title(line: str, spam: bool) -> bool:
    """Not spam, of a headline's length, not a sentence, not a signature or a metadata line (发布机构：…)."""
    return not (
        spam
        or not (4 <= len(line) <= 100)
        or line.endswith(("。", "：", ":"))
        or is_signature_line(line)
        or is_metadata_line(line)
    )


def clean_text_document(text: str) -> Extraction:
    """Extract the article of a plain-text page dump; spam phrases are removed and listed."""
    result = Extraction()
    if not text or not text.strip():
        result.repairs.append("empty-input")
        return result
    lines = [x for x in (squash(raw) for raw in text.replace("\r", "\n").split("\n")) if x]
    blocks = [line_block(x) for x in lines]
    # spam lines (e.g. an injected porn headline) must not become the title or body
    clean = [clean_spam("", x) for x in lines]
    for b, c in zip(blocks, clean, strict=True):
        if c.found and len(c.text.strip()) < 0.3 * len(b.text):
            b.neg = True
    start, end = best_run([block_value(b) for b in blocks])
    title = ""
    title_idx = -1
    for i, line in enumerate(lines[: max(start, 0) + 3]):
        m = ORIGINAL_TITLE.match(line)
        if m:
            title, title_idx = m.group(1).strip(), i
            break
    if not title:  # an official document: its title stands right above its number line (国发〔2018〕43号)
        for i in range(1, min(len(lines), max(start, 0) + 8)):
            if is_document_header(lines[i]) and _could_be_title(lines[i - 1], blocks[i - 1].neg):
                title, title_idx = lines[i - 1].strip(" -—_|·"), i - 1
                break
    if not title:
        for i in range(min(len(lines), max(start, 0) + 2)):
            line = lines[i]
            if not _could_be_title(line, blocks[i].neg):
                continue
            following = strip_pinyin_annotations(" ".join(lines[i + 1 : i + 3]))
            hits = find_dates(following)
            if hits and (
                any(h.labelled for h in hits)
                or find_outlet(following)
                or find_author(following)
                or is_byline(following)
            ):
                title, title_idx = line.strip(" -—_|·"), i
                break
    result.title = title
    result.language = language_of(None, text)
    window = (
        lines[max(0, title_idx - 3) : title_idx + 6]
        if title_idx >= 0
        else lines[max(0, start - 8) : start + 2]
    )
    if end >= start >= 0:
        start, end, keep = document_bounds(blocks, start, end)
        kept, removed = body_lines(blocks, start, end, title, keep)
        if title:
            kept = [k for k in kept if not ORIGINAL_TITLE.match(k)]
        if removed:
            result.repairs.append("boilerplate-removed")
        result.text = "\n\n".join(clean_lines(kept))
    window = [strip_pinyin_annotations(x) for x in window]
    result.published = pick_date(window) or pick_date(result.text[-200:].split("\n"))
    window_text = "\n".join(window)
    result.outlet = find_outlet(window_text) or find_outlet(text[-2000:])
    result.author = find_author(window_text) or find_author(result.text[:200]) or find_editor(text)
    result.fields = policy_fields(lines, result.text.split("\n\n") if result.text else [])
    for name in ("发布日期", "成文日期"):
        if result.published is None and result.fields.get(name):
            result.published = parse_date(result.fields[name])
    if not result.title and ORDER_NUMBER.fullmatch(result.fields.get("发文字号", "")):
        result.title = result.fields["发文字号"]  # an order without a headline is known by its number
    spam = clean_spam(result.title, result.text)
    if spam.found:
        result.title, result.text = spam.title, spam.text
        result.spam = spam.found
        result.repairs.append("spam-removed")
    return result
