"""Salient terms of an article, for grouping different articles about one event into a story.

A term is a dictionary word (2–4 characters) that is rare in general Chinese (jieba's IDF table, idf ≥
:data:`MIN_IDF`) found in the headline or the lead, a quoted name (“科创中国”, 《三年行动计划》) anywhere in the text,
or a day mention (1月18日) in the headline or lead. Terms are 64-bit hashes, stable across processes; weights are
idf × (1 + log tf), headline terms counted twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from functools import lru_cache
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from pipelines.minhash import _P, _mix1, content_lines, gram_hashes, strip_many, strip_spans

MIN_IDF = 7.0  # dictionary words more common than this are not salient
QUOTED_IDF = 12.0
DAY_IDF = 9.0
LEAD_CHARS = 300  # characters of the (stripped) text that count as the lead
QUOTED_SCAN = 4000  # characters of the text searched for quoted names
_QUOTED = re.compile(r"[“\"「『]([^“”\"「」『』\n]{2,24})[”\"」』]|《([^《》\n]{2,40})》")
_DAY = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])月([12]\d|3[01]|0?[1-9])日")
# the digit runs around 月 and 日; a day mention is one whose runs are a month and a day, not after a digit
# (the same matches as _DAY, found without trying _DAY at every position)
_DAY_RUNS = re.compile(r"([0-9]+)月([0-9]+)日")
_MONTHS = frozenset([str(m) for m in range(1, 13)] + [f"0{m}" for m in range(1, 10)])
_DAYS = frozenset([str(d) for d in range(1, 32)] + [f"0{d}" for d in range(1, 10)])
_DIGITS = frozenset("0123456789")


def quoted_names(text: str) -> list[str]:
    """The quoted names of a text (what ``_QUOTED.finditer`` finds)."""
    return quoted_names_many([text])[0]


def quoted_names_many(texts: list[str]) -> list[list[str]]:
    """:func:`quoted_names` of each text, all scanned in one compiled pass."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    try:
        cps = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # lone surrogates
        return [_quoted_names_re(t) for t in texts]
    spans, counts = _quoted_spans(cps, lengths)
    flat = spans.tolist()
    out: list[list[str]] = []
    at = 0
    for text, n in zip(texts, counts.tolist(), strict=True):
        out.append([text[a:b] for a, b in flat[at : at + n]])
        at += n
    return out


def _quoted_names_re(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _QUOTED.finditer(text)]


# _QUOTED's quote marks: a name runs from an opening mark to the first stop mark, which must close it
_OPEN = ord("《")
_CLOSE = ord("》")
_STOPS = np.array([ord(c) for c in '“”"「」『』\n'], dtype=np.uint32)
_CLOSERS = np.array([ord(c) for c in '”"」』'], dtype=np.uint32)
_OPENERS = np.array([ord(c) for c in '“"「『'], dtype=np.uint32)


