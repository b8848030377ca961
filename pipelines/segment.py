"""Chinese words: jieba's dictionary (shipped with jieba; nothing is downloaded), read once per process.

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

_MISSING: Any = object()


def _dictionary_file() -> Path:
    """jieba's main dictionary (found without importing jieba)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ImportError("jieba is not installed")
    return Path(spec.origin).parent / "dict.txt"


@lru_cache(maxsize=1)
def _dictionary() -> tuple[dict[str, float | None], float, float]:
    """jieba's dictionary as word → log probability (``None`` for a prefix that is no word, as jieba's prefix
    dictionary holds them), the log probability of a character it does not know, and the log of the total
    count; read once per process from ``dict.txt`` the way jieba reads it (``gen_pfdict``), into this one table
    only: jieba's own frequency table beside it would double the memory (about 75 MB more per process)."""
    table: dict[str, float | None] = {}
    counts: list[tuple[str, int]] = []
    total = 0
    with _dictionary_file().open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split(" ")
            if len(parts) < 2:
                continue
            word, freq = parts[0], int(parts[1])
            counts.append((word, freq))
            total += freq
    log_total = math.log(total)
    for word, freq in counts:
        table[word] = math.log(freq) - log_total if freq else None
        for i in range(1, len(word)):
            table.setdefault(word[:i], None)
    return table, 0.0 - log_total, log_total


def segment(run: str, keep_single: bool = False) -> list[str]:
    """The words of two characters or more of a run of Chinese characters (every word with ``keep_single``), as
    jieba's dictionary-only cut (``jieba.cut(run, HMM=False)``) gives them: the most probable path through the
    dictionary's words, an unknown character counting as a word seen once, equal paths resolved towards the longer
    first word."""
    table, unknown, _ = _dictionary()
    get = table.get
    n = len(run)
    score = [0.0] * (n + 1)
    end = list(range(n + 1))
    for k in range(n - 1, -1, -1):
        best: float | None = None
        best_end = k
        i = k + 1
        lp = get(run[k], _MISSING)
        while lp is not _MISSING:
            if lp is not None:
                s = lp + score[i]
                if best is None or s >= best:
                    best, best_end = s, i - 1
            if i >= n:
                break
            i += 1
            lp = get(run[k:i], _MISSING)
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
    table, _, log_total = _dictionary()
    lp = table.get(word)
    return 0 if lp is None else round(math.exp(lp + log_total))


@lru_cache(maxsize=1)
def _name_words() -> frozenset[str]:
    """The words jieba's dictionary tags as person names (``nr``, ``nrfg``, ``nrt``)."""
    out: set[str] = set()
    with _dictionary_file().open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2].startswith("nr"):
                out.add(parts[0])
    return frozenset(out)


def is_name_word(word: str) -> bool:
    """jieba's dictionary knows ``word`` as a person's name."""
    return word in _name_words()


__all__ = ["is_name_word", "segment", "word_frequency"]
