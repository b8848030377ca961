"""Chinese words: jieba's dictionary (shipped with jieba; nothing is downloaded), read once per process.

* :func:`segment` — jieba's dictionary-only cut of a run of Chinese characters, computed in one pass;
* :func:`word_frequency` — how often the dictionary saw a word (0: no word);
* :func:`is_name_word` — the dictionary tags the word as a person's name.

Classification reads words as features; routing uses them to tell names from common words and to cut snippets
at word boundaries.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def _freq() -> dict[str, int]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq: dict[str, int] = jieba.dt.FREQ
    return freq


_MISSING: Any = object()


@lru_cache(maxsize=1)
def _dictionary() -> tuple[dict[str, float | None], float]:
    """jieba's dictionary as word → log probability (``None`` for a prefix that is no word) and the log
    probability of a character it does not know; loaded once per process (about two seconds)."""
    import jieba

    freq = _freq()
    log_total = math.log(jieba.dt.total)
    table = {w: (math.log(f) - log_total if f else None) for w, f in freq.items()}
    return table, 0.0 - log_total


def segment(run: str, keep_single: bool = False) -> list[str]:
    """The words of two characters or more of a run of Chinese characters (every word with ``keep_single``), as
    jieba's dictionary-only cut (``jieba.cut(run, HMM=False)``) gives them: the most probable path through the
    dictionary's words, an unknown character counting as a word seen once, equal paths resolved towards the longer
    first word."""
    table, unknown = _dictionary()
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
    return _freq().get(word, 0) or 0


@lru_cache(maxsize=1)
def _name_words() -> frozenset[str]:
    """The words jieba's dictionary tags as person names (``nr``, ``nrfg``, ``nrt``)."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    out: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2].startswith("nr"):
                out.add(parts[0])
    return frozenset(out)


def is_name_word(word: str) -> bool:
    """jieba's dictionary knows ``word`` as a person's name."""
    return word in _name_words()


__all__ = ["is_name_word", "segment", "word_frequency"]
