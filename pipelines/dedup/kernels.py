"""Every compiled pass of the dedup stage (numba), in one module.

The kernels take arrays and numbers and return arrays and numbers; the parameters of the stage's rules
(:mod:`pipelines.dedup.rules`) reach them as arguments. They are compiled once per machine into numba's cache
(``cache=True``, see :mod:`pipelines.dedup.cache`), which numba keys by *this file*: a kernel that read a value
or called a function of another module would keep its stale compiled code when that module changed. So this
module imports nothing of the project, and everything a kernel reads is defined here (a test checks both).

Sections: text (code-point classes, lower case, content lines), hashing and signatures, quoted names and the
dictionary lookup of story terms, the index's sorted tables, verification of candidates, story matching.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
#: this file: numba's cache of the kernels, and the tables made with their hashes, are keyed by it
SOURCE = __file__

# -- text: word characters (letters, digits, CJK) -----------------------------------------------------------------
#: the code-point ranges of word characters (lower-case letters, digits, CJK); :func:`is_word` spells them out
WORD_RANGES = ((0x30, 0x39), (0x61, 0x7A), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_MULTI = np.uint32(0xFFFFFFFF)  # in a lower-case table: the character lower-cases into several

# -- hashing ------------------------------------------------------------------------------------------------------
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(0x100000001B3)  # the polynomial of gram hashes
_EMPTY = np.uint32(0xFFFFFFFF)  # an empty signature bin

# -- quoted names: _QUOTED's quote marks (a name runs from an opening mark to the first stop mark, which must
#    close it) -------------------------------------------------------------------------------------------------
_OPEN = ord("《")
_CLOSE = ord("》")
_STOPS = np.array([ord(c) for c in '“”"「」『』\n'], dtype=np.uint32)
_CLOSERS = np.array([ord(c) for c in '”"」』'], dtype=np.uint32)
_OPENERS = np.array([ord(c) for c in '“"「『'], dtype=np.uint32)

# -- the word table (pipelines.dedup.words) -----------------------------------------------------------------------
TAG_SHIFT = 11  # tags are filtered on their top 21 bits

# -- term-table keys (pipelines.dedup.tables) ---------------------------------------------------------------------
NODAY = np.iinfo(np.int32).min  # the day of an undated document
CHAIN_BITS = 15  # the newest term entries: chains by 2**CHAIN_BITS hashes of the term
DAY_BITS = 16  # term-table keys: the low bits hold the publication day (0: undated)
DAY_MAX = (1 << DAY_BITS) - 1
DAY_BASE = date(1950, 1, 1).toordinal() - 1  # day code 1; days outside the 179 years from it are clamped


# -- how the kernels run --------------------------------------------------------------------------------------------
#: the ahead-of-time compiled library of the kernels (:func:`pipelines.dedup.cache.compiled_library`), when one
#: was built for this file: its kernels are called directly, and numba (with LLVM, 120 MB of a process's
#: memory) is never imported; else each kernel is compiled by numba on first use, from its cache
LIBRARY: ModuleType | None = None


class Kernel:
    """A function of this module compiled on first use: the ahead-of-time library's export of the same name
    when :data:`LIBRARY` has one, else numba's ``njit(cache=True, nogil=True)`` of the function (every kernel
    of the module is made a numba dispatcher at once, :func:`jit`, so that kernels calling kernels compile)."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = py_func
        self.options = options
        self.__name__ = py_func.__name__
        self.__doc__ = py_func.__doc__
        self._impl: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        impl = self._impl
        if impl is None:
            impl = self._impl = self.resolve()
        return impl(*args)

    def resolve(self) -> Callable[..., Any]:
        """What calls run: the library's export, or numba's dispatcher."""
        export = getattr(LIBRARY, self.__name__, None) if LIBRARY is not None else None
        if export is not None:
            return export
        return jit()[self.__name__]


def kernel(**options: Any) -> Callable[[Callable[..., Any]], Kernel]:
    """Mark a function of this module as a compiled kernel (numba ``njit`` options beyond the defaults)."""

    def mark(py_func: Callable[..., Any]) -> Kernel:
        return Kernel(py_func, {"cache": True, "nogil": True, **options})

    return mark


_DISPATCHERS: dict[str, Any] = {}


