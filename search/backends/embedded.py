"""The embedded backend: one SQLite file (WAL) holding documents, an FTS5 index, URL state, revisions and records.

Backup is a file copy; every write is a transaction; several crawl processes may write at once (WAL + busy
timeout). The FTS5 table is contentless: its tokens are recomputed from the stored search text when a document
is updated or deleted, so the text is stored once.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import clock
from core.errors import BackendError
from core.items import Article
from core.paths import private_file
from core.sqlite import rollback
from search.backends.base import COLLECTIONS, UpsertResult, UrlState
from search.backends.common import article_data, body_for_index, content_hash, revision_change
from search.matching import Matcher
from search.query import Hit, Query, SearchResult, Term, parse_query
from search.text import (
    TOKENIZER_VERSION,
    fts_expression,
    highlight_words,
    index_tokens,
    related_words,
    snippet,
    term_expr,
)

if TYPE_CHECKING:
    from core.settings import Settings

SCHEMA_VERSION = 1
#: seconds a write waits for another process's write lock before it gives up with a clear error
LOCK_WAIT_S = 15.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    published TEXT,
    fetched TEXT,
    updated TEXT,
    content_type TEXT NOT NULL DEFAULT '',
    region TEXT,
    language TEXT NOT NULL DEFAULT '',
    relevance REAL,
    scitech INTEGER,
    fingerprint TEXT NOT NULL DEFAULT '',
    cluster_id TEXT NOT NULL DEFAULT '',
    story_id TEXT NOT NULL DEFAULT '',
    duplicate_of TEXT,
    content_hash TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_fingerprint ON documents(fingerprint);
DROP INDEX IF EXISTS documents_source;
DROP INDEX IF EXISTS documents_published;
DROP INDEX IF EXISTS documents_type;
DROP INDEX IF EXISTS documents_region;
DROP INDEX IF EXISTS documents_cluster;
DROP INDEX IF EXISTS documents_story;
CREATE TABLE IF NOT EXISTS doc_terms (
    doc INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (field, value, doc)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_terms_doc ON doc_terms(doc);
CREATE TABLE IF NOT EXISTS url_state (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    doc_id TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '',
    fetched TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS url_state_source ON url_state(source);
CREATE TABLE IF NOT EXISTS revisions (
    doc_id TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revisions_doc ON revisions(doc_id, at);
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    updated REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX IF NOT EXISTS records_updated ON records(collection, updated);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doc_meta (
    rowid INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    content_type TEXT NOT NULL DEFAULT '',
    region TEXT,
    language TEXT NOT NULL DEFAULT '',
    published TEXT,
    cluster_id TEXT NOT NULL DEFAULT '',
    story_id TEXT NOT NULL DEFAULT '',
    relevance REAL,
    domains TEXT,
    libraries TEXT,
    scitech INTEGER
);
CREATE INDEX IF NOT EXISTS doc_meta_published ON doc_meta(published);
"""
# contentless (the text is stored once, in ``documents``) and without per-document sizes (``columnsize=0``):
# ranking reads no size row per match, which makes BM25 over tens of thousands of matches cheap. ``tags`` holds
# one token per label value (``_TAG_FIELDS``), so that filters on them are FTS5 clauses, not per-match lookups.
_FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    title, body, tags, content='', columnsize=0, tokenize='unicode61 remove_diacritics 0'
)
"""
# FTS5 keeps a transaction's new tokens in memory and writes them out as one segment when the transaction ends or
# this much is pending: a batch of a few hundred articles becomes one segment (less merging later)
_FTS_HASHSIZE = 32 * 1024 * 1024
_MULTI_FIELDS = ("domains", "libraries")
# label fields indexed as tag tokens: "λ" (never part of a text token), a field letter, the value's UTF-8 in hex
_TAG_FIELDS = {
    "source": "s",
    "content_type": "t",
    "region": "r",
    "language": "l",
    "domains": "d",
    "libraries": "b",
}
_RANK = "bm25(docs_fts, 4.0, 1.0, 0.0)"
# the columns a search filters, sorts, collapses and counts facets on, in a narrow table (fast per-match lookups)
# (``domains`` and ``libraries`` hold their values joined by U+001F, NULL when none)
_META_COLS = (
    "source, content_type, region, language, published, cluster_id, story_id, relevance, domains, libraries, "
    "scitech"
)
_META_VERSION = "3"
_SEP = "\x1f"
_COLUMN_FIELDS = {
    "source": "source",
    "content_type": "content_type",
    "region": "region",
    "language": "language",
    "cluster_id": "cluster_id",
    "story_id": "story_id",
}


_DOC_COLS = (
    "id, url, source, title, published, fetched, updated, content_type, region, language, relevance, "
    "scitech, fingerprint, cluster_id, story_id, duplicate_of, content_hash, data"
)
_META_MARKS = ", ".join("?" * (len(_META_COLS.split(",")) + 1))


_META_JOIN = " CROSS JOIN doc_meta d ON d.rowid = docs_fts.rowid"
# facets are counted exactly up to this many matching documents, on an even sample beyond
FACET_EXACT_LIMIT = 5_000
_FACET_EXPRS = {
    "source": "d.source",
    "content_type": "d.content_type",
    "region": "d.region",
    "domains": "d.domains",
    "libraries": "d.libraries",
    "month": "substr(d.published, 1, 7)",
    "scitech_relevant": "CASE d.scitech WHEN 1 THEN 'true' WHEN 0 THEN 'false' END",
}


@dataclass(frozen=True)
class _Match:
    """What a query text compiles to: the FTS5 expression of its positive terms (exclusions included), the
    expression of its exclusions when it has nothing else, and the words to highlight."""

    expr: str | None
    exclude: str | None
    words: tuple[str, ...]


@lru_cache(maxsize=512)
def _compile(text: str) -> _Match:
    parsed = parse_query(text)
    expr = fts_expression(parsed)
    exclude = None
    if expr is None and parsed.must_not:
        exclude = " OR ".join(e for e in (term_expr(t) for t in parsed.must_not) if e) or None
    return _Match(expr, exclude, tuple(highlight_words(parsed)))


@dataclass(frozen=True)
class _Plan:
    """The SQL pieces of one search: ``SELECT {rowid}, {rank} FROM {source} WHERE {where} ORDER BY {order}``."""

    source: str
    where: str
    params: list[Any]
    rowid: str
    rank: str
    order: str
    relevance: bool


def _plan(query: Query, match: _Match) -> _Plan:
    tags = _tag_expression(query)
    clauses, params = _filter_clauses(query)
    expr = match.expr
    if tags:
        expr = f"({expr}) AND {tags}" if expr else tags
        if match.exclude:
            expr = f"{expr} NOT ({match.exclude})"
    elif match.exclude and not expr:
        clauses.insert(0, "d.rowid NOT IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)")
        params.insert(0, match.exclude)
    relevance = bool(match.expr) and query.sort == "relevance"
    if expr:
        joined = bool(clauses) or not relevance
        return _Plan(
            source="docs_fts" + (_META_JOIN if joined else ""),
            where=" AND ".join(["docs_fts MATCH ?", *clauses]),
            params=[expr, *params],
            rowid="docs_fts.rowid",
            rank=_RANK,
            order="r, docs_fts.rowid DESC" if relevance else "d.published DESC NULLS LAST, d.rowid DESC",
            relevance=relevance,
        )
    return _Plan(
        source="doc_meta d",
        where=" AND ".join(clauses) or "1",
        params=params,
        rowid="d.rowid",
        rank="0.0",
        order="d.published DESC NULLS LAST, d.rowid DESC",
        relevance=False,
    )


def _tag_expression(query: Query) -> str | None:
    """The FTS5 clauses for the filters on tagged labels: any of the values of each field, every field."""
    clauses = []
    for key, values in query.filters.items():
        if key in _TAG_FIELDS and values:
            alts = " OR ".join(f'"{tag_token(key, str(v))}"' for v in sorted(set(values)))
            clauses.append(f"({alts})")
    return " AND ".join(clauses) or None


def _filter_clauses(query: Query) -> tuple[list[str], list[Any]]:
    """Conditions on ``doc_meta d`` for the filters not tagged in the index, date range, ids and relevance."""
    clauses: list[str] = []
    params: list[Any] = []
    for key, values in query.filters.items():
        if key in _TAG_FIELDS or not values:
            continue
        if key == "scitech_relevant":
            flags = sorted({1 if v == "true" else 0 for v in values})
            clauses.append(f"d.scitech IN ({','.join('?' * len(flags))})")
            params += flags
            continue
        clauses.append(f"d.{_COLUMN_FIELDS[key]} IN ({','.join('?' * len(values))})")
        params += list(values)
    if query.since:
        clauses.append("substr(d.published, 1, 10) >= ?")
        params.append(query.since.isoformat())
    if query.until:
        clauses.append("substr(d.published, 1, 10) <= ?")
        params.append(query.until.isoformat())
    if query.ids is not None:
        marks = ",".join("?" * len(query.ids))
        clauses.append(
            f"d.rowid IN (SELECT rowid FROM documents WHERE id IN ({marks}))" if query.ids else "0"
        )
        params += list(query.ids)
    if query.min_relevance is not None:
        clauses.append("coalesce(d.relevance, 0) >= ?")
        params.append(query.min_relevance)
    return clauses, params


def _facets(
    conn: sqlite3.Connection, plan: _Plan, facets: Sequence[str], n_docs: int
) -> tuple[dict[str, list[tuple[str, int]]], bool]:
    """Facet counts over the matches, all from one pass: SQLite concatenates each facet's values over the matches,
    Python counts them (no sorting, no temporary table). Beyond ``FACET_EXACT_LIMIT`` matches they are counted
    on an even sample of the matches (every k-th row id) and scaled to the total; the second value says so."""
    if not facets or n_docs == 0:
        return {facet: [] for facet in facets}, False
    step = -(-n_docs // FACET_EXACT_LIMIT)
    concat = ", ".join(f"group_concat({_FACET_EXPRS[f]}, char(31))" for f in facets)
    where, params = plan.where, list(plan.params)
    if step > 1:
        where += f" AND {plan.rowid} % ? = 0"
        params.append(step)
    source = plan.source if "doc_meta d" in plan.source else plan.source + _META_JOIN
    row = conn.execute(f"SELECT {concat} FROM {source} WHERE {where}", params).fetchone()
    counts: dict[str, list[tuple[str, int]]] = {}
    for facet, joined in zip(facets, row, strict=True):
        tally = Counter(joined.split(_SEP)) if joined else Counter()
        tally.pop("", None)
        pairs = sorted(((v, n * step) for v, n in tally.items()), key=lambda p: (-p[1], p[0]))
        counts[facet] = pairs[:50]
    return counts, step > 1


def _rebuild_doc_meta(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TABLE IF EXISTS doc_meta")
    _create_schema(conn)
    multi = ", ".join(
        f"(SELECT group_concat(value, char(31)) FROM (SELECT DISTINCT value FROM json_each(data, '$.{f}')))"
        for f in _MULTI_FIELDS
    )
    conn.execute(
        f"INSERT INTO doc_meta(rowid, {_META_COLS}) SELECT rowid, source, content_type, region, language, "
        f"published, cluster_id, story_id, relevance, {multi}, scitech FROM documents"
    )
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('doc_meta', ?)", (_META_VERSION,))


def _create_schema(conn: sqlite3.Connection) -> None:
    """The tables and indices, statement by statement (``executescript`` would commit an open transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _create_fts(conn: sqlite3.Connection) -> None:
    conn.execute(_FTS_SCHEMA)
    row = conn.execute("SELECT v FROM docs_fts_config WHERE k='hashsize'").fetchone()
    if row is None or int(row[0]) != _FTS_HASHSIZE:
        conn.execute("INSERT INTO docs_fts(docs_fts, rank) VALUES('hashsize', ?)", (_FTS_HASHSIZE,))


def _unique_runs(articles: Sequence[Article]) -> Iterator[Sequence[Article]]:
    """The batch in order, cut wherever an id repeats (a later copy must see the earlier one as stored)."""
    start = 0
    seen: set[str] = set()
    for i, art in enumerate(articles):
        if art.id in seen:
            yield articles[start:i]
            start, seen = i, set()
        seen.add(art.id)
    if start < len(articles):
        yield articles[start:]


def _stored_rows(conn: sqlite3.Connection, doc_ids: Sequence[str]) -> dict[str, tuple[int, str, str]]:
    """id -> (rowid, content hash, stored JSON) of the ids already stored."""
    out: dict[str, tuple[int, str, str]] = {}
    for i in range(0, len(doc_ids), 500):
        chunk = doc_ids[i : i + 500]
        rows = conn.execute(
            f"SELECT id, rowid, content_hash, data FROM documents WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        out.update((r[0], (int(r[1]), r[2], r[3])) for r in rows)
    return out


def _row_values(art: Article, chash: str, now: str) -> tuple[Any, ...]:
    """The ``documents`` columns (``_DOC_COLS``) of an article."""
    return (
        art.id,
        art.url,
        art.source,
        art.title,
        art.published,
        art.fetched,
        now,
        art.content_type,
        art.region,
        art.language,
        art.relevance,
        None if art.scitech_relevant is None else int(art.scitech_relevant),
        art.fingerprint,
        art.cluster_id or art.id,
        art.story_id,
        art.duplicate_of,
        chash,
        json.dumps(article_data(art), ensure_ascii=False),
    )


def _meta_row(rowid: int, art: Article) -> tuple[Any, ...]:
    """The narrow ``doc_meta`` row (``_META_COLS``) a search filters, sorts and counts facets on."""
    return (
        rowid,
        art.source,
        art.content_type,
        art.region,
        art.language,
        art.published,
        art.cluster_id or art.id,
        art.story_id,
        art.relevance,
        _SEP.join(sorted(set(art.domains))) or None,
        _SEP.join(sorted(set(art.libraries))) or None,
        None if art.scitech_relevant is None else int(art.scitech_relevant),
    )


def _term_rows(rowid: int, art: Article) -> list[tuple[int, str, str]]:
    """``doc_terms`` rows of the multi-valued fields."""
    return [(rowid, f, v) for f in _MULTI_FIELDS for v in set(getattr(art, f) or [])]


_FTS_INSERT = "INSERT INTO docs_fts(rowid, title, body, tags) VALUES (?, ?, ?, ?)"
# a contentless FTS5 table forgets a row when given the tokens the row was indexed with
_FTS_DELETE = "INSERT INTO docs_fts(docs_fts, rowid, title, body, tags) VALUES('delete', ?, ?, ?, ?)"


def _fts_row(rowid: int, art: Article, tags: str | None = None) -> tuple[int, str, str, str]:
    """The ``docs_fts`` row of an article (``tags``: its tag tokens, when already made)."""
    return (
        rowid,
        index_tokens(art.search_title or art.title),
        index_tokens(body_for_index(art)),
        _tags(article_data(art)) if tags is None else tags,
    )


def _stored_fts_row(rowid: int, data: dict[str, Any]) -> tuple[int, str, str, str]:
    """The ``docs_fts`` row a stored article (its JSON ``data``) was indexed with."""
    return _fts_row(rowid, Article.from_dict(data))


def tag_token(field: str, value: str) -> str:
    return "λ" + _TAG_FIELDS[field] + value.encode("utf-8").hex()


def _tags(data: dict[str, Any]) -> str:
    """The tag tokens of a stored article's labels."""
    out: list[str] = []
    for field in _TAG_FIELDS:
        value = data.get(field)
        values = sorted(set(value)) if isinstance(value, list) else [value]
        out.extend(tag_token(field, str(v)) for v in values if v)
    return " ".join(out)


class EmbeddedBackend:
    name = "embedded"

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        check_tokenizer: bool = True,
        lock_wait: float = LOCK_WAIT_S,
    ) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._readonly = readonly
        self._lock_wait = lock_wait
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise BackendError(f"{self.path}: no index here yet (run `techscout crawl` first)")
        with _sqlite_errors(self.path):
            self._prepare(check_tokenizer)

    def _prepare(self, check_tokenizer: bool) -> None:
        """Create or upgrade the schema when needed (a write only then: opening a current file only reads, so a
        reader never waits for a crawl's write lock); the file is made private (it holds password hashes and
        notification URLs)."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        conn = self._conn()
        if not self._readonly:
            private_file(self.path)
            if new or not self._current(conn):
                with self._write() as tx:
                    _create_schema(tx)
                    _create_fts(tx)
                    tx.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                    tx.execute("INSERT OR IGNORE INTO meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))
                    row = tx.execute("SELECT value FROM meta WHERE key='doc_meta'").fetchone()
                    if row is None or row[0] != _META_VERSION:
                        _rebuild_doc_meta(tx)  # files written with an older (or without the) narrow search table
                private_file(self.path)
        row = conn.execute("SELECT value FROM meta WHERE key='tokenizer'").fetchone()
        if check_tokenizer and row and row[0] != TOKENIZER_VERSION:
            raise BackendError(
                f"{self.path}: index built with tokenizer {row[0]}, this version uses {TOKENIZER_VERSION}: "
                "run `techscout reindex`"
            )

    @staticmethod
    def _current(conn: sqlite3.Connection) -> bool:
        """Whether the file already has this version's schema (then opening it writes nothing)."""
        try:
            rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('schema', 'doc_meta')").fetchall())
        except sqlite3.OperationalError:
            return False  # no meta table: a new or foreign file
        return rows.get("schema") == str(SCHEMA_VERSION) and rows.get("doc_meta") == _META_VERSION

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedBackend:
        return cls(settings.paths.store)

    # -- connection ---------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                if self._readonly:
                    uri = f"file:{self.path}?mode=ro"
                    conn = sqlite3.connect(uri, uri=True, timeout=self._lock_wait, isolation_level=None,
                                           check_same_thread=False)
                else:
                    conn = sqlite3.connect(self.path, timeout=self._lock_wait, isolation_level=None,
                                           check_same_thread=False)
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA busy_timeout={int(self._lock_wait * 1000)}")
                conn.execute("PRAGMA foreign_keys=OFF")
                conn.execute("PRAGMA cache_size=-65536")
                conn.execute("PRAGMA temp_store=MEMORY")
            except sqlite3.DatabaseError as exc:
                raise _backend_error(self.path, exc) from None
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def _write(self) -> _Tx:
        return _Tx(self._conn(), self.path, self._lock_wait)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- documents ----------------------------------------------------------------------------------------------
    def upsert(self, articles: Sequence[Article], url_states: Sequence[UrlState] = ()) -> UpsertResult:
        """One transaction; the batch is read with one query per 500 ids and written with ``executemany``."""
        result = UpsertResult()
        now = clock.now_iso()
        with self._write() as conn:
            for part in _unique_runs(articles):
                self._upsert_part(conn, part, now, result)
            self._put_url_states(conn, url_states)
        return result

    def _upsert_part(
        self, conn: sqlite3.Connection, articles: Sequence[Article], now: str, result: UpsertResult
    ) -> None:
        """Write articles with distinct ids: new rows, changed rows (revision + reindex), unchanged rows
        (labels refreshed, index untouched)."""
        stored = _stored_rows(conn, [a.id for a in articles])
        next_rowid = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM documents").fetchone()[0]) + 1
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        revisions: list[tuple[str, str, str]] = []
        fts_deletes: list[tuple[int, str, str, str]] = []
        fts_inserts: list[tuple[int, str, str, str]] = []
        metas: list[tuple[Any, ...]] = []
        terms: list[tuple[int, str, str]] = []
        old_terms: list[tuple[int]] = []
        for art in articles:
            chash = content_hash(art)
            values = _row_values(art, chash, now)
            tags = _tags(article_data(art))
            row = stored.get(art.id)
            if row is None:
                rowid = next_rowid
                next_rowid += 1
                inserts.append((rowid, *values))
                fts_inserts.append(_fts_row(rowid, art, tags))
                result.new.append(art.id)
            else:
                rowid, old_hash, old_data = row
                updates.append((*values, rowid))
                old_terms.append((rowid,))
                old = json.loads(old_data)
                if old_hash == chash:
                    result.unchanged.append(art.id)  # labels stay fresh; reindexed only for new tag tokens
                    reindex = _tags(old) != tags
                else:
                    revisions.append((art.id, now, json.dumps(revision_change(old, art), ensure_ascii=False)))
                    result.updated.append(art.id)
                    reindex = True
                if reindex:
                    fts_deletes.append(_stored_fts_row(rowid, old))
                    fts_inserts.append(_fts_row(rowid, art, tags))
            metas.append(_meta_row(rowid, art))
            terms.extend(_term_rows(rowid, art))
        if revisions:
            conn.executemany("INSERT INTO revisions(doc_id, at, data) VALUES (?, ?, ?)", revisions)
        if fts_deletes:
            conn.executemany(_FTS_DELETE, fts_deletes)
        if inserts:
            conn.executemany(
                f"INSERT INTO documents(rowid, {_DOC_COLS}) VALUES (?, {','.join('?' * len(_DOC_COLS.split(',')))})",
                inserts,
            )
        if updates:
            sets = ", ".join(f"{c.strip()}=?" for c in _DOC_COLS.split(","))
            conn.executemany(f"UPDATE documents SET {sets} WHERE rowid=?", updates)
            conn.executemany("DELETE FROM doc_terms WHERE doc=?", old_terms)
        conn.executemany(
            f"INSERT OR REPLACE INTO doc_meta(rowid, {_META_COLS}) VALUES ({_META_MARKS})", metas
        )
        conn.executemany("INSERT OR IGNORE INTO doc_terms VALUES (?, ?, ?)", terms)
        if fts_inserts:
            conn.executemany(_FTS_INSERT, fts_inserts)

    def get(self, doc_id: str) -> Article | None:
        row = self._conn().execute("SELECT data, cluster_id FROM documents WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            return None
        art = Article.from_dict(json.loads(row["data"]))
        art.cluster_id = row["cluster_id"]
        return art

    def get_many(self, doc_ids: Sequence[str]) -> list[Article]:
        out: list[Article] = []
        ids = list(doc_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = (
                self._conn()
                .execute(f"SELECT data FROM documents WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                .fetchall()
            )
            by_id = {a.id: a for a in (Article.from_dict(json.loads(r["data"])) for r in rows)}
            out.extend(by_id[d] for d in chunk if d in by_id)
        return out

    def delete(self, doc_ids: Sequence[str]) -> int:
        n = 0
        with self._write() as conn:
            for doc_id in doc_ids:
                row = conn.execute("SELECT rowid, data FROM documents WHERE id=?", (doc_id,)).fetchone()
                if row is None:
                    continue
                conn.execute(_FTS_DELETE, _stored_fts_row(row["rowid"], json.loads(row["data"])))
                conn.execute("DELETE FROM doc_terms WHERE doc=?", (row["rowid"],))
                conn.execute("DELETE FROM doc_meta WHERE rowid=?", (row["rowid"],))
                conn.execute("DELETE FROM documents WHERE rowid=?", (row["rowid"],))
                conn.execute("DELETE FROM url_state WHERE doc_id=?", (doc_id,))
                n += 1
        return n

    def iter_articles(self, batch_size: int = 500) -> Iterator[Article]:
        last = 0
        while True:
            rows = (
                self._conn()
                .execute(
                    "SELECT rowid, data FROM documents WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (last, batch_size),
                )
                .fetchall()
            )
            if not rows:
                return
            for r in rows:
                yield Article.from_dict(json.loads(r["data"]))
            last = rows[-1]["rowid"]

    def find_by_fingerprint(self, fingerprint: str) -> list[str]:
        rows = self._conn().execute(
            "SELECT id FROM documents WHERE fingerprint=? ORDER BY rowid", (fingerprint,)
        )
        return [r[0] for r in rows]

    def revisions(self, doc_id: str) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT at, data FROM revisions WHERE doc_id=? ORDER BY at", (doc_id,))
        return [{"at": r["at"], **json.loads(r["data"])} for r in rows]

    def iter_rows(self, after: int = 0, batch_size: int = 500) -> Iterator[tuple[int, Article]]:
        """``(rowid, article)`` in storage order after ``after``: a resumable walk over every document."""
        last = after
        while True:
            rows = (
                self._conn()
                .execute(
                    "SELECT rowid, data, cluster_id FROM documents WHERE rowid > ? ORDER BY rowid LIMIT ?",
                    (last, batch_size),
                )
                .fetchall()
            )
            if not rows:
                return
            for r in rows:
                art = Article.from_dict(json.loads(r["data"]))
                art.cluster_id = art.cluster_id or r["cluster_id"]
                yield int(r["rowid"]), art
            last = rows[-1]["rowid"]

    def all_url_states(self) -> Iterator[UrlState]:
        for r in self._conn().execute("SELECT * FROM url_state ORDER BY url"):
            yield UrlState(**dict(r))

    def all_records(self, collection: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(id, data)`` of every record of a collection, oldest first."""
        _check_collection(collection)
        rows = self._conn().execute(
            "SELECT id, data FROM records WHERE collection=? ORDER BY updated, rowid", (collection,)
        )
        for r in rows:
            yield r[0], dict(json.loads(r[1]))

    def all_revisions(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """``(doc_id, at, change)`` for every kept revision, oldest first."""
        for r in self._conn().execute("SELECT doc_id, at, data FROM revisions ORDER BY rowid"):
            yield r["doc_id"], r["at"], json.loads(r["data"])

    def import_revisions(self, revisions: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO revisions(doc_id, at, data) SELECT ?1, ?2, ?3 WHERE NOT EXISTS "
                "(SELECT 1 FROM revisions WHERE doc_id = ?1 AND at = ?2 AND data = ?3)",
                [(d, at, json.dumps(data, ensure_ascii=False)) for d, at, data in revisions],
            )

    # -- alerts -------------------------------------------------------------------------------------------------
    def percolate(
        self, articles: Sequence[Article], subscriptions: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[str]]:
        """In process, with this index's semantics (:class:`search.matching.Matcher`: the answer of
        ``search(Query(query, filters, ids=batch))``, for every subscription at once)."""
        if not articles or not subscriptions:
            return {}
        matcher = Matcher(articles)
        out: dict[str, list[str]] = {}
        for sub in subscriptions:
            hits = [a.id for a in matcher.match(sub)]
            if hits:
                out[str(sub["id"])] = hits
        return out

    def changes_since(self, cursor: Mapping[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
        """New documents by row id (rows only grow) and documents revised since the cursor's time (a margin of
        two seconds for clocks of other writers: a document may come twice, never not at all)."""
        cursor = dict(cursor or {})
        started = clock.now()
        conn = self._conn()
        last_rowid = int(cursor.get("rowid") or 0)
        since = str(cursor.get("since") or "")
        rev_since = str(cursor.get("revised") or since)
        max_rowid = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM documents").fetchone()[0])
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM documents WHERE rowid > ? AND rowid <= ? AND updated >= ?",
                (last_rowid, max_rowid, since),
            )
        ]
        ids += [
            r[0]
            for r in conn.execute("SELECT DISTINCT doc_id FROM revisions WHERE at > ? AND at >= ?", (rev_since, since))
        ]
        new_cursor = {"rowid": max_rowid, "revised": clock.iso(started - timedelta(seconds=2))}
        return list(dict.fromkeys(ids)), new_cursor

    def counts(self) -> dict[str, int]:
        """How many documents, revisions, URL states and records (per collection) are stored."""
        conn = self._conn()
        out = {
            "documents": int(conn.execute("SELECT count(*) FROM documents").fetchone()[0]),
            "revisions": int(conn.execute("SELECT count(*) FROM revisions").fetchone()[0]),
            "url_states": int(conn.execute("SELECT count(*) FROM url_state").fetchone()[0]),
        }
        for collection in COLLECTIONS:
            n = conn.execute("SELECT count(*) FROM records WHERE collection=?", (collection,)).fetchone()[0]
            out[f"records:{collection}"] = int(n)
        return out

    def reindex(self) -> str:
        """Rebuild the full-text index from the stored documents (after a tokenizer or index layout change)."""
        return f"reindexed {self.rebuild_index()} documents"

    def rebuild_index(self) -> int:
        """Rebuild the full-text index; returns the number of documents."""
        n = 0
        with self._write() as conn:
            conn.execute("DROP TABLE IF EXISTS docs_fts")
            _create_fts(conn)
            last = 0
            while True:
                rows = conn.execute(
                    "SELECT rowid, data FROM documents WHERE rowid > ? ORDER BY rowid LIMIT 1000", (last,)
                ).fetchall()
                if not rows:
                    break
                conn.executemany(_FTS_INSERT, [_stored_fts_row(r[0], json.loads(r[1])) for r in rows])
                n += len(rows)
                last = rows[-1][0]
            conn.execute("INSERT INTO docs_fts(docs_fts) VALUES('optimize')")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))
        return n

    # -- search -------------------------------------------------------------------------------------------------
    def search(self, query: Query) -> SearchResult:
        """A count and a ranked page straight from FTS5 (joined to ``doc_meta`` only for the filters that are not
        tags, or a date sort), then every facet in one more pass. Collapse goes through a temporary table."""
        t0 = time.perf_counter()
        match = _compile(query.text)
        plan = _plan(query, match)
        conn = self._conn()
        try:
            if query.collapse:
                total, rows, n_docs = self._search_collapsed(conn, query, plan)
            else:
                total, rows = self._search_direct(conn, query, plan)
                n_docs = total
            facets, sampled = _facets(conn, plan, query.facets, n_docs)
        except sqlite3.OperationalError as exc:
            if "fts5" in str(exc) or "syntax" in str(exc):
                from core.errors import QueryError

                raise QueryError(f"cannot search for {query.text!r}: {exc}") from None
            raise BackendError(f"{self.path}: search failed: {exc}") from None
        words = list(match.words) if query.highlight else []
        hits = self._hits(conn, [(int(r[0]), -float(r[1] or 0.0), int(r[2])) for r in rows], words)
        return SearchResult(
            total=int(total),
            hits=hits,
            facets=facets,
            took_ms=(time.perf_counter() - t0) * 1000,
            facets_sampled=sampled,
        )

    def _search_direct(
        self, conn: sqlite3.Connection, query: Query, plan: _Plan
    ) -> tuple[int, list[sqlite3.Row]]:
        total = conn.execute(
            f"SELECT count(*) FROM {plan.source} WHERE {plan.where}", plan.params
        ).fetchone()[0]
        if query.size == 0 or query.offset >= total:
            return int(total), []
        rows = conn.execute(
            f"SELECT {plan.rowid}, {plan.rank} AS r, 1 FROM {plan.source} WHERE {plan.where} "
            f"ORDER BY {plan.order} LIMIT ? OFFSET ?",
            [*plan.params, query.size, query.offset],
        ).fetchall()
        return int(total), rows

    def _search_collapsed(
        self, conn: sqlite3.Connection, query: Query, plan: _Plan
    ) -> tuple[int, list[sqlite3.Row], int]:
        """One hit per cluster: the matches go once into a temporary table; returns the number of clusters, the
        page and the number of matching documents."""
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS m (rowid INTEGER PRIMARY KEY, rank REAL, published TEXT, cluster_id TEXT)"
        )
        source = plan.source if "doc_meta d" in plan.source else plan.source + _META_JOIN
        order = "rank, rowid DESC" if plan.relevance else "published DESC NULLS LAST, rowid DESC"
        try:
            conn.execute("DELETE FROM temp.m")
            conn.execute(
                f"INSERT INTO temp.m SELECT {plan.rowid}, {plan.rank}, d.published, d.cluster_id "
                f"FROM {source} WHERE {plan.where}",
                plan.params,
            )
            n_docs, total = conn.execute("SELECT count(*), count(DISTINCT cluster_id) FROM temp.m").fetchone()
            rows = conn.execute(
                "WITH c AS (SELECT rowid, rank, published, count(*) OVER (PARTITION BY cluster_id) AS csize, "
                "row_number() OVER (PARTITION BY cluster_id ORDER BY rank, published DESC) AS rn FROM temp.m) "
                f"SELECT rowid, rank, csize FROM c WHERE rn = 1 ORDER BY {order} LIMIT ? OFFSET ?",
                (query.size, query.offset),
            ).fetchall()
        finally:
            conn.execute("DELETE FROM temp.m")
        return int(total), rows, int(n_docs)

    def _hits(
        self, conn: sqlite3.Connection, rows: Sequence[tuple[int, float, int]], words: list[str]
    ) -> list[Hit]:
        """Hits for ``(rowid, score, cluster size)`` rows, in that order (the stored documents read at once)."""
        if not rows:
            return []
        rowids = [r[0] for r in rows]
        stored = {
            int(d[0]): (d[1], d[2])
            for d in conn.execute(
                f"SELECT rowid, data, cluster_id FROM documents WHERE rowid IN ({','.join('?' * len(rowids))})",
                rowids,
            )
        }
        hits: list[Hit] = []
        for rowid, score, csize in rows:
            if rowid not in stored:
                continue
            data, cluster_id = stored[rowid]
            art = Article.from_dict(json.loads(data))
            hits.append(
                Hit(
                    id=art.id,
                    url=art.url,
                    title=art.title,
                    published=art.published,
                    source=art.source,
                    snippet=snippet(art.search_text or art.text, words),
                    score=score,
                    content_type=art.content_type,
                    domains=list(art.domains),
                    region=art.region,
                    cluster_id=cluster_id,
                    cluster_size=csize,
                    duplicate_of=art.duplicate_of,
                )
            )
        return hits

    def related(self, doc_id: str, n: int = 10) -> list[Hit]:
        """Documents most like ``doc_id`` (its most distinctive words, any of them, ranked by BM25)."""
        conn = self._conn()
        row = conn.execute("SELECT rowid, data FROM documents WHERE id=?", (doc_id,)).fetchone()
        if row is None or n <= 0:
            return []
        art = Article.from_dict(json.loads(row["data"]))
        words = related_words(art.search_title or art.title, art.search_text or art.text)
        exprs = [e for e in (term_expr(Term(w)) for w in words) if e]
        if not exprs:
            return []
        rows = conn.execute(
            f"SELECT rowid, {_RANK} AS rank FROM docs_fts WHERE docs_fts MATCH ? AND rowid != ? "
            "ORDER BY rank LIMIT ?",
            (" OR ".join(exprs), row["rowid"], n),
        ).fetchall()
        return self._hits(conn, [(int(r[0]), -float(r[1]), 1) for r in rows], [])

    def count(self, query: Query | None = None) -> int:
        if query is None:
            return int(self._conn().execute("SELECT count(*) FROM documents").fetchone()[0])
        return self.search(query.counting()).total

    # -- URL state ----------------------------------------------------------------------------------------------
    def url_states(self, source: str) -> dict[str, UrlState]:
        rows = self._conn().execute("SELECT * FROM url_state WHERE source=?", (source,))
        return {r["url"]: UrlState(**dict(r)) for r in rows}

    def _put_url_states(self, conn: sqlite3.Connection, states: Iterable[UrlState]) -> None:
        conn.executemany(
            "INSERT INTO url_state(url, source, doc_id, etag, last_modified, content_hash, fetched, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET source=excluded.source, "
            "doc_id=CASE WHEN excluded.doc_id != '' THEN excluded.doc_id ELSE url_state.doc_id END, "
            "etag=excluded.etag, last_modified=excluded.last_modified, "
            "content_hash=CASE WHEN excluded.content_hash != '' THEN excluded.content_hash ELSE url_state.content_hash END, "
            "fetched=excluded.fetched, status=excluded.status",
            [
                (s.url, s.source, s.doc_id, s.etag, s.last_modified, s.content_hash, s.fetched, s.status)
                for s in states
            ],
        )

    def record_url_states(self, states: Iterable[UrlState]) -> None:
        with self._write() as conn:
            self._put_url_states(conn, states)

    # -- records ------------------------------------------------------------------------------------------------
    def put_record(self, collection: str, record_id: str, data: dict[str, Any]) -> None:
        _check_collection(collection)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO records(collection, id, updated, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(collection, id) DO UPDATE SET updated=excluded.updated, data=excluded.data",
                (collection, record_id, time.time(), json.dumps(data, ensure_ascii=False, default=str)),
            )

    def get_record(self, collection: str, record_id: str) -> dict[str, Any] | None:
        _check_collection(collection)
        row = (
            self._conn()
            .execute("SELECT data FROM records WHERE collection=? AND id=?", (collection, record_id))
            .fetchone()
        )
        return None if row is None else dict(json.loads(row[0]))

    def list_records(
        self,
        collection: str,
        where: dict[str, Any] | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        _check_collection(collection)
        clauses = ["collection=?"]
        params: list[Any] = [collection]
        for key, value in (where or {}).items():
            clauses.append("json_extract(data, ?) IS ?")
            params += [f"$.{key}", value]
        order = "DESC" if newest_first else "ASC"
        rows = self._conn().execute(
            f"SELECT data FROM records WHERE {' AND '.join(clauses)} ORDER BY updated {order}, rowid {order} LIMIT ?",
            [*params, limit],
        )
        return [dict(json.loads(r[0])) for r in rows]

    def delete_record(self, collection: str, record_id: str) -> bool:
        _check_collection(collection)
        with self._write() as conn:
            cur = conn.execute("DELETE FROM records WHERE collection=? AND id=?", (collection, record_id))
        return cur.rowcount > 0


def _check_collection(collection: str) -> None:
    if collection not in COLLECTIONS:
        raise BackendError(f"unknown record collection {collection!r} (known: {', '.join(COLLECTIONS)})")


class _Tx:
    """``with backend._write() as conn``: BEGIN IMMEDIATE … COMMIT, ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection, path: Path, wait: float) -> None:
        self.conn, self.path, self.wait = conn, path, wait

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _backend_error(self.path, exc, self.wait) from None
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.DatabaseError as err:
                rollback(self.conn)
                raise _backend_error(self.path, err, self.wait) from None
        else:
            rollback(self.conn)
            if isinstance(exc, sqlite3.DatabaseError):
                raise _backend_error(self.path, exc, self.wait) from None


def _backend_error(path: Path, exc: BaseException, wait: float = LOCK_WAIT_S) -> BackendError:
    """A :class:`BackendError` naming the file and saying what to do, for an SQLite error."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return BackendError(
            f"{path}: 另一个进程正在写入，等待 {wait:g} 秒后仍未释放（{text}）；稍后重试"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return BackendError(
            f"{path}: 文件已损坏，无法读取（{text}）；请从备份恢复，或移走此文件后重新抓取"
        )
    if "disk I/O error" in text or "disk is full" in text:
        return BackendError(f"{path}: 写入磁盘失败（{text}）；请检查磁盘空间和文件大小限制")
    if "readonly" in text or "read-only" in text:
        return BackendError(f"{path}: 无法写入（{text}）")
    return BackendError(f"{path}: {text}")


@contextlib.contextmanager
def _sqlite_errors(path: Path, wait: float = LOCK_WAIT_S) -> Iterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise _backend_error(path, exc, wait) from None


def _guard_methods(cls: type) -> None:
    """Every public method of ``cls`` reports SQLite errors as a :class:`BackendError` naming the file (a
    corrupt or locked database is a clear message, never a traceback); generators included."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or not callable(fn) or isinstance(fn, classmethod | staticmethod):
            continue

        def wrap(fn: Any) -> Any:
            if inspect.isgeneratorfunction(fn):

                @functools.wraps(fn)
                def gen(self: Any, *args: Any, **kwargs: Any) -> Any:
                    with _sqlite_errors(self.path, self._lock_wait):
                        yield from fn(self, *args, **kwargs)

                return gen

            @functools.wraps(fn)
            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                with _sqlite_errors(self.path, self._lock_wait):
                    return fn(self, *args, **kwargs)

            return call

        setattr(cls, name, wrap(fn))


_guard_methods(EmbeddedBackend)
