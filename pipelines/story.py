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
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipelines.minhash import content_lines, gram_hashes, strip_text

MIN_IDF = 7.0  # dictionary words more common than this are not salient
QUOTED_IDF = 12.0
DAY_IDF = 9.0
LEAD_CHARS = 300  # characters of the (stripped) text that count as the lead
QUOTED_SCAN = 4000  # characters of the text searched for quoted names
_QUOTED = re.compile(r"[“\"「『]([^“”\"「」『』\n]{2,24})[”\"」』]|《([^《》\n]{2,40})》")
_DAY = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])月([12]\d|3[01]|0?[1-9])日")


class _WordTable:
    """Open-addressing hash table of word hashes (linear probing, load ≤ 1/4): about one memory access per
    lookup instead of a binary search's twenty."""

    def __init__(self, hashes: npt.NDArray[np.uint64], idf: npt.NDArray[np.float32]) -> None:
        bits = max(10, int(len(hashes) * 4 - 1).bit_length())
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.keys = np.zeros(1 << bits, dtype=np.uint64)  # 0 = empty (no word hashes to 0 in practice)
        self.idf = np.zeros(1 << bits, dtype=np.float32)
        slot = (hashes >> self.shift).astype(np.intp)
        todo = np.arange(len(hashes))
        self.max_probe = 0
        while len(todo):
            free = self.keys[slot[todo]] == 0
            cand = todo[free]
            _, first = np.unique(slot[cand], return_index=True)
            placed = cand[first]
            self.keys[slot[placed]] = hashes[placed]
            self.idf[slot[placed]] = idf[placed]
            done = np.zeros(len(hashes), dtype=np.bool_)
            done[placed] = True
            todo = todo[~done[todo]]
            slot[todo] = (slot[todo] + 1) & self.mask
            self.max_probe += 1

    def lookup(self, h: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """Positions in ``h`` that are words, and their idf."""
        slot = (h >> self.shift).astype(np.intp)
        pending = np.arange(len(h))
        found_at: list[npt.NDArray[np.intp]] = []
        found_idf: list[npt.NDArray[np.float32]] = []
        for _ in range(self.max_probe):
            if not len(pending):
                break
            k = self.keys[slot[pending]]
            hit = k == h[pending]
            if hit.any():
                found_at.append(pending[hit])
                found_idf.append(self.idf[slot[pending[hit]]])
            go_on = ~hit & (k != 0)
            pending = pending[go_on]
            slot[pending] = (slot[pending] + 1) & self.mask
        if not found_at:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        return np.concatenate(found_at), np.concatenate(found_idf)


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
    table = _dictionary()
    n = len(dtext)
    grams = [(k, gram_hashes(dtext, k)) for k in (2, 3, 4) if n >= k]
    if not grams:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.intp)
    allh = np.concatenate([h for _, h in grams])
    at, values = table.lookup(allh)  # one probe loop for every length
    length = np.zeros(n, dtype=np.int8)
    hashes = np.zeros(n, dtype=np.uint64)
    idf = np.zeros(n, dtype=np.float32)
    order = np.argsort(at, kind="stable")  # by position in allh: 2-grams, then 3-grams, then 4-grams
    at, values = at[order], values[order]
    offset = 0
    for k, h in grams:  # longer words override shorter ones at the same start
        sel = (at >= offset) & (at < offset + len(h))
        pos = at[sel] - offset
        length[pos] = k
        hashes[pos] = h[pos]
        idf[pos] = values[sel]
        offset += len(h)
    steps = length.tolist()
    picked: list[int] = []
    i = 0
    while i < n:
        step = steps[i]
        if step:
            picked.append(i)
            i += step
        else:
            i += 1
    return hashes[picked], idf[picked], np.asarray(picked, dtype=np.intp)


def _phrase_hash(phrase: str) -> np.uint64:
    return np.uint64(
        int.from_bytes(hashlib.blake2b(phrase.encode("utf-8"), digest_size=8).digest(), "little")
    )


def is_day_term(terms: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Which terms are day mentions (their hashes are odd; every other term's is even)."""
    return (terms & np.uint64(1)).astype(np.bool_)


def story_terms(
    title: str, text: str, lines: list[str] | None = None
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
    """Distinct salient terms of an article (normalised title and text) and their weights. ``lines``: the
    text's :func:`~pipelines.minhash.content_lines`, when already known."""
    if lines is None:
        lines = content_lines(text)
    body = "\n".join(lines) or text
    dtitle = strip_text(title)
    words, wv, starts = segment_words(dtitle + "|" + strip_text(body[: LEAD_CHARS * 2])[:LEAD_CHARS])
    in_title = starts < len(dtitle)
    th, tv = words[in_title], wv[in_title]
    bh, bv = words[~in_title], wv[~in_title]
    extra_h: list[np.uint64] = []
    extra_v: list[float] = []
    for m in _QUOTED.finditer(title + "\n" + body[:QUOTED_SCAN]):
        phrase = strip_text(m.group(1) or m.group(2))
        if len(phrase) >= 2:
            extra_h.append(_phrase_hash(phrase) & ~np.uint64(1))
            extra_v.append(QUOTED_IDF)
    for m in _DAY.finditer(title + "\n" + body[: LEAD_CHARS * 2]):
        extra_h.append(_phrase_hash(f"{int(m.group(1))}月{int(m.group(2))}日") | np.uint64(1))
        extra_v.append(DAY_IDF)
    eh = np.asarray(extra_h, dtype=np.uint64)
    ev = np.asarray(extra_v, dtype=np.float32)
    even = ~np.uint64(1)
    allh = np.concatenate([bh & even, th & even, th & even, eh])  # headline words count twice
    allv = np.concatenate([bv, tv, tv, ev]).astype(np.float64)
    rare = allv >= MIN_IDF
    allh, allv = allh[rare], allv[rare]
    if len(allh) == 0:
        return allh, np.zeros(0)
    uniq, first, counts = np.unique(allh, return_index=True, return_counts=True)
    return uniq, allv[first] * (1.0 + np.log(counts))
