"""The classify stage: articles in place, the Scrapy pipeline, and the command line's record form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.items import Article
from core.settings import SCRAPY_KEY, of_crawler
from pipelines.classify.classifier import MAX_CHARS, classify
from pipelines.classify.model import Model, model_for
from pipelines.classify.result import Classification
from pipelines.taxonomy import Taxonomy, load_taxonomy


def classify_article(
    article: Article, *, taxonomy: Taxonomy | None = None, model: Model | None | bool = True
) -> Classification:
    """Classify an article in place (its normalised title/text, falling back to the display ones)."""
    normalized = bool(article.search_title or article.search_text)
    result = classify(
        article.search_title or article.title,
        article.search_text or article.text,
        url=article.url,
        hints=article.hints,
        fields=article.fields,
        taxonomy=taxonomy,
        model=model,
        normalized=normalized,
    )
    article.content_type = result.content_type
    article.scitech_relevant = result.scitech_relevant
    article.relevance = result.relevance
    article.domains = list(result.domains)
    article.region = result.region
    article.evidence = dict(result.evidence)
    return result


class ClassifyPipeline:
    """Sets ``content_type``, ``scitech_relevant``, ``relevance``, ``domains``, ``region`` and ``evidence``."""

    def __init__(self, taxonomy_path: str = "", model: Model | None = None):
        self.taxonomy_path = taxonomy_path
        self.model = model

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClassifyPipeline:
        from scrapy.exceptions import NotConfigured

        settings = of_crawler(crawler)
        if settings is None:
            raise NotConfigured(f"the crawl has no techscout settings ({SCRAPY_KEY})")
        return cls(settings.taxonomy, model_for(settings))

    def open_spider(self) -> None:
        load_taxonomy(self.taxonomy_path or None)  # fail early on an invalid taxonomy

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            taxonomy = load_taxonomy(self.taxonomy_path or None)
            classify_article(item, taxonomy=taxonomy, model=self.model if self.model is not None else True)
        return item


def classify_record(
    row: Mapping[str, Any], *, taxonomy: Taxonomy, model: Model | None | bool = True
) -> dict[str, Any]:
    """One CLI output line for one input record ``{id, url, title, text, source, hints?, fields?}``: the labels,
    the talents (for every document; names as the text writes them) and the libraries it enters."""
    from pipelines.normalize import normalize_text
    from pipelines.route import route, talents_of

    hints = row.get("hints") if isinstance(row.get("hints"), dict) else {}
    fields = row.get("fields") if isinstance(row.get("fields"), dict) else {}
    raw_title = str(row.get("title") or "")
    raw_text = str(row.get("text") or "")[:MAX_CHARS]
    doc = {
        "id": str(row.get("id") or ""),
        "title": raw_title,
        "text": raw_text,
        "search_title": normalize_text(raw_title),
        "search_text": normalize_text(raw_text),
        "url": str(row.get("url") or ""),
    }
    result = classify(
        doc["search_title"],
        doc["search_text"],
        url=doc["url"],
        hints=hints,
        fields=fields,
        taxonomy=taxonomy,
        model=model,
        normalized=True,
    )
    found = talents_of(doc, result, taxonomy=taxonomy)
    entries = route(doc, result, taxonomy=taxonomy, talents=found)
    talents = [{k: t[k] for k in ("name", "title", "affiliation", "domains")} for t in found]
    return {
        "id": doc["id"],
        "content_type": result.content_type,
        "scitech_relevant": result.scitech_relevant,
        "relevance": result.relevance,
        "domains": result.domains,
        "region": result.region,
        "talents": talents,
        "libraries": sorted({e["library"] for e in entries}),
        "evidence": result.evidence,
    }
