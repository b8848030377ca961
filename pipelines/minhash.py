"""Text fingerprints for duplicate detection: the dedup form of a text, exact fingerprints, one-permutation
MinHash signatures with LSH band keys, and the salient terms used to group articles into stories.

Everything here is a pure function over strings and numpy arrays; :mod:`pipelines.dedup` builds the index.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from itertools import compress

import numba
import numpy as np
import numpy.typing as npt

from pipelines.normalize import normalize_text

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]

NUM_PERM = 128  # signature length (one-permutation MinHash bins)
SHINGLE = 5  # characters per shingle

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NOT_WORD = re.compile(rf"[^0-9a-z{_CJK}]+")
_SENTENCE_PUNCT = re.compile(r"[。！？；，,.!?;:：]")
_WORD_RANGES = (
    (0x30, 0x39),
    (0x61, 0x7A),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
)  # = _NOT_WORD's
_PUNCT_CODES = np.array(sorted(ord(c) for c in "。！？；，,.!?;:："), dtype=np.uint32)  # = _SENTENCE_PUNCT's
_SHORT_LINE = 16  # a line with fewer word characters and no sentence punctuation is navigation chrome

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(0x100000001B3)
_EMPTY = np.uint32(0xFFFFFFFF)


def strip_text(text: str) -> str:
    """Lower-cased letters, digits and CJK only (no punctuation, no whitespace)."""
    return _NOT_WORD.sub("", text.lower())


def strip_many(texts: list[str]) -> list[str]:
    """:func:`strip_text` of each text, the characters of all of them classified at once."""
    joined = "\n".join(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    try:
        cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # lone surrogates
        return [strip_text(t) for t in texts]
    return strip_spans(joined, cps, starts, lengths)


def strip_spans(
    text: str, cps: U32, starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> list[str]:
    """:func:`strip_text` of each part of ``text`` (``cps``: its code points) from ``starts`` of ``lengths``."""
    chars, ends, ok = _word_chars(cps, _NO_CPS, starts, lengths, _lowered_words())
    if not ok:  # a character beyond the table: the text lower-cased first
        low = text.lower()
        if len(low) != len(cps):  # a character lower-cased into several
            return [
                strip_text(text[a : a + n]) for a, n in zip(starts.tolist(), lengths.tolist(), strict=True)
            ]
        low_cps = np.frombuffer(low.encode("utf-32-le"), dtype=np.uint32)
        chars, ends, ok = _word_chars(cps, low_cps, starts, lengths, _lowered_words())
    out = chars.tobytes().decode("utf-32-le")
    bounds = ends.tolist()
    return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@numba.njit(cache=True, nogil=True)
def _word_chars(
    cps: U32, low_cps: U32, starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64], lowered: U32
) -> tuple[U32, npt.NDArray[np.int64], bool]:
    """The lower-cased word characters of the parts of ``cps`` from ``starts`` of ``lengths``, one after the
    other, and where each part's start in them (one more entry, the end). The lower case is ``low_cps`` where
    given, else ``lowered`` (:func:`_lowered_words`); without ``low_cps``, a code point the table cannot answer
    stops the pass (the flag is false)."""
    chars = np.empty(int(lengths.sum()), dtype=np.uint32)
    ends = np.zeros(len(lengths) + 1, dtype=np.int64)
    given = len(low_cps) > 0
    m = 0
    for t in range(len(lengths)):
        for j in range(starts[t], starts[t] + lengths[t]):
            c = _lower_word(cps, low_cps, given, lowered, j)
            if c == _MULTI:
                return chars[:0], ends, False
            if c:
                chars[m] = c
                m += 1
        ends[t + 1] = m
    return chars[:m], ends, True


def content_lines(norm: str) -> list[str]:
    """The lines of a normalised text that carry content: navigation-like lines (short, no sentence
    punctuation) and empty lines are left out."""
    return stripped_lines(norm)[0]


def stripped_lines(norm: str) -> tuple[list[str], list[str]]:
    """:func:`content_lines` of a normalised text and each of them stripped (:func:`strip_text`)."""
    kept: list[str] = []
    stripped: list[str] = []
    for line in norm.split("\n"):
        words = _NOT_WORD.sub("", line)
        if not words:
            continue
        if len(words) < _SHORT_LINE and not _SENTENCE_PUNCT.search(line):
            continue
        kept.append(line)
        low = line.lower()
        stripped.append(words if low == line else _NOT_WORD.sub("", low))
    return kept, stripped


def stripped_lines_many(norms: list[str]) -> list[tuple[list[str], list[str]]]:
    """:func:`stripped_lines` of each normalised text, the characters of all of them classified at once."""
    big = "\n".join(norms)
    try:
        cps = np.frombuffer(big.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # lone surrogates
        return [stripped_lines(n) for n in norms]
    keep, chars, ok = _content_chars(cps, _NO_CPS, _CLASS_TABLE, _lowered_words(), _SHORT_LINE)
    if not ok:  # a character beyond the table: the texts lower-cased first
        low = big.lower()
        if len(low) != len(cps):  # a character lower-cased into several: line by line
            return [stripped_lines(n) for n in norms]
        low_cps = np.frombuffer(low.encode("utf-32-le"), dtype=np.uint32)
        keep, chars, ok = _content_chars(cps, low_cps, _CLASS_TABLE, _lowered_words(), _SHORT_LINE)
    every_stripped = chars.tobytes().decode("utf-32-le").split("\n")  # of the kept lines, in order
    keep_list = keep.tolist()
    out: list[tuple[list[str], list[str]]] = []
    at = 0
    done = 0
    for norm in norms:
        lines = norm.split("\n")
        kept = list(compress(lines, keep_list[at : at + len(lines)]))
        out.append((kept, every_stripped[done : done + len(kept)]))
        at += len(lines)
        done += len(kept)
    return out


@numba.njit(cache=True, nogil=True)
def _content_chars(
    cps: U32, low_cps: U32, classes: npt.NDArray[np.uint8], lowered: U32, short: int
) -> tuple[npt.NDArray[np.bool_], U32, bool]:
    """Per line of the code points ``cps`` (lines end at U+000A): whether it carries content (word characters,
    and either ``short`` of them or a sentence punctuation mark; ``classes``: :data:`_CLASS_TABLE`); and the
    lower-cased word characters of those lines (as in :func:`_word_chars`), a line break after each line but
    the last; false if the table could not answer."""
    n = len(cps)
    n_lines = 1
    for i in range(n):
        if cps[i] == 10:
            n_lines += 1
    keep = np.zeros(n_lines, dtype=np.bool_)
    chars = np.empty(n + n_lines, dtype=np.uint32)
    given = len(low_cps) > 0
    any_kept = False
    line = 0
    begin = 0
    m = 0
    for i in range(n + 1):
        if i < n and cps[i] != 10:
            continue
        words = 0
        has_punct = False
        start = m + 1 if any_kept else 0  # a line break before every kept line's characters but the first's
        m_line = start
        for j in range(begin, i):
            if _is_word(cps[j]):  # its own lower case
                words += 1
                if not given:
                    chars[m_line] = cps[j]
                    m_line += 1
                    continue
            elif classes[min(cps[j], 0xFFFF)] == 2:
                has_punct = True
            c = _lower_word(cps, low_cps, given, lowered, j)
            if c == _MULTI:
                return keep, chars[:0], False
            if c:
                chars[m_line] = c
                m_line += 1
        if words > 0 and (words >= short or has_punct):
            keep[line] = True
            if any_kept:
                chars[m] = 10
            any_kept = True
            m = m_line
        line += 1
        begin = i + 1
    return keep, chars[:m], True


@numba.njit(cache=True, nogil=True)
def _lower_word(cps: U32, low_cps: U32, given: bool, lowered: U32, j: int) -> np.uint32:
    """The lower case of code point ``j`` if it is a word character, else 0 (:data:`_MULTI`: not known)."""
    if given:
        c = low_cps[j]
        return c if _is_word(c) else np.uint32(0)
    c = cps[j]
    return c if _is_word(c) else lowered[min(c, 0x10000)]


@numba.njit(cache=True, nogil=True)
def _is_word(c: np.uint32) -> bool:
    """Whether a code point is a word character (:data:`_WORD_RANGES`)."""
    return bool(
        np.uint32(0x4E00) <= c <= np.uint32(0x9FFF)
        or np.uint32(0x61) <= c <= np.uint32(0x7A)
        or np.uint32(0x30) <= c <= np.uint32(0x39)
        or np.uint32(0x3400) <= c <= np.uint32(0x4DBF)
        or np.uint32(0xF900) <= c <= np.uint32(0xFAFF)
    )


def _table(ranges: list[tuple[int, int]]) -> npt.NDArray[np.bool_]:
    """A code point → bool table over the Basic Multilingual Plane (the last entry, U+FFFF, is False)."""
    table = np.zeros(0x10000, dtype=np.bool_)
    for lo, hi in ranges:
        table[lo : hi + 1] = True
    table[0xFFFF] = False
    return table


_WORD_TABLE = _table([(0x30, 0x39), (0x61, 0x7A), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)])
_PUNCT_TABLE = _table([(ord(c), ord(c)) for c in "。！？；，,.!?;:："])  # _SENTENCE_PUNCT
_CLASS_TABLE = _WORD_TABLE.astype(np.uint8) | (
    _PUNCT_TABLE.astype(np.uint8) << np.uint8(1)
)  # 1 word, 2 punct
_MULTI = np.uint32(0xFFFFFFFF)
_NO_CPS = np.zeros(0, dtype=np.uint32)


@lru_cache(maxsize=1)
def _lowered_words() -> U32:
    """Code point → the code point of its lower case (``str.lower``) if that is one word character, 0 if it is
    not a word character, :data:`_MULTI` if it is several characters; over the Basic Multilingual Plane, and
    one last entry for every code point beyond it (0 when none of them lower-cases into a word character or
    into several characters)."""
    lows = list(map(str.lower, _decode_codepoints(np.arange(0x10000, dtype=np.uint32))))
    single = np.fromiter(map(len, lows), dtype=np.int64, count=len(lows)) == 1
    low_cps = _surrogate_codepoints("".join(compress(lows, single.tolist())))
    table = np.full(0x10001, _MULTI, dtype=np.uint32)
    table[:0x10000][single] = np.where(_WORD_TABLE[low_cps], low_cps, np.uint32(0))
    beyond = _decode_codepoints(np.arange(0x10000, 0x110000, dtype=np.uint32))
    low = beyond.lower()
    if len(low) == len(beyond) and not _WORD_TABLE[np.minimum(_surrogate_codepoints(low), 0xFFFF)].any():
        table[0x10000] = 0
    return table


def _surrogate_codepoints(text: str) -> U32:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _decode_codepoints(cps: U32) -> str:
    return cps.tobytes().decode("utf-32-le", "surrogatepass")


def dedup_text(text: str, *, normalized: bool = False, lines: list[str] | None = None) -> str:
    """The form of a text that duplicates are compared on.

    The search normalisation (simplified script, no pinyin annotations, NFKC width; skipped when ``normalized``),
    then :func:`content_lines` (or the ``lines`` given), lower-cased, with everything but letters, digits and CJK
    removed.
    """
    norm = text if normalized else normalize_text(text)
    if not norm:
        return ""
    out = strip_text("".join(content_lines(norm) if lines is None else lines))
    return dedup_text_of(norm, out)


def dedup_text_of(norm: str, joined: str) -> str:
    """:func:`dedup_text` from the normalised text and its stripped content lines joined."""
    if len(joined) < 20:  # a text made only of short lines (a title, a list): keep all of it
        return strip_text(norm)
    return joined


def fingerprint(dtext: str) -> str:
    """Exact-duplicate fingerprint of a dedup text: 16 hex digits of BLAKE2b."""
    return hashlib.blake2b(dtext.encode("utf-8"), digest_size=8).hexdigest()


def _mix(h: U64) -> U64:
    """splitmix64 finaliser, element-wise (wrapping uint64 arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _mix1(h: np.uint64) -> np.uint64:
    """:func:`_mix` of one value."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _gram_hash(cps: U32, at: int, k: int) -> np.uint64:
    """Hash of the ``k`` code points of ``cps`` from ``at``: polynomial in :data:`_P`, plus ``k``, mixed."""
    return _mix1(_gram_poly(cps, at, k) + np.uint64(k))


@numba.njit(cache=True, nogil=True)
def _gram_poly(cps: U32, at: int, k: int) -> np.uint64:
    """The ``k`` code points of ``cps`` from ``at`` as a polynomial in :data:`_P` (wrapping uint64)."""
    h = np.uint64(cps[at])
    for j in range(1, k):
        h = h * _P + np.uint64(cps[at + j])
    return h


@numba.njit(cache=True, nogil=True)
def _rolling(cps: U32, k: int) -> U64:
    """The hash of every ``k`` consecutive code points (:func:`_gram_hash`)."""
    n = len(cps) - k + 1
    out = np.empty(max(n, 0), dtype=np.uint64)
    for i in range(n):
        out[i] = _gram_hash(cps, i, k)
    return out


def _codepoints(text: str) -> U32:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def gram_hashes(dtext: str, k: int) -> U64:
    """64-bit hashes of every character ``k``-gram of ``dtext`` (in order, with repeats)."""
    if not dtext:
        return np.zeros(0, dtype=np.uint64)
    cps = _codepoints(dtext)
    return _rolling(cps, min(k, len(cps)))


def signature(dtext: str, num_perm: int = NUM_PERM, k: int = SHINGLE) -> tuple[U32, int]:
    """One-permutation MinHash signature of the ``k``-shingle set of ``dtext`` and the set's size.

    Each shingle hash falls in one of ``num_perm`` bins (its top bits) and each bin keeps its minimum (the next
    32 bits); empty bins borrow the value of the next non-empty bin, rehashed with the distance
    ("densification"), so that the fraction of equal bins estimates the Jaccard similarity.
    """
    sigs, sizes = signatures([dtext], num_perm, k)
    return sigs[0], int(sizes[0])


def signatures(
    dtexts: list[str], num_perm: int = NUM_PERM, k: int = SHINGLE
) -> tuple[U32, npt.NDArray[np.int64]]:
    """:func:`signature` of each text, all computed together: a ``(len(dtexts), num_perm)`` matrix and the
    shingle-set sizes.

    One compiled pass per text hashes its shingles, keeps each bin's minimum and counts the distinct shingles
    by the top 54 bits of their hashes (two shingles of one text that differ only in the low 10 bits of their
    hash count once, about once in 10^10 texts), then densifies.
    """
    n_docs = len(dtexts)
    bits = int(num_perm - 1).bit_length()
    if num_perm != 1 << bits:
        sigs = np.empty((n_docs, num_perm), dtype=np.uint32)
        sizes = np.zeros(n_docs, dtype=np.int64)
        for i in range(n_docs):
            sigs[i], sizes[i] = _signature_general(gram_hashes(dtexts[i], k), num_perm)
        return sigs, sizes
    lengths = np.fromiter((len(d) for d in dtexts), dtype=np.int64, count=n_docs)
    return _signature_rows(_codepoints("".join(dtexts)), lengths, k, bits)


@numba.njit(cache=True, nogil=True)
def _signature_rows(
    cps: U32, lengths: npt.NDArray[np.int64], k: int, bits: int
) -> tuple[U32, npt.NDArray[np.int64]]:
    """Signatures (``1 << bits`` bins) and shingle-set sizes of the texts laid end to end in ``cps``."""
    num_perm = 1 << bits
    sigs = np.full((len(lengths), num_perm), _EMPTY, dtype=np.uint32)
    sizes = np.zeros(len(lengths), dtype=np.int64)
    longest = 16
    for length in lengths:
        while longest < 4 * length:
            longest <<= 1
    # the set of a text's shingle keys (54 bits): key << 10 | the text's stamp (1 to 1023) in its first slots
    seen = np.zeros(longest, dtype=np.uint64)
    stamp = np.uint64(0)
    start = 0
    for d in range(len(lengths)):
        length = lengths[d]
        kk = min(k, length)
        cap = 16
        while cap < 4 * length:
            cap <<= 1
        mask = np.uint64(cap - 1)
        stamp += np.uint64(1)
        if stamp == np.uint64(1024):
            seen[:] = 0
            stamp = np.uint64(1)
        row = sigs[d]
        distinct = 0
        lead = _P ** np.uint64(kk - 1) if kk else np.uint64(0)  # weight of a gram's first code point
        poly = np.uint64(0)
        for i in range(length - kk + 1 if length else 0):
            if i == 0:
                poly = _gram_poly(cps, start, kk)
            else:  # the next gram's polynomial from the last one (wrapping, hence exact)
                poly = (poly - np.uint64(cps[start + i - 1]) * lead) * _P + np.uint64(cps[start + i + kk - 1])
            h = _mix1(poly + np.uint64(kk))
            key = h >> np.uint64(10)
            s = key & mask
            while True:
                entry = seen[s]
                if entry & np.uint64(1023) != stamp:
                    seen[s] = (key << np.uint64(10)) | stamp
                    distinct += 1
                    break
                if entry >> np.uint64(10) == key:
                    break
                s = (s + np.uint64(1)) & mask
            b = np.int64(0)
            if bits:
                b = np.int64(h >> np.uint64(64 - bits))
            v = np.uint32((h >> np.uint64(32 - bits)) & np.uint64(0xFFFFFFFF))
            if v == _EMPTY:
                v = _EMPTY - np.uint32(1)
            row[b] = min(row[b], v)
        sizes[d] = distinct
        if distinct:
            _densify_row(row, num_perm)
        start += length
    return sigs, sizes


@numba.njit(cache=True, nogil=True)
def _densify_row(sig: U32, num_perm: int) -> None:
    """:func:`_densify` in place."""
    src = -1
    for i in range(num_perm):
        if sig[i] != _EMPTY:
            src = i
            break
    if src < 0:
        return
    for i in range(num_perm - 1, -1, -1):
        if sig[i] != _EMPTY:
            src = i
            continue
        dist = src - i if src > i else src - i + num_perm
        mixed = _mix1(np.uint64(sig[src]) + np.uint64(dist) * np.uint64(0x9E3779B97F4A7C15))
        v = np.uint32(mixed >> np.uint64(32))
        sig[i] = v - np.uint32(1) if v == _EMPTY else v


def _signature_general(hashes: U64, num_perm: int) -> tuple[U32, int]:
    sig = np.full(num_perm, _EMPTY, dtype=np.uint32)
    hashes = np.unique(hashes)
    if len(hashes) == 0:
        return sig, 0
    bits = int(num_perm - 1).bit_length()
    bins = ((hashes >> np.uint64(64 - bits)) % np.uint64(num_perm)).astype(np.intp)
    vals = ((hashes >> np.uint64(64 - bits - 32)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    vals[vals == _EMPTY] -= np.uint32(1)
    np.minimum.at(sig, bins, vals)
    return _densify(sig, num_perm), int(len(hashes))


def _densify(sig: U32, num_perm: int) -> U32:
    """Fill the empty bins of a signature in place (and return it)."""
    empty = sig == _EMPTY
    if empty.any():
        full = np.flatnonzero(~empty)
        holes = np.flatnonzero(empty)
        pos = np.searchsorted(full, holes) % len(full)
        src = full[pos]
        dist = (src - holes) % num_perm
        mixed = _mix(sig[src].astype(np.uint64) + dist.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        sig[holes] = (mixed >> np.uint64(32)).astype(np.uint32)
        sig[sig == _EMPTY] -= np.uint32(1)
    return sig


def band_keys(sig: npt.NDArray[np.uint32], bands: int) -> U64:
    """64-bit LSH keys, one per band of a signature (the band's rows hashed with the band number).

    ``sig`` is one signature (result shape ``(bands,)``) or a matrix of signatures (shape ``(n, bands)``).
    """
    rows = sig.shape[-1] // bands
    m = sig[..., : bands * rows].reshape(*sig.shape[:-1], bands, rows).astype(np.uint64)
    h = np.broadcast_to(
        np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15), m.shape[:-1]
    ).copy()
    for j in range(rows):
        h = _mix(h ^ m[..., j]) * _P
    return _mix(h)


def similarity(sig: U32, others: npt.NDArray[np.uint32]) -> npt.NDArray[np.float64]:
    """Estimated Jaccard similarity of ``sig`` with each row of ``others``."""
    if others.ndim == 1:
        others = others[None, :]
    return np.asarray((others == sig[None, :]).mean(axis=1), dtype=np.float64)


def containment(
    jaccard: npt.NDArray[np.float64], size: int, sizes: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """How much of the smaller set lies in the larger, from an estimated Jaccard and the two set sizes."""
    inter = jaccard / (1.0 + jaccard) * (size + sizes)
    smaller = np.maximum(np.minimum(sizes, size), 1)
    return np.asarray(np.minimum(inter / smaller, 1.0), dtype=np.float64)
