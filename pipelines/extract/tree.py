"""The page as a tree: parsing (with the budget's checks), removing what is never text, reading ``<meta>``.

Parsing follows what browsers do with broken pages where lxml (libxml2 ≥ 2.14) would lose content: an
``</html>`` or ``</body>`` in the middle of a page — typical of server-side includes that paste a whole
header document into the page — ends libxml2's parse, so everything after it (the article) would vanish;
those end tags are dropped before parsing, as an HTML5 parser ignores them. libxml2's resource limits
(nesting deeper than 256 elements, a text node over 10 MB) raise :class:`core.errors.PageTooComplex`
instead of silently truncating the page.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from core.errors import PageTooComplex

DROP_TAGS = (
    "script", "style", "noscript", "template", "iframe", "select", "option", "textarea", "button", "input",
    "svg", "canvas", "object", "embed", "map", "area", "audio", "video", "source", "datalist",
)  # fmt: skip
_STRAY_END_TAG = re.compile(r"</\s*(?:html|body)\s*>", re.I)
_RESOURCE_LIMIT = "ERR_RESOURCE_LIMIT"
# lxml.html's elements, chosen in C: lxml.html's own parser asks a Python function for every element the code
# touches (to give <form>/<input> their own classes, which the extractor never uses) — a fifth of the walk.
_CLASSES = etree.ElementDefaultClassLookup(
    element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment, pi=lxml_html.HtmlProcessingInstruction,
    entity=lxml_html.HtmlEntity,
)


def _parser() -> etree.HTMLParser:
    parser = etree.HTMLParser()
    parser.set_element_class_lookup(_CLASSES)
    return parser


def parse_html(html: str) -> Any:
    """The parsed document (lxml.html), or None when nothing parseable is left."""
    html = _STRAY_END_TAG.sub("", html)
    parser = _parser()
    try:
        root = lxml_html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError):  # e.g. an XML declaration with an encoding inside a str
        parser = _parser()
        try:
            root = lxml_html.fromstring(html.encode("utf-8", "replace"), parser=parser)
        except (etree.ParserError, ValueError):
            return None
    for entry in parser.error_log:
        if entry.type_name == _RESOURCE_LIMIT:
            raise PageTooComplex(f"page too complex: {entry.message.strip()}")
    return root


def clean_tree(root: Any) -> None:
    """Drop comments, scripts, styles, forms, embedded objects and hidden elements (their tails are kept)."""
    etree.strip_tags(root, etree.Comment, etree.ProcessingInstruction)  # keeps the text after them
    etree.strip_elements(root, *DROP_TAGS, with_tail=False)  # in C; the text after each is kept
    for el in root.xpath("//*[@hidden or @style]"):
        if el.get("hidden") is None and "display:none" not in (el.get("style") or "").replace(" ", ""):
            continue
        if el.getparent() is not None and el.tag not in ("html", "body"):
            el.drop_tree()


def metas(root: Any) -> dict[str, str]:
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


def meta(found: dict[str, str], keys: tuple[str, ...]) -> str:
    """The first non-empty value among ``keys``."""
    for key in keys:
        value = found.get(key)
        if value:
            return value
    return ""


def select(root: Any, selector: str | None) -> list[Any]:
    """Elements matching a source's CSS (or XPath) selector; an invalid selector matches nothing."""
    if not selector:
        return []
    try:
        return list(root.cssselect(selector))
    except Exception:  # an invalid selector from a source file is ignored, not fatal
        try:
            return list(root.xpath(selector))
        except Exception:
            return []
