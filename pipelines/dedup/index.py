"""The duplicate index: exact and near-duplicates with stable cluster ids, and story grouping.

:class:`DedupIndex` holds everything in memory (numpy arrays, and sorted key → slot tables,
:mod:`pipelines.dedup.tables`) and, when opened on a file, keeps it in its SQLite file too
(:mod:`pipelines.dedup.persistence`), from which it reloads on open. :meth:`DedupIndex.add_many` adds documents
in arrival order with the results of :meth:`DedupIndex.add` one by one, doing the work that does not depend on
the earlier documents (:mod:`pipelines.dedup.prepare`) for a whole batch at once. Every decision is a rule of
:mod:`pipelines.dedup.rules`.
"""

from __future__ import annotations

import ctypes
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import DedupError
from core.items import Article
from pipelines.dedup.cache import load_library
from pipelines.dedup.kernels import NODAY, count_lines, count_terms, salient_order, story_best
from pipelines.dedup.minhash import band_keys
from pipelines.dedup.persistence import DedupFile, Row
from pipelines.dedup.prepare import Prepared, prepare_many, sketch_rows
from pipelines.dedup.rules import (
    BANDS,
    BOILERPLATE_MIN,
    LINE_BITS,
    NEAR_DUPLICATE,
    NUM_PERM,
    SKETCH_BITS,
    STORY_COMMON,
    STORY_DAMP_FROM,
    STORY_DAYS,
    STORY_MIN_SHARED,
    STORY_MIN_SHARED_DAY,
    STORY_MIN_SHARED_UNDATED,
    STORY_TERMS,
    best_match,
    cluster_head,
    parse_published,
    publication_day,
)
from pipelines.dedup.story import is_day_term
from pipelines.dedup.tables import SlotTable, TermTable, term_prefix

_NO_TERMS = np.zeros(0, dtype=np.uint64)
_NO_SLOTS = np.zeros(0, dtype=np.intp)


@dataclass(frozen=True)
class DedupResult:
    """What the index says about one document."""

    duplicate_of: str | None  # the existing document it duplicates (best match), None if new
    exact: bool  # same dedup text as ``duplicate_of``
    cluster_id: str  # near-duplicate cluster: id of the cluster's first member seen
    story_id: str  # story: id of the story's first article seen
    similarity: float  # estimated Jaccard similarity with ``duplicate_of`` (1.0 for exact), 0.0 if new
    fingerprint: str = ""  # exact-duplicate fingerprint of the document's text


@dataclass
class _Batch:
    """Band candidates of a batch's documents among its earlier documents."""

    keys: npt.NDArray[np.uint64]  # (documents, BANDS) band keys, as inserted
    banded: npt.NDArray[
        np.bool_
    ]  # inserted with band entries (the batch's entries join the tables at its end)
    slots: list[int]  # slot of each inserted document
    rows: list[list[int]]  # per document: earlier documents sharing a band key
    near: list[list[tuple[int, float, bool]]]  # ... those that are near-duplicates: (row, Jaccard, exact)
    redone: list[int]  # documents prepared again during the batch (their band keys changed)
    redone_at: dict[int, list[int]]  # ... by their new band keys

    def candidates(self, row: int, keys: npt.NDArray[np.uint64]) -> list[int]:
        """Slots of the batch's earlier documents with band entries sharing one of ``keys``."""
        earlier = np.flatnonzero(self.banded[:row] & (self.keys[:row] == keys).any(axis=1))
        return [self.slots[i] for i in earlier.tolist()]


