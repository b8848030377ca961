"""Chinese words: jieba's dictionary (shipped with jieba; nothing is downloaded), mapped by every process.

* :func:`segment` — jieba's dictionary-only cut of a run of Chinese characters, computed in one pass;
* :func:`word_frequency` — how often the dictionary saw a word (0: no word);
* :func:`is_name_word` — the dictionary tags the word as a person's name.

Classification reads words as features; routing uses them to tell names from common words and to cut snippets
at word boundaries.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import marisa_trie
import numpy as np

from pipelines.mapped import Arrays, mapped_table

#: jieba's longest word (16 characters): no word starting at a position reaches further
MAX_WORD = 16


def _dictionary_file() -> Path:
    """jieba's main dictionary (found without importing jieba)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ImportError("jieba is not installed")
    return Path(spec.origin).parent / "dict.txt"


def _build(path: Path) -> Arrays:
    """jieba's dictionary as arrays: its words in a trie (``trie``, marisa's bytes), and by the trie's word ids
    the word's log probability (``logp``), whether it is tagged a person's name (``name``); ``meta`` holds the
    log probability of a character the dictionary does not know and the log of the total count. Read the way
    jieba reads ``dict.txt`` (``gen_pfdict``)."""
    counts: dict[str, int] = {}
    names: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split(" ")
            if len(parts) < 2:
                continue
            counts[parts[0]] = int(parts[1])
            if len(parts) == 3 and parts[2].startswith("nr"):
                names.add(parts[0])
    log_total = math.log(sum(counts.values()))
    words = [w for w, freq in counts.items() if freq]  # a word seen 0 times is no word (jieba: a prefix only)
    if max(map(len, words)) > MAX_WORD:
        raise ValueError(f"{path}: a word longer than {MAX_WORD} characters")
    trie = marisa_trie.Trie(words)
    logp = np.zeros(len(trie), dtype=np.float64)
    name = np.zeros(len(trie), dtype=np.uint8)
    for word in words:
        i = trie[word]
        logp[i] = math.log(counts[word]) - log_total
        name[i] = word in names
    return {
        "trie": np.frombuffer(trie.tobytes(), dtype=np.uint8),
        "logp": logp,
        "name": name,
        "meta": np.array([0.0 - log_total, log_total]),
    }


@lru_cache(maxsize=1)
def _dictionary() -> tuple[Any, memoryview, memoryview, float, float]:
    """(trie, log probabilities, name flags, unknown character's log probability, log total): built once per
    machine into a mapped table (:func:`pipelines.mapped.mapped_table`) that every process maps, so that
    concurrent crawls share it (as a Python dictionary it took about 70 MB in each process)."""
    path = _dictionary_file()
    arrays = mapped_table("segment", [path, Path(__file__), "marisa-trie"], lambda: _build(path))
    trie = marisa_trie.Trie().frombytes(arrays["trie"].tobytes())
    unknown, log_total = (float(x) for x in arrays["meta"])
    # memoryviews of the mapped arrays: indexing one gives a Python number, without numpy's per-call cost
    logp: Any = arrays["logp"]
    name: Any = arrays["name"]
    return trie, memoryview(logp), memoryview(name), unknown, log_total


def segment(run: str, keep_single: bool = False) -> list[str]:
    """The words of two characters or more of a run of Chinese characters (every word with ``keep_single``), as
    jieba's dictionary-only cut (``jieba.cut(run, HMM=False)``) gives them: the most probable path through the
    dictionary's words, an unknown character counting as a word seen once, equal paths resolved towards the longer
    first word."""
    trie, logp, _, unknown, _ = _dictionary()
    prefixes = trie.iter_prefixes_with_ids
    n = len(run)
    score = [0.0] * (n + 1)
    end = list(range(n + 1))
    for k in range(n - 1, -1, -1):
        best: float | None = None
        best_end = k
        for word, i in prefixes(run[k : k + MAX_WORD]):  # shortest first: ties go to the longer word
            after = k + len(word)
            s = logp[i] + score[after]
            if best is None or s >= best:
                best, best_end = s, after - 1
        if best is None:
            best = unknown + score[k + 1]
        score[k] = best
        end[k] = best_end
    out: list[str] = []
    x = 0
    while x < n:
        y = end[x] + 1
        if y - x > 1 or keep_single:
            out.append(run[x:y])
        x = y
    return out


def word_frequency(word: str) -> int:
    """How often jieba's dictionary saw ``word`` (0: not a word)."""
    trie, logp, _, _, log_total = _dictionary()
    i = trie.get(word)
    return 0 if i is None else round(math.exp(logp[i] + log_total))


def is_name_word(word: str) -> bool:
    """jieba's dictionary knows ``word`` as a person's name."""
    trie, _, name, _, _ = _dictionary()
    i = trie.get(word)
    return i is not None and bool(name[i])


__all__ = ["is_name_word", "segment", "word_frequency"]
