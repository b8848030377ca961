"""Text fingerprints for duplicate detection: the dedup form of a text, exact fingerprints, one-permutation
MinHash signatures with LSH band keys, and the salient terms used to group articles into stories.

Everything here is a pure function over strings and numpy arrays; :mod:`pipelines.dedup` builds the index.
"""

from __future__ import annotations

import hashlib
import re

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
_SHORT_LINE = 16  # a line with fewer word characters and no sentence punctuation is navigation chrome

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(0x100000001B3)
_EMPTY = np.uint32(0xFFFFFFFF)


def strip_text(text: str) -> str:
    """Lower-cased letters, digits and CJK only (no punctuation, no whitespace)."""
    return _NOT_WORD.sub("", text.lower())


def content_lines(norm: str) -> list[str]:
    """The lines of a normalised text that carry content: navigation-like lines (short, no sentence
    punctuation) and empty lines are left out."""
    kept: list[str] = []
    for line in norm.split("\n"):
        words = _NOT_WORD.sub("", line)
        if not words:
            continue
        if len(words) < _SHORT_LINE and not _SENTENCE_PUNCT.search(line):
            continue
        kept.append(line)
    return kept


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
    if len(out) < 20:  # a text made only of short lines (a title, a list): keep all of it
        out = strip_text(norm)
    return out


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


def gram_hashes(dtext: str, k: int) -> U64:
    """64-bit hashes of every character ``k``-gram of ``dtext`` (in order, with repeats)."""
    if not dtext:
        return np.zeros(0, dtype=np.uint64)
    cps = np.frombuffer(dtext.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < k:
        k = len(cps)
    n = len(cps) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        h = h * _P + cps[j : j + n]
    return _mix(h + np.uint64(k))


def signature(dtext: str, num_perm: int = NUM_PERM, k: int = SHINGLE) -> tuple[U32, int]:
    """One-permutation MinHash signature of the ``k``-shingle set of ``dtext`` and the set's size.

    Each shingle hash falls in one of ``num_perm`` bins (its top bits) and each bin keeps its minimum (the next
    32 bits); empty bins borrow the value of the next non-empty bin, rehashed with the distance
    ("densification"), so that the fraction of equal bins estimates the Jaccard similarity.
    """
    hashes = np.sort(gram_hashes(dtext, k))  # sort + diff: much faster than np.unique on small arrays
    if len(hashes) > 1:
        hashes = hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]
    sig = np.full(num_perm, _EMPTY, dtype=np.uint32)
    if len(hashes) == 0:
        return sig, 0
    bits = int(num_perm - 1).bit_length()
    bins = (hashes >> np.uint64(64 - bits)) % np.uint64(num_perm)
    vals = ((hashes >> np.uint64(64 - bits - 32)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    vals[vals == _EMPTY] -= np.uint32(1)
    np.minimum.at(sig, bins.astype(np.intp), vals)
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
    return sig, int(len(hashes))


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
