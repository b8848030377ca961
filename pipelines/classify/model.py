"""The learned layer's runtime: heads (naive Bayes, linear), the model file, and where the model is found."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.paths import MODEL_FILE
from pipelines.classify.linear import LinearHead

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "data" / "classify_model.json.gz"
MODEL_FILE_NAME = MODEL_FILE  # a retrained model in the data directory replaces the shipped one

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+|[a-z][a-z0-9+#.-]*[a-z0-9+#]|[a-z]")


def char_features(text: str, limit: int = 600) -> list[str]:
    """Character unigrams and bigrams of Chinese runs plus lowercase ASCII words."""
    out: list[str] = []
    for m in _CJK_RUN.finditer(text[:limit].lower()):
        run = m.group(0)
        if run.isascii():
            out.append(run)
            continue
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@dataclass
class NBHead:
    """One naive-Bayes head: classes, log priors, per-feature log likelihoods, and the unseen-feature default."""

    classes: list[str]
    prior: list[float]
    logp: dict[str, list[float]]
    default: list[float]

    def scores(self, feats: Iterable[str]) -> tuple[list[float], int]:
        """Summed log likelihoods per class (without the prior) and the number of known features."""
        logp = self.logp
        rows: list[list[float]] = []
        n = 0
        for f, k in Counter(feats).items():
            row = logp.get(f)
            if row is None:
                continue
            n += k
            rows.append(row if k == 1 else [k * v for v in row])
        if not rows:
            return [0.0] * len(self.classes), 0
        return [sum(col) for col in zip(*rows, strict=True)], n

    def mean_llr(self, feats: Iterable[str], positive: str) -> float:
        """Mean log-likelihood ratio per known feature of class ``positive`` against the rest (two classes)."""
        total, n = self.scores(feats)
        if n == 0 or positive not in self.classes:
            return 0.0
        i = self.classes.index(positive)
        others = [t for j, t in enumerate(total) if j != i]
        return (total[i] - max(others)) / n

    def log_odds(self, feats: Iterable[str], positive: str) -> float:
        """Naive-Bayes log-odds of class ``positive`` against the best other class."""
        total, n = self.scores(feats)
        if positive not in self.classes:
            return 0.0
        i = self.classes.index(positive)
        logits = [p + t for p, t in zip(self.prior, total, strict=True)]
        return logits[i] - max(v for j, v in enumerate(logits) if j != i)

    def posterior(self, feats: Iterable[str], temper: float = 1.0) -> dict[str, float]:
        total, n = self.scores(feats)
        scale = 1.0 / max(1.0, n / temper) if temper > 0 else 1.0
        logits = [p + t * scale for p, t in zip(self.prior, total, strict=True)]
        m = max(logits)
        exps = [math.exp(v - m) for v in logits]
        z = sum(exps)
        return {c: e / z for c, e in zip(self.classes, exps, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes, "prior": self.prior, "logp": self.logp, "default": self.default}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NBHead:
        return cls(list(data["classes"]), list(data["prior"]), dict(data["logp"]), list(data["default"]))


Head = NBHead | LinearHead


@dataclass
class LinearScorer:
    """A logistic scorer over named numbers (the rules' counts of one candidate answer): ``bias + Σ w·x``."""

    names: tuple[str, ...]
    coef: tuple[float, ...]
    bias: float = 0.0

    def score(self, feats: Mapping[str, float]) -> float:
        return self.bias + sum(w * feats.get(n, 0.0) for n, w in zip(self.names, self.coef, strict=True))

    def probability(self, feats: Mapping[str, float]) -> float:
        z = max(-30.0, min(30.0, self.score(feats)))
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "coef": [round(c, 5) for c in self.coef],
            "bias": round(self.bias, 5),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearScorer:
        return cls(tuple(data["names"]), tuple(float(c) for c in data["coef"]), float(data.get("bias", 0.0)))


def _head_from_json(data: Mapping[str, Any]) -> Head:
    if data.get("kind") == LinearHead.kind:
        return LinearHead.from_json(dict(data))
    return NBHead.from_json(data)


@dataclass
class Model:
    """The learned layer: text heads (``headline``, ``relevance``, ``domain``, ``kind``), small linear scorers
    over the rules' numbers (``region``, ``domain_select``) and what it was trained from (``meta``)."""

    heads: dict[str, Head]
    meta: dict[str, Any] = field(default_factory=dict)
    scorers: dict[str, LinearScorer] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        data = {
            "version": 2,
            "meta": self.meta,
            "heads": {k: h.to_json() for k, h in self.heads.items()},
            "scorers": {k: s.to_json() for k, s in self.scorers.items()},
        }
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        Path(path).write_bytes(gzip.compress(raw, mtime=0))


@lru_cache(maxsize=4)
def _load_model_cached(path: str, mtime: int) -> Model:
    try:
        data = json.loads(gzip.decompress(Path(path).read_bytes()).decode("utf-8"))
        heads = {k: _head_from_json(v) for k, v in data["heads"].items()}
        scorers = {k: LinearScorer.from_json(v) for k, v in (data.get("scorers") or {}).items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a classifier model: {exc}") from None
    return Model(heads, dict(data.get("meta", {})), scorers)


def load_model(path: str | Path | None = None) -> Model | None:
    """The model at ``path`` (default: the shipped one); ``None`` when no model file exists."""
    p = Path(path) if path else SHIPPED_MODEL
    if not p.is_file():
        if path:
            raise ConfigError(f"{p}: classifier model not found")
        return None
    return _load_model_cached(str(p), p.stat().st_mtime_ns)


def model_for(settings: Any = None) -> Model | None:
    """A retrained model in the data directory when there is one, else the shipped model."""
    data_dir = getattr(settings, "data_dir", None)
    if data_dir is not None:
        local = Path(data_dir) / MODEL_FILE_NAME
        if local.is_file():
            return load_model(local)
    return load_model()
