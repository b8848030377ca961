"""Salient terms of an article, for grouping different articles about one event into a story.

A term is a dictionary word (2–4 characters) that is rare in general Chinese (jieba's IDF table, idf ≥
:data:`MIN_IDF`) found in the headline or the lead, a quoted name (“科创中国”, 《三年行动计划》) anywhere in the text,
or a day mention (1月18日) in the headline or lead. Terms are 64-bit hashes, stable across processes; weights are
idf × (1 + log tf), headline terms counted twice.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipelines.minhash import content_lines, gram_hashes, strip_text

MIN_IDF = 7.0  # dictionary words more common than this are not salient
QUOTED_IDF = 12.0
DAY_IDF = 9.0
LEAD_CHARS = 600  # characters of the (stripped) text that count as the lead
QUOTED_SCAN = 4000  # characters of the text searched for quoted names
_QUOTED = re.compile(r"[“\"「『]([^“”\"「」『』\n]{2,24})[”\"」』]|《([^《》\n]{2,40})》")
_DAY = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])月([12]\d|3[01]|0?[1-9])日")


@lru_cache(maxsize=1)
def _dictionary() -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
    """Sorted hashes of the 2–4 character words of jieba's IDF table, and their idf."""
    import jieba.analyse

    path = Path(jieba.analyse.__file__).parent / "idf.txt"
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
    v = np.concatenate(idfs)
    order = np.argsort(h, kind="stable")
    return h[order], v[order]


def segment_words(dtext: str) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
    """Forward maximum matching of ``dtext`` (stripped) against the dictionary: the hashes and idf of the
    dictionary words it is cut into, in order (characters outside any word are skipped)."""
    words, idf = _dictionary()
    n = len(dtext)
    length = np.zeros(n, dtype=np.int8)
    where = np.zeros(n, dtype=np.intp)
    for k in (2, 3, 4):  # longer words override shorter ones at the same start
        if n < k:
            break
        h = gram_hashes(dtext, k)
        pos = np.minimum(np.searchsorted(words, h), len(words) - 1)
        hit = np.flatnonzero(words[pos] == h)
        length[hit] = k
        where[hit] = pos[hit]
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
    at = where[picked]
    return words[at], idf[at]


def _phrase_hash(phrase: str) -> np.uint64:
    return np.uint64(gram_hashes(phrase, len(phrase))[0])


def is_day_term(terms: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Which terms are day mentions (their hashes are odd; every other term's is even)."""
    return (terms & np.uint64(1)).astype(np.bool_)


def story_terms(title: str, text: str) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
    """Distinct salient terms of an article (normalised title and text) and their weights."""
    body = "\n".join(content_lines(text[: QUOTED_SCAN * 2])) or text
    th, tv = segment_words(strip_text(title))
    bh, bv = segment_words(strip_text(body[: LEAD_CHARS * 2])[:LEAD_CHARS])
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
