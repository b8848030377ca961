"""Decoding fetched bytes to text before any parsing: BOM, HTTP charset, <meta> charset, then sniffing.

GB2312 and GBK declarations are read as GB18030 (a superset: pages labelled GB2312 routinely use GBK/GB18030
characters), Big5 as Big5-HKSCS, Latin-1 as Windows-1252. A declaration is believed only if the bytes decode
with it; a Latin declaration on bytes that read as Chinese is overruled. A page cut mid-character (truncated
download) or carrying a few stray bytes is still decoded with its encoding, the bad bytes replaced.

Every decision that departs from what the page declared is listed in ``Decoded.repairs``:

* ``charset-corrected:<declared>-><used>`` — the declared charset was wrong;
* ``charset-upgraded:<declared>->gb18030`` — a GB2312/GBK label on a page using characters outside it;
* ``charset-detected:<used>`` — nothing was declared and the page is not UTF-8;
* ``truncated-multibyte`` — the body ends inside a multi-byte character;
* ``undecodable-bytes-replaced`` — some bytes fit no encoding and were replaced by U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "gb_2312": "gb18030",
    "cp936": "gb18030",
    "hz-gb-2312": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
    "latin-1": "windows-1252",
    "latin1": "windows-1252",
    "ascii": "utf-8",
    "us-ascii": "utf-8",
    "utf8": "utf-8",
    "unicode": "utf-8",
}
_LATIN = {"windows-1252", "cp1252", "iso-8859-15", "windows-1250", "iso-8859-2"}
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# share of undecodable bytes tolerated before a candidate encoding is rejected
_MAX_BAD_SHARE = 0.002


@dataclass
class Decoded:
    text: str
    encoding: str
    declared: str = ""  # what the page or server declared, if anything
    repairs: list[str] = field(default_factory=list)


def _canonical(encoding: str | None) -> str | None:
    if not encoding:
        return None
    enc = encoding.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(enc).name
    except LookupError:
        name = enc
    return name


def _upgrade(encoding: str | None) -> str | None:
    if not encoding:
        return None
    enc = encoding.strip().strip("\"'").lower()
    enc = _SUPERSETS.get(enc, enc)
    try:
        codecs.lookup(enc)
    except LookupError:
        return None
    return _SUPERSETS.get(_canonical(enc) or enc, _canonical(enc) or enc)


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return m.group(1) if m else None


def meta_charset(body: bytes) -> str | None:
    head = body[:4096]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


def _try(body: bytes, encoding: str) -> tuple[str, list[str]] | None:
    """Decode strictly; tolerate a truncated tail or a very few bad bytes. None when the encoding does not fit."""
    try:
        return body.decode(encoding), []
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 4:
            try:
                return body[: exc.start].decode(encoding), ["truncated-multibyte"]
            except UnicodeDecodeError:
                pass
    except (LookupError, UnicodeError):
        return None
    text = body.decode(encoding, errors="replace")
    bad = text.count("\ufffd") - body.decode("ascii", "ignore").count("\ufffd")
    if bad <= max(1, int(len(body) * _MAX_BAD_SHARE)):
        return text, ["undecodable-bytes-replaced"]
    return None


def _looks_chinese(text: str) -> bool:
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return non_ascii > 0 and len(_CJK.findall(text)) >= 0.8 * non_ascii


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode an HTML (or XML) response body; never raises.

    Order of evidence: BOM, UTF-8 validity (valid non-ASCII UTF-8 is UTF-8 whatever the label says), the HTTP
    header charset and the <meta> charset — each accepted only if the bytes decode with it — then GB18030,
    Big5-HKSCS and statistical detection.
    """
    body = body or b""
    declared_header = header_charset(content_type)
    declared_meta = meta_charset(body)
    declared = (declared_header or declared_meta or "").strip().strip("\"'")
    for bom, name in _BOMS:
        if body.startswith(bom):
            bom_text = body.decode(name, errors="replace")
            return Decoded(
                text=bom_text.lstrip("\ufeff"), encoding=name.replace("-sig", ""), declared=declared
            )

    candidates: list[str] = []
    if not body.isascii():
        ok = _try(body, "utf-8")
        if ok is not None and not ok[1]:
            candidates.append("utf-8")
    for enc in (_upgrade(declared_header), _upgrade(declared_meta)):
        if enc and enc not in candidates:
            candidates.append(enc)
    for enc in ("utf-8", "gb18030", "big5hkscs"):
        if enc not in candidates:
            candidates.append(enc)

    repairs: list[str] = []
    text: str | None = None
    encoding = "utf-8"
    if body.isascii():
        text, encoding = body.decode("ascii"), "utf-8"
    else:
        for enc in candidates:
            got = _try(body, enc)
            if got is None:
                continue
            got_text, extra = got
            # a Latin label on bytes that read cleanly as Chinese: the label is wrong
            if enc in _LATIN:
                gb = _try(body, "gb18030")
                if gb is not None and not gb[1] and _looks_chinese(gb[0]):
                    got_text, extra, enc = gb[0], gb[1], "gb18030"
            text, encoding = got_text, enc
            repairs.extend(extra)
            break
    if text is None:
        from charset_normalizer import from_bytes

        best = from_bytes(body[:200_000]).best()
        enc = _canonical(best.encoding) if best is not None else None
        if enc:
            text, encoding = body.decode(enc, errors="replace"), enc
        else:
            text, encoding = body.decode("utf-8", errors="replace"), "utf-8"
        if "\ufffd" in text:
            repairs.append("undecodable-bytes-replaced")

    upgraded = _upgrade(declared)
    if declared and upgraded != encoding:
        repairs.append(f"charset-corrected:{declared.lower()}->{encoding}")
    elif declared and encoding == "gb18030" and (_canonical(declared) or "") in ("gb2312", "gbk"):
        narrow = _canonical(declared) or "gb2312"
        try:
            body.decode(narrow)
        except UnicodeDecodeError as exc:
            if exc.start < len(body) - 4:
                repairs.append(f"charset-upgraded:{declared.lower()}->gb18030")
    elif not declared and encoding not in ("utf-8", "ascii"):
        repairs.append(f"charset-detected:{encoding}")
    return Decoded(text=text, encoding=encoding, declared=declared, repairs=repairs)
