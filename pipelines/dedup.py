"""Duplicates, reprint clusters and stories.

* **Exact duplicates**: the same dedup text (:func:`pipelines.minhash.dedup_text`: normalised, punctuation and
  whitespace removed) has the same :func:`~pipelines.minhash.fingerprint`.
* **Near-duplicates** (reprints with another script, pinyin annotations, spam, chrome, cut or reordered
  paragraphs, another headline): one-permutation MinHash signatures of 5-character shingles, found through LSH
  bands and confirmed on the estimated Jaccard similarity (or, for cut reprints, the estimated containment of
  the shorter text in the longer). Every document gets a ``cluster_id``: the id of the first member seen, which
  never changes; :func:`cluster_head` names the earliest-published member.
* **Stories**: different articles about one event share salient rare terms (dictionary words of the headline
  and lead, quoted names, day mentions, weighted by how rarely they are salient elsewhere) and are published
  within a few days of each other; they get one ``story_id``, kept apart from ``cluster_id``.

:class:`DedupIndex` holds all of it in memory (numpy arrays and sorted key → slot tables) and, when opened on a
file, in its own SQLite database, from which it reloads on start. :meth:`DedupIndex.add_many` adds documents in
arrival order with the results of :meth:`DedupIndex.add` one by one, doing the work that does not depend on the
earlier documents for a whole batch at once. :class:`DedupPipeline` is the Scrapy stage.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numba
import numpy as np
import numpy.typing as npt

from core import clock
from core.errors import DedupError, TechscoutError
from core.items import Article
from core.paths import DataPaths
from pipelines.minhash import (
    NUM_PERM,
    band_keys,
    containment,
    dedup_text_of,
    fingerprint,
    signatures,
    similarity,
    strip_text,
    stripped_lines_many,
)
from pipelines.normalize import normalize_text
from pipelines.story import is_day_term, story_terms, story_terms_many

log = logging.getLogger(__name__)

BANDS = (
    64  # LSH bands of NUM_PERM // BANDS rows each (64 × 2: a pair at Jaccard 0.25 is found 98% of the time)
)
JACCARD_MIN = 0.4  # estimated Jaccard at or above which two texts are near-duplicates
CONTAINMENT_MIN = 0.75  # ... or estimated containment of the shorter text at or above this
CONTAINMENT_JACCARD_MIN = 0.2  # ... together with at least this Jaccard
STORY_TERMS = 24  # salient terms kept per document
STORY_MIN_SHARED = 4  # shared salient terms for two dated articles to be one story
STORY_MIN_SHARED_DAY = 2  # ... when one of them is the same day mention (1月18日)
STORY_MIN_SHARED_UNDATED = 8  # ... when either has no publication date
STORY_DAYS = 3  # publication days apart at most for one story
STORY_COMMON = 0.02  # share of documents above which a term stops being salient
SKETCH_BITS = 20
SHORT_TEXT = 50  # dedup texts shorter than this are compared together with their headline
BOILERPLATE_MIN = 3  # a line seen in this many clusters is site chrome: left out of signatures
LINE_BITS = 20  # boilerplate line counters: 2**LINE_BITS bytes  # document-frequency sketch: 2 rows of 2**SKETCH_BITS counters
CHINA = clock.CHINA_OFFSET
_NODAY = np.iinfo(np.int32).min


@dataclass(frozen=True)
class DedupResult:
    """What the index says about one document."""

    duplicate_of: str | None  # the existing document it duplicates (best match), None if new
    exact: bool  # same dedup text as ``duplicate_of``
    cluster_id: str  # near-duplicate cluster: id of the cluster's first member seen
    story_id: str  # story: id of the story's first article seen
    similarity: float  # estimated Jaccard similarity with ``duplicate_of`` (1.0 for exact), 0.0 if new
    fingerprint: str = ""  # exact-duplicate fingerprint of the document's text


# --------------------------------------------------------------------------------------------------------------
# dates and cluster heads
# --------------------------------------------------------------------------------------------------------------
def parse_published(published: str | None) -> float | None:
    """POSIX time of an ISO 8601 date or datetime (China time when it names no zone), None if unparseable."""
    if not published:
        return None
    text = published.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        try:
            dt = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA)
    return dt.timestamp()


def _line_hash(line: str) -> int:
    return int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=8).digest(), "little")


def _day(ts: float | None) -> int:
    if ts is None or math.isnan(ts):
        return int(_NODAY)
    return datetime.fromtimestamp(ts, CHINA).date().toordinal()


def _get(member: Any, key: str) -> Any:
    if isinstance(member, dict):
        return member.get(key)
    return getattr(member, key, None)


def cluster_head(members: Iterable[Any]) -> str:
    """The id of the earliest-published member (ties and undated members: the earliest seen).

    ``members`` are mappings or objects with ``id`` and ``published`` (ISO 8601 or None), and optionally ``seq``
    (the order seen); without ``seq`` the iteration order is the order seen.
    """
    best: tuple[float, float] | None = None
    head = ""
    for i, m in enumerate(members):
        ts = parse_published(_get(m, "published"))
        seq = _get(m, "seq")
        key = (ts if ts is not None else math.inf, float(seq) if seq is not None else float(i))
        if best is None or key < best:
            best, head = key, str(_get(m, "id"))
    if best is None:
        raise ValueError("cluster_head() of no members")
    return head


# --------------------------------------------------------------------------------------------------------------
# in-memory structures
# --------------------------------------------------------------------------------------------------------------
class _MultiMap:
    """uint64 key → document slots, in three levels: a sorted main table, a sorted table of recent entries
    (merged into the main one when it reaches an eighth of it) and a dict of the newest entries (moved into the
    recent table in blocks). Merges are linear merges of sorted arrays."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.uint64)
        self.vals = np.zeros(0, dtype=np.uint32)
        self.rkeys = np.zeros(0, dtype=np.uint64)
        self.rvals = np.zeros(0, dtype=np.uint32)
        self.buf: dict[int, list[int]] = {}
        self.nbuf = 0
        self.hold = False  # the sorted tables stay as they are (a batch holds lookups into them)
        self.dirty = False  # documents were removed: drop their entries on the next merge into the main table

    def load(self, keys: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32]) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys, self.vals = keys[order], vals[order]
        self.rkeys, self.rvals = self.keys[:0], self.vals[:0]
        self.buf, self.nbuf = {}, 0

    def add(self, keys: npt.NDArray[np.uint64], val: int, alive: npt.NDArray[np.bool_]) -> None:
        self._buffer(keys.tolist(), val, alive)

    def _buffer(self, keys: list[int], val: int, alive: npt.NDArray[np.bool_]) -> None:
        """``val`` under each of ``keys`` among the newest entries (settled into the tables every 8,192)."""
        buf = self.buf
        for k in keys:
            vs = buf.get(k)
            if vs is None:
                buf[k] = [val]
            else:
                vs.append(val)
        self.nbuf += len(keys)
        if self.nbuf > 1 << 13 and not self.hold:
            self.settle(alive)

    def add_block(self, keys: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32]) -> None:
        """Add many entries at once (into the recent table)."""
        self.rkeys, self.rvals = _merge_sorted(self.rkeys, self.rvals, keys, vals)

    def _newest_to_recent(self) -> None:
        if self.nbuf:
            bk = np.fromiter((k for k, vs in self.buf.items() for _ in vs), dtype=np.uint64, count=self.nbuf)
            bv = np.fromiter((v for vs in self.buf.values() for v in vs), dtype=np.uint32, count=self.nbuf)
            self.buf, self.nbuf = {}, 0
            self.rkeys, self.rvals = _merge_sorted(self.rkeys, self.rvals, bk, bv)

    def settle(self, alive: npt.NDArray[np.bool_]) -> None:
        """Move the newest entries into the recent table, and that into the main table once it is large."""
        self._newest_to_recent()
        if len(self.rkeys) > max(1 << 16, len(self.keys) // 8):
            self.merge(alive)

    def merge(self, alive: npt.NDArray[np.bool_]) -> None:
        """Move every entry into the main table (dropping the entries of documents removed since the last
        merge)."""
        self._newest_to_recent()
        keys, vals = _merge_sorted(self.keys, self.vals, self.rkeys, self.rvals, presorted=True)
        if self.dirty:
            keep = alive[vals]
            keys, vals = keys[keep], vals[keep]
            self.dirty = False
        self.keys, self.vals = keys, vals
        self.rkeys, self.rvals = keys[:0], vals[:0]

    def lookup_sorted(
        self, keys: npt.NDArray[np.uint64]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
        """Entries of the two sorted tables under ``keys``: the index in ``keys`` of each (in no particular
        order) and its slot."""
        parts = [_lookup(self.keys, self.vals, keys), _lookup(self.rkeys, self.rvals, keys)]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return np.zeros(0, dtype=np.intp), self.vals[:0]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def get_recent(self, keys: list[int]) -> list[int]:
        """Slots under any of ``keys`` among the newest entries."""
        buf = self.buf
        if not buf:
            return []
        out: list[int] = []
        for k in keys:
            vs = buf.get(k)
            if vs:
                out.extend(vs)
        return out

    def get(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """Slots under any of ``keys``, once per key that holds them."""
        _, slots = self.lookup_sorted(keys)
        recent = self.get_recent(keys.tolist())
        if recent:
            return np.concatenate((slots, np.asarray(recent, dtype=np.uint32))).astype(np.intp)
        return slots.astype(np.intp)

    def nbytes(self) -> int:
        return int(
            self.keys.nbytes
            + self.vals.nbytes
            + self.rkeys.nbytes
            + self.rvals.nbytes
            + self.nbuf * 40
            + len(self.buf) * 100
        )


_CHAIN_BITS = 15  # the newest term entries: chains by 2**_CHAIN_BITS hashes of the term
_DAY_BITS = 16  # term-table keys: the low bits hold the publication day (0: undated)
_DAY_MAX = (1 << _DAY_BITS) - 1
_DAY_BASE = date(1950, 1, 1).toordinal() - 1  # day code 1; days outside the 179 years from it are clamped
_TERM_PART = ~np.uint64((1 << (_DAY_BITS + 1)) - 1)  # the term's bits kept in a key (with its lowest bit)
_DAY_FLAG = np.uint64(1 << _DAY_BITS)  # where a key keeps the term's lowest bit (day mentions are odd)


def _day_code(day: int) -> int:
    """A publication day's code in term-table keys: 0 undated, else 1..``_DAY_MAX`` in day order (clamped,
    which keeps the order: a window of days is a window of codes)."""
    if day == _NODAY:
        return 0
    return min(max(day - _DAY_BASE, 1), _DAY_MAX)


def _term_prefix(terms: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The part of a term-table key that names the term: every key of one term is ``prefix | day code``."""
    return (terms & _TERM_PART) | ((terms & np.uint64(1)) << np.uint64(_DAY_BITS))


class _TermMap(_MultiMap):
    """Story term → document slots, keyed by (term, publication day): a term's entries are sorted by day, so a
    dated document reads the entries within STORY_DAYS of its day (one range per table) and the undated ones
    (another), however many days the index holds; an undated document reads all of the term's entries."""

    def __init__(self) -> None:
        super().__init__()
        # the newest entries: (key, slot) in arrival order, chained by term (``head`` per hash of the term's
        # prefix, ``next`` per entry), so that a document finds the entries of its terms without a search
        self.nkeys = np.zeros(1 << 12, dtype=np.uint64)
        self.nvals = np.zeros(1 << 12, dtype=np.uint32)
        self.nnext = np.zeros(1 << 12, dtype=np.int32)
        self.nhead = np.full(1 << _CHAIN_BITS, -1, dtype=np.int32)

    def load(self, keys: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32]) -> None:
        super().load(keys, vals)
        self.nhead.fill(-1)

    def add_terms(
        self, prefixes: npt.NDArray[np.uint64], val: int, day: int, alive: npt.NDArray[np.bool_]
    ) -> None:
        """``val`` under the terms (given by their :func:`_term_prefix`) of a document published on ``day``."""
        need = self.nbuf + len(prefixes)
        if need > len(self.nkeys):
            cap = max(need, 2 * len(self.nkeys))
            for name in ("nkeys", "nvals", "nnext"):
                old = getattr(self, name)
                new = np.zeros(cap, dtype=old.dtype)
                new[: self.nbuf] = old[: self.nbuf]
                setattr(self, name, new)
        _chain_add(self.nkeys, self.nvals, self.nnext, self.nhead, self.nbuf, prefixes, _day_code(day), val)
        self.nbuf = need
        if self.nbuf > 1 << 13 and not self.hold:
            self.settle(alive)

    def _newest_to_recent(self) -> None:
        if self.nbuf:
            bk, bv = self.nkeys[: self.nbuf].copy(), self.nvals[: self.nbuf].copy()
            self.nbuf = 0
            self.nhead.fill(-1)
            self.rkeys, self.rvals = _merge_sorted(self.rkeys, self.rvals, bk, bv)

    def nbytes(self) -> int:
        tables = (
            self.keys,
            self.vals,
            self.rkeys,
            self.rvals,
            self.nkeys,
            self.nvals,
            self.nnext,
            self.nhead,
        )
        return sum(int(a.nbytes) for a in tables)

    def ranges(self, prefix: npt.NDArray[np.uint64], days: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """Where the entries a document can join a story with are in the two sorted tables, per term (given by
        its :func:`_term_prefix`; the term's document published on the day in ``days``): in the main table the
        window's and the undated entries' first ends, then their last ends; then the same in the recent table."""
        undated = days == _NODAY
        lo = np.where(undated, 0, np.clip(days - STORY_DAYS - _DAY_BASE, 1, _DAY_MAX)).astype(np.uint64)
        hi = np.where(undated, _DAY_MAX, np.clip(days + STORY_DAYS - _DAY_BASE, 1, _DAY_MAX)).astype(
            np.uint64
        )
        ulo = undated.astype(np.uint64)  # an undated document's window holds the undated entries: none more
        bounds = (prefix | lo, prefix | ulo, prefix | hi, prefix)
        sides: tuple[Literal["left", "right"], ...] = ("left", "left", "right", "right")
        out = np.zeros((len(prefix), 8), dtype=np.intp)
        if not len(prefix):
            return out
        order = np.argsort(prefix)  # searching in key order walks the table once
        for base, table in ((0, self.keys), (4, self.rkeys)):
            if len(table):
                for col, (keys, side) in enumerate(zip(bounds, sides, strict=True)):
                    out[order, base + col] = _search(table, keys[order], side == "right")
        return out

    def load_terms(
        self, terms: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32], days: npt.NDArray[np.int64]
    ) -> None:
        codes = np.where(days == _NODAY, 0, np.clip(days - _DAY_BASE, 1, _DAY_MAX)).astype(np.uint64)
        self.load(_term_prefix(terms) | codes, vals)


@numba.njit(cache=True, nogil=True)
def _search(table: npt.NDArray[np.uint64], keys: npt.NDArray[np.uint64], right: bool) -> npt.NDArray[np.intp]:
    """``np.searchsorted(table, keys, side="right" if right else "left")``, galloping from the previous key's
    place: for keys in (nearly) ascending order each search reads a few neighbouring entries of ``table`` instead
    of a binary search over all of it."""
    m = len(table)
    out = np.empty(len(keys), dtype=np.intp)
    pos = 0
    for i in range(len(keys)):
        k = keys[i]
        if pos < m and (table[pos] <= k if right else table[pos] < k):  # the place is after pos
            lo, step = pos + 1, 1
            hi = pos + step
            while hi < m and (table[hi] <= k if right else table[hi] < k):
                lo = hi + 1
                step *= 2
                hi = pos + step
            hi = min(hi, m)
        elif pos > 0 and not (
            table[pos - 1] <= k if right else table[pos - 1] < k
        ):  # ... at or before pos - 1
            hi, step = pos - 1, 1
            lo = hi - step
            while lo >= 0 and not (table[lo] <= k if right else table[lo] < k):
                hi = lo
                step *= 2
                lo = hi - step
            lo = max(lo + 1, 0)
        else:
            out[i] = pos
            continue
        while lo < hi:
            mid = (lo + hi) >> 1
            if table[mid] <= k if right else table[mid] < k:
                lo = mid + 1
            else:
                hi = mid
        pos = lo
        out[i] = pos
    return out


def _merge_sorted(
    keys: npt.NDArray[np.uint64],
    vals: npt.NDArray[np.uint32],
    new_keys: npt.NDArray[np.uint64],
    new_vals: npt.NDArray[np.uint32],
    *,
    presorted: bool = False,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
    """A sorted table with entries added (older entries of a key first)."""
    if not len(new_keys):
        return keys, vals
    if not presorted:
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_vals = new_keys[order], new_vals[order]
    if not len(keys):
        return new_keys, new_vals
    at = _search(keys, new_keys, True)
    return np.insert(keys, at, new_keys), np.insert(vals, at, new_vals)


def _lookup(
    table: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32], keys: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
    """Entries of a sorted table under ``keys``: the index in ``keys`` of each (in no particular order) and its
    value."""
    if not len(table) or not len(keys):
        return np.zeros(0, dtype=np.intp), vals[:0]
    order = np.argsort(keys)  # searching in key order walks the table once: far fewer cache misses
    at, found = _lookup_sorted_keys(table, vals, keys[order])
    return order[at], found


@numba.njit(cache=True, nogil=True)
def _lookup_sorted_keys(
    table: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32], keys: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
    """:func:`_lookup` of ascending ``keys``: each key's first entry found by galloping from the previous key's,
    its run read from there."""
    lo = _search(table, keys, False)
    total = 0
    for i in range(len(keys)):
        j = lo[i]
        while j < len(table) and table[j] == keys[i]:
            j += 1
        total += j - lo[i]
    at = np.empty(total, dtype=np.intp)
    found = np.empty(total, dtype=np.uint32)
    n = 0
    for i in range(len(keys)):
        j = lo[i]
        while j < len(table) and table[j] == keys[i]:
            at[n] = i
            found[n] = vals[j]
            n += 1
            j += 1
    return at, found


@dataclass
class _Prepared:
    doc_id: str
    fp: int
    sig: npt.NDArray[np.uint32]
    size: int
    bands: npt.NDArray[np.uint64]
    cells: list[int]
    ntitle: str
    norm: str
    lines: list[str]
    ts: float | None
    day: int
    url: str
    source: str
    published: str | None
    _terms: tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]] | None = None
    # found for a whole batch at once (None: look up one by one)
    cands: npt.NDArray[np.intp] | None = None  # slots under its band keys in the sorted band tables
    # ... those that are near-duplicates: (slot, Jaccard, exact)
    near: list[tuple[int, float, bool]] | None = None
    # per candidate term: where the entries it can join a story with are in the sorted term tables
    # (:meth:`_TermMap.ranges`)
    term_ranges: npt.NDArray[np.intp] | None = None
    batch_row: int = -1
    _cells: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None
    _days: npt.NDArray[np.bool_] | None = None
    _prefixes: npt.NDArray[np.uint64] | None = None

    @property
    def band_list(self) -> list[int]:
        return self.bands.tolist()

    def sketch_cells(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """The document-frequency sketch's cells of each candidate story term (one per row)."""
        if self._cells is None:
            self._cells = _sketch_rows(self.terms()[0])
        return self._cells

    def term_prefixes(self) -> npt.NDArray[np.uint64]:
        """The term-table key prefix (:func:`_term_prefix`) of each candidate story term."""
        if self._prefixes is None:
            self._prefixes = _term_prefix(self.terms()[0])
        return self._prefixes

    def day_terms(self) -> npt.NDArray[np.bool_]:
        """Which candidate story terms are day mentions."""
        if self._days is None:
            self._days = is_day_term(self.terms()[0])
        return self._days

    def terms(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
        """Candidate story terms and weights (computed on first use: a duplicate never needs them)."""
        if self._terms is None:
            self._terms = story_terms(self.ntitle, self.norm, self.lines)
        return self._terms


_NO_TERMS = np.zeros(0, dtype=np.uint64)
_NO_SLOTS = np.zeros(0, dtype=np.intp)
_MIN_SHARED = min(STORY_MIN_SHARED, STORY_MIN_SHARED_DAY, STORY_MIN_SHARED_UNDATED)


def _sketch_rows(terms: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    mask = np.uint64((1 << SKETCH_BITS) - 1)
    r0 = (terms & mask).astype(np.intp)
    r1 = ((terms >> np.uint64(32)) & mask).astype(np.intp)
    return r0, r1


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


@numba.njit(cache=True, nogil=True)
def _verify(
    sigs: npt.NDArray[np.uint32],
    sizes: npt.NDArray[np.int64],
    fps: npt.NDArray[np.uint64],
    rows: npt.NDArray[np.intp],
    other_sigs: npt.NDArray[np.uint32],
    other_sizes: npt.NDArray[np.int64],
    other_fps: npt.NDArray[np.uint64],
    other_rows: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For each pair (``rows[i]`` of the first signature matrix, ``other_rows[i]`` of the second): estimated
    Jaccard, same fingerprint, near-duplicate (as :func:`_near`)."""
    n, width = len(rows), sigs.shape[1]
    js = np.empty(n, dtype=np.float64)
    same = np.empty(n, dtype=np.bool_)
    ok = np.empty(n, dtype=np.bool_)
    for i in range(n):
        a, b = rows[i], other_rows[i]
        equal = 0
        for j in range(width):
            if sigs[a, j] == other_sigs[b, j]:
                equal += 1
        jac = equal / width
        size, other = sizes[a], other_sizes[b]
        inter = jac / (1.0 + jac) * np.float64(size + other)
        cont = min(inter / np.float64(max(min(other, size), 1)), 1.0)
        js[i] = jac
        same[i] = fps[a] == other_fps[b]
        ok[i] = same[i] or jac >= JACCARD_MIN or (cont >= CONTAINMENT_MIN and jac >= CONTAINMENT_JACCARD_MIN)
    return js, same, ok


def _near(
    js: npt.NDArray[np.float64], same_fp: npt.NDArray[np.bool_], cont: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Which candidates are near-duplicates: same text, or similar enough, or (a cut reprint) mostly inside."""
    return np.asarray(
        same_fp | (js >= JACCARD_MIN) | ((cont >= CONTAINMENT_MIN) & (js >= CONTAINMENT_JACCARD_MIN))
    )


@numba.njit(cache=True, nogil=True)
def _chain_add(
    keys: npt.NDArray[np.uint64],
    vals: npt.NDArray[np.uint32],
    nxt: npt.NDArray[np.int32],
    head: npt.NDArray[np.int32],
    n: int,
    prefixes: npt.NDArray[np.uint64],
    code: int,
    val: int,
) -> None:
    """Append (prefix | code, val) for each term prefix to the newest entries (``n`` of them so far)."""
    mask = np.uint64((1 << _CHAIN_BITS) - 1)
    for i in range(len(prefixes)):
        e = n + i
        keys[e] = prefixes[i] | np.uint64(code)
        vals[e] = val
        h = np.int64((prefixes[i] >> np.uint64(_DAY_BITS + 1)) & mask)
        nxt[e] = head[h]
        head[h] = e


@numba.njit(cache=True, nogil=True, inline="always")
def _tally(
    s: np.int64,
    mark: int,
    counts: npt.NDArray[np.int32],
    marks: npt.NDArray[np.uint8],
    touched: npt.NDArray[np.int64],
    n: int,
) -> int:
    """Count one entry of slot ``s`` (a day mention's: ``mark`` 1); a slot counted for the first time joins the
    ``n`` slots in ``touched``. The new ``n``."""
    if counts[s] == 0:
        touched[n] = s
        n += 1
    counts[s] += 1
    marks[s] |= mark
    return n


@numba.njit(cache=True, nogil=True)
def _story_best(
    vals: npt.NDArray[np.uint32],
    rvals: npt.NDArray[np.uint32],
    ranges: npt.NDArray[np.intp],
    prefixes: npt.NDArray[np.uint64],
    is_day: npt.NDArray[np.bool_],
    nkeys: npt.NDArray[np.uint64],
    nvals: npt.NDArray[np.uint32],
    nnext: npt.NDArray[np.int32],
    nhead: npt.NDArray[np.int32],
    n_newest: int,
    alive: npt.NDArray[np.bool_],
    days: npt.NDArray[np.int32],
    counts: npt.NDArray[np.int32],
    marks: npt.NDArray[np.uint8],
    self_slot: int,
    day: int,
) -> int:
    """The slot :meth:`DedupIndex._story_match` chooses (-1: none) from the term entries of a document's salient
    terms: per term, ``ranges`` (:meth:`_TermMap.ranges`) into the main (``vals``) and recent (``rvals``) tables,
    its key prefix (for the newest entries, chained as :func:`_chain_add` made them) and whether it is a day
    mention. ``counts`` and ``marks`` are zeroed scratch arrays, one cell per slot, and are left zeroed."""
    total = n_newest
    for i in range(ranges.shape[0]):
        total += max(ranges[i, 2] - ranges[i, 0], 0) + max(ranges[i, 3] - ranges[i, 1], 0)
        total += max(ranges[i, 6] - ranges[i, 4], 0) + max(ranges[i, 7] - ranges[i, 5], 0)
    touched = np.empty(total, dtype=np.int64)
    n = 0
    # the newest entries it can join: within STORY_DAYS (or undated); an undated document: all
    if day == _NODAY:
        lo, hi, with_undated = np.uint64(0), np.uint64(_DAY_MAX), False
    else:
        lo = np.uint64(min(max(day - STORY_DAYS - _DAY_BASE, 1), _DAY_MAX))
        hi = np.uint64(min(max(day + STORY_DAYS - _DAY_BASE, 1), _DAY_MAX))
        with_undated = True
    code_mask = np.uint64(_DAY_MAX)
    chain_mask = np.uint64((1 << _CHAIN_BITS) - 1)
    for i in range(ranges.shape[0]):
        mark = 1 if is_day[i] else 0
        for table, base in ((vals, 0), (rvals, 4)):
            for start, end in (
                (ranges[i, base], ranges[i, base + 2]),
                (ranges[i, base + 1], ranges[i, base + 3]),
            ):
                for j in range(start, end):
                    n = _tally(np.int64(table[j]), mark, counts, marks, touched, n)
        if n_newest:
            p = prefixes[i]
            e = nhead[np.int64((p >> np.uint64(_DAY_BITS + 1)) & chain_mask)]
            while e >= 0:
                key = nkeys[e]
                if key & ~code_mask == p:
                    code = key & code_mask
                    if (lo <= code and code <= hi) or (with_undated and code == 0):
                        n = _tally(np.int64(nvals[e]), mark, counts, marks, touched, n)
                e = nnext[e]
    found = np.sort(touched[:n])
    best, best_shared = -1, 0
    for s in found:
        shared, on_day = counts[s], marks[s]
        counts[s] = 0
        marks[s] = 0
        if shared < _MIN_SHARED or s == self_slot or not alive[s]:
            continue
        other = np.int64(days[s])
        if other != _NODAY and day != _NODAY:
            if abs(other - day) > STORY_DAYS:
                continue
            if shared < STORY_MIN_SHARED and not (shared >= STORY_MIN_SHARED_DAY and on_day):
                continue
        elif shared < STORY_MIN_SHARED_UNDATED:
            continue
        if shared > best_shared:  # ties: the first, the earliest seen
            best, best_shared = s, shared
    return best


@numba.njit(cache=True, nogil=True)
def _salient_order(
    score: npt.NDArray[np.float64],
    r0: npt.NDArray[np.intp],
    r1: npt.NDArray[np.intp],
    is_day: npt.NDArray[np.bool_],
    sketch: npt.NDArray[np.uint16],
    n_added: int,
) -> npt.NDArray[np.intp]:
    """:meth:`DedupIndex._salient` over the candidate terms' weights, sketch cells and day flags."""
    score = score.copy()
    if n_added >= 200:
        common = STORY_COMMON * n_added
        for i in range(len(score)):
            df = np.float64(min(sketch[0, r0[i]], sketch[1, r1[i]]))
            score[i] = score[i] * min(1.0, common / max(df, 1.0))
    n_days = 0
    for i in range(len(score)):
        if is_day[i]:
            score[i] = np.inf
            n_days += 1
    k = min(STORY_TERMS + min(n_days, 4), len(score))
    return np.argsort(-score, kind="mergesort")[:k]


@numba.njit(cache=True, nogil=True)
def _count_lines(counts: npt.NDArray[np.uint8], cells: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Count a document's distinct line cells once each (saturating); the cells that reached BOILERPLATE_MIN."""
    cells = np.unique(cells)
    crossed = np.empty(len(cells), dtype=np.intp)
    n = 0
    for cell in cells:
        count = counts[cell]
        if count < 255:
            counts[cell] = count + 1
        if count == BOILERPLATE_MIN - 1:
            crossed[n] = cell
            n += 1
    return crossed[:n]


@numba.njit(cache=True, nogil=True)
def _count_terms(sketch: npt.NDArray[np.uint16], r0: npt.NDArray[np.intp], r1: npt.NDArray[np.intp]) -> None:
    """Count a document's salient terms in the document-frequency sketch (saturating)."""
    for row, cells in ((0, r0), (1, r1)):
        before = np.empty(len(cells), dtype=np.uint16)
        for i in range(len(cells)):  # read all, then write: a cell two terms share counts once
            before[i] = sketch[row, cells[i]]
        for i in range(len(cells)):
            if before[i] < 65535:
                sketch[row, cells[i]] = before[i] + 1
            else:
                sketch[row, cells[i]] = before[i]


_SCHEMA = """
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


class DedupIndex:
    """Exact and near-duplicate detection with stable cluster ids, and story grouping.

    ``DedupIndex()`` lives in memory only; :meth:`open` keeps it in a SQLite file as well.
    """

    def __init__(self) -> None:
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
        self._bands = _MultiMap()
        self._terms = _TermMap()
        self._sketch = np.zeros((2, 1 << SKETCH_BITS), dtype=np.uint16)
        self._line_counts = np.zeros(1 << LINE_BITS, dtype=np.uint8)  # clusters each line was seen in
        self._n_added = 0  # documents ever counted in the sketch
        self._live = 0
        # persistence
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, tuple[Any, ...] | None] = {}
        self._flush_every = 500
        self._sketch_dirty = False
        self._version = 0  # changes with every insert and removal
        self._last_lookup: tuple[tuple[Any, ...], int, _Prepared, tuple[DedupResult, Any]] | None = None
        self._crossed: set[int] | None = None  # in a batch: line cells that became chrome during it
        self._touched: set[int] | None = None  # in a batch: slots of documents updated during it
        self._batch: _Batch | None = None  # the batch being added

    # ---------------------------------------------------------------------------------------------------- public
    @classmethod
    def open(cls, path: str | Path, *, flush_every: int = 500) -> DedupIndex:
        """Open (or create) the index kept in the SQLite file ``path`` and load it into memory."""
        index = cls()
        index._flush_every = max(1, flush_every)
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            index._db = db
            index._load()
        except sqlite3.Error as exc:
            raise DedupError(f"{path}: cannot open the duplicate index: {exc}") from None
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
            prep, probed = self._prepare_many([key[:6]], normalized)[0], None
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
        prep = self._prepare_many([key[:6]], normalized)[0]
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
        if self._db is not None:
            self._db.execute("DELETE FROM docs")
            self._db.execute("DELETE FROM meta")
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
        if self._db is None:
            self._pending.clear()
            return
        try:
            if self._pending:
                upserts = [row for row in self._pending.values() if row is not None]
                deletes = [(k,) for k, row in self._pending.items() if row is None]
                self._db.execute("BEGIN")
                if deletes:
                    self._db.executemany("DELETE FROM docs WHERE id = ?", deletes)
                if upserts:
                    self._db.executemany(
                        "INSERT INTO docs (seq, id, fingerprint, sig, size, terms, published, url, source,"
                        " cluster_id, story_id) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                        " fingerprint=excluded.fingerprint, sig=excluded.sig, size=excluded.size,"
                        " terms=excluded.terms, published=excluded.published, url=excluded.url,"
                        " source=excluded.source, cluster_id=excluded.cluster_id, story_id=excluded.story_id",
                        upserts,
                    )
                self._db.execute("COMMIT")
                self._pending.clear()
            if self._sketch_dirty:
                self._save_sketch()
        except sqlite3.Error as exc:
            raise DedupError(f"cannot write the duplicate index: {exc}") from None

    def close(self) -> None:
        self._sketch_dirty = self._sketch_dirty or bool(self._pending)
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> DedupIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------------------------------- private
    def _reset(self) -> None:
        db, every = self._db, self._flush_every
        self.__init__()  # type: ignore[misc]
        self._db, self._flush_every = db, every

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
        self._days = grow(self._days, _NODAY)
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
        prep: _Prepared,
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
        rows = [
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
        preps = self._prepare_many(rows, normalized, with_terms=True)
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
                    again = self._prepare_many([row], normalized)[0]
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

    def _batch_candidates(self, preps: list[_Prepared]) -> _Batch:
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
        js, same, ok = _verify(sigs, sizes, fps, row, self._sigs, self._sizes, self._fps, cand)
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
            js, same, ok = _verify(sigs, sizes, fps, later, sigs, sizes, fps, earlier)
            for e, l_, j_, s_, k_ in zip(
                earlier.tolist(), later.tolist(), js.tolist(), same.tolist(), ok.tolist(), strict=True
            ):
                batch.rows[l_].append(e)
                if k_:
                    batch.near[l_].append((e, j_, s_))
        return batch

    def _batch_term_hits(self, preps: list[_Prepared]) -> None:
        """Where each document's candidate story terms are in the sorted term tables, for a whole batch at
        once (the entries themselves are read for the chosen terms only)."""
        terms = [p.terms()[0] for p in preps]
        flat = np.concatenate(terms) if terms else _NO_TERMS
        starts = np.cumsum([0] + [len(t) for t in terms]).tolist()
        days = np.repeat(np.asarray([p.day for p in preps], dtype=np.int64), [len(t) for t in terms])
        prefixes = _term_prefix(flat)
        ranges = self._terms.ranges(prefixes, days)
        r0, r1 = _sketch_rows(flat)
        is_day = is_day_term(flat)
        for i, p in enumerate(preps):
            a, b = starts[i], starts[i + 1]
            p.term_ranges = ranges[a:b]
            p._cells = (r0[a:b], r1[a:b])
            p._days = is_day[a:b]
            p._prefixes = prefixes[a:b]

    def _prepare_many(
        self,
        rows: list[tuple[str, str, str, str | None, str, str]],
        normalized: bool = False,
        *,
        with_terms: bool = False,
    ) -> list[_Prepared]:
        """Everything about each (id, text, title, published, url, source) that does not depend on the other
        documents: dedup text, fingerprint, signature (without the chrome lines known now), band keys, and
        with ``with_terms`` the candidate story terms."""
        mask = (1 << LINE_BITS) - 1
        norms: list[str] = []
        titles: list[str] = []
        all_lines: list[list[str]] = []
        all_stripped: list[list[str]] = []
        dtexts: list[str] = []
        cells: list[list[int]] = []
        for _, text, title, _, _, _ in rows:
            norms.append(text if normalized else normalize_text(text))
            titles.append(title if normalized else normalize_text(title))
        for norm, ntitle, (lines, stripped) in zip(norms, titles, stripped_lines_many(norms), strict=True):
            dtext = dedup_text_of(norm, "".join(stripped)) if norm else ""
            if len(dtext) < SHORT_TEXT:  # "详见附件": a short body says too little without its headline
                dtext = strip_text(ntitle) + dtext
            all_lines.append(lines)
            all_stripped.append(stripped)
            dtexts.append(dtext)
            cells.append([_line_hash(line) & mask for line in stripped])
        flat = [c for cs in cells for c in cs]
        common_at = (
            set(np.flatnonzero(self._line_counts[flat] >= BOILERPLATE_MIN).tolist()) if flat else set()
        )
        dsigs = dtexts
        if common_at:  # leave the site's chrome out of the signature (not out of the fingerprint)
            dsigs = []
            at = 0
            for dtext, stripped in zip(dtexts, all_stripped, strict=True):
                n = len(stripped)
                if not common_at.isdisjoint(range(at, at + n)):
                    kept = "".join(x for i, x in enumerate(stripped, at) if i not in common_at)
                    if len(kept) >= max(20, len(dtext) // 4):
                        dtext = kept
                dsigs.append(dtext)
                at += n
        sigs, sizes = signatures(dsigs)
        bands = band_keys(sigs, BANDS)
        terms = story_terms_many(list(zip(titles, norms, all_lines, strict=True))) if with_terms else None
        out: list[_Prepared] = []
        for i, (doc_id, _, _, published, url, source) in enumerate(rows):
            ts = parse_published(published)
            out.append(
                _Prepared(
                    doc_id=doc_id,
                    fp=int(fingerprint(dtexts[i]), 16),
                    cells=cells[i],
                    sig=sigs[i],
                    size=int(sizes[i]),
                    bands=bands[i],
                    ntitle=titles[i],
                    norm=norms[i],
                    lines=all_lines[i],
                    ts=ts,
                    day=_day(ts),
                    url=url,
                    source=source,
                    published=published,
                    _terms=None if terms is None else terms[i],
                )
            )
        return out

    def _salient(self, prep: _Prepared) -> npt.NDArray[np.intp]:
        """Which of the document's candidate terms are its story terms (the top ones; terms salient in more
        than STORY_COMMON of the indexed documents count for less)."""
        cand_terms, score = prep.terms()
        if len(cand_terms) == 0:
            return _NO_SLOTS
        r0, r1 = prep.sketch_cells()
        # day mentions are always kept
        result: npt.NDArray[np.intp] = _salient_order(
            score, r0, r1, prep.day_terms(), self._sketch, self._n_added
        )
        return result

    def _candidates_near(self, prep: _Prepared, cands: npt.NDArray[np.intp]) -> list[tuple[int, float, bool]]:
        """The near-duplicates among candidate slots: (slot, Jaccard, exact)."""
        if not len(cands):
            return []
        js = similarity(prep.sig, self._sigs[cands])
        same_fp = self._fps[cands] == np.uint64(prep.fp)
        ok = _near(js, same_fp, containment(js, prep.size, self._sizes[cands]))
        return list(zip(cands[ok].tolist(), js[ok].tolist(), same_fp[ok].tolist(), strict=True))

    def _probe(self, prep: _Prepared) -> tuple[DedupResult, npt.NDArray[np.intp]]:
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
        dup: int | None = None
        exact = False
        sim = 0.0
        if near:
            # the best: exact first, then the highest Jaccard, then the earliest seen
            dup, sim, exact = max(near, key=lambda c: (2.0 if c[2] else c[1], -c[0]))
            sim = 1.0 if exact else sim
        else:
            fp_slot = self._by_fp.get(prep.fp)
            if fp_slot is not None and fp_slot != self_slot and alive[fp_slot]:
                dup, exact, sim = fp_slot, True, 1.0

        if dup is not None:
            return (
                DedupResult(
                    self._ids[dup],
                    exact,
                    self._cluster[dup],
                    self._story[dup],
                    round(sim, 4),
                    f"{prep.fp:016x}",
                ),
                _NO_SLOTS,  # a duplicate's story is its cluster's; its own terms are not indexed
            )
        top = self._salient(prep)
        story = self._story_match(prep, top, self_slot)
        return DedupResult(None, False, prep.doc_id, story or prep.doc_id, 0.0, f"{prep.fp:016x}"), top

    def _batch_near(self, prep: _Prepared, self_slot: int) -> list[tuple[int, float, bool]] | None:
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

    def _story_match(self, prep: _Prepared, top: npt.NDArray[np.intp], self_slot: int) -> str | None:
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
        best = _story_best(
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
        )
        return self._story[best] if best >= 0 else None

    def _insert(self, prep: _Prepared, top: npt.NDArray[np.intp], result: DedupResult) -> None:
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
            _count_terms(self._sketch, *prep.sketch_cells())
        if first_time and result.duplicate_of is None and result.cluster_id == prep.doc_id and prep.cells:
            # lines count once per cluster: a reprinted paragraph is not chrome, a line on many articles is
            crossed = _count_lines(self._line_counts, np.asarray(prep.cells, dtype=np.intp))
            if len(crossed) and self._crossed is not None:
                self._crossed.update(crossed.tolist())
        self._n_added += 1
        self._version += 1
        self._sketch_dirty = True
        if self._db is None:
            return
        self._write(
            prep.doc_id,
            (
                slot if self._db is None else None,
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

    def _write(self, doc_id: str, row: tuple[Any, ...] | None) -> None:
        if self._db is None:
            return
        self._pending[doc_id] = row
        if len(self._pending) >= self._flush_every:
            self.flush()

    def _save_sketch(self) -> None:
        assert self._db is not None
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('sketch', ?), ('n_added', ?), ('lines', ?)",
            (self._sketch.tobytes(), str(self._n_added).encode(), self._line_counts.tobytes()),
        )
        self._sketch_dirty = False

    def _load(self) -> None:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT id, fingerprint, sig, size, terms, published, source, cluster_id, story_id"
            " FROM docs ORDER BY seq"
        ).fetchall()
        n = len(rows)
        self._grow(n)
        term_keys: list[npt.NDArray[np.uint64]] = []
        term_vals: list[npt.NDArray[np.uint32]] = []
        term_days: list[npt.NDArray[np.int64]] = []
        for slot, (doc_id, fp, sig, size, terms, published, source, cid, sid) in enumerate(rows):
            self._ids.append(doc_id)
            self._pos[doc_id] = slot
            if len(sig) != NUM_PERM * 4:
                raise DedupError(f"document {doc_id}: signature of {len(sig)} bytes, expected {NUM_PERM * 4}")
            self._sigs[slot] = np.frombuffer(sig, dtype=np.uint32)
            self._sizes[slot] = size
            self._fps[slot] = np.uint64(int(fp, 16))
            ts = parse_published(published)
            self._ts[slot] = np.nan if ts is None else ts
            self._days[slot] = _day(ts)
            self._src[slot] = self._source_index(source)
            self._cluster.append(cid)
            self._story.append(sid)
            if size:
                self._by_fp.setdefault(int(fp, 16), slot)
            t = np.frombuffer(terms, dtype=np.uint64)
            term_keys.append(t)
            term_vals.append(np.full(len(t), slot, dtype=np.uint32))
            term_days.append(np.full(len(t), self._days[slot], dtype=np.int64))
        self._n = self._live = n
        self._alive[:n] = True
        if n:
            comparable = np.flatnonzero(self._sizes[:n] > 0).astype(np.uint32)  # empty documents are not
            bands = band_keys(self._sigs[comparable], BANDS)
            self._bands.load(bands.ravel(), np.repeat(comparable, BANDS))
            self._terms.load_terms(
                np.concatenate(term_keys), np.concatenate(term_vals), np.concatenate(term_days)
            )
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
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


# --------------------------------------------------------------------------------------------------------------
# Scrapy pipeline
# --------------------------------------------------------------------------------------------------------------
def dedup_article(index: DedupIndex, article: Article) -> DedupResult:
    """Add an article to the index and set its ``fingerprint``, ``duplicate_of``, ``cluster_id`` and ``story_id``."""
    result = index.add(
        article.id,
        article.search_text or article.text,
        title=article.search_title or article.title,
        published=article.published,
        url=article.url,
        source=article.source,
        normalized=bool(article.search_text),
    )
    _apply(article, result)
    return result


def _apply(article: Article, result: DedupResult) -> None:
    article.fingerprint = result.fingerprint
    article.duplicate_of = result.duplicate_of
    article.cluster_id = result.cluster_id
    article.story_id = result.story_id


class DedupPipeline:
    """Marks duplicates, clusters and stories; drops an exact duplicate of another URL of the same source."""

    def __init__(self, data_dir: str | Path, stats: Any = None, settings: Any = None) -> None:
        self.data_dir = Path(data_dir)
        self.path = DataPaths(self.data_dir).dedup
        self.stats = stats
        self.settings = (
            settings  # techscout Settings (to open the store for a rebuild), if the crawl has them
        )
        self.index: DedupIndex | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> DedupPipeline:
        from scrapy.exceptions import NotConfigured

        data = crawler.settings.get("TECHSCOUT_DATA")
        if not data:
            raise NotConfigured("TECHSCOUT_DATA is not set")
        return cls(data, getattr(crawler, "stats", None), crawler.settings.get("TECHSCOUT_SETTINGS"))

    def open_spider(self) -> None:
        missing = not self.path.exists()
        try:
            self.index = DedupIndex.open(self.path)
        except DedupError as exc:  # a damaged file is a lost one: set it aside and rebuild
            aside = self.path.with_name(f"{self.path.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            log.warning("%s; moved to %s, rebuilding", exc, aside.name)
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            missing = True
            self.index = DedupIndex.open(self.path)
        if missing:
            n = self._rebuild_from_store(self.index)
            if n:
                log.info("duplicate index rebuilt from the store: %d documents", n)

    def _rebuild_from_store(self, index: DedupIndex) -> int:
        """Rebuild a lost duplicate index from the documents in the search backend."""
        try:
            from core.settings import load_settings
            from search.backends import open_backend

            settings = self.settings or load_settings(data=str(self.data_dir))
            if settings.backend == "embedded" and not (DataPaths(self.data_dir).store).exists():
                return 0  # a new data directory: nothing to rebuild from
            backend = open_backend(settings)
        except (ImportError, TechscoutError) as exc:
            log.warning("duplicate index not rebuilt: the store cannot be opened: %s", exc)
            return 0
        try:
            return index.rebuild(backend.iter_articles())
        finally:
            backend.close()

    def close_spider(self) -> None:
        if self.index is not None:
            self.index.close()
            self.index = None

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.index is None:
            self.open_spider()
        assert self.index is not None
        text = item.search_text or item.text
        title = item.search_title or item.title
        probe = self.index.lookup(
            item.id,
            text,
            title=title,
            published=item.published,
            url=item.url,
            source=item.source,
            normalized=bool(item.search_text),
        )
        if probe.duplicate_of is not None:
            self._count()
            if probe.exact and self.index.source_of(probe.duplicate_of) == item.source:
                from scrapy.exceptions import DropItem

                raise DropItem(
                    f"duplicate: {item.url} has the same text as {probe.duplicate_of} ({item.source})"
                )
        dedup_article(self.index, item)
        return item

    def _count(self) -> None:
        if self.stats is not None:
            self.stats.inc_value("techscout/duplicates")


