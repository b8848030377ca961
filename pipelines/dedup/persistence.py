"""The index's file: ``<data>/dedup.sqlite``, a derived index owned by the dedup stage.

It is not a collection of the store (:mod:`search.backends.base`) but derived data, like a search engine's
index: every document's row holds what the index computed from the document's text (fingerprint, signature,
shingle-set size, story terms) and what the document carries in the store too (publication time, URL,
source, cluster and story ids); the two counter tables (learnt site chrome, document frequencies of story
terms) are relearnt by adding the documents again. So a lost, damaged or outdated file is rebuilt from the
store (:meth:`DedupIndex.rebuild` over ``Backend.iter_articles()``; the pipeline does it on open, ``techscout
dedup --rebuild`` on demand), and the store never depends on it. It stays out of the store because of how it
is read: whole, into memory, at the start of every crawl (100,000 documents are 60 MB of signatures and story
terms) and written in batches at the crawl's pace; through an Elasticsearch store that would be a scroll of
every document's binary fields at every crawl start. Distributed crawls keep this state in Redis instead
(``crawlers.distributed``).

SQLite in WAL mode: one row per document (in the order seen) and a ``meta`` table (the counters, and the
format the rows were written in: a file of another format is refused, which the pipeline answers by
rebuilding).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.errors import DedupError
from core.sqlite import rollback
from pipelines.dedup.rules import LINE_BITS, NUM_PERM, SHINGLE, SKETCH_BITS

#: what the rows and counters were computed with: a file written otherwise cannot be used (raise the leading
#: number when the hashing of texts or terms changes)
FORMAT = f"1:{NUM_PERM}:{SHINGLE}:{LINE_BITS}:{SKETCH_BITS}"

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    sig BLOB NOT NULL,
    size INTEGER NOT NULL,
    terms BLOB NOT NULL,
    published TEXT,
    url TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    cluster_id TEXT NOT NULL,
    story_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_fingerprint ON docs (fingerprint);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
"""

#: a document's row: id, fingerprint, signature, shingle-set size, story terms, published, url, source, cluster
#: id, story id
Row = tuple[str, str, bytes, int, bytes, "str | None", str, str, str, str]
_COLUMNS = "id, fingerprint, sig, size, terms, published, url, source, cluster_id, story_id"


class DedupFile:
    """The SQLite file of a :class:`~pipelines.dedup.index.DedupIndex`. Every error is a :class:`DedupError`
    naming the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            found = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if found is None:
                db.execute("INSERT INTO meta (key, value) VALUES ('format', ?)", (FORMAT.encode(),))
            elif bytes(found[0]).decode(errors="replace") != FORMAT:
                db.close()
                raise DedupError(
                    f"{self.path}: written in format {bytes(found[0]).decode(errors='replace')!r}, this version"
                    f" reads {FORMAT!r}: the duplicate index must be rebuilt from the store"
                )
        except (sqlite3.Error, OSError) as exc:
            raise DedupError(f"{self.path}: cannot open the duplicate index: {exc}") from None
        self._db: sqlite3.Connection | None = db

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise DedupError(f"{self.path}: the duplicate index is closed")
        return self._db

    def count(self) -> int:
        """How many documents the file holds."""
        try:
            return int(self.db.execute("SELECT count(*) FROM docs").fetchone()[0])
        except sqlite3.Error as exc:
            raise DedupError(f"{self.path}: cannot read the duplicate index: {exc}") from None

    def rows(self, chunk: int = 16384) -> Iterator[list[Any]]:
        """Every document's (id, fingerprint, signature, size, story terms, published, source, cluster id, story
        id), in the order seen, ``chunk`` rows at a time."""
        try:
            cursor = self.db.execute(
                "SELECT id, fingerprint, sig, size, terms, published, source, cluster_id, story_id"
                " FROM docs ORDER BY seq"
            )
            while True:
                rows = cursor.fetchmany(chunk)
                if not rows:
                    return
                yield rows
        except sqlite3.Error as exc:
            raise DedupError(f"{self.path}: cannot read the duplicate index: {exc}") from None

    def meta(self) -> dict[str, bytes]:
        try:
            return {k: bytes(v) for k, v in self.db.execute("SELECT key, value FROM meta").fetchall()}
        except sqlite3.Error as exc:
            raise DedupError(f"{self.path}: cannot read the duplicate index: {exc}") from None

    def write(self, upserts: Sequence[Row], deletes: Sequence[str]) -> None:
        """Write documents' rows (new ones after every stored one) and delete documents, in one transaction."""
        if not upserts and not deletes:
            return
        db = self.db
        try:
            db.execute("BEGIN")
            if deletes:
                db.executemany("DELETE FROM docs WHERE id = ?", [(d,) for d in deletes])
            if upserts:
                db.executemany(
                    f"INSERT INTO docs ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                    " fingerprint=excluded.fingerprint, sig=excluded.sig, size=excluded.size,"
                    " terms=excluded.terms, published=excluded.published, url=excluded.url,"
                    " source=excluded.source, cluster_id=excluded.cluster_id, story_id=excluded.story_id",
                    upserts,
                )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            rollback(db)
            raise DedupError(f"{self.path}: cannot write the duplicate index: {exc}") from None

    def save_counters(self, sketch: bytes, n_added: int, lines: bytes) -> None:
        """Keep the document-frequency sketch (and how many documents it counted) and the chrome counters."""
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('sketch', ?), ('n_added', ?), ('lines', ?)",
                (sketch, str(n_added).encode(), lines),
            )
        except sqlite3.Error as exc:
            raise DedupError(f"{self.path}: cannot write the duplicate index: {exc}") from None

    def clear(self) -> None:
        """Forget every document and counter (the format stays)."""
        try:
            self.db.execute("DELETE FROM docs")
            self.db.execute("DELETE FROM meta WHERE key != 'format'")
        except sqlite3.Error as exc:
            raise DedupError(f"{self.path}: cannot write the duplicate index: {exc}") from None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
