"""Attachments of policy pages: finding PDF/DOC/DOCX/WPS/OFD links, and reading the text of PDF and DOCX files.

:func:`attachment_text` is bounded (bytes read, pages, characters) and never raises for junk input: a file it
cannot read gives "".
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

log = logging.getLogger(__name__)

ATTACHMENT_TYPES = ("pdf", "doc", "docx", "wps", "ofd", "xls", "xlsx", "et", "zip", "rar")
MAX_BYTES = 10 * 1024 * 1024
MAX_PAGES = 200
MAX_CHARS = 500_000
_EXT = re.compile(r"\.(" + "|".join(ATTACHMENT_TYPES) + r")(?:$|[?#])", re.I)
_NAME_EXT = re.compile(r"\.(" + "|".join(ATTACHMENT_TYPES) + r")\s*$", re.I)


def attachment_type(url: str, name: str = "") -> str:
    """ "pdf", "docx" ... from a link's URL path or its text; "" when it is no attachment."""
    path = urlsplit(url).path
    m = _EXT.search(path) or _EXT.search(url) or _NAME_EXT.search(name)
    return m.group(1).lower() if m else ""


def find_attachments(root: Any, base_url: str = "") -> list[dict[str, Any]]:
    """Every attachment link of a parsed page, once each: ``{"url", "name", "type"}``."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in root.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        kind = attachment_type(href) if _EXT.search(href) else ""
        name = ""
        if not kind:
            if "." not in href.rsplit("/", 1)[-1] and not href.endswith("/"):
                # download links without an extension: judge by the link text ("附件：xxx.pdf")
                name = " ".join(a.text_content().split())
                kind = attachment_type("", name) if len(name) < 200 else ""
            if not kind:
                continue
        if not name:
            name = " ".join(a.text_content().split())
        url = urljoin(base_url, href) if base_url else href
        if url in seen:
            continue
        seen.add(url)
        if not name:
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        out.append({"url": url, "name": name, "type": kind})
    return out


def _pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(body), strict=False)
    parts: list[str] = []
    total = 0
    for i, page in enumerate(reader.pages):
        if i >= MAX_PAGES or total >= MAX_CHARS:
            break
        text = page.extract_text() or ""
        parts.append(text)
        total += len(text)
    return "\n\n".join(p.strip() for p in parts if p.strip())


def _docx_text(body: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(body))
    parts = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                parts.append(" | ".join(dict.fromkeys(cells)))
    return "\n\n".join(parts)


def attachment_text(body: bytes, name: str, content_type: str | None) -> str:
    """Text of a PDF or DOCX attachment (at most ``MAX_CHARS``); "" for other types, oversized files or junk."""
    if not body or len(body) > MAX_BYTES:
        return ""
    ctype = (content_type or "").lower()
    kind = attachment_type(name, name)
    if body.startswith(b"%PDF") or "pdf" in ctype:
        kind = "pdf"
    elif body.startswith(b"PK\x03\x04") and (kind == "docx" or "officedocument.wordprocessingml" in ctype):
        kind = "docx"
    try:
        if kind == "pdf":
            text = _pdf_text(body)
        elif kind == "docx":
            text = _docx_text(body)
        else:
            return ""
    except Exception as exc:  # corrupt or unexpected files: pypdf/python-docx raise many kinds of errors
        log.info("attachment %s unreadable: %s", name, exc)
        return ""
    return text[:MAX_CHARS]
