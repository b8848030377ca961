"""One-permutation MinHash signatures of a dedup text's shingles, their LSH band keys, and the estimates they
give (Jaccard similarity, containment).

Each shingle's 64-bit hash chooses a bin with its top bits and the bin keeps the minimum of the next 32 bits;
empty bins borrow the next non-empty bin's value, rehashed with the distance (densification). One hash per
shingle instead of one per bin makes a signature about as cheap as reading the text.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pipelines.dedup.kernels import _EMPTY, _M1, _M2, _P, containment_many, rolling, signature_rows
from pipelines.dedup.rules import NUM_PERM, SHINGLE

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


def _mix(h: U64) -> U64:
    """splitmix64 finaliser, element-wise (wrapping uint64 arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * _M1
    h = h ^ (h >> np.uint64(27))
    h = h * _M2
    return h ^ (h >> np.uint64(31))


def _codepoints(text: str) -> U32:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def gram_hashes(dtext: str, k: int) -> U64:
    """64-bit hashes of every character ``k``-gram of ``dtext`` (in order, with repeats)."""
    if not dtext:
        return np.zeros(0, dtype=np.uint64)
    cps = _codepoints(dtext)
    return rolling(cps, min(k, len(cps)))


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
    return signature_rows(_codepoints("".join(dtexts)), lengths, k, bits)


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
    result: npt.NDArray[np.float64] = containment_many(
        np.asarray(jaccard, dtype=np.float64), int(size), np.asarray(sizes, dtype=np.int64)
    )
    return result
