"""Extraction health of a source: how many stored articles came out with a date, a real body and a title.

A crawl counts, for every article that went through the pipelines, whether it has a publication date, a body of
at least :data:`MIN_BODY_CHARS` characters and a title (the :class:`ExtractionHealth` extension keeps the counts
in the crawl stats). The run record carries the fill rates; :func:`health_drops` compares a run's rates with the
source's own history and names the fields whose rate dropped sharply — the usual sign that the site changed its
page template and the extraction no longer finds the article.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from core.items import Article

MIN_BODY_CHARS = 200
FIELDS = ("date", "body", "title")
# a field is flagged when its rate is this much below the median of the source's previous runs ...
DROP_ABSOLUTE = 0.3
# ... and below this share of that median
DROP_RELATIVE = 0.6
MIN_ARTICLES = 5  # fewer articles in a run say nothing about the template
MIN_HISTORY = 3  # runs with enough articles needed before a source can be flagged


def article_fills(article: Article, min_body: int = MIN_BODY_CHARS) -> dict[str, bool]:
    """Which health fields an article has."""
    return {
        "date": bool(article.published),
        "body": len((article.text or "").strip()) >= min_body,
        "title": bool((article.title or "").strip()),
    }


def fill_rates(counts: Mapping[str, int]) -> dict[str, Any]:
    """Rates from counts ``{"articles": n, "date": k, "body": k, "title": k}``: ``{"articles": n, "date": 0.9, ...}``."""
    n = int(counts.get("articles", 0))
    out: dict[str, Any] = {"articles": n}
    for f in FIELDS:
        out[f] = round(int(counts.get(f, 0)) / n, 3) if n else None
    return out


def rates_of(articles: Sequence[Article], min_body: int = MIN_BODY_CHARS) -> dict[str, Any]:
    """Fill rates of a list of articles."""
    counts = {"articles": len(articles)} | {f: 0 for f in FIELDS}
    for a in articles:
        for f, ok in article_fills(a, min_body).items():
            counts[f] += ok
    return fill_rates(counts)


def health_drops(current: Mapping[str, Any] | None, history: Sequence[Mapping[str, Any] | None]) -> list[str]:
    """Fields whose fill rate in ``current`` dropped sharply against the median of ``history`` (older runs).

    Runs with fewer than :data:`MIN_ARTICLES` articles are ignored on both sides."""
    if not current or int(current.get("articles") or 0) < MIN_ARTICLES:
        return []
    past = [h for h in history if h and int(h.get("articles") or 0) >= MIN_ARTICLES]
    if len(past) < MIN_HISTORY:
        return []
    flagged = []
    for f in FIELDS:
        values = [float(h[f]) for h in past if h.get(f) is not None]
        now = current.get(f)
        if len(values) < MIN_HISTORY or now is None:
            continue
        usual = statistics.median(values)
        if usual - float(now) >= DROP_ABSOLUTE and float(now) < usual * DROP_RELATIVE:
            flagged.append(f)
    return flagged


def rates_from_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The fill rates kept in a crawl's stats by :class:`ExtractionHealth`."""
    counts = {k.rsplit("/", 1)[1]: int(v) for k, v in stats.items() if k.startswith("techscout/health/")}
    return fill_rates(counts)


class ExtractionHealth:
    """Counts health fields of every scraped article into the crawl stats (``techscout/health/*``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionHealth:
        ext = cls(crawler)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        return ext

    def item_scraped(self, item: Any) -> None:
        stats = self.crawler.stats
        if stats is None or not isinstance(item, Article):
            return
        stats.inc_value("techscout/health/articles")
        for f, ok in article_fills(item).items():
            if ok:
                stats.inc_value(f"techscout/health/{f}")
