"""The dedup stage's decisions, each written once: every parameter, the near-duplicate rule, which match a
document is marked with, which member heads a cluster, how a publication date is read.

Everything that decides whether two documents are duplicates or one story calls these (the index, the batch
path, and the shared index of distributed crawls); the compiled passes get the parameters as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from core import clock
from pipelines.dedup.kernels import NODAY, near_many, verify

# -- signatures -----------------------------------------------------------------------------------------------
NUM_PERM = 128  # signature length (one-permutation MinHash bins)
SHINGLE = 5  # characters per shingle
BANDS = 64  # LSH bands of NUM_PERM // BANDS rows each (64 × 2: a pair at Jaccard 0.25 is found 98% of the time)
SHORT_TEXT = 50  # dedup texts shorter than this are compared together with their headline
SHORT_LINE = 16  # a line with fewer word characters and no sentence punctuation is navigation chrome

# -- learnt site chrome ---------------------------------------------------------------------------------------
BOILERPLATE_MIN = 3  # a line seen in this many clusters is site chrome: left out of signatures
LINE_BITS = 20  # the chrome counters: 2**LINE_BITS one-byte cells, keyed by a hash of the line

# -- stories --------------------------------------------------------------------------------------------------
STORY_TERMS = 24  # salient terms kept per document (and every day mention, up to 4)
STORY_MIN_SHARED = 4  # shared salient terms for two dated articles to be one story
STORY_MIN_SHARED_DAY = 2  # ... when one of them is the same day mention (1月18日)
STORY_MIN_SHARED_UNDATED = 8  # ... when either has no publication date
STORY_DAYS = 3  # publication days apart at most for one story
STORY_COMMON = 0.02  # share of documents above which a term stops being salient
STORY_DAMP_FROM = 200  # ... counted once the index has seen this many documents
SKETCH_BITS = 20  # document-frequency sketch of salient terms: 2 rows of 2**SKETCH_BITS counters
MIN_IDF = 7.0  # dictionary words more common than this are not salient
QUOTED_IDF = 12.0  # the weight of a quoted name (“科创中国”, 《…行动计划》)
DAY_IDF = 9.0  # the weight of a day mention (1月18日)
LEAD_CHARS = 300  # characters of the (stripped) text that count as the lead
QUOTED_SCAN = 4000  # characters of the text searched for quoted names


# -- near-duplicates ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NearDuplicate:
    """When a candidate (found through the LSH bands, or by its fingerprint) is a near-duplicate of a document:
    the same fingerprint, or an estimated Jaccard similarity of at least ``jaccard_min``, or — a cut reprint —
    an estimated containment of the shorter text in the longer of at least ``containment_min`` together with a
    Jaccard of at least ``containment_jaccard_min``. Estimates come from the two MinHash signatures (the share
    of equal bins) and the two shingle-set sizes."""

    jaccard_min: float
    containment_min: float
    containment_jaccard_min: float

    def accepts(
        self,
        jaccard: npt.NDArray[np.float64],
        same_fingerprint: npt.NDArray[np.bool_],
        containment: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.bool_]:
        """Which candidates are near-duplicates, from their estimated Jaccard, whether their fingerprint is the
        same, and their estimated containment (:func:`pipelines.dedup.minhash.containment`)."""
        result: npt.NDArray[np.bool_] = near_many(
            np.asarray(jaccard, dtype=np.float64),
            np.asarray(same_fingerprint, dtype=np.bool_),
            np.asarray(containment, dtype=np.float64),
            self.jaccard_min,
            self.containment_min,
            self.containment_jaccard_min,
        )
        return result

    def verify(
        self,
        sig: npt.NDArray[np.uint32],
        size: int,
        fp: int,
        sigs: npt.NDArray[np.uint32],
        sizes: npt.NDArray[np.int64],
        fps: npt.NDArray[np.uint64],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """One document (signature, shingle-set size, fingerprint as an integer) against candidates (their
        signature rows, sizes and fingerprints): per candidate the estimated Jaccard, whether it has the same
        fingerprint, and whether it is a near-duplicate."""
        n = len(sigs)
        return self.verify_rows(
            np.ascontiguousarray(sig, dtype=np.uint32).reshape(1, -1),
            np.array([size], dtype=np.int64),
            np.array([fp], dtype=np.uint64),
            np.zeros(n, dtype=np.intp),
            np.ascontiguousarray(sigs, dtype=np.uint32).reshape(n, -1),
            np.asarray(sizes, dtype=np.int64),
            np.asarray(fps, dtype=np.uint64),
            np.arange(n, dtype=np.intp),
        )

    def verify_rows(
        self,
        sigs: npt.NDArray[np.uint32],
        sizes: npt.NDArray[np.int64],
        fps: npt.NDArray[np.uint64],
        rows: npt.NDArray[np.intp],
        other_sigs: npt.NDArray[np.uint32],
        other_sizes: npt.NDArray[np.int64],
        other_fps: npt.NDArray[np.uint64],
        other_rows: npt.NDArray[np.intp],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """:meth:`verify` of many pairs at once: row ``rows[i]`` of the first matrix (with its size and
        fingerprint) against row ``other_rows[i]`` of the second, the rows read in place."""
        result: tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]] = verify(
            sigs,
            sizes,
            fps,
            rows,
            other_sigs,
            other_sizes,
            other_fps,
            other_rows,
            self.jaccard_min,
            self.containment_min,
            self.containment_jaccard_min,
        )
        return result


#: the near-duplicate rule (JACCARD_MIN chosen on the benchmark's dev part: 0.45 loses 0.7 pt of recall, 0.35
#: gains no precision; the containment pair catches cut reprints)
NEAR_DUPLICATE = NearDuplicate(jaccard_min=0.4, containment_min=0.75, containment_jaccard_min=0.2)
# the rule's thresholds by name (the values are NEAR_DUPLICATE's)
JACCARD_MIN = NEAR_DUPLICATE.jaccard_min
CONTAINMENT_MIN = NEAR_DUPLICATE.containment_min
CONTAINMENT_JACCARD_MIN = NEAR_DUPLICATE.containment_jaccard_min


def best_match(near: Iterable[tuple[int, float, bool]]) -> tuple[int, float, bool] | None:
    """The duplicate a document is marked with, among its near-duplicates given as (order seen, estimated
    Jaccard, same fingerprint): an exact copy first, then the highest Jaccard, then the earliest seen. Returns
    (order seen, similarity, exact), the similarity 1.0 for an exact copy and otherwise the Jaccard rounded to 4
    places; None when there is none."""
    best: tuple[int, float, bool] | None = None
    for cand in near:
        if best is None or (2.0 if cand[2] else cand[1], -cand[0]) > (2.0 if best[2] else best[1], -best[0]):
            best = cand
    if best is None:
        return None
    seen, jaccard, exact = best
    return seen, round(1.0 if exact else jaccard, 4), exact


# -- dates and cluster heads ----------------------------------------------------------------------------------
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
        dt = dt.replace(tzinfo=clock.CHINA_OFFSET)
    return dt.timestamp()


def publication_day(ts: float | None) -> int:
    """The day (proleptic ordinal, in China) of a publication time; :data:`~pipelines.dedup.kernels.NODAY` when undated."""
    if ts is None or math.isnan(ts):
        return int(NODAY)
    return datetime.fromtimestamp(ts, clock.CHINA_OFFSET).date().toordinal()


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
