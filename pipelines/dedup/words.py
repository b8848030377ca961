"""The dictionary of story words: the 2–4 character words of jieba's IDF table with their idf, as an
open-addressing hash table that the compiled forward maximum matching (:func:`kernels.forward_max_match`)
probes.

Parsing jieba's 350,000-line table costs about 0.5 s and 50 MB of transient memory, so the table is built once
per machine into a file (:func:`pipelines.mapped.mapped_table`) that every process maps: concurrent crawls
share its 8.4 MiB of pages.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipelines.dedup.kernels import SOURCE as KERNELS_SOURCE
from pipelines.dedup.kernels import TAG_SHIFT
from pipelines.dedup.minhash import gram_hashes
from pipelines.mapped import Arrays, mapped_table


class WordTable:
    """Open-addressing hash table of word hashes (linear probing, load ≤ 1/4): a slot holds 32 bits of the
    word's hash other than the 20 that choose the slot, and the word's idf next to them (one 8-byte ``entries``
    cell: ``tags`` and ``idf`` are its two halves), so that one memory access answers a lookup; a bit per slot
    (``used``, 128 KiB) says which slots are filled and a bit per value of a tag's top bits (``tag_bits``)
    which tags occur, answering most probes of non-words from the cache."""

    def __init__(self, arrays: Arrays) -> None:
        """The table kept in ``arrays`` (as :meth:`build` makes them: ``entries``, ``used``, ``tag_bits`` and
        ``sizes``, which holds the number of slot bits and the longest probe)."""
        bits, max_probe = (int(v) for v in arrays["sizes"])
        self.shift = np.uint64(64 - bits)
        self.mask = (1 << bits) - 1
        self.max_probe = max_probe
        self.entries: npt.NDArray[np.uint64] = arrays["entries"]
        low = 0 if sys.byteorder == "little" else 1  # the half of an entry that holds its low 32 bits
        self.tags: npt.NDArray[np.uint32] = self.entries.view(np.uint32)[low::2]
        self.idf: npt.NDArray[np.float32] = self.entries.view(np.float32)[1 - low :: 2]
        self.used: npt.NDArray[np.uint8] = arrays["used"]
        self.tag_bits: npt.NDArray[np.uint8] = arrays["tag_bits"]

    @staticmethod
    def build(hashes: npt.NDArray[np.uint64], idf: npt.NDArray[np.float32]) -> Arrays:
        """The arrays of the table of the words with these (distinct) hashes and idf."""
        bits = max(10, int(len(hashes) * 4 - 1).bit_length())
        shift = np.uint64(64 - bits)
        mask = (1 << bits) - 1
        table_tags = np.zeros(1 << bits, dtype=np.uint32)  # 0 = empty
        table_idf = np.zeros(1 << bits, dtype=np.float32)
        slot = (hashes >> shift).astype(np.intp)
        tags = (hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        tags[tags == 0] = 1
        todo = np.arange(len(hashes))
        max_probe = 0
        while len(todo):
            free = table_tags[slot[todo]] == 0
            cand = todo[free]
            _, first = np.unique(slot[cand], return_index=True)
            placed = cand[first]
            table_tags[slot[placed]] = tags[placed]
            table_idf[slot[placed]] = idf[placed]
            done = np.zeros(len(hashes), dtype=np.bool_)
            done[placed] = True
            todo = todo[~done[todo]]
            slot[todo] = (slot[todo] + 1) & mask
            max_probe += 1
        entries = table_tags.astype(np.uint64) | (table_idf.view(np.uint32).astype(np.uint64) << np.uint64(32))
        used = np.packbits(table_tags != 0, bitorder="little")
        # which values the top bits of a tag take (256 KiB): a tag not among them is no word's
        seen = np.zeros(1 << (32 - TAG_SHIFT), dtype=np.bool_)
        seen[table_tags[table_tags != 0] >> np.uint32(TAG_SHIFT)] = True
        return {
            "entries": entries,
            "used": used,
            "tag_bits": np.packbits(seen, bitorder="little"),
            "sizes": np.array([bits, max_probe], dtype=np.int64),
        }


def idf_file() -> Path:
    """jieba's IDF table (found without importing jieba, which costs seconds)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ImportError("jieba is not installed")
    return Path(spec.origin).parent / "analyse" / "idf.txt"


def _read_idf(path: Path) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
    """The distinct hashes of the 2–4 character words of an IDF table, and their idf."""
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
    return h, np.concatenate(idfs)[first]


@lru_cache(maxsize=1)
def dictionary() -> WordTable:
    """The table of the 2–4 character words of jieba's IDF table (memory-mapped, built on first use)."""
    path = idf_file()
    inputs = [path, Path(__file__), Path(KERNELS_SOURCE)]  # the words, the layout, the hash function
    return WordTable(mapped_table("words", inputs, lambda: WordTable.build(*_read_idf(path))))
