"""Linear text classifiers for the learned layer: TF-IDF over character 1–3-grams (and, for a head that asks for
them, the jieba words of its Chinese runs), one weight per feature and class.

Inference needs only numpy: a head stores its vocabulary, the inverse document frequencies and the weight
matrix (float16, base64 in the model's JSON file). Training (:func:`pipelines.classify.train.fit_linear_head`)
uses scikit-learn, a build-time dependency.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.segment import segment

_HAN_FIRST, _HAN_LAST = 0x4E00, 0x9FFF  # the Chinese characters of a run
_ASCII_TOKEN = re.compile(r"[a-z][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]+")  # lowercase ASCII words and numbers
_TOKEN = re.compile(f"[{chr(_HAN_FIRST)}-{chr(_HAN_LAST)}]+|{_ASCII_TOKEN.pattern}")
_CJK = re.compile(r"[\u4e00-\u9fd5]{2,}")  # the characters jieba reads as Chinese
MAX_N = 3
WORD_PREFIX = "w:"  # a word feature, told apart from the character n-gram of the same characters


def ngrams(text: str, limit: int = 800) -> list[str]:
    """Character 1–3-grams of the Chinese runs of ``text[:limit]`` and its lowercase ASCII words/numbers."""
    out: list[str] = []
    for m in _TOKEN.finditer(text[:limit].lower()):
        run = m.group(0)
        if run.isascii():
            out.append(run)
            continue
        out.extend(run)
        n = len(run)
        out.extend(run[i : i + 2] for i in range(n - 1))
        out.extend(run[i : i + 3] for i in range(n - 2))
    return out


def words(text: str, limit: int = 800) -> list[str]:
    """The dictionary words of two characters or more in the Chinese runs of ``text[:limit]`` (:func:`segment`:
    no guesses, so the same text always gives the same words), each as ``w:<word>``."""
    return [WORD_PREFIX + w for run in _CJK.findall(text[:limit]) for w in segment(run)]


TITLE_SEP = "\x1e"  # joins a headline and a body into one text for a head that reads them apart
TITLE_PREFIX = "t:"  # a headline's n-gram, told apart from the body's


def features(text: str, limit: int = 800, with_words: bool = False, with_title: bool = False) -> list[str]:
    """The features a head reads: character n-grams, then the words when the head uses them; a head that reads
    the headline apart gets ``headline + TITLE_SEP + body`` and sees the headline's n-grams as ``t:<gram>``."""
    if with_title:
        title, sep, body = text.partition(TITLE_SEP)
        if not sep:
            title, body = "", text
        head = [TITLE_PREFIX + g for g in ngrams(title, 200)]
        return head + features(body, limit, with_words)
    grams = ngrams(text, limit)
    return grams + words(text, limit) if with_words else grams


_TITLE_BIT = np.uint64(1 << 63)  # a headline's n-gram (``t:``)
_SHIFTS = (np.uint64(42), np.uint64(21))  # the first and second character's place in an n-gram's number


def _gram_number(first: Any, second: Any, third: Any) -> Any:
    """The numbers of 1-3 character n-grams from their code points (numpy arrays, three 21-bit fields; 0 where an
    n-gram is shorter): the vocabulary's and a text's n-grams are numbered here alike."""
    return (first << _SHIFTS[0]) | (second << _SHIFTS[1]) | third


def _gram_points(gram: str) -> tuple[int, int, int] | None:
    """The code points of a 1-3 character Chinese n-gram (0 for the places it leaves empty), None for any other
    feature."""
    if not 1 <= len(gram) <= MAX_N or not all(_HAN_FIRST <= ord(c) <= _HAN_LAST for c in gram):
        return None
    points = [ord(c) for c in gram] + [0, 0]
    return points[0], points[1], points[2]