def _shared_key_pairs(
    keys: npt.NDArray[np.uint64], banded: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(earlier, later) rows of a band-key matrix that share a key (rows not ``banded`` left out), distinct."""
    rows = np.flatnonzero(banded)
    flat = keys[rows].ravel()
    owner = np.repeat(rows, keys.shape[1])
    order = np.argsort(flat, kind="stable")  # equal keys: in row order
    flat, owner = flat[order], owner[order]
    first = np.ones(len(flat), dtype=np.bool_)
    first[1:] = flat[1:] != flat[:-1]
    if first.all():
        return _NO_SLOTS, _NO_SLOTS
    # every member of a run of one key with every earlier member of the run
    starts = np.flatnonzero(first)
    start_of = np.repeat(starts, np.diff(np.append(starts, len(flat))))
    before = np.arange(len(flat)) - start_of
    total = int(before.sum())
    later_at = np.repeat(np.arange(len(flat)), before)
    earlier_at = np.repeat(start_of, before) + (
        np.arange(total) - np.repeat(np.cumsum(before) - before, before)
    )
    owner = owner.astype(np.uint64)
    pair = np.unique((owner[earlier_at] << np.uint64(32)) | owner[later_at])
    earlier = (pair >> np.uint64(32)).astype(np.intp)
    later = (pair & np.uint64(0xFFFFFFFF)).astype(np.intp)
    keep = earlier != later
    return earlier[keep], later[keep]


class DedupIndex:
    """Exact and near-duplicate detection with stable cluster ids, and story grouping.

    ``DedupIndex()`` lives in memory only; :meth:`open` keeps it in a SQLite file as well.
    """

    def __init__(self) -> None:
        load_library()  # the kernels compiled ahead of time, where built: numba is then never imported
        self._cap = 0
        self._n = 0  # slots used (removed documents keep their slot until reopened)
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._sigs = np.zeros((0, NUM_PERM), dtype=np.uint32)
        self._sizes = np.zeros(0, dtype=np.int64)
        self._fps = np.zeros(0, dtype=np.uint64)
        self._ts = np.zeros(0, dtype=np.float64)
        self._days = np.zeros(0, dtype=np.int32)
        self._alive = np.zeros(0, dtype=np.bool_)
        self._src = np.zeros(0, dtype=np.int32)
        self._counts = np.zeros(0, dtype=np.int32)  # zeroed scratch cells for story matching, one per slot
        self._marks = np.zeros(0, dtype=np.uint8)
        self._cluster: list[str] = []
        self._story: list[str] = []
        self._sources: list[str] = []
        self._source_pos: dict[str, int] = {}
        self._by_fp: dict[int, int] = {}
        self._bands = SlotTable()
        self._terms = TermTable()
        self._sketch = np.zeros((2, 1 << SKETCH_BITS), dtype=np.uint16)
        self._line_counts = np.zeros(1 << LINE_BITS, dtype=np.uint8)  # clusters each line was seen in
        self._n_added = 0  # documents ever counted in the sketch
        self._live = 0
        # persistence
        self._file: DedupFile | None = None
        self._pending: dict[str, Row | None] = {}
        self._flush_every = 500
        self._sketch_dirty = False
        self._version = 0  # changes with every insert and removal
        self._last_lookup: tuple[tuple[Any, ...], int, Prepared, tuple[DedupResult, Any]] | None = None
        self._crossed: set[int] | None = None  # in a batch: line cells that became chrome during it
        self._touched: set[int] | None = None  # in a batch: slots of documents updated during it
        self._batch: _Batch | None = None  # the batch being added

    # ---------------------------------------------------------------------------------------------------- public
    @classmethod
    def open(cls, path: str | Path, *, flush_every: int = 500) -> DedupIndex:
        """Open (or create) the index kept in the SQLite file ``path`` and load it into memory."""
        index = cls()
        index._flush_every = max(1, flush_every)
        index._file = DedupFile(path)
        try:
            index._load()
        except BaseException:
            index._file.close()
            raise
        return index

    def add(
        self,
        doc_id: str,
        text: str,
        *,
        title: str = "",
        published: str | None = None,
        url: str = "",
        source: str = "",
        cluster_id: str | None = None,
        story_id: str | None = None,
        normalized: bool = False,
    ) -> DedupResult:
        """Add (or update) a document and say what it duplicates.

        Re-adding an id updates that document: it is never its own duplicate, and it keeps its cluster and story
        unless its new text joins another. ``cluster_id``/``story_id`` force the ids (used when rebuilding).
        ``normalized`` says that ``text`` and ``title`` already are in their search form
        (:func:`pipelines.normalize.normalize_text`), which saves normalising them again.
        """
        key = (doc_id, text, title, published, url, source, normalized)
        last = self._last_lookup
        self._last_lookup = None
        if last is not None and last[0] == key and last[1] == self._version:
            prep, probed = last[2], last[3]  # what lookup() just found, with nothing added since
        else:
            prep, probed = self._prepare([key[:6]], normalized)[0], None
        return self._add_prepared(prep, cluster_id, story_id, probed)

    def add_many(
        self, docs: Iterable[Mapping[str, Any]], *, normalized: bool = False, batch: int = 512
    ) -> list[DedupResult]:
        """:meth:`add` of each document in turn (the same results), prepared in batches: shingle hashes,
        signatures, band lookups and story terms are computed for a whole batch at once.

        A document is a mapping with ``id`` and ``text`` and optionally ``title``, ``published``, ``url``,
        ``source``, ``cluster_id`` and ``story_id``.
        """
        results: list[DedupResult] = []
        rows: list[Mapping[str, Any]] = []
        for doc in docs:
            rows.append(doc)
            if len(rows) >= batch:
                results.extend(self._add_batch(rows, normalized))
                rows = []
        if rows:
            results.extend(self._add_batch(rows, normalized))
        return results

    def lookup(
        self,
        doc_id: str,
        text: str,
        *,
        title: str = "",
        published: str | None = None,
        url: str = "",
        source: str = "",
        normalized: bool = False,
    ) -> DedupResult:
        """What :meth:`add` would say, without adding anything."""
        key = (doc_id, text, title, published, url, source, normalized)
        prep = self._prepare([key[:6]], normalized)[0]
        probed = self._probe(prep)
        self._last_lookup = (key, self._version, prep, probed)  # an add() of the same document reuses it
        result = probed[0]
        slot = self._pos.get(doc_id)
        if slot is not None and self._alive[slot] and result.duplicate_of is None:
            result = replace(result, cluster_id=self._cluster[slot])
            if result.story_id == doc_id:
                result = replace(result, story_id=self._story[slot])
        return result

    def remove(self, doc_id: str) -> bool:
        """Forget a document (its cluster and story ids stay with the other members). False if unknown."""
        slot = self._pos.pop(doc_id, None)
        if slot is None or not self._alive[slot]:
            return False
        self._alive[slot] = False
        self._live -= 1
        self._version += 1
        self._bands.dirty = self._terms.dirty = True
        fp = int(self._fps[slot])
        if self._by_fp.get(fp) == slot:
            del self._by_fp[fp]
            same = np.flatnonzero((self._fps[: self._n] == self._fps[slot]) & self._alive[: self._n])
            if len(same):
                self._by_fp[fp] = int(same[0])
        self._write(doc_id, None)
        return True

    def __len__(self) -> int:
        return self._live

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._pos

    def memory_bytes(self) -> int:
        """Approximate memory held by the index (arrays, tables and id strings)."""
        arrays = (
            self._sigs.nbytes
            + self._sizes.nbytes
            + self._fps.nbytes
            + self._ts.nbytes
            + self._days.nbytes
            + self._alive.nbytes
            + self._src.nbytes
            + self._sketch.nbytes
            + self._line_counts.nbytes
        )
        ids = sum(sys.getsizeof(s) for s in self._ids) + sys.getsizeof(self._pos) + sys.getsizeof(self._ids)
        lists = sys.getsizeof(self._cluster) + sys.getsizeof(self._story)
        return int(
            arrays + ids + lists + sys.getsizeof(self._by_fp) + self._bands.nbytes() + self._terms.nbytes()
        )

    def info(self, doc_id: str) -> dict[str, Any] | None:
        """What the index knows of a document: cluster, story, source, publication time."""
        slot = self._pos.get(doc_id)
        if slot is None:
            return None
        ts = float(self._ts[slot])
        return {
            "id": doc_id,
            "cluster_id": self._cluster[slot],
            "story_id": self._story[slot],
            "source": self._sources[int(self._src[slot])],
            "fingerprint": f"{int(self._fps[slot]):016x}",
            "published_ts": None if math.isnan(ts) else ts,
            "seq": slot,
        }

    def source_of(self, doc_id: str) -> str | None:
        slot = self._pos.get(doc_id)
        return None if slot is None else self._sources[int(self._src[slot])]

    def members(self, cluster_id: str) -> list[str]:
        """Ids of the documents in a near-duplicate cluster, in the order seen."""
        return [self._ids[i] for i in range(self._n) if self._alive[i] and self._cluster[i] == cluster_id]

    def story_members(self, story_id: str) -> list[str]:
        return [self._ids[i] for i in range(self._n) if self._alive[i] and self._story[i] == story_id]

    def head(self, cluster_id: str) -> str:
        """The earliest-published member of a cluster (ties: earliest seen)."""
        members = []
        for i in range(self._n):
            if self._alive[i] and self._cluster[i] == cluster_id:
                ts = float(self._ts[i])
                published = None if math.isnan(ts) else datetime.fromtimestamp(ts, UTC).isoformat()
                members.append({"id": self._ids[i], "published": published, "seq": i})
        return cluster_head(members)

    def rebuild(self, articles: Iterable[Article]) -> int:
        """Forget everything and re-add the articles (keeping the cluster and story ids they carry)."""
        self._reset()
        if self._file is not None:
            self._file.clear()
        n = 0
        batch: list[dict[str, Any]] = []
        normalized = False
        for a in articles:
            if batch and (bool(a.search_text) != normalized or len(batch) >= 512):
                self.add_many(batch, normalized=normalized)  # a run of articles with or without search form
                batch = []
            normalized = bool(a.search_text)
            batch.append(
                {
                    "id": a.id,
                    "text": a.search_text or a.text,
                    "title": a.search_title or a.title,
                    "published": a.published,
                    "url": a.url,
                    "source": a.source,
                    "cluster_id": a.cluster_id or None,
                    "story_id": a.story_id or None,
                }
            )
            n += 1
        self.add_many(batch, normalized=normalized)
        self.flush()
        return n

    def flush(self) -> None:
        """Write pending changes to the file (no-op in memory)."""
        if self._file is None:
            self._pending.clear()
            return
        if self._pending:
            upserts = [row for row in self._pending.values() if row is not None]
            deletes = [k for k, row in self._pending.items() if row is None]
            self._file.write(upserts, deletes)
            self._pending.clear()
        if self._sketch_dirty:
            self._file.save_counters(self._sketch.tobytes(), self._n_added, self._line_counts.tobytes())
            self._sketch_dirty = False

    def close(self) -> None:
        """Flush and close the file."""
        self._sketch_dirty = self._sketch_dirty or bool(self._pending)
        try:
            self.flush()
        finally:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> DedupIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------------------------------- private
    def _reset(self) -> None:
        file, every = self._file, self._flush_every
        self.__init__()  # type: ignore[misc]
        self._file, self._flush_every = file, every

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(1024, self._cap * 2, need)

        def grow(a: npt.NDArray[Any], fill: Any = 0) -> npt.NDArray[Any]:
            out = np.full((cap, *a.shape[1:]), fill, dtype=a.dtype)
            out[: len(a)] = a
            return out

        self._sigs = grow(self._sigs)
        self._sizes = grow(self._sizes)
        self._fps = grow(self._fps)
        self._ts = grow(self._ts, np.nan)
        self._days = grow(self._days, NODAY)
        self._alive = grow(self._alive, False)
        self._src = grow(self._src)
        self._counts = grow(self._counts)
        self._marks = grow(self._marks)
        self._cap = cap

    def _source_index(self, source: str) -> int:
        i = self._source_pos.get(source)
        if i is None:
            i = self._source_pos[source] = len(self._sources)
            self._sources.append(source)
        return i

    def _add_prepared(
        self,
        prep: Prepared,
        cluster_id: str | None,
        story_id: str | None,
        probed: tuple[DedupResult, npt.NDArray[np.intp]] | None = None,
    ) -> DedupResult:
        result, top = probed if probed is not None else self._probe(prep)
        slot = self._pos.get(prep.doc_id)
        if slot is not None and self._alive[slot]:
            if result.duplicate_of is None:
                result = replace(result, cluster_id=self._cluster[slot])
            if result.story_id == prep.doc_id:
                result = replace(result, story_id=self._story[slot])
        if cluster_id or story_id:
            result = replace(
                result, cluster_id=cluster_id or result.cluster_id, story_id=story_id or result.story_id
            )
        self._insert(prep, top, result)
        return result

    def _add_batch(self, docs: list[Mapping[str, Any]], normalized: bool) -> list[DedupResult]:
        rows: list[tuple[str, str, str, str | None, str, str]] = [
            (
                str(d["id"]),
                str(d.get("text") or ""),
                str(d.get("title") or ""),
                d.get("published") or None,
                str(d.get("url") or ""),
                str(d.get("source") or ""),
            )
            for d in docs
        ]
        preps = self._prepare(rows, normalized, with_terms=True)
        for table in (self._bands, self._terms):
            table.settle(self._alive)
            table.hold = True  # the sorted tables stay as looked up; the batch's own entries stay newest
        batch = self._batch_candidates(preps)
        self._batch_term_hits(preps)
        results: list[DedupResult] = []
        self._crossed, self._touched, self._batch = set(), set(), batch
        try:
            for i, (row, doc, prep) in enumerate(zip(rows, docs, preps, strict=True)):
                if self._crossed and not self._crossed.isdisjoint(prep.cells):
                    # a line of it became chrome earlier in this batch: its signature changes
                    again = self._prepare([row], normalized)[0]
                    again._terms, again.term_ranges = prep._terms, prep.term_ranges
                    prep = again
                    batch.keys[i] = prep.bands
                    batch.redone.append(i)
                    for key in prep.band_list:
                        batch.redone_at.setdefault(key, []).append(i)
                prep.batch_row = i
                cluster_id = doc.get("cluster_id") or None
                story_id = doc.get("story_id") or None
                results.append(self._add_prepared(prep, cluster_id, story_id))
                batch.slots[i] = self._pos[prep.doc_id]
                batch.banded[i] = prep.size > 0
        finally:
            self._crossed = self._touched = self._batch = None
            banded = np.flatnonzero(batch.banded)
            slots = np.asarray(batch.slots, dtype=np.uint32)[banded]
            self._bands.add_block(batch.keys[banded].ravel(), np.repeat(slots, BANDS))
            for table in (self._bands, self._terms):
                table.hold = False
                table.settle(self._alive)
        return results

    def _batch_candidates(self, preps: list[Prepared]) -> _Batch:
        """Each document's candidates in the sorted band tables (documents from before the batch) and among
        the batch's earlier documents, and which of them are near-duplicates, for a whole batch at once."""
        n = len(preps)
        keys = np.stack([p.bands for p in preps])
        sigs = np.stack([p.sig for p in preps])
        sizes = np.fromiter((p.size for p in preps), dtype=np.int64, count=n)
        fps = np.fromiter((p.fp for p in preps), dtype=np.uint64, count=n)
        # in the sorted tables
        at, slots = self._bands.lookup_sorted(keys.ravel())
        pair = np.unique(((at // BANDS).astype(np.uint64) << np.uint64(32)) | slots.astype(np.uint64))
        row = (pair >> np.uint64(32)).astype(np.intp)
        cand = (pair & np.uint64(0xFFFFFFFF)).astype(np.intp)
        js, same, ok = NEAR_DUPLICATE.verify_rows(sigs, sizes, fps, row, self._sigs, self._sizes, self._fps, cand)
        bounds = np.searchsorted(row, np.arange(n + 1)).tolist()
        near_rows = row[ok]
        ok_bounds = np.searchsorted(near_rows, np.arange(n + 1)).tolist()
        near = list(zip(cand[ok].tolist(), js[ok].tolist(), same[ok].tolist(), strict=True))
        for i, p in enumerate(preps):
            p.cands = cand[bounds[i] : bounds[i + 1]]
            p.near = near[ok_bounds[i] : ok_bounds[i + 1]]
        # among the batch's earlier documents (the ones with text: an empty one has no band entries)
        batch = _Batch(
            keys,
            np.zeros(n, dtype=np.bool_),
            [-1] * n,
            [[] for _ in range(n)],
            [[] for _ in range(n)],
            [],
            {},
        )
        earlier, later = _shared_key_pairs(keys, sizes > 0)
        if len(earlier):
            js, same, ok = NEAR_DUPLICATE.verify_rows(sigs, sizes, fps, later, sigs, sizes, fps, earlier)
            for e, l_, j_, s_, k_ in zip(
                earlier.tolist(), later.tolist(), js.tolist(), same.tolist(), ok.tolist(), strict=True
            ):
                batch.rows[l_].append(e)
                if k_:
                    batch.near[l_].append((e, j_, s_))
        return batch

    def _batch_term_hits(self, preps: list[Prepared]) -> None:
        """Where each document's candidate story terms are in the sorted term tables, for a whole batch at
        once (the entries themselves are read for the chosen terms only)."""
        terms = [p.terms()[0] for p in preps]
        flat = np.concatenate(terms) if terms else _NO_TERMS
        starts = np.cumsum([0] + [len(t) for t in terms]).tolist()
        days = np.repeat(np.asarray([p.day for p in preps], dtype=np.int64), [len(t) for t in terms])
        prefixes = term_prefix(flat)
        ranges = self._terms.ranges(prefixes, days)
        r0, r1 = sketch_rows(flat)
        is_day = is_day_term(flat)
        for i, p in enumerate(preps):
            a, b = starts[i], starts[i + 1]
            p.term_ranges = ranges[a:b]
            p._cells = (r0[a:b], r1[a:b])
            p._days = is_day[a:b]
            p._prefixes = prefixes[a:b]

    def _prepare(
        self, rows: list[tuple[str, str, str, str | None, str, str]], normalized: bool, *, with_terms: bool = False
    ) -> list[Prepared]:
        """:func:`prepare_many` with the chrome this index has learnt."""
        return prepare_many(rows, normalized, line_counts=self._line_counts, with_terms=with_terms)

    def _salient(self, prep: Prepared) -> npt.NDArray[np.intp]:
        """Which of the document's candidate terms are its story terms (the top ones; terms salient in more
        than STORY_COMMON of the indexed documents count for less)."""
        cand_terms, score = prep.terms()
        if len(cand_terms) == 0:
            return _NO_SLOTS
        r0, r1 = prep.sketch_cells()
        # day mentions are always kept
        result: npt.NDArray[np.intp] = salient_order(
            score,
            r0,
            r1,
            prep.day_terms(),
            self._sketch,
            self._n_added,
            STORY_DAMP_FROM,
            STORY_COMMON,
            STORY_TERMS,
        )
        return result

    def _candidates_near(self, prep: Prepared, cands: npt.NDArray[np.intp]) -> list[tuple[int, float, bool]]:
        """The near-duplicates among candidate slots: (slot, Jaccard, exact)."""
        if not len(cands):
            return []
        js, same_fp, ok = NEAR_DUPLICATE.verify_rows(
            np.ascontiguousarray(prep.sig).reshape(1, -1),
            np.array([prep.size], dtype=np.int64),
            np.array([prep.fp], dtype=np.uint64),
            np.zeros(len(cands), dtype=np.intp),
            self._sigs,
            self._sizes,
            self._fps,
            cands,
        )
        return list(zip(cands[ok].tolist(), js[ok].tolist(), same_fp[ok].tolist(), strict=True))

    def _probe(self, prep: Prepared) -> tuple[DedupResult, npt.NDArray[np.intp]]:
        """What the document duplicates or which story it joins, and which of its candidate terms are its story
        terms (none for a duplicate)."""
        self_slot = self._pos.get(prep.doc_id, -1)
        alive = self._alive
        if prep.size == 0:  # nothing to compare: never a duplicate
            return DedupResult(None, False, prep.doc_id, prep.doc_id, 0.0, ""), _NO_SLOTS
        near = self._batch_near(prep, self_slot)
        if near is None:  # not in a batch, or what was found for the batch no longer holds
            found = self._bands.get(prep.bands)
            if self._batch is not None and prep.batch_row >= 0:
                found = np.concatenate(
                    (found, np.asarray(self._batch.candidates(prep.batch_row, prep.bands), dtype=np.intp))
                )
            cands = np.unique(found)
            near = self._candidates_near(prep, cands[alive[cands] & (cands != self_slot)])
        match = best_match(near)  # slots are in the order seen
        if match is None:  # the same fingerprint, not found through the bands
            fp_slot = self._by_fp.get(prep.fp)
            if fp_slot is not None and fp_slot != self_slot and alive[fp_slot]:
                match = (fp_slot, 1.0, True)
        if match is not None:
            dup, sim, exact = match
            return (
                DedupResult(
                    self._ids[dup],
                    exact,
                    self._cluster[dup],
                    self._story[dup],
                    sim,
                    f"{prep.fp:016x}",
                ),
                _NO_SLOTS,  # a duplicate's story is its cluster's; its own terms are not indexed
            )
        top = self._salient(prep)
        story = self._story_match(prep, top, self_slot)
        return DedupResult(None, False, prep.doc_id, story or prep.doc_id, 0.0, f"{prep.fp:016x}"), top

    def _batch_near(self, prep: Prepared, self_slot: int) -> list[tuple[int, float, bool]] | None:
        """The near-duplicates of a batch's document from what was found for the whole batch, or None where
        that no longer holds (it was prepared again, or a candidate was updated during the batch)."""
        batch, row, touched = self._batch, prep.batch_row, self._touched
        if batch is None or row < 0 or prep.near is None or prep.cands is None or row in batch.redone:
            return None
        if touched and not (
            touched.isdisjoint(prep.cands.tolist())
            and touched.isdisjoint([batch.slots[i] for i in batch.rows[row]])
        ):
            return None
        alive, redone = self._alive, batch.redone
        near = [c for c in prep.near if c[0] != self_slot and alive[c[0]]]
        for i, js, same in batch.near[row]:
            slot = batch.slots[i]
            if slot != self_slot and alive[slot] and i not in redone:
                near.append((slot, js, same))
        if redone:  # documents prepared again: their band keys changed
            redone_at, banded = batch.redone_at, batch.banded
            again = [batch.slots[i] for key in prep.band_list for i in redone_at.get(key, ()) if banded[i]]
            if again:
                cands = np.unique(np.asarray(again, dtype=np.intp))
                near += self._candidates_near(prep, cands[alive[cands] & (cands != self_slot)])
        return near

    def _story_match(self, prep: Prepared, top: npt.NDArray[np.intp], self_slot: int) -> str | None:
        """The story of the indexed article that shares the most salient terms (``top`` of the candidate terms)
        with this one, when they are published within STORY_DAYS of each other and share STORY_MIN_SHARED
        terms (or a day mention and STORY_MIN_SHARED_DAY), or, when either is undated, STORY_MIN_SHARED_UNDATED
        terms."""
        if len(top) == 0:
            return None
        is_day = prep.day_terms()[top]
        prefixes = prep.term_prefixes()[top]
        day, table = prep.day, self._terms
        # only the entries of documents it can join: published within STORY_DAYS, or undated
        if prep.term_ranges is not None:  # found for the whole batch
            ranges = prep.term_ranges[top]
        else:
            ranges = table.ranges(prefixes, np.full(len(prefixes), day, dtype=np.int64))
        best = story_best(
            table.vals,
            table.rvals,
            ranges,
            prefixes,
            is_day,
            table.nkeys,
            table.nvals,
            table.nnext,
            table.nhead,
            table.nbuf,
            self._alive,
            self._days,
            self._counts,
            self._marks,
            self_slot,
            day,
            STORY_DAYS,
            STORY_MIN_SHARED,
            STORY_MIN_SHARED_DAY,
            STORY_MIN_SHARED_UNDATED,
        )
        return self._story[best] if best >= 0 else None

    def _insert(self, prep: Prepared, top: npt.NDArray[np.intp], result: DedupResult) -> None:
        """Index the document (its story terms: ``top`` of its candidate terms)."""
        terms = prep.terms()[0][top] if len(top) else _NO_TERMS
        slot = self._pos.get(prep.doc_id)
        first_time = slot is None
        if slot is None:
            slot = self._n
            if slot >= self._cap:
                self._grow(slot + 1)
            self._n += 1
            self._ids.append(prep.doc_id)
            self._cluster.append(result.cluster_id)
            self._story.append(result.story_id)
            self._pos[prep.doc_id] = slot
            self._live += 1
        else:
            if self._touched is not None:
                self._touched.add(slot)
            if not self._alive[slot]:
                self._live += 1
            old_fp = int(self._fps[slot])
            if self._by_fp.get(old_fp) == slot:
                del self._by_fp[old_fp]
            self._cluster[slot] = result.cluster_id
            self._story[slot] = result.story_id
        self._sigs[slot] = prep.sig
        self._sizes[slot] = prep.size
        self._fps[slot] = prep.fp
        self._ts[slot] = np.nan if prep.ts is None else prep.ts
        self._days[slot] = prep.day
        self._alive[slot] = True
        self._src[slot] = self._source_index(prep.source)
        if prep.size:
            self._by_fp.setdefault(prep.fp, slot)
            if self._batch is None:  # a batch's entries join the tables at its end
                self._bands.add(prep.bands, slot, self._alive)
        if len(terms):
            self._terms.add_terms(prep.term_prefixes()[top], slot, prep.day, self._alive)
            # document frequency of salient terms
            count_terms(self._sketch, *prep.sketch_cells())
        if first_time and result.duplicate_of is None and result.cluster_id == prep.doc_id and prep.cells:
            # lines count once per cluster: a reprinted paragraph is not chrome, a line on many articles is
            crossed = count_lines(self._line_counts, np.asarray(prep.cells, dtype=np.intp), BOILERPLATE_MIN)
            if len(crossed) and self._crossed is not None:
                self._crossed.update(crossed.tolist())
        self._n_added += 1
        self._version += 1
        self._sketch_dirty = True
        if self._file is None:
            return
        self._write(
            prep.doc_id,
            (
                prep.doc_id,
                f"{prep.fp:016x}",
                prep.sig.tobytes(),
                prep.size,
                terms.astype(np.uint64).tobytes(),
                prep.published,
                prep.url,
                prep.source,
                result.cluster_id,
                result.story_id,
            ),
        )

    def _write(self, doc_id: str, row: Row | None) -> None:
        if self._file is None:
            return
        self._pending[doc_id] = row
        if len(self._pending) >= self._flush_every:
            self.flush()

    def _load(self) -> None:
        """Load the file's documents and counters (rows read, and band keys computed, a chunk at a time: the
        memory a load needs beyond the index is that of one chunk and of sorting the tables)."""
        assert self._file is not None
        n = self._file.count()
        self._grow(n + max(4096, n // 8))  # room for a crawl's documents without doubling every array
        term_keys: list[npt.NDArray[np.uint64]] = []
        term_vals: list[npt.NDArray[np.uint32]] = []
        term_days: list[npt.NDArray[np.int64]] = []
        at = 0
        for rows in self._file.rows():
            k = len(rows)
            ids, fps, sigs, sizes, terms, published, sources, cids, sids = zip(*rows, strict=True)
            for doc_id, sig in zip(ids, sigs, strict=True):
                if len(sig) != NUM_PERM * 4:
                    raise DedupError(
                        f"{self._file.path}: document {doc_id}: signature of {len(sig)} bytes, expected {NUM_PERM * 4}"
                    )
            slots = range(at, at + k)
            self._ids.extend(ids)
            self._pos.update(zip(ids, slots, strict=True))
            self._cluster.extend(cids)
            self._story.extend(sids)
            self._sigs[at : at + k] = np.frombuffer(b"".join(sigs), dtype=np.uint32).reshape(k, NUM_PERM)
            self._sizes[at : at + k] = sizes
            fp_ints = [int(fp, 16) for fp in fps]
            self._fps[at : at + k] = np.array(fp_ints, dtype=np.uint64)
            times = [parse_published(p) for p in published]
            self._ts[at : at + k] = [np.nan if ts is None else ts for ts in times]
            self._days[at : at + k] = [publication_day(ts) for ts in times]
            self._src[at : at + k] = [self._source_index(source) for source in sources]
            by_fp = self._by_fp
            for slot, fp, size in zip(slots, fp_ints, sizes, strict=True):
                if size:
                    by_fp.setdefault(fp, slot)
            counts = np.fromiter((len(t) // 8 for t in terms), dtype=np.int64, count=k)
            term_keys.append(np.frombuffer(b"".join(terms), dtype=np.uint64))
            term_vals.append(np.repeat(np.arange(at, at + k, dtype=np.uint32), counts))
            term_days.append(np.repeat(self._days[at : at + k].astype(np.int64), counts))
            at += k
        if at != n:
            raise DedupError(f"{self._file.path}: {at} documents read, {n} expected")
        self._n = self._live = n
        self._alive[:n] = True
        if n:
            comparable = np.flatnonzero(self._sizes[:n] > 0).astype(np.uint32)  # empty documents are not
            bands = np.empty((len(comparable), BANDS), dtype=np.uint64)
            step = 16384
            for a in range(0, len(comparable), step):
                bands[a : a + step] = band_keys(self._sigs[comparable[a : a + step]], BANDS)
            self._bands.load(bands.ravel(), np.repeat(comparable, BANDS))
            del bands
            self._terms.load_terms(
                np.concatenate(term_keys), np.concatenate(term_vals), np.concatenate(term_days)
            )
        meta = self._file.meta()
        sketch = meta.get("sketch")
        if sketch is not None and len(sketch) == self._sketch.nbytes:
            self._sketch = np.frombuffer(sketch, dtype=np.uint16).reshape(self._sketch.shape).copy()
            self._n_added = int(meta.get("n_added", b"0").decode() or 0)
        line_counts = meta.get("lines")
        if line_counts is not None and len(line_counts) == self._line_counts.nbytes:
            self._line_counts = np.frombuffer(line_counts, dtype=np.uint8).copy()
        else:
            self._n_added = n
        # the next new document is seen after every stored one
        self._pending.clear()
        _release_free_memory()


def _release_free_memory() -> None:
    """Hand the heap memory freed after a load back to the system (glibc keeps the freed rows and chunks of a
    large load: 170 MB after loading 100,000 documents); nothing where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
