"""The ``Backend`` protocol: everything techscout stores goes through it.

A backend holds four kinds of data:

* **documents** (:class:`~core.items.Article`), full-text searchable with filters, facets and highlights;
* **URL state** for incremental crawling: which article URLs a source has seen and their HTTP validators;
* **records**: small JSON objects in named collections — crawl runs, library entries, subscriptions,
  deliveries, users, tokens, dedup state — each with a string id; the collection names are in
  :data:`COLLECTIONS`;
* **revisions** of documents whose content changed.

The embedded backend (SQLite, :mod:`search.backends.embedded`) and the server backend (Elasticsearch or
OpenSearch, :mod:`search.backends.elastic`) implement the same protocol and pass the same conformance suite
(``tests/backends``, run against a real OpenSearch node). Everything outside a backend — the pipelines, the
crawlers, alerts, the web, the CLI — reaches the store only through these methods: nobody probes a backend for
a method by name or touches its connection.

What lives outside the store, and why:

* ``dedup.sqlite`` (``core.paths.DEDUP_FILE``): the duplicate index — MinHash signatures, band tables, clusters
  and stories held as arrays that the crawl reads and extends at page speed, one lookup and one add per
  document. It is derived data: each document's ``cluster_id``/``story_id`` are stored with the document, and a
  lost or damaged file is rebuilt from :meth:`Backend.iter_articles` (``pipelines.dedup``). Keeping it in the
  search server would put a network round trip into every page of every crawl.
* ``scheduler.sqlite`` (``core.paths.SCHEDULER_FILE``): APScheduler's job store — when each source is crawled
  next on *this* machine. It belongs to the scheduler process, not to the collected data; lost, it is planned
  afresh from the sources' schedules.
* the alerts lock and crawl job directories: per-machine state of running processes (``core.paths``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.items import Article, UrlState
from search.query import Hit, Query, SearchResult

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

    def related(self, doc_id: str, n: int = 10) -> list[Hit]:
        """Documents most like ``doc_id`` (its distinctive words), best first, without it."""
        ...

    # -- alerts ------------------------------------------------------------------------------------------------
    def percolate(
        self, articles: Sequence[Article], subscriptions: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[str]]:
        """Which of ``subscriptions`` (saved searches: ``id``, ``query``, ``filters``, ``min_relevance``) each
        article of the batch matches, with this backend's own search semantics: subscription id → ids of the
        matching articles (subscriptions without a match left out). The watermark and the one-message-per-
        cluster rule are the caller's."""
        ...

    def changes_since(self, cursor: Mapping[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
        """Ids of the documents stored or whose content changed since ``cursor`` (a value this method returned
        before; ``None``: every document; ``{"since": ISO time}``: those changed at or after that time), and the
        cursor to pass next time. A document is never missed between two calls; one may be returned twice."""
        ...

    # -- administration ----------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """How many documents, revisions, URL states and records (``records:<collection>``) are stored."""
        ...

    def import_revisions(self, revisions: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Store ``(doc_id, at, change)`` revisions as they are (migration from another backend); storing the
        same revision twice keeps one."""
        ...

    def reindex(self) -> str:
        """Rebuild the search index from the stored documents; says what was done."""
        ...

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
