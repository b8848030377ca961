"""Training of the learned layer (build time: needs scikit-learn for the linear heads)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from core.errors import TechscoutError
from pipelines.classify.classifier import (
    DOMAIN_FIT,
    HEADLINE_FIT,
    HEADLINE_THRESHOLD,
    NO_DOMAIN,
    SHORT_TEXT,
    classify,
)
from pipelines.classify.linear import LinearHead, features
from pipelines.classify.model import Head, Model, NBHead, char_features
from pipelines.taxonomy import Taxonomy


def train_head(
    examples: Iterable[tuple[str, str]], *, alpha: float = 0.5, max_features: int = 12000, min_count: int = 2
) -> NBHead:
    """Train a naive-Bayes head on ``(text, label)`` pairs; keeps the ``max_features`` most discriminative."""
    counts: dict[str, Counter[str]] = {}
    docs: Counter[str] = Counter()
    for text, label in examples:
        docs[label] += 1
        counts.setdefault(label, Counter()).update(char_features(text))
    if len(docs) < 2:
        raise TechscoutError("training needs examples of at least two classes")
    classes = sorted(docs)
    total_docs = sum(docs.values())
    prior = [math.log(docs[c] / total_docs) for c in classes]
    vocab: Counter[str] = Counter()
    for c in classes:
        vocab.update(counts[c])
    kept = [f for f, n in vocab.items() if n >= min_count]
    sizes = {c: sum(counts[c].values()) for c in classes}
    v = len(kept) + 1
    logp: dict[str, list[float]] = {}
    for f in kept:
        logp[f] = [math.log((counts[c][f] + alpha) / (sizes[c] + alpha * v)) for c in classes]
    default = [math.log(alpha / (sizes[c] + alpha * v)) for c in classes]

    def spread(f: str) -> float:
        row = logp[f]
        mean = sum(row) / len(row)
        return max(abs(x - mean) for x in row) * math.log1p(vocab[f])

    keep = sorted(logp, key=spread, reverse=True)[:max_features]
    return NBHead(
        classes,
        [round(p, 4) for p in prior],
        {f: [round(x, 3) for x in logp[f]] for f in keep},
        [round(x, 3) for x in default],
    )


def _have_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def _best_threshold(scores: list[float], gold: list[bool]) -> float:
    """The score threshold with the best F1 of the positive class."""
    ranked = sorted(zip(scores, gold, strict=True), reverse=True)
    total_pos = sum(gold)
    tp = 0
    best, best_t = -1.0, ranked[0][0] if ranked else 0.0
    for k, (score, g) in enumerate(ranked, 1):
        tp += g
        f = 2 * tp / (k + total_pos) if total_pos else 0.0
        if f > best and (k == len(ranked) or ranked[k][0] < score):
            best, best_t = f, score
    return best_t


def _fit_headline(
    rows: list[tuple[str, str, bool]], taxonomy: Taxonomy | None, folds: int = 5
) -> tuple[LinearHead, list[float]]:
    """The headline head and the weights that combine it with the rules: ``(model, rules, negative, bias)``.

    ``rows`` are ``(headline, training text, relevant)``; the training text may add keywords to the headline.
    The combination is fitted on out-of-fold model scores and its bias moved so that the threshold with the
    best F1 on them falls on ``HEADLINE_THRESHOLD``.
    """
    from sklearn.linear_model import LogisticRegression

    labels = ["1" if r else "0" for _, _, r in rows]
    oof = [0.0] * len(rows)
    for f in range(folds):
        train = [i for i in range(len(rows)) if i % folds != f]
        if len({labels[i] for i in train}) < 2:
            continue
        head = fit_linear_head([rows[i][1] for i in train], [labels[i] for i in train], **HEADLINE_FIT)
        for i in range(f, len(rows), folds):
            oof[i] = head.log_odds(rows[i][0], "1")
    rules = [classify(h, "", taxonomy=taxonomy, model=False).rule_relevance for h, _, _ in rows]
    x = [[m, p, -n] for m, (p, n) in zip(oof, rules, strict=True)]
    stack = LogisticRegression(C=1.0).fit(x, labels)
    wm, wp, wn = (float(v) for v in stack.coef_[0])
    z = [float(v) for v in stack.decision_function(x)]
    cut = _best_threshold(z, [r for _, _, r in rows])
    bias = float(stack.intercept_[0]) - cut + math.log(HEADLINE_THRESHOLD / (1.0 - HEADLINE_THRESHOLD))
    head = fit_linear_head([t for _, t, _ in rows], labels, **HEADLINE_FIT)
    return head, [round(wm, 4), round(wp, 4), round(wn, 4), round(bias, 4)]


def train_model(
    examples: Iterable[Mapping[str, Any]],
    *,
    meta: Mapping[str, Any] | None = None,
    taxonomy: Taxonomy | None = None,
) -> Model:
    """Train the learned layer from labelled examples.

    Each example has ``title``/``text`` and any of ``scitech_relevant`` (bool) and ``domains`` (list: the first
    is used as its top domain); a headline may come with ``keywords`` that enrich its training text. Examples
    without a label for a head are skipped for that head; full texts that are not sci-tech teach the domain
    head its ``none`` class. With scikit-learn installed the headline and domain heads are logistic
    regressions over character n-grams, otherwise naive Bayes.
    """
    rel: list[tuple[str, str]] = []
    short: list[tuple[str, str, bool]] = []
    dom: list[tuple[str, str]] = []
    for ex in examples:
        title, body = str(ex.get("title") or ""), str(ex.get("text") or "")
        text = f"{title}\n{body}"
        domains = ex.get("domains") or []
        if ex.get("scitech_relevant") is not None:
            relevant = bool(ex["scitech_relevant"])
            # bare headlines train their own head: their vocabulary differs from full texts'
            if len(body) < SHORT_TEXT:
                keywords = str(ex.get("keywords") or "").replace(",", " ")
                short.append((text, f"{text}\n{keywords}" if keywords else text, relevant))
                if not relevant and not domains:
                    dom.append((short[-1][1], NO_DOMAIN))
            else:
                rel.append((text, "1" if relevant else "0"))
                if not relevant and not domains:
                    dom.append((text, NO_DOMAIN))
        if domains:
            dom.append((text, str(domains[0])))
    linear = _have_sklearn()
    heads: dict[str, Head] = {}
    info: dict[str, Any] = {}
    if len({lab for _, lab in rel}) == 2:
        heads["relevance"] = train_head(rel)
    if len({r for _, _, r in short}) == 2:
        if linear and len(short) >= 20:
            heads["headline"], info["headline_weights"] = _fit_headline(short, taxonomy)
        else:
            heads["headline"] = train_head(
                [(t, "1" if r else "0") for t, _, r in short], alpha=0.1, min_count=1, max_features=20000
            )
    if len({lab for _, lab in dom if lab != NO_DOMAIN}) >= 2:
        if linear:
            heads["domain"] = fit_linear_head([t for t, _ in dom], [lab for _, lab in dom], **DOMAIN_FIT)
        else:
            heads["domain"] = train_head([(t, lab) for t, lab in dom if lab != NO_DOMAIN], max_features=20000)
    if not heads:
        raise TechscoutError(
            "not enough labelled examples (need both classes of scitech_relevant, or domains)"
        )
    return Model(
        heads,
        dict(
            meta or {},
            relevance_examples=len(rel),
            headline_examples=len(short),
            domain_examples=len(dom),
            **info,
        ),
    )


def fit_linear_head(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    c: float = 10.0,
    max_features: int = 40000,
    min_df: int = 2,
    limit: int = 800,
    sample_weight: Sequence[float] | None = None,
    class_weight: str | None = None,
    with_words: bool = False,
) -> LinearHead:
    """Logistic regression over TF-IDF n-grams (scikit-learn, at build time); returns the numpy-only head."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(
        analyzer=lambda s: features(s, limit, with_words),
        sublinear_tf=True,
        min_df=min_df,
        max_features=max_features,
        dtype=np.float32,
    )
    x = vec.fit_transform(list(texts))
    clf = LogisticRegression(C=c, max_iter=3000, class_weight=class_weight)
    clf.fit(x, list(labels), sample_weight=None if sample_weight is None else np.asarray(sample_weight))
    vocab = {str(k): int(v) for k, v in vec.vocabulary_.items()}
    return LinearHead(
        classes=[str(k) for k in clf.classes_],
        vocab=vocab,
        idf=np.asarray(vec.idf_, dtype=np.float32),
        weights=np.asarray(clf.coef_.T, dtype=np.float32),
        bias=np.asarray(clf.intercept_, dtype=np.float32),
        limit=limit,
        with_words=with_words,
    )
