"""The item types that flow through techscout.

``Page`` is what a spider fetched (one HTTP response, already decoded); the pipelines turn it into an
``Article`` (extract → normalize → spam → dedup → classify → route) and the store pipeline writes the
article to the search backend. Both are plain dataclasses so that pure functions can use them without Scrapy.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


def doc_id_for(canonical_url: str) -> str:
    """Document identity: a short stable hash of the canonical URL."""
    return hashlib.sha1(canonical_url.encode("utf-8")).hexdigest()[:20]


@dataclass
class Page:
    """One fetched article page, decoded to text, with what the crawler knew about it."""

    url: str  # canonical URL of the article (identity)
    final_url: str  # URL after redirects, as fetched
    status: int
    html: str  # decoded HTML
    encoding: str  # encoding used to decode ``html``
    source: str  # source name from its YAML file
    fetched: str  # ISO 8601 UTC time of the fetch
    headers: dict[str, str] = field(default_factory=dict)
    etag: str = ""
    last_modified: str = ""
    hints: dict[str, Any] = field(default_factory=dict)  # source hints: content_type, region, selectors, ...
    feed_entry: dict[str, Any] = field(default_factory=dict)  # title/published/author from an RSS/Atom entry
    rendered: bool = False  # fetched through a headless browser


@dataclass
class Article:
    """A document after the pipelines: what the backend stores and searches."""

    id: str
    url: str
    source: str
    fetched: str
    final_url: str = ""
    title: str = ""  # display title, as the page said it (spam removed)
    text: str = ""  # display body, paragraphs separated by blank lines (spam removed)
    search_title: str = ""  # normalised for search: simplified script, no pinyin annotations, no spam
    search_text: str = ""
    published: str | None = None  # ISO 8601 with offset (Asia/Shanghai when the page gives no zone)
    author: str = ""
    outlet: str = ""  # 来源: the outlet the page names as origin
    language: str = ""
    encoding: str = ""
    hints: dict[str, Any] = field(default_factory=dict)  # the source's hints: content_type, region, domains
    # classification (pipelines/classify.py)
    content_type: str = ""  # policy | news | achievement | demand | talent | event | other
    scitech_relevant: bool | None = None
    relevance: float | None = None
    domains: list[str] = field(default_factory=list)
    region: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    # routing into the libraries (pipelines/route.py)
    libraries: list[str] = field(default_factory=list)  # problem | project | talent
    entries: list[dict[str, Any]] = field(default_factory=list)
    # identity and duplicates (pipelines/dedup.py)
    fingerprint: str = ""  # exact-duplicate fingerprint of search_text
    duplicate_of: str | None = None
    cluster_id: str = ""
    story_id: str = ""
    # what the pipelines repaired or flagged
    repairs: list[str] = field(default_factory=list)
    spam: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # structured fields, e.g. policy 发文字号
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # HTTP validators for incremental crawling
    etag: str = ""
    last_modified: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class UrlState:
    """What the crawler remembers about one article URL."""

    url: str
    source: str
    doc_id: str = ""
    etag: str = ""
    last_modified: str = ""
    content_hash: str = ""
    fetched: str = ""  # ISO time of the last successful fetch
    status: int = 0
