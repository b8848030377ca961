"""Sorted key → document-slot tables: the LSH band table and the story-term table of the index.

Each has three levels: a sorted main table, a sorted table of recent entries (merged into the main one when it
reaches an eighth of it) and the newest single additions (moved into the recent table 8,192 at a time). Merges
are linear merges of sorted arrays; lookups gallop through the sorted tables (:mod:`pipelines.dedup.kernels`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from pipelines.dedup.kernels import (
    CHAIN_BITS,
    DAY_BASE,
    DAY_BITS,
    DAY_MAX,
    NODAY,
    chain_add,
    lookup_sorted_keys,
    search,
    sort_pairs,
)
from pipelines.dedup.rules import STORY_DAYS

_TERM_PART = ~np.uint64((1 << (DAY_BITS + 1)) - 1)  # the term's bits kept in a key (with its lowest bit)


class SlotTable:
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
        """The tables hold these entries (and nothing else); the arrays given are sorted in place."""
        self.keys, self.vals = sort_pairs(keys, vals)
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
        self.rkeys, self.rvals = merge_sorted(self.rkeys, self.rvals, keys, vals)

    def _newest_to_recent(self) -> None:
        if self.nbuf:
            bk = np.fromiter((k for k, vs in self.buf.items() for _ in vs), dtype=np.uint64, count=self.nbuf)
            bv = np.fromiter((v for vs in self.buf.values() for v in vs), dtype=np.uint32, count=self.nbuf)
            self.buf, self.nbuf = {}, 0
            self.rkeys, self.rvals = merge_sorted(self.rkeys, self.rvals, bk, bv)

    def settle(self, alive: npt.NDArray[np.bool_]) -> None:
        """Move the newest entries into the recent table, and that into the main table once it is large."""
        self._newest_to_recent()
        if len(self.rkeys) > max(1 << 16, len(self.keys) // 8):
            self.merge(alive)

    def merge(self, alive: npt.NDArray[np.bool_]) -> None:
        """Move every entry into the main table (dropping the entries of documents removed since the last
        merge)."""
        self._newest_to_recent()
        keys, vals = merge_sorted(self.keys, self.vals, self.rkeys, self.rvals, presorted=True)
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
        parts = [lookup(self.keys, self.vals, keys), lookup(self.rkeys, self.rvals, keys)]
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


def day_code(day: int) -> int:
    """A publication day's code in term-table keys: 0 undated, else 1..``DAY_MAX`` in day order (clamped,
    which keeps the order: a window of days is a window of codes)."""
    if day == NODAY:
        return 0
    return min(max(day - DAY_BASE, 1), DAY_MAX)


def term_prefix(terms: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The part of a term-table key that names the term: every key of one term is ``prefix | day code``."""
    return (terms & _TERM_PART) | ((terms & np.uint64(1)) << np.uint64(DAY_BITS))


class TermTable(SlotTable):
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
        self.nhead = np.full(1 << CHAIN_BITS, -1, dtype=np.int32)

    def load(self, keys: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32]) -> None:
        super().load(keys, vals)
        self.nhead.fill(-1)

    def add_terms(
        self, prefixes: npt.NDArray[np.uint64], val: int, day: int, alive: npt.NDArray[np.bool_]
    ) -> None:
        """``val`` under the terms (given by their :func:`term_prefix`) of a document published on ``day``."""
        need = self.nbuf + len(prefixes)
        if need > len(self.nkeys):
            cap = max(need, 2 * len(self.nkeys))
            for name in ("nkeys", "nvals", "nnext"):
                old = getattr(self, name)
                new = np.zeros(cap, dtype=old.dtype)
                new[: self.nbuf] = old[: self.nbuf]
                setattr(self, name, new)
        chain_add(self.nkeys, self.nvals, self.nnext, self.nhead, self.nbuf, prefixes, day_code(day), val)
        self.nbuf = need
        if self.nbuf > 1 << 13 and not self.hold:
            self.settle(alive)

    def _newest_to_recent(self) -> None:
        if self.nbuf:
            bk, bv = self.nkeys[: self.nbuf].copy(), self.nvals[: self.nbuf].copy()
            self.nbuf = 0
            self.nhead.fill(-1)
            self.rkeys, self.rvals = merge_sorted(self.rkeys, self.rvals, bk, bv)

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
        its :func:`term_prefix`; the term's document published on the day in ``days``): in the main table the
        window's and the undated entries' first ends, then their last ends; then the same in the recent table."""
        undated = days == NODAY
        lo = np.where(undated, 0, np.clip(days - STORY_DAYS - DAY_BASE, 1, DAY_MAX)).astype(np.uint64)
        hi = np.where(undated, DAY_MAX, np.clip(days + STORY_DAYS - DAY_BASE, 1, DAY_MAX)).astype(
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
                    out[order, base + col] = search(table, keys[order], side == "right")
        return out

    def load_terms(
        self, terms: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32], days: npt.NDArray[np.int64]
    ) -> None:
        codes = np.where(days == NODAY, 0, np.clip(days - DAY_BASE, 1, DAY_MAX)).astype(np.uint64)
        self.load(term_prefix(terms) | codes, vals)


def merge_sorted(
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
    at = search(keys, new_keys, True)
    return np.insert(keys, at, new_keys), np.insert(vals, at, new_vals)


def lookup(
    table: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32], keys: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
    """Entries of a sorted table under ``keys``: the index in ``keys`` of each (in no particular order) and its
    value."""
    if not len(table) or not len(keys):
        return np.zeros(0, dtype=np.intp), vals[:0]
    order = np.argsort(keys)  # searching in key order walks the table once: far fewer cache misses
    at, found = lookup_sorted_keys(table, vals, keys[order])
    return order[at], found
