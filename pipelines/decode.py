"""Decoding fetched bytes to text before any parsing: HTTP charset, BOM, <meta> charset, then sniffing.

GB2312 and GBK declarations are read as GB18030 (a superset: pages labelled GB2312 routinely use GBK/GB18030
characters), Big5 as Big5-HKSCS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4.dammit import UnicodeDammit

_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "iso-8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "ascii": "utf-8",
    "us-ascii": "utf-8",
}
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


@dataclass
class Decoded:
    text: str
    encoding: str
    declared: str = ""  # what the page or server declared, if anything
    repairs: list[str] = field(default_factory=list)


def _upgrade(encoding: str | None) -> str | None:
    if not encoding:
        return None
    enc = encoding.strip().lower()
    return _SUPERSETS.get(enc, enc)


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return m.group(1) if m else None


def meta_charset(body: bytes) -> str | None:
    m = _META_CHARSET.search(body[:4096])
    return m.group(1).decode("ascii", "replace") if m else None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        # a page cut mid-character (truncated download) is still UTF-8
        try:
            body[:-3].decode("utf-8") if len(body) > 3 else body.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode an HTML (or XML) response body; never raises.

    Order of evidence: BOM, then the HTTP header charset and the <meta> charset — each accepted only if the
    bytes decode cleanly with it — then UTF-8, then statistical detection (charset-normalizer via UnicodeDammit).
    """
    declared_header = header_charset(content_type)
    declared_meta = meta_charset(body)
    declared = declared_header or declared_meta or ""
    candidates = [c for c in (_upgrade(declared_header), _upgrade(declared_meta)) if c]
    # Bytes that are valid UTF-8 and not plain ASCII are UTF-8 whatever the label says: GBK text is almost
    # never valid UTF-8, while mislabelled UTF-8 pages are common.
    if not body.isascii() and _is_utf8(body):
        candidates.insert(0, "utf-8")
    dammit = UnicodeDammit(
        body,
        known_definite_encodings=candidates + ["utf-8"],
        user_encodings=["gb18030", "big5hkscs"],
        is_html=True,
    )
    text = dammit.unicode_markup
    encoding = (dammit.original_encoding or "utf-8").lower()
    repairs: list[str] = []
    if text is None:
        text = body.decode("utf-8", errors="replace")
        encoding = "utf-8"
        repairs.append("undecodable-bytes-replaced")
    if declared and _upgrade(declared) != encoding and encoding not in ("ascii",):
        repairs.append(f"charset-corrected:{declared.lower()}->{encoding}")
    return Decoded(text=text, encoding=encoding, declared=declared, repairs=repairs)