@numba.njit(cache=True, nogil=True)
def _quoted_spans(
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


def day_mentions(text: str) -> list[tuple[int, int]]:
    """(month, day) of every day mention of a text (what ``_DAY.finditer`` finds): tried at each 月 right after
    a digit (a match holds one 月, after the whole digit run before it)."""
    out: list[tuple[int, int]] = []
    p = text.find("月")
    while p >= 0:
        if p and text[p - 1] in _DIGITS:
            start = p - 1
            while start and text[start - 1] in _DIGITS:
                start -= 1
            m = _DAY_RUNS.match(text, start)
            if m is not None:
                month, day = m.group(1), m.group(2)
                if month in _MONTHS and day in _DAYS and not (start and text[start - 1].isdecimal()):
                    out.append((int(month), int(day)))
        p = text.find("月", p + 1)
    return out


_TAG_SHIFT = 11  # tags are filtered on their top 21 bits


class _WordTable:
    """Open-addressing hash table of word hashes (linear probing, load ≤ 1/4): a slot holds 32 bits of the
    word's hash other than the 20 that choose the slot, and the word's idf next to them (one 8-byte ``entries``
    cell: ``tags`` and ``idf`` are its two halves), so that one memory access answers a lookup; a bit per slot
    (``used``, 128 KiB) says which slots are filled and a bit per value of a tag's top bits (``tag_bits``)
    which tags occur, answering most probes of non-words from the cache."""

    def __init__(self, hashes: npt.NDArray[np.uint64], idf: npt.NDArray[np.float32]) -> None:
        bits = max(10, int(len(hashes) * 4 - 1).bit_length())
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.tags = np.zeros(1 << bits, dtype=np.uint32)  # 0 = empty
        self.idf = np.zeros(1 << bits, dtype=np.float32)
        slot = (hashes >> self.shift).astype(np.intp)
        tags = self._tags(hashes)
        todo = np.arange(len(hashes))
        self.max_probe = 0
        while len(todo):
            free = self.tags[slot[todo]] == 0
            cand = todo[free]
            _, first = np.unique(slot[cand], return_index=True)
            placed = cand[first]
            self.tags[slot[placed]] = tags[placed]
            self.idf[slot[placed]] = idf[placed]
            done = np.zeros(len(hashes), dtype=np.bool_)
            done[placed] = True
            todo = todo[~done[todo]]
            slot[todo] = (slot[todo] + 1) & self.mask
            self.max_probe += 1
        self.entries = self.tags.astype(np.uint64) | (
            self.idf.view(np.uint32).astype(np.uint64) << np.uint64(32)
        )
        low = 0 if sys.byteorder == "little" else 1  # the half of an entry that holds its low 32 bits
        self.tags = self.entries.view(np.uint32)[low::2]
        self.idf = self.entries.view(np.float32)[1 - low :: 2]
        self.used = np.packbits(self.tags != 0, bitorder="little")
        # which values the top bits of a tag take (256 KiB): a tag not among them is no word's
        seen = np.zeros(1 << (32 - _TAG_SHIFT), dtype=np.bool_)
        seen[self.tags[self.tags != 0] >> np.uint32(_TAG_SHIFT)] = True
        self.tag_bits = np.packbits(seen, bitorder="little")

    @staticmethod
    def _tags(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint32]:
        tags = (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        tags[tags == 0] = 1
        return tags


@lru_cache(maxsize=1)
def _dictionary() -> _WordTable:
    """The 2–4 character words of jieba's IDF table, with their idf."""
    spec = importlib.util.find_spec("jieba")  # the table only: importing jieba.analyse costs seconds
    if spec is None or spec.origin is None:
        raise ImportError("jieba is not installed")
    path = Path(spec.origin).parent / "analyse" / "idf.txt"
    by_len: dict[int, tuple[list[str], list[float]]] = {2: ([], []), 3: ([], []), 4: ([], [])}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            word, _, idf = line.rstrip("\n").partition(" ")
            if len(word) in by_len and idf:
                by_len[len(word)][0].append(word.lower())
                by_len[len(word)][1].append(float(idf))
    hashes: list[npt.NDArray[np.uint64]] = []
    idfs: list[npt.NDArray[np.float32]] = []
    for k, (words, values) in by_len.items():
        if not words:
            continue
        # all words of one length hashed at once: the concatenation's k-grams at multiples of k
        hashes.append(gram_hashes("".join(words), k)[::k])
        idfs.append(np.asarray(values, dtype=np.float32))
    h = np.concatenate(hashes)
    h, first = np.unique(h, return_index=True)
    return _WordTable(h, np.concatenate(idfs)[first])


def segment_words(dtext: str) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32], npt.NDArray[np.intp]]:
    """Forward maximum matching of ``dtext`` (stripped; ``|`` separates parts no word may cross) against the
    dictionary: the hashes, idf and start positions of the dictionary words it is cut into, in order
    (characters outside any word are skipped)."""
    return segment_many([dtext])[0]


_Segments = tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32], npt.NDArray[np.intp]]


