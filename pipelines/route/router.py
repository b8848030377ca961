"""Routing into the three libraries (问题库 problem, 项目库 project, 人才库 talent).

* **problem** library (a stated technical need, call for solutions, 揭榜挂帅): the need, the organisation posting
  it, domains, region, deadline and budget when stated;
* **project** library (an achievement: research result, patent, product, technology transfer): the achievement,
  the owning institution or enterprise, domains, maturity/stage, key numbers, contact when stated;
* **talent** library: every person presented as a scientist, engineer or expert — name, title, affiliation,
  domains. An entry's id is a stable hash of the name and the affiliation, so the same person found in several
  documents is one entry.

:func:`route` is the pure function; :class:`RoutePipeline` sets ``article.libraries`` and ``article.entries``
(the store merges entries by id: union of ``doc_ids``, newer fields win).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from core.items import Article
from pipelines.route.entries import (
    _BUDGET,
    _CONTACT,
    _DEADLINE,
    _NEED_SENTENCE,
    _NUMBER_SNIPPET,
    _STAGE,
    _first,
    _owner,
)
from pipelines.route.lexicon import load_people
from pipelines.route.talents import extract_talents

LIBRARIES = ("problem", "project", "talent")


def stable_id(*parts: str) -> str:
    """A short stable hash of the parts (whitespace removed)."""
    key = "\x1f".join(re.sub(r"\s+", "", p or "") for p in parts)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def normalize_affiliation(aff: str) -> str:
    aff = re.sub(r"\s+", "", aff or "")
    for short, full in load_people().affiliation_aliases.items():
        if aff.startswith(short) and not aff.startswith(full):
            aff = full + aff[len(short) :]
    return aff


def talent_id(name: str, affiliation: str) -> str:
    return "talent-" + stable_id(name, normalize_affiliation(affiliation))


def _get(doc: Any, key: str, default: Any = "") -> Any:
    if isinstance(doc, Mapping):
        return doc.get(key, default)
    return getattr(doc, key, default)


def route(article_like: Any, classification: Any) -> list[dict[str, Any]]:
    """Library entries for one document (an :class:`Article` or a mapping with id/title/text/url).

    ``classification`` is a :class:`~pipelines.classify.Classification` (or anything with ``content_type``,
    ``scitech_relevant``, ``domains``, ``region``).
    """
    doc_id = str(_get(article_like, "id") or "")
    title = str(_get(article_like, "search_title") or _get(article_like, "title") or "")
    text = str(_get(article_like, "search_text") or _get(article_like, "text") or "")
    ctype = str(getattr(classification, "content_type", "") or "")
    relevant = bool(getattr(classification, "scitech_relevant", False))
    domains = list(getattr(classification, "domains", []) or [])
    region = getattr(classification, "region", None)
    entries: list[dict[str, Any]] = []
    if not relevant:
        return entries

    if ctype == "demand":
        org = _owner(text)
        need = title or _first(_NEED_SENTENCE, text, group=0)
        entry: dict[str, Any] = {
            "id": "problem-" + stable_id(org, need),
            "library": "problem",
            "name": need,
            "need": _first(_NEED_SENTENCE, text, group=0) or need,
            "organization": org,
            "domains": domains,
            "region": region,
            "doc_ids": [doc_id],
        }
        deadline = _first(_DEADLINE, text)
        budget = _first(_BUDGET, text)
        if deadline:
            entry["deadline"] = re.sub(r"\s+", "", deadline)
        if budget:
            entry["budget"] = re.sub(r"\s+", "", budget)
        contact = _first(_CONTACT, text)
        if contact:
            entry["contact"] = contact
        entries.append(entry)

    if ctype == "achievement":
        owner = _owner(text)
        entry = {
            "id": "project-" + stable_id(title, owner),
            "library": "project",
            "name": title or text[:40],
            "owner": owner,
            "domains": domains,
            "region": region,
            "doc_ids": [doc_id],
        }
        stage = _first(_STAGE, text, group=0)
        if stage:
            entry["stage"] = stage
        numbers = []
        for m in _NUMBER_SNIPPET.finditer(text[:8000]):
            snippet = m.group(0).strip()
            if snippet and snippet not in numbers and not re.fullmatch(r"[\d年月日\s.-]+", snippet):
                numbers.append(snippet)
            if len(numbers) >= 5:
                break
        if numbers:
            entry["key_numbers"] = numbers
        contact = _first(_CONTACT, text)
        if contact:
            entry["contact"] = contact
        entries.append(entry)

    for t in extract_talents(text, title):
        entries.append(
            {
                "id": talent_id(t.name, t.affiliation),
                "library": "talent",
                "name": t.name,
                "title": t.title,
                "affiliation": t.affiliation,
                "domains": domains,
                "doc_ids": [doc_id],
            }
        )
    return entries


def route_article(article: Article, classification: Any = None) -> list[dict[str, Any]]:
    """Set ``article.libraries`` and ``article.entries`` from its classification fields."""
    cls = classification if classification is not None else article
    entries = route(article, cls)
    article.entries = entries
    article.libraries = [lib for lib in LIBRARIES if any(e["library"] == lib for e in entries)]
    return entries


class RoutePipeline:
    """Fills ``libraries`` and ``entries`` from the classification the classify stage left on the article."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            route_article(item)
        return item
