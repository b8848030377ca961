"""What the index needs of a document that does not depend on the other documents, for many documents at
once: its dedup text and fingerprint, its MinHash signature (without the lines known to be site chrome) and
band keys, its lines for the chrome counters, its publication day, and its candidate story terms.

:func:`document_keys` gives the keys of one text as the index computes them, for a duplicate index kept
elsewhere (the shared index of distributed crawls).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipelines.dedup.minhash import band_keys, signatures
from pipelines.dedup.rules import (
    BANDS,
    BOILERPLATE_MIN,
    LINE_BITS,
    SHORT_TEXT,
    SKETCH_BITS,
    parse_published,
    publication_day,
)
from pipelines.dedup.story import is_day_term, story_terms, story_terms_many
from pipelines.dedup.tables import term_prefix
from pipelines.dedup.text import dedup_text_of, fingerprint, strip_text, stripped_lines_many
from pipelines.normalize import normalize_text

Row = tuple[str, str, str, str | None, str, str]  # id, text, title, published, url, source


def _line_hash(line: str) -> int:
    """The 64-bit hash of a content line (its cell in the chrome counters: the low LINE_BITS bits)."""
    return int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=8).digest(), "little")


def sketch_rows(terms: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The cells of terms in the two rows of the document-frequency sketch."""
    mask = np.uint64((1 << SKETCH_BITS) - 1)
    r0 = (terms & mask).astype(np.intp)
    r1 = ((terms >> np.uint64(32)) & mask).astype(np.intp)
    return r0, r1


@dataclass
class Prepared:
    """A document prepared for the index (:func:`prepare_many`), and what a batch found for it at once."""

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
    # (:meth:`pipelines.dedup.tables.TermTable.ranges`)
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
            self._cells = sketch_rows(self.terms()[0])
        return self._cells

    def term_prefixes(self) -> npt.NDArray[np.uint64]:
        """The term-table key prefix (:func:`term_prefix`) of each candidate story term."""
        if self._prefixes is None:
            self._prefixes = term_prefix(self.terms()[0])
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


def prepare_many(
    rows: list[Row],
    normalized: bool = False,
    *,
    line_counts: npt.NDArray[np.uint8] | None = None,
    with_terms: bool = False,
) -> list[Prepared]:
    """Everything about each (id, text, title, published, url, source) that does not depend on the other
    documents: dedup text, fingerprint, signature (without the lines ``line_counts``, the index's chrome
    counters, know as chrome), band keys, and with ``with_terms`` the candidate story terms. ``normalized``:
    the texts and titles already are in their search form (:func:`pipelines.normalize.normalize_text`)."""
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
        set(np.flatnonzero(line_counts[flat] >= BOILERPLATE_MIN).tolist())
        if flat and line_counts is not None
        else set()
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
    out: list[Prepared] = []
    for i, (doc_id, _, _, published, url, source) in enumerate(rows):
        ts = parse_published(published)
        out.append(
            Prepared(
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
                day=publication_day(ts),
                url=url,
                source=source,
                published=published,
                _terms=None if terms is None else terms[i],
            )
        )
    return out


@dataclass(frozen=True)
class DocumentKeys:
    """The keys of a document's text as the index computes them."""

    fingerprint: str  # exact-duplicate fingerprint (16 hex digits)
    signature: npt.NDArray[np.uint32]  # MinHash signature (NUM_PERM bins)
    size: int  # shingle-set size (0: nothing to compare, never a duplicate)
    bands: npt.NDArray[np.uint64]  # LSH band keys (BANDS of them)


def document_keys(text: str, *, title: str = "", normalized: bool = False) -> DocumentKeys:
    """The fingerprint, signature, shingle-set size and band keys of a document, as :class:`DedupIndex` gives
    them to a document before it has learnt any site chrome (a short body is keyed with its headline)."""
    prep = prepare_many([("", text, title, None, "", "")], normalized)[0]
    return DocumentKeys(f"{prep.fp:016x}", prep.sig, prep.size, prep.bands)