def segment_many(dtexts: list[str]) -> list[_Segments]:
    """:func:`segment_words` of each text, looked up in the dictionary together."""
    words, idf, starts, doc = _segment_joined(dtexts)
    bounds = np.searchsorted(doc, np.arange(len(dtexts) + 1)).tolist()
    return [(words[a:b], idf[a:b], starts[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _segment_joined(
    dtexts: list[str],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Words of all texts: hashes, idf, start positions within their text, and the text of each."""
    table = _dictionary()
    joined = "\n".join(dtexts)  # no word holds a line break: none crosses from one text into the next
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    at, hashes, idf = _forward_max_match(
        cps, table.used, table.tag_bits, table.tags, table.idf, table.shift, table.mask, table.max_probe
    )
    begins = np.cumsum([0] + [len(d) + 1 for d in dtexts[:-1]]).astype(np.intp)
    doc = np.searchsorted(begins, at, side="right") - 1
    return hashes, idf, at - begins[doc], doc


@numba.njit(cache=True, nogil=True)
def _forward_max_match(
    cps: npt.NDArray[np.uint32],
    used: npt.NDArray[np.uint8],
    tag_bits: npt.NDArray[np.uint8],
    tags: npt.NDArray[np.uint32],
    idf: npt.NDArray[np.float32],
    shift: np.uint64,
    mask: int,
    max_probe: int,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
    """Forward maximum matching of the code points ``cps`` against a :class:`_WordTable` (its ``used``,
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
            poly = poly * _P + np.uint64(cps[i + k - 1])  # the gram's hash (minhash._gram_hash), extended
            h = _mix1(poly + np.uint64(k))
            tag = np.uint32(h & np.uint64(0xFFFFFFFF))
            if tag == 0:
                tag = np.uint32(1)
            slot = np.intp(h >> shift)
            top = tag >> np.uint32(_TAG_SHIFT)
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


@lru_cache(maxsize=1 << 16)
def _phrase_int(phrase: str) -> int:
    return int.from_bytes(hashlib.blake2b(phrase.encode("utf-8"), digest_size=8).digest(), "little")


def is_day_term(terms: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Which terms are day mentions (their hashes are odd; every other term's is even)."""
    return (terms & np.uint64(1)).astype(np.bool_)


def story_terms(
    title: str, text: str, lines: list[str] | None = None
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
    """Distinct salient terms of an article (normalised title and text) and their weights. ``lines``: the
    text's :func:`~pipelines.minhash.content_lines`, when already known."""
    return story_terms_many([(title, text, lines)])[0]


def _lead_strings(
    scans: list[str], title_lens: list[int], head_lens: list[int]
) -> tuple[list[str], list[str], list[int], list[str]]:
    """From each article's scan text (title, line break, start of the body) and the lengths of its title and of
    its body's start: the stripped titles, the stripped starts of the bodies, and the article and the stripped
    form of every quoted name; one encoding and one compiled pass for all of them."""
    joined = "".join(scans)
    n = len(scans)
    try:
        cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:  # lone surrogates
        found = [_quoted_names_re(t) for t in scans]
        heads = [t[:a] for t, a in zip(scans, title_lens, strict=True)]
        heads += [t[a + 1 : a + 1 + b] for t, a, b in zip(scans, title_lens, head_lens, strict=True)]
        stripped = strip_many(heads + [name for names in found for name in names])
        return (
            stripped[:n],
            stripped[n : 2 * n],
            [i for i, names in enumerate(found) for _ in names],
            stripped[2 * n :],
        )
    lengths = np.fromiter(map(len, scans), dtype=np.int64, count=n)
    starts = np.cumsum(lengths) - lengths
    spans, counts = _quoted_spans(cps, lengths)
    name_doc = np.repeat(np.arange(n, dtype=np.int64), counts)
    tl = np.asarray(title_lens, dtype=np.int64)
    part_starts = np.concatenate([starts, starts + tl + 1, starts[name_doc] + spans[:, 0]])
    part_lens = np.concatenate([tl, np.asarray(head_lens, dtype=np.int64), spans[:, 1] - spans[:, 0]])
    stripped = strip_spans(joined, cps, part_starts, part_lens)
    return stripped[:n], stripped[n : 2 * n], name_doc.tolist(), stripped[2 * n :]


def story_terms_many(
    articles: list[tuple[str, str, list[str] | None]],
) -> list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]]:
    """:func:`story_terms` of each (title, text, lines), the dictionary looked up once for all of them."""
    scans: list[str] = []  # per article: its title, a line break, the start of its body
    title_lens: list[int] = []
    head_lens: list[int] = []
    days: list[tuple[int, int, int]] = []
    for i, (title, text, lines) in enumerate(articles):
        if lines is None:
            lines = content_lines(text)
        body = "\n".join(lines) or text
        scan = title + "\n" + body[:QUOTED_SCAN]
        scans.append(scan)
        title_lens.append(len(title))
        head_lens.append(min(len(body), LEAD_CHARS * 2))
        days.extend((i, month, day) for month, day in day_mentions(scan[: len(title) + 1 + head_lens[-1]]))
    dtitles, dheads, name_doc, phrases = _lead_strings(scans, title_lens, head_lens)
    title_lens = [len(t) for t in dtitles]
    leads = [t + "|" + b[:LEAD_CHARS] for t, b in zip(dtitles, dheads, strict=True)]
    # extra terms of each article: its quoted names, then its day mentions
    extra: list[tuple[int, int, float]] = [
        (i, _phrase_int(phrase) & ~1, QUOTED_IDF)
        for i, phrase in zip(name_doc, phrases, strict=True)
        if len(phrase) >= 2
    ]
    extra.extend((i, _phrase_int(f"{month}月{day}日") | 1, DAY_IDF) for i, month, day in days)
    extra.sort(key=lambda e: e[0])  # stable: per article, names before days
    extra_doc = [e[0] for e in extra]
    extra_h = [e[1] for e in extra]
    extra_v = [e[2] for e in extra]
    words, idf, starts, doc = _segment_joined(leads)
    in_title = starts < np.asarray(title_lens, dtype=np.intp)[doc]
    even = ~np.uint64(1)
    # every word once and headline words once more (a term's weight is the same wherever it occurs)
    allh = np.concatenate([words & even, words[in_title] & even, np.asarray(extra_h, dtype=np.uint64)])
    allv = np.concatenate([idf, idf[in_title], np.asarray(extra_v, dtype=np.float32)]).astype(np.float64)
    alld = np.concatenate([doc, doc[in_title], np.asarray(extra_doc, dtype=np.intp)])
    rare = allv >= MIN_IDF
    allh, allv, alld = allh[rare], allv[rare], alld[rare]
    # distinct (article, term): weight × (1 + log count)
    uniq, first, counts, ends = _distinct_terms(allh, allv, alld, len(articles))
    weight = first * (1.0 + np.log(counts))
    bounds = ends.tolist()
    return [(uniq[a:b], weight[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@numba.njit(cache=True, nogil=True)
def _distinct_terms(
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