class GramIndex:
    """A head's vocabulary, indexed for :func:`ngrams` without making a string of each n-gram.

    The Chinese n-grams of a text are numbered with numpy (code points shifted into one 64-bit number, the
    headline's with the top bit set) and looked up in the sorted numbers of the vocabulary's n-grams; the few
    ASCII words go through the vocabulary's dict. What it finds is exactly what looking up every string of
    :func:`ngrams` finds (``tests/test_classify.py`` holds it to that), at a tenth of the cost.
    """

    def __init__(self, vocab: Mapping[str, int]) -> None:
        points: list[tuple[int, int, int]] = []
        titles: list[bool] = []
        index: list[int] = []
        for key, j in vocab.items():
            title = key.startswith(TITLE_PREFIX)
            found = _gram_points(key[len(TITLE_PREFIX) :] if title else key)
            if found is not None:
                points.append(found)
                titles.append(title)
                index.append(j)
        cols = np.asarray(points, dtype=np.uint64).reshape(-1, 3)
        numbers = _gram_number(cols[:, 0], cols[:, 1], cols[:, 2])
        numbers[np.asarray(titles, dtype=bool)] |= _TITLE_BIT
        order = np.argsort(numbers, kind="stable")
        self.codes = numbers[order]
        self.index = np.asarray(index, dtype=np.int64)[order]
        self.vocab = vocab

    def lookup(self, text: str, limit: int, prefix: str = "") -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(vocabulary indexes, how often each occurs) of the features of ``ngrams(text, limit)`` (each with
        ``prefix``: "" or "t:") that the vocabulary holds."""
        low = text[:limit].lower()
        a = np.frombuffer(low.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        han = (a >= _HAN_FIRST) & (a <= _HAN_LAST)
        two = han[:-1] & han[1:]
        three = two[:-1] & han[2:]
        zero = np.uint64(0)
        grams = np.concatenate(
            (
                _gram_number(a[han], zero, zero),
                _gram_number(a[:-1][two], a[1:][two], zero),
                _gram_number(a[:-2][three], a[1:-1][three], a[2:][three]),
            )
        )
        if prefix:
            grams |= _TITLE_BIT
        idx, tf = self.index[:0], self.index[:0]
        if grams.size and self.codes.size:
            uniq, counts = np.unique(grams, return_counts=True)  # sorted: the search below walks forward
            pos = np.minimum(np.searchsorted(self.codes, uniq), self.codes.size - 1)
            hit = self.codes[pos] == uniq
            idx, tf = self.index[pos[hit]], counts[hit]
        get = self.vocab.get
        words = [j for j in (get(prefix + w) for w in _ASCII_TOKEN.findall(low)) if j is not None]
        if words:
            w_idx, w_tf = np.unique(np.asarray(words, dtype=np.int64), return_counts=True)
            idx, tf = np.concatenate((idx, w_idx)), np.concatenate((tf, w_tf))
        return idx, tf


def _encode(a: npt.NDArray[Any]) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f2").tobytes()).decode("ascii")


def _decode(s: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    return np.frombuffer(base64.b64decode(s), dtype="<f2").astype(np.float32).reshape(shape)


_NO_DENSE = np.zeros((0, 1), dtype=np.float32)


@dataclass
class LinearHead:
    """A linear classifier over TF-IDF n-grams (sublinear term frequency, L2-normalised rows), optionally with
    named dense features beside them (standardised with the centre and scale of the training set)."""

    classes: list[str]
    vocab: dict[str, int]
    idf: npt.NDArray[np.float32]  # (V,)
    weights: npt.NDArray[np.float32]  # (V, K); K == 1 for two classes (score of classes[1])
    bias: npt.NDArray[np.float32]  # (K,)
    limit: int = 800  # characters read
    with_words: bool = False  # jieba words besides the character n-grams
    with_title: bool = False  # the headline's n-grams apart from the body's (``t:``)
    dense: tuple[str, ...] = ()  # names of the dense features, in the order of ``dense_weights``
    dense_weights: npt.NDArray[np.float32] = field(default_factory=lambda: _NO_DENSE)  # (D, K)
    dense_center: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    dense_scale: npt.NDArray[np.float32] = field(default_factory=lambda: np.ones(0, dtype=np.float32))

    kind = "linear"

    def dense_vector(self, extra: Mapping[str, float] | None) -> npt.NDArray[np.float32]:
        """The standardised dense features (missing ones count as the training centre)."""
        raw = np.asarray(
            [float((extra or {}).get(n, c)) for n, c in zip(self.dense, self.dense_center, strict=True)],
            np.float32,
        )
        out: npt.NDArray[np.float32] = (raw - self.dense_center) / self.dense_scale
        return out

    @cached_property
    def _grams(self) -> GramIndex:
        return GramIndex(self.vocab)

    def counts(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(vocabulary indexes in increasing order, how often each occurs) of the features of ``text`` that the
        head knows — the features of :func:`features`, looked up through :class:`GramIndex`."""
        grams = self._grams
        if self.with_title:
            title, sep, body = text.partition(TITLE_SEP)
            if not sep:
                title, body = "", text
            parts = [grams.lookup(title, 200, TITLE_PREFIX), grams.lookup(body, self.limit)]
        else:
            body = text
            parts = [grams.lookup(body, self.limit)]
        if self.with_words:
            get = self.vocab.get
            found = [j for j in map(get, words(body, self.limit)) if j is not None]
            parts.append(np.unique(np.asarray(found, dtype=np.int64), return_counts=True))
        # the parts' features are told apart by their prefixes (t:, w:), so no index is in two parts
        idx = np.concatenate([p[0] for p in parts])
        tf = np.concatenate([p[1] for p in parts])
        order = np.argsort(idx)
        return idx[order], tf[order]

    def decision(self, text: str, extra: Mapping[str, float] | None = None) -> npt.NDArray[np.float32]:
        """Raw scores (K,): one per class, or one log-odds of ``classes[1]`` for a two-class head."""
        idx, tf = self.counts(text)
        out = self.bias.astype(np.float32)
        if idx.size:
            x = (1.0 + np.log(tf.astype(np.float32))) * self.idf[idx]
            x /= float(np.sqrt(np.dot(x, x))) or 1.0
            out = (out + x @ self.weights[idx]).astype(np.float32)
        if self.dense:
            out = (out + self.dense_vector(extra) @ self.dense_weights).astype(np.float32)
        return out

    def log_odds(self, text: str, positive: str, extra: Mapping[str, float] | None = None) -> float:
        """Log-odds of class ``positive`` against the best other class."""
        d = self.decision(text, extra)
        if len(self.classes) == 2 and d.shape[0] == 1:
            s = float(d[0])
            return s if positive == self.classes[1] else -s
        i = self.classes.index(positive)
        others = np.delete(d, i)
        return float(d[i] - others.max())

    def posterior(self, text: str, extra: Mapping[str, float] | None = None) -> dict[str, float]:
        """Class probabilities (softmax of the scores; logistic for two classes)."""
        d = self.decision(text, extra)
        if len(self.classes) == 2 and d.shape[0] == 1:
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, float(d[0])))))
            return {self.classes[0]: 1.0 - p, self.classes[1]: p}
        e = np.exp(d - d.max())
        e /= e.sum()
        return {c: float(v) for c, v in zip(self.classes, e, strict=True)}

    def to_json(self) -> dict[str, Any]:
        vocab = sorted(self.vocab, key=self.vocab.__getitem__)
        return {
            "kind": self.kind,
            "classes": self.classes,
            "limit": self.limit,
            "words": self.with_words,
            "vocab": vocab,
            "idf": _encode(self.idf),
            "weights": _encode(self.weights),
            "k": int(self.weights.shape[1]),
            "bias": [round(float(b), 5) for b in self.bias],
            **(
                {
                    "title": True,
                }
                if self.with_title
                else {}
            ),
            **(
                {
                    "dense": list(self.dense),
                    "dense_weights": [[round(float(v), 5) for v in row] for row in self.dense_weights],
                    "dense_center": [round(float(v), 5) for v in self.dense_center],
                    "dense_scale": [round(float(v), 5) for v in self.dense_scale],
                }
                if self.dense
                else {}
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearHead:
        vocab = list(data["vocab"])
        k = int(data["k"])
        return cls(
            classes=list(data["classes"]),
            vocab={w: i for i, w in enumerate(vocab)},
            idf=_decode(data["idf"], (len(vocab),)),
            weights=_decode(data["weights"], (len(vocab), k)),
            bias=np.asarray(data["bias"], dtype=np.float32),
            limit=int(data.get("limit", 800)),
            with_words=bool(data.get("words", False)),
            with_title=bool(data.get("title", False)),
            dense=tuple(data.get("dense", ())),
            dense_weights=np.asarray(data.get("dense_weights") or np.zeros((0, k)), dtype=np.float32).reshape(
                -1, k
            ),
            dense_center=np.asarray(data.get("dense_center", []), dtype=np.float32),
            dense_scale=np.asarray(data.get("dense_scale", []), dtype=np.float32),
        )
