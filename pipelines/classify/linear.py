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
from typing import Any

import numpy as np
import numpy.typing as npt

from pipelines.segment import segment

_TOKEN = re.compile(r"[\u4e00-\u9fff]+|[a-z][a-z0-9+#.-]*[a-z0-9+#]|[a-z0-9]+")
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

    def decision(self, text: str, extra: Mapping[str, float] | None = None) -> npt.NDArray[np.float32]:
        """Raw scores (K,): one per class, or one log-odds of ``classes[1]`` for a two-class head."""
        get = self.vocab.get
        found = [
            j for j in map(get, features(text, self.limit, self.with_words, self.with_title)) if j is not None
        ]
        out = self.bias.astype(np.float32)
        if found:
            idx, tf = np.unique(np.asarray(found, dtype=np.int64), return_counts=True)
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
