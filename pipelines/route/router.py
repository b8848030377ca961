"""Routing into the three libraries (问题库 problem, 项目库 project, 人才库 talent).

* **problem** library (a stated technical need, call for solutions, 揭榜挂帅): the need, the organisation posting
  it, domains, region, deadline and budget when stated;
* **project** library (an achievement: research result, patent, product, technology transfer): the achievement,
  the owning institution or enterprise, domains, maturity/stage, key numbers, contact when stated;
* **talent** library: every person presented as a scientist, engineer or expert — name (as the text writes it),
  title, affiliation and the person's own domains (from their title, affiliation and the words around the name;
  the document's lead domain only when their context names none). An entry's id is a stable hash of the name in
  simplified script and the affiliation, so the same person found in several documents is one entry.

Only sci-tech documents enter the libraries. :func:`route` is the pure function; :class:`RoutePipeline` sets
``article.libraries`` and ``article.entries`` (the store merges entries by id: union of ``doc_ids``, newer fields
win).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from core.items import Article
from pipelines.route.entries import (
    BUDGET,
    CONTACT,
    DEADLINE,
    NEED_SENTENCE,
    STAGE,
    first_match,
    key_numbers,
    owner_of,
)
from pipelines.route.lexicon import People, load_people
from pipelines.route.talents import extract_talents, original_name, person_domains
from pipelines.taxonomy import Taxonomy, load_taxonomy
from pipelines.terms import compiled

LIBRARIES = ("problem", "project", "talent")


def stable_id(*parts: str) -> str:
    """A short stable hash of the parts (whitespace removed)."""
    key = "\x1f".join(re.sub(r"\s+", "", p or "") for p in parts)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def normalize_affiliation(aff: str, lexicon: People | None = None) -> str:
    """An affiliation with its short forms expanded (中科院 → 中国科学院) and no whitespace."""
    aff = re.sub(r"\s+", "", aff or "")
    for short, full in (lexicon or load_people()).affiliation_aliases.items():
        if aff.startswith(short) and not aff.startswith(full):
            aff = full + aff[len(short) :]
    return aff


def talent_id(name: str, affiliation: str) -> str:
    """The id of a person: the name in simplified script and the normalised affiliation."""
    from pipelines.normalize import to_simplified

    return "talent-" + stable_id(to_simplified(name), normalize_affiliation(to_simplified(affiliation)))


def _get(doc: Any, key: str, default: Any = "") -> Any:
    if isinstance(doc, Mapping):
        return doc.get(key, default)
    return getattr(doc, key, default)


def talents_of(
    article_like: Any,
    classification: Any,
    *,
    taxonomy: Taxonomy | None = None,
    lexicon: People | None = None,
) -> list[dict[str, Any]]:
    """The persons a document presents as experts, each ``{name, title, affiliation, domains, domain_evidence}``,
    whether or not the document is sci-tech (the talent library itself takes only sci-tech documents)."""
    from pipelines.normalize import normalize_text, to_simplified

    lx = lexicon or load_people()
    comp = compiled(taxonomy or load_taxonomy())
    title = str(_get(article_like, "search_title") or normalize_text(str(_get(article_like, "title") or "")))
    text = str(_get(article_like, "search_text") or normalize_text(str(_get(article_like, "text") or "")))
    shown = f"{_get(article_like, 'title') or ''}\n{_get(article_like, 'text') or ''}"
    shown_simplified = to_simplified(shown)
    ctype = str(getattr(classification, "content_type", "") or "")
    doc_domains = list(getattr(classification, "domains", []) or [])
    out = []
    for t in extract_talents(text, title, lx, profile=ctype == "talent"):
        domains, ev = person_domains(t, comp, lx)
        if not domains and doc_domains:
            domains, ev = doc_domains[:1], ["document"]
        out.append(
            {
                "name": original_name(t.name, shown, shown_simplified),
                "title": original_name(t.title, shown, shown_simplified),
                "affiliation": original_name(t.affiliation, shown, shown_simplified),
                "domains": domains,
                "domain_evidence": ev,
            }
        )
    return out


def route(
    article_like: Any,
    classification: Any,
    *,
    taxonomy: Taxonomy | None = None,
    lexicon: People | None = None,
    talents: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Library entries for one document (an :class:`Article` or a mapping with id/title/text/url, and optionally
    ``search_title``/``search_text``, the normalised forms the extraction reads).

    ``classification`` is a :class:`~pipelines.classify.Classification` (or anything with ``content_type``,
    ``scitech_relevant``, ``domains``, ``region``); ``talents``: what :func:`talents_of` already found in it.
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
        org = owner_of(text)
        need = title or first_match(NEED_SENTENCE, text, group=0)
        entry: dict[str, Any] = {
            "id": "problem-" + stable_id(org, need),
            "library": "problem",
            "name": need,
            "need": first_match(NEED_SENTENCE, text, group=0) or need,
            "organization": org,
            "domains": domains,
            "region": region,
            "doc_ids": [doc_id],
        }
        deadline = first_match(DEADLINE, text)
        budget = first_match(BUDGET, text)
        if deadline:
            entry["deadline"] = re.sub(r"\s+", "", deadline)
        if budget:
            entry["budget"] = re.sub(r"\s+", "", budget)
        contact = first_match(CONTACT, text)
        if contact:
            entry["contact"] = contact
        entries.append(entry)

    if ctype == "achievement":
        owner = owner_of(text)
        entry = {
            "id": "project-" + stable_id(title, owner),
            "library": "project",
            "name": title or text[:40],
            "owner": owner,
            "domains": domains,
            "region": region,
            "doc_ids": [doc_id],
        }
        stage = first_match(STAGE, text, group=0)
        if stage:
            entry["stage"] = stage
        numbers = key_numbers(text)
        if numbers:
            entry["key_numbers"] = numbers
        contact = first_match(CONTACT, text)
        if contact:
            entry["contact"] = contact
        entries.append(entry)

    if talents is None:
        talents = talents_of(article_like, classification, taxonomy=taxonomy, lexicon=lexicon)
    for t in talents:
        entries.append(
            {
                "id": talent_id(t["name"], t["affiliation"]),
                "library": "talent",
                "name": t["name"],
                "title": t["title"],
                "affiliation": t["affiliation"],
                "domains": t["domains"],
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