def jit() -> dict[str, Any]:
    """Every kernel as a numba dispatcher (numba imported, kernels compiled or loaded from its cache on first
    call); the module's globals then name the dispatchers, which is what numba resolves in a kernel's code."""
    if not _DISPATCHERS:
        import numba

        marked = {name: obj for name, obj in globals().items() if isinstance(obj, Kernel)}
        for name, obj in marked.items():
            _DISPATCHERS[name] = numba.njit(**obj.options)(obj.py_func)
        globals().update(_DISPATCHERS)
    return _DISPATCHERS


# ------------------------------------------------------------------------------------------------------------
# text: word characters, lower case, content lines
# ------------------------------------------------------------------------------------------------------------
@kernel()
def is_word(c: np.uint32) -> bool:
    """Whether a code point is a word character (:data:`WORD_RANGES`)."""
    return bool(
        np.uint32(0x4E00) <= c <= np.uint32(0x9FFF)
        or np.uint32(0x61) <= c <= np.uint32(0x7A)
        or np.uint32(0x30) <= c <= np.uint32(0x39)
        or np.uint32(0x3400) <= c <= np.uint32(0x4DBF)
        or np.uint32(0xF900) <= c <= np.uint32(0xFAFF)
    )


@kernel()
def lower_word(cps: U32, low_cps: U32, given: bool, lowered: U32, j: int) -> np.uint32:
    """The lower case of code point ``j`` if it is a word character, else 0 (:data:`_MULTI`: not known)."""
    if given:
        c = low_cps[j]
        return c if is_word(c) else np.uint32(0)
    c = cps[j]
    return c if is_word(c) else lowered[min(c, 0x10000)]


@kernel()
def word_chars(
    cps: U32, low_cps: U32, starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64], lowered: U32
) -> tuple[U32, npt.NDArray[np.int64], bool]:
    """The lower-cased word characters of the parts of ``cps`` from ``starts`` of ``lengths``, one after the
    other, and where each part's start in them (one more entry, the end). The lower case is ``low_cps`` where
    given, else ``lowered`` (:func:`pipelines.dedup.text.lowered_words`); without ``low_cps``, a code point the
    table cannot answer stops the pass (the flag is false)."""
    chars = np.empty(int(lengths.sum()), dtype=np.uint32)
    ends = np.zeros(len(lengths) + 1, dtype=np.int64)
    given = len(low_cps) > 0
    m = 0
    for t in range(len(lengths)):
        for j in range(starts[t], starts[t] + lengths[t]):
            c = lower_word(cps, low_cps, given, lowered, j)
            if c == _MULTI:
                return chars[:0], ends, False
            if c:
                chars[m] = c
                m += 1
        ends[t + 1] = m
    return chars[:m], ends, True


