"""The form of a text that duplicates are compared on: the search normalisation, navigation-like lines left
out, lower-cased, letters, digits and CJK only; and its exact-duplicate fingerprint.

Pure functions over strings; the passes over the code points of many texts at once are compiled
(:mod:`pipelines.dedup.kernels`).
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from functools import lru_cache
from itertools import compress
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipelines.dedup.kernels import _MULTI, WORD_RANGES, content_chars, word_chars
from pipelines.dedup.kernels import SOURCE as KERNELS_SOURCE
from pipelines.dedup.rules import SHORT_LINE
from pipelines.mapped import mapped_table
from pipelines.normalize import normalize_text

U32 = npt.NDArray[np.uint32]

SENTENCE_PUNCT = "。！？；，,.!?;:："  # a line holding one of these is a sentence, not navigation
_NOT_WORD = re.compile("[^" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in WORD_RANGES) + "]+")
_SENTENCE_PUNCT = re.compile("[" + re.escape(SENTENCE_PUNCT) + "]")
_NO_CPS = np.zeros(0, dtype=np.uint32)


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
    chars, ends, ok = word_chars(cps, _NO_CPS, starts, lengths, lowered_words())
    if not ok:  # a character beyond the table: the text lower-cased first
        low = text.lower()
        if len(low) != len(cps):  # a character lower-cased into several
            return [
                strip_text(text[a : a + n]) for a, n in zip(starts.tolist(), lengths.tolist(), strict=True)
            ]
        low_cps = np.frombuffer(low.encode("utf-32-le"), dtype=np.uint32)
        chars, ends, ok = word_chars(cps, low_cps, starts, lengths, lowered_words())
    out = chars.tobytes().decode("utf-32-le")
    bounds = ends.tolist()
    return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


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
        if len(words) < SHORT_LINE and not _SENTENCE_PUNCT.search(line):
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
    keep, chars, ok = content_chars(cps, _NO_CPS, CLASS_TABLE, lowered_words(), SHORT_LINE)
    if not ok:  # a character beyond the table: the texts lower-cased first
        low = big.lower()
        if len(low) != len(cps):  # a character lower-cased into several: line by line
            return [stripped_lines(n) for n in norms]
        low_cps = np.frombuffer(low.encode("utf-32-le"), dtype=np.uint32)
        keep, chars, ok = content_chars(cps, low_cps, CLASS_TABLE, lowered_words(), SHORT_LINE)
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


def _table(ranges: list[tuple[int, int]]) -> npt.NDArray[np.bool_]:
    """A code point → bool table over the Basic Multilingual Plane (the last entry, U+FFFF, is False)."""
    table = np.zeros(0x10000, dtype=np.bool_)
    for lo, hi in ranges:
        table[lo : hi + 1] = True
    table[0xFFFF] = False
    return table


#: code point → 1 if a word character, 2 if sentence punctuation, else 0 (over the Basic Multilingual Plane)
WORD_TABLE = _table(list(WORD_RANGES))
CLASS_TABLE = WORD_TABLE.astype(np.uint8) | (
    _table([(ord(c), ord(c)) for c in SENTENCE_PUNCT]).astype(np.uint8) << np.uint8(1)
)


@lru_cache(maxsize=1)
def lowered_words() -> U32:
    """Code point → the code point of its lower case (``str.lower``) if that is one word character, 0 if it is
    not a word character, :data:`~pipelines.dedup.kernels._MULTI` if it is several characters; over the Basic
    Multilingual Plane, and one last entry for every code point beyond it (0 when none of them lower-cases into
    a word character or into several characters). Built once per Unicode version (memory-mapped)."""
    inputs: list[str | Path] = [sys.version, unicodedata.unidata_version, Path(__file__), Path(KERNELS_SOURCE)]
    return mapped_table("lower", inputs, lambda: {"lower": _build_lowered_words()})["lower"]


def _build_lowered_words() -> U32:
    """:func:`lowered_words`, computed."""
    lows = list(map(str.lower, _decode_codepoints(np.arange(0x10000, dtype=np.uint32))))
    single = np.fromiter(map(len, lows), dtype=np.int64, count=len(lows)) == 1
    low_cps = _surrogate_codepoints("".join(compress(lows, single.tolist())))
    table = np.full(0x10001, _MULTI, dtype=np.uint32)
    table[:0x10000][single] = np.where(WORD_TABLE[low_cps], low_cps, np.uint32(0))
    beyond = _decode_codepoints(np.arange(0x10000, 0x110000, dtype=np.uint32))
    low = beyond.lower()
    if len(low) == len(beyond) and not WORD_TABLE[np.minimum(_surrogate_codepoints(low), 0xFFFF)].any():
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
