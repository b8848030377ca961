"""The ``Backend`` protocol: everything techscout stores goes through it.

A backend holds four kinds of data:

* **documents** (:class:`~core.items.Article`), full-text searchable with filters, facets and highlights;
* **URL state** for incremental crawling: which article URLs a source has seen and their HTTP validators;
* **records**: small JSON objects in named collections — crawl runs, library entries, subscriptions,
  deliveries, users, tokens, dedup state — each with a string id; the collection names are in
  :data:`COLLECTIONS`;
* **revisions** of documents whose content changed.

The embedded backend (SQLite) and the Elasticsearch backend implement the same protocol and pass the same
conformance suite (``tests/backends``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.items import Article, UrlState
from search.query import Query, SearchResult

COLLECTIONS = (
    "runs",  # crawl runs: one record per crawl of one source
    "entries",  # library entries: problem / project / talent
    "subscriptions",  # saved searches
    "deliveries",  # alert delivery log
    "users",
    "tokens",
    "meta",  # backend and pipeline bookkeeping
)




@dataclass
class UpsertResult:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def merge(self, other: UpsertResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


@runtime_checkable
class Backend(Protocol):
    name: str

    # -- documents ------------------------------------------------------------------------------------------
    def upsert(self, articles: Sequence[Article], url_states: Sequence[UrlState] = ()) -> UpsertResult:
        """Insert or update documents by id, atomically together with the given URL states.

        An article whose search text changed is ``updated`` (and a revision is kept); one whose content is
        the same is ``unchanged``."""
        ...

    def get(self, doc_id: str) -> Article | None: ...

    def get_many(self, doc_ids: Sequence[str]) -> list[Article]: ...

    def delete(self, doc_ids: Sequence[str]) -> int: ...

    def search(self, query: Query) -> SearchResult: ...

    def count(self, query: Query | None = None) -> int: ...

    def iter_articles(self, batch_size: int = 500) -> Iterator[Article]: ...

    def find_by_fingerprint(self, fingerprint: str) -> list[str]:
        """Ids of documents whose exact-duplicate fingerprint is ``fingerprint``."""
        ...

    def revisions(self, doc_id: str) -> list[dict[str, Any]]: ...

    # -- URL state for incremental crawling --------------------------------------------------------------------
    def url_states(self, source: str) -> dict[str, UrlState]: ...

    def record_url_states(self, states: Iterable[UrlState]) -> None: ...

    # -- records ------------------------------------------------------------------------------------------------
    def put_record(self, collection: str, record_id: str, data: dict[str, Any]) -> None: ...

    def get_record(self, collection: str, record_id: str) -> dict[str, Any] | None: ...

    def list_records(
        self, collection: str, where: dict[str, Any] | None = None, limit: int = 100, newest_first: bool = True
    ) -> list[dict[str, Any]]:
        """Records of a collection whose top-level fields equal ``where``'s values, newest first."""
        ...

    def delete_record(self, collection: str, record_id: str) -> bool: ...

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def close(self) -> None: ...