@kernel()
def content_chars(
    cps: U32, low_cps: U32, classes: npt.NDArray[np.uint8], lowered: U32, short: int
) -> tuple[npt.NDArray[np.bool_], U32, bool]:
    """Per line of the code points ``cps`` (lines end at U+000A): whether it carries content (word characters,
    and either ``short`` of them or a sentence punctuation mark; ``classes``: :data:`pipelines.dedup.text.CLASS_TABLE`); and the
    lower-cased word characters of those lines (as in :func:`word_chars`), a line break after each line but
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
            if is_word(cps[j]):  # its own lower case
                words += 1
                if not given:
                    chars[m_line] = cps[j]
                    m_line += 1
                    continue
            elif classes[min(cps[j], 0xFFFF)] == 2:
                has_punct = True
            c = lower_word(cps, low_cps, given, lowered, j)
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


# ------------------------------------------------------------------------------------------------------------
# hashing and signatures
# ------------------------------------------------------------------------------------------------------------
@kernel()
def mix1(h: np.uint64) -> np.uint64:
    """The splitmix64 finaliser of one value (wrapping uint64 arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


@kernel()
def gram_poly(cps: U32, at: int, k: int) -> np.uint64:
    """The ``k`` code points of ``cps`` from ``at`` as a polynomial in :data:`_P` (wrapping uint64)."""
    h = np.uint64(cps[at])
    for j in range(1, k):
        h = h * _P + np.uint64(cps[at + j])
    return h


@kernel()
def gram_hash(cps: U32, at: int, k: int) -> np.uint64:
    """Hash of the ``k`` code points of ``cps`` from ``at``: polynomial in :data:`_P`, plus ``k``, mixed."""
    return mix1(gram_poly(cps, at, k) + np.uint64(k))


@kernel()
def rolling(cps: U32, k: int) -> U64:
    """The hash of every ``k`` consecutive code points (:func:`gram_hash`)."""
    n = len(cps) - k + 1
    out = np.empty(max(n, 0), dtype=np.uint64)
    for i in range(n):
        out[i] = gram_hash(cps, i, k)
    return out


@kernel()
def signature_rows(
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
                poly = gram_poly(cps, start, kk)
            else:  # the next gram's polynomial from the last one (wrapping, hence exact)
                poly = (poly - np.uint64(cps[start + i - 1]) * lead) * _P + np.uint64(cps[start + i + kk - 1])
            h = mix1(poly + np.uint64(kk))
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
            densify_row(row, num_perm)
        start += length
    return sigs, sizes


@kernel()
def densify_row(sig: U32, num_perm: int) -> None:
    """Fill the empty bins of a signature in place: each borrows the value of the next non-empty bin (cyclically),
    rehashed with the distance ("densification")."""
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
        mixed = mix1(np.uint64(sig[src]) + np.uint64(dist) * np.uint64(0x9E3779B97F4A7C15))
        v = np.uint32(mixed >> np.uint64(32))
        sig[i] = v - np.uint32(1) if v == _EMPTY else v


# ------------------------------------------------------------------------------------------------------------
# story terms: quoted names, dictionary words, distinct terms per article
# ------------------------------------------------------------------------------------------------------------
@kernel()
def quoted_spans(
    cps: npt.NDArray[np.uint32], lengths: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Where the quoted names of texts of the given lengths laid end to end in ``cps`` lie (start and end in
    their text), and how many each text has: the matches of ``_QUOTED``, left to right, not overlapping. A
    name in “…” is 2–24 characters up to the first quote mark or line break, which must close it; one in
    《…》 is 2–40 characters up to the first 《, 》 or line break, which must be 》."""
    spans = np.empty((len(cps) // 3 + 1, 2), dtype=np.int64)
    counts = np.zeros(len(lengths), dtype=np.int64)
    m = 0
    base = 0
    for t in range(len(lengths)):
        n = lengths[t]
        i = 0
        while i < n:
            c = cps[base + i]
            if not (c == 0x22 or c == 0x201C or 0x300A <= c <= 0x300E):  # no opening mark
                i += 1
                continue
            longest = 0
            if c == _OPEN:
                longest = 40
            else:
                for o in _OPENERS:
                    if c == o:
                        longest = 24
            if longest == 0:
                i += 1
                continue
            j = i + 1
            stop = -1
            while j < n and j <= i + longest + 1:
                d = cps[base + j]
                if longest == 40:
                    if d in (_OPEN, _CLOSE, 10):
                        stop = j
                else:
                    for x in _STOPS:
                        if d == x:
                            stop = j
                if stop >= 0:
                    break
                j += 1
            closed = False
            if stop >= i + 3:
                d = cps[base + stop]
                if longest == 40:
                    closed = d == _CLOSE
                else:
                    for x in _CLOSERS:
                        if d == x:
                            closed = True
            if closed:
                spans[m, 0] = i + 1
                spans[m, 1] = stop
                m += 1
                counts[t] += 1
                i = stop + 1
            else:
                i += 1
        base += n
    return spans[:m], counts


@kernel()
def forward_max_match(
    cps: npt.NDArray[np.uint32],
    used: npt.NDArray[np.uint8],
    tag_bits: npt.NDArray[np.uint8],
    tags: npt.NDArray[np.uint32],
    idf: npt.NDArray[np.float32],
    shift: np.uint64,
    mask: int,
    max_probe: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
    """Forward maximum matching of the code points ``cps`` against a :class:`pipelines.dedup.words.WordTable` (its ``used``,
    ``tag_bits``, ``tags``, ``idf``, ``shift``, ``mask`` and ``max_probe``): from the end of the last word taken, the first position
    where a 2–4 character gram is a word, taking the longest. The words' positions, hashes and idf."""
    n = len(cps)
    at = np.empty(n, dtype=np.intp)
    hashes = np.empty(n, dtype=np.uint64)
    values = np.empty(n, dtype=np.float32)
    m = 0
    end = 0
    for i in range(n):
        if i < end:
            continue
        best = 0
        poly = np.uint64(cps[i])
        for k in range(2, 5):
            if i + k > n:
                break
            poly = poly * _P + np.uint64(cps[i + k - 1])  # the gram's hash (minhash.gram_hash), extended
            h = mix1(poly + np.uint64(k))
            tag = np.uint32(h & np.uint64(0xFFFFFFFF))
            if tag == 0:
                tag = np.uint32(1)
            slot = np.intp(h >> shift)
            top = tag >> np.uint32(TAG_SHIFT)
            if not (tag_bits[top >> 3] >> (top & 7)) & 1:
                continue
            for _ in range(max_probe):
                if not (used[slot >> 3] >> (slot & 7)) & 1:
                    break
                t = tags[slot]
                if t == tag:
                    best = k
                    hashes[m] = h
                    values[m] = idf[slot]
                    break
                if t == 0:
                    break
                slot = (slot + 1) & mask
        if best:
            at[m] = i
            m += 1
            end = i + best
    return at[:m], hashes[:m], values[:m]


@kernel()
def distinct_terms(
    terms: npt.NDArray[np.uint64], values: npt.NDArray[np.float64], docs: npt.NDArray[np.intp], n_docs: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The distinct (article, term) pairs of the entries (``terms``, ``values``, ``docs``), by article and then
    term: the terms, the value of each pair's first entry, the entries of each pair, and where each article's
    pairs start (one more entry, the end)."""
    n = len(terms)
    starts = np.zeros(n_docs + 1, dtype=np.int64)
    for i in range(n):
        starts[docs[i] + 1] += 1
    for j in range(n_docs):
        starts[j + 1] += starts[j]
    fill = starts[:-1].copy()
    order = np.empty(n, dtype=np.int64)  # by article, in entry order
    for i in range(n):
        order[fill[docs[i]]] = i
        fill[docs[i]] += 1
    uniq = np.empty(n, dtype=np.uint64)
    first = np.empty(n, dtype=np.float64)
    counts = np.empty(n, dtype=np.int64)
    ends = np.zeros(n_docs + 1, dtype=np.int64)
    m = 0
    for j in range(n_docs):
        idx = order[starts[j] : starts[j + 1]]
        by_term = np.argsort(terms[idx], kind="mergesort")  # stable: equal terms stay in entry order
        for t in range(len(idx)):
            i = idx[by_term[t]]
            if t == 0 or terms[i] != uniq[m - 1]:
                uniq[m] = terms[i]
                first[m] = values[i]
                counts[m] = 1
                m += 1
            else:
                counts[m - 1] += 1
        ends[j + 1] = m
    return uniq[:m], first[:m], counts[:m], ends


# ------------------------------------------------------------------------------------------------------------
# sorted key -> slot tables
# ------------------------------------------------------------------------------------------------------------
@kernel()
def search(table: npt.NDArray[np.uint64], keys: npt.NDArray[np.uint64], right: bool) -> npt.NDArray[np.intp]:
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


@kernel()
def sort_pairs(keys: U64, vals: U32) -> tuple[U64, U32]:
    """``keys`` sorted with their ``vals``, equal keys in their order (a stable sort: ``order =
    np.argsort(keys, kind="stable")``, then ``keys[order], vals[order]``), by least-significant-digit radix
    sort, 16 bits a pass (passes where every key has the same digit skipped): linear in the entries, where the
    comparison sort of a table of millions of entries takes seconds. The arrays given are used as scratch
    space: their contents are lost (the result may be them)."""
    n = len(keys)
    src_k, src_v = keys, vals
    dst_k = np.empty_like(src_k)
    dst_v = np.empty_like(src_v)
    count = np.empty(1 << 16, dtype=np.int64)
    for shift in range(0, 64, 16):
        count[:] = 0
        for i in range(n):
            count[(src_k[i] >> np.uint64(shift)) & np.uint64(0xFFFF)] += 1
        if n == 0 or count[(src_k[0] >> np.uint64(shift)) & np.uint64(0xFFFF)] == n:
            continue  # one digit: this pass would keep the order
        total = 0
        for d in range(1 << 16):
            c = count[d]
            count[d] = total
            total += c
        for i in range(n):
            d = (src_k[i] >> np.uint64(shift)) & np.uint64(0xFFFF)
            at = count[d]
            dst_k[at] = src_k[i]
            dst_v[at] = src_v[i]
            count[d] = at + 1
        src_k, dst_k = dst_k, src_k
        src_v, dst_v = dst_v, src_v
    return src_k, src_v


@kernel()
def lookup_sorted_keys(
    table: npt.NDArray[np.uint64], vals: npt.NDArray[np.uint32], keys: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
    """The entries of a sorted table under ascending ``keys`` (the index in ``keys`` of each, and its value): each key's first entry found by galloping from the previous key's,
    its run read from there."""
    lo = search(table, keys, False)
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


@kernel()
def chain_add(
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
    mask = np.uint64((1 << CHAIN_BITS) - 1)
    for i in range(len(prefixes)):
        e = n + i
        keys[e] = prefixes[i] | np.uint64(code)
        vals[e] = val
        h = np.int64((prefixes[i] >> np.uint64(DAY_BITS + 1)) & mask)
        nxt[e] = head[h]
        head[h] = e


# ------------------------------------------------------------------------------------------------------------
# near-duplicates: the rule and the verification of candidates
# ------------------------------------------------------------------------------------------------------------
@kernel()
def containment1(jaccard: float, size: int, other: int) -> float:
    """How much of the smaller of two shingle sets lies in the larger, from their estimated Jaccard and sizes."""
    inter = jaccard / (1.0 + jaccard) * np.float64(size + other)
    return min(inter / np.float64(max(min(other, size), 1)), 1.0)


@kernel()
def near1(
    jaccard: float,
    same: bool,
    cont: float,
    jaccard_min: float,
    containment_min: float,
    containment_jaccard_min: float,
) -> bool:
    """The near-duplicate rule: the same fingerprint, or an estimated Jaccard of at least ``jaccard_min``, or (a
    cut reprint) the shorter text at least ``containment_min`` inside the longer with a Jaccard of at least
    ``containment_jaccard_min``."""
    return same or jaccard >= jaccard_min or (cont >= containment_min and jaccard >= containment_jaccard_min)


@kernel()
def containment_many(jaccard: npt.NDArray[np.float64], size: int, sizes: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """:func:`containment1` of one set of ``size`` with each of ``sizes`` (its Jaccard with each)."""
    out = np.empty(len(jaccard), dtype=np.float64)
    for i in range(len(jaccard)):
        out[i] = containment1(jaccard[i], size, sizes[i])
    return out


@kernel()
def near_many(
    jaccard: npt.NDArray[np.float64],
    same: npt.NDArray[np.bool_],
    cont: npt.NDArray[np.float64],
    jaccard_min: float,
    containment_min: float,
    containment_jaccard_min: float,
) -> npt.NDArray[np.bool_]:
    """:func:`near1` of each candidate."""
    out = np.empty(len(jaccard), dtype=np.bool_)
    for i in range(len(jaccard)):
        out[i] = near1(jaccard[i], same[i], cont[i], jaccard_min, containment_min, containment_jaccard_min)
    return out


@kernel()
def verify(
    sigs: npt.NDArray[np.uint32],
    sizes: npt.NDArray[np.int64],
    fps: npt.NDArray[np.uint64],
    rows: npt.NDArray[np.intp],
    other_sigs: npt.NDArray[np.uint32],
    other_sizes: npt.NDArray[np.int64],
    other_fps: npt.NDArray[np.uint64],
    other_rows: npt.NDArray[np.intp],
    jaccard_min: float,
    containment_min: float,
    containment_jaccard_min: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """For each pair (``rows[i]`` of the first signature matrix, ``other_rows[i]`` of the second): estimated
    Jaccard (the share of equal bins), same fingerprint, near-duplicate (:func:`near1`)."""
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
        cont = containment1(jac, sizes[a], other_sizes[b])
        js[i] = jac
        same[i] = fps[a] == other_fps[b]
        ok[i] = near1(jac, same[i], cont, jaccard_min, containment_min, containment_jaccard_min)
    return js, same, ok


# ------------------------------------------------------------------------------------------------------------
# stories, site chrome, document frequencies
# ------------------------------------------------------------------------------------------------------------
@kernel(inline="always")
def tally(
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


@kernel()
def story_best(
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
    story_days: int,
    min_shared: int,
    min_shared_day: int,
    min_shared_undated: int,
) -> int:
    """The slot of the article whose story a document joins (-1: none) from the term entries of its salient
    terms: per term, ``ranges`` (:meth:`pipelines.dedup.tables.TermTable.ranges`) into the main (``vals``) and
    recent (``rvals``) tables, its key prefix (for the newest entries, chained as :func:`chain_add` made them)
    and whether it is a day mention. The article shares the most terms with it (ties: the earliest seen), both
    are published within ``story_days`` of each other and share ``min_shared`` terms (or a day mention and
    ``min_shared_day``), or, when either is undated, ``min_shared_undated`` terms. ``counts`` and ``marks`` are
    zeroed scratch arrays, one cell per slot, and are left zeroed."""
    fewest = min(min_shared, min_shared_day, min_shared_undated)
    total = n_newest
    for i in range(ranges.shape[0]):
        total += max(ranges[i, 2] - ranges[i, 0], 0) + max(ranges[i, 3] - ranges[i, 1], 0)
        total += max(ranges[i, 6] - ranges[i, 4], 0) + max(ranges[i, 7] - ranges[i, 5], 0)
    touched = np.empty(total, dtype=np.int64)
    n = 0
    # the newest entries it can join: within story_days (or undated); an undated document: all
    if day == NODAY:
        lo, hi, with_undated = np.uint64(0), np.uint64(DAY_MAX), False
    else:
        lo = np.uint64(min(max(day - story_days - DAY_BASE, 1), DAY_MAX))
        hi = np.uint64(min(max(day + story_days - DAY_BASE, 1), DAY_MAX))
        with_undated = True
    code_mask = np.uint64(DAY_MAX)
    chain_mask = np.uint64((1 << CHAIN_BITS) - 1)
    for i in range(ranges.shape[0]):
        mark = 1 if is_day[i] else 0
        for table, base in ((vals, 0), (rvals, 4)):
            for start, end in (
                (ranges[i, base], ranges[i, base + 2]),
                (ranges[i, base + 1], ranges[i, base + 3]),
            ):
                for j in range(start, end):
                    n = tally(np.int64(table[j]), mark, counts, marks, touched, n)
        if n_newest:
            p = prefixes[i]
            e = nhead[np.int64((p >> np.uint64(DAY_BITS + 1)) & chain_mask)]
            while e >= 0:
                key = nkeys[e]
                if key & ~code_mask == p:
                    code = key & code_mask
                    if (lo <= code and code <= hi) or (with_undated and code == 0):
                        n = tally(np.int64(nvals[e]), mark, counts, marks, touched, n)
                e = nnext[e]
    found = np.sort(touched[:n])
    best, best_shared = -1, 0
    for s in found:
        shared, on_day = counts[s], marks[s]
        counts[s] = 0
        marks[s] = 0
        if shared < fewest or s == self_slot or not alive[s]:
            continue
        other = np.int64(days[s])
        if other != NODAY and day != NODAY:
            if abs(other - day) > story_days:
                continue
            if shared < min_shared and not (shared >= min_shared_day and on_day):
                continue
        elif shared < min_shared_undated:
            continue
        if shared > best_shared:  # ties: the first, the earliest seen
            best, best_shared = s, shared
    return best


@kernel()
def salient_order(
    score: npt.NDArray[np.float64],
    r0: npt.NDArray[np.intp],
    r1: npt.NDArray[np.intp],
    is_day: npt.NDArray[np.bool_],
    sketch: npt.NDArray[np.uint16],
    n_added: int,
    damp_from: int,
    common_share: float,
    n_terms: int,
) -> npt.NDArray[np.intp]:
    """Which candidate terms are a document's story terms, from their weights, document-frequency sketch cells
    and day flags: the ``n_terms`` heaviest plus the day mentions (up to 4), once ``damp_from`` documents were
    counted a term's weight damped when it is salient in more than ``common_share`` of them."""
    score = score.copy()
    if n_added >= damp_from:
        common = common_share * n_added
        for i in range(len(score)):
            df = np.float64(min(sketch[0, r0[i]], sketch[1, r1[i]]))
            score[i] = score[i] * min(1.0, common / max(df, 1.0))
    n_days = 0
    for i in range(len(score)):
        if is_day[i]:
            score[i] = np.inf
            n_days += 1
    k = min(n_terms + min(n_days, 4), len(score))
    return np.argsort(-score, kind="mergesort")[:k]


@kernel()
def count_lines(
    counts: npt.NDArray[np.uint8], cells: npt.NDArray[np.intp], boilerplate_min: int
) -> npt.NDArray[np.intp]:
    """Count a document's distinct line cells once each (saturating); the cells that reached
    ``boilerplate_min``."""
    cells = np.unique(cells)
    crossed = np.empty(len(cells), dtype=np.intp)
    n = 0
    for cell in cells:
        count = counts[cell]
        if count < 255:
            counts[cell] = count + 1
        if count == boilerplate_min - 1:
            crossed[n] = cell
            n += 1
    return crossed[:n]


@kernel()
def count_terms(sketch: npt.NDArray[np.uint16], r0: npt.NDArray[np.intp], r1: npt.NDArray[np.intp]) -> None:
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
