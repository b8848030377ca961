"""What both backends store the same way: the content hash, the stored form of an article, the indexed body
text and the record of a revision. A neutral module, so that neither backend imports the other."""

from __future__ import annotations

import hashlib
from typing import Any

from core.items import Article

_ARTICLE_FIELDS = tuple(Article.__dataclass_fields__)


def content_hash(article: Article) -> str:
    """The hash of what is searched (title and text): a change of it is a revision."""
    h = hashlib.sha1()
    h.update((article.search_title or article.title).encode("utf-8"))
    h.update(b"\x00")
    h.update((article.search_text or article.text).encode("utf-8"))
    return h.hexdigest()


def article_data(article: Article) -> dict[str, Any]:
    """``article.to_dict()`` without the deep copy (the result is serialised at once, never mutated)."""
    return {name: getattr(article, name) for name in _ARTICLE_FIELDS}


def body_for_index(article: Article) -> str:
    """The searchable body: the normalised text and the text of its attachments."""
    parts = [article.search_text or article.text]
    for att in article.attachments:
        if att.get("text"):
            parts.append(str(att["text"]))
    return "\n".join(parts)


def revision_change(old: dict[str, Any], new: Article) -> dict[str, Any]:
    """What changed between the stored version and the new one (kept as the document's history)."""
    old_paras = [p.strip() for p in str(old.get("text", "")).split("\n") if p.strip()]
    new_paras = [p.strip() for p in new.text.split("\n") if p.strip()]
    old_set, new_set = set(old_paras), set(new_paras)
    return {
        "previous_title": old.get("title", ""),
        "title_changed": old.get("title", "") != new.title,
        "paragraphs_added": [p[:200] for p in new_paras if p not in old_set][:20],
        "paragraphs_removed": [p[:200] for p in old_paras if p not in new_set][:20],
        "previous_text": old.get("text", ""),
        "previous_fetched": old.get("fetched", ""),
    }
