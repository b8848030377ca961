"""Salient terms of an article, for grouping different articles about one event into a story.

A term is a dictionary word (2–4 characters) that is rare in general Chinese (jieba's IDF table, idf ≥
:data:`MIN_IDF`) found in the headline or the lead, a quoted name (“科创中国”, 《三年行动计划》) anywhere in the text,
or a day mention (1月18日) in the headline or lead. Terms are 64-bit hashes, stable across processes; weights are
idf × (1 + log tf), headline terms counted twice.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from pipelines.dedup.kernels import distinct_terms, forward_max_match, quoted_spans
from pipelines.dedup.rules import DAY_IDF, LEAD_CHARS, MIN_IDF, QUOTED_IDF, QUOTED_SCAN
from pipelines.dedup.text import content_lines, strip_many, strip_spans
from pipelines.dedup.words import dictionary

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
    spans, counts = quoted_spans(cps, lengths)
    flat = spans.tolist()
    out: list[list[str]] = []
    at = 0
    for text, n in zip(texts, counts.tolist(), strict=True):
        out.append([text[a:b] for a, b in flat[at : at + n]])
        at += n
    return out


def _quoted_names_re(text: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _QUOTED.finditer(text)]


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
    table = dictionary()
    joined = "\n".join(dtexts)  # no word holds a line break: none crosses from one text into the next
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    at, hashes, idf = forward_max_match(
        cps, table.used, table.tag_bits, table.tags, table.idf, table.shift, table.mask, table.max_probe
    )
    begins = np.cumsum([0] + [len(d) + 1 for d in dtexts[:-1]]).astype(np.intp)
    doc = np.searchsorted(begins, at, side="right") - 1
    return hashes, idf, at - begins[doc], doc


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
    text's :func:`~pipelines.dedup.text.content_lines`, when already known."""
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
    spans, counts = quoted_spans(cps, lengths)
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
    uniq, first, counts, ends = distinct_terms(allh, allv, alld, len(articles))
    weight = first * (1.0 + np.log(counts))
    bounds = ends.tolist()
    return [(uniq[a:b], weight[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
