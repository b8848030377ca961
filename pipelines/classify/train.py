"""Training of the learned layer (build time: needs scikit-learn for the linear heads)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import TechscoutError
from pipelines.classify.classifier import SHORT_TEXT, classify, read_document, relevance_features
from pipelines.classify.domains import (
    NO_DOMAIN,
    SELECT_THRESHOLD,
    domain_posterior,
    select_domains,
    select_features,
)
from pipelines.classify.kinds import KIND_TEXT_CHARS, kind_text
from pipelines.classify.linear import LinearHead, features
from pipelines.classify.model import Head, LinearScorer, Model, NBHead, char_features
from pipelines.classify.region import NONE, candidate_features
from pipelines.classify.signals import kind_features
from pipelines.taxonomy import Taxonomy, load_taxonomy

# learned heads (logistic regression over character n-grams)
HEADLINE_FIT: dict[str, Any] = {"c": 10.0, "min_df": 1, "class_weight": "balanced", "max_features": 30000}
DOMAIN_FIT: dict[str, Any] = {
    "c": 30.0,
    "min_df": 2,
    "max_features": 40000,
    "limit": 400,
    "class_weight": "balanced",
    "with_words": True,
}
KIND_FIT: dict[str, Any] = {
    "c": 10.0,
    "min_df": 2,
    "max_features": 30000,
    "limit": KIND_TEXT_CHARS,
    "class_weight": "balanced",
    "with_title": True,
    "dense_scale": 0.3,
}
SCORER_C = 1.0  # regularisation of the region and domain scorers
INNER_FOLDS = 5  # folds inside the training documents for the relevance scorer's kind-head input
HEADLINE_C = (1.0, 3.0, 10.0)  # regularisations tried for the headline head (chosen on its training folds)
HEADLINE_THRESHOLD = 0.55  # relevance a headline at the best-F1 threshold of the training folds gets


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
    gold = [r for _, _, r in rows]
    rules = [classify(h, "", taxonomy=taxonomy, model=False).rule_relevance for h, _, _ in rows]
    best: tuple[float, float, list[float]] = (-1.0, HEADLINE_FIT["c"], [])
    for c in HEADLINE_C:  # the regularisation with the best out-of-fold F1 on the training headlines
        fit = dict(HEADLINE_FIT, c=c)
        oof = [0.0] * len(rows)
        for f in range(folds):
            train = [i for i in range(len(rows)) if i % folds != f]
            if len({labels[i] for i in train}) < 2:
                continue
            head = fit_linear_head([rows[i][1] for i in train], [labels[i] for i in train], **fit)
            for i in range(f, len(rows), folds):
                oof[i] = head.log_odds(rows[i][0], "1")
        x = [[m, p, -n] for m, (p, n) in zip(oof, rules, strict=True)]
        z = [float(v) for v in LogisticRegression(C=1.0).fit(x, labels).decision_function(x)]
        cut = _best_threshold(z, gold)
        tp = sum(1 for v, g in zip(z, gold, strict=True) if v >= cut and g)
        npred = sum(1 for v in z if v >= cut)
        f1 = 2 * tp / (npred + sum(gold)) if gold else 0.0
        if f1 > best[0]:
            best = (f1, c, oof)
    _, c, oof = best
    x = [[m, p, -n] for m, (p, n) in zip(oof, rules, strict=True)]
    stack = LogisticRegression(C=1.0).fit(x, labels)
    wm, wp, wn = (float(v) for v in stack.coef_[0])
    z = [float(v) for v in stack.decision_function(x)]
    cut = _best_threshold(z, gold)
    bias = float(stack.intercept_[0]) - cut + math.log(HEADLINE_THRESHOLD / (1.0 - HEADLINE_THRESHOLD))
    head = fit_linear_head([t for _, t, _ in rows], labels, **dict(HEADLINE_FIT, c=c))
    return head, [round(wm, 4), round(wp, 4), round(wn, 4), round(bias, 4)]


def train_model(
    examples: Iterable[Mapping[str, Any]],
    *,
    meta: Mapping[str, Any] | None = None,
    taxonomy: Taxonomy | None = None,
    base: Model | None = None,
) -> Model:
    """Train the learned layer from labelled examples.

    Two sorts of examples, told apart by ``content_type``:

    * **text examples** (headlines, abstracts, texts) with ``title``/``text`` and any of ``scitech_relevant``
      (bool) and ``domains`` (list: the first is used as its top domain); a headline may come with
      ``keywords`` that enrich its training text. They train the text heads: ``headline`` (bare headlines),
      ``relevance`` (full texts) and ``domain`` (full texts that are not sci-tech teach it its ``none`` class);
    * **labelled documents** with ``content_type`` (and ``scitech_relevant``, ``domains``, ``region``, ``url``,
      ``hints``) — the product's real input. They train the ``kind`` head and the ``region`` and
      ``domain_select`` scorers, which read the text heads' outputs (those come from ``base`` when given,
      else from the text examples here, else from the shipped model).

    With scikit-learn installed the headline, domain and kind heads are logistic regressions over character
    n-grams, otherwise naive Bayes (and no document heads).
    """
    examples = list(examples)
    documents = [ex for ex in examples if ex.get("content_type")]
    texts = [ex for ex in examples if not ex.get("content_type")]
    model = _train_text_heads(texts, meta=meta, taxonomy=taxonomy) if texts else None
    if model is None:
        model = Model(dict(base.heads), dict(base.meta)) if base is not None else None
    elif base is not None:
        model = Model({**base.heads, **model.heads}, {**base.meta, **model.meta})
    if documents:
        if not _have_sklearn():
            raise TechscoutError("training from labelled documents needs scikit-learn")
        if model is None:
            from pipelines.classify.model import load_model

            shipped = load_model()
            model = Model(dict(shipped.heads), dict(shipped.meta)) if shipped else Model({}, {})
        rows = [read_labelled(ex, model, taxonomy) for ex in documents]
        fit_document_heads(model, rows)
        model.meta = dict(model.meta, document_examples=len(rows), **(meta or {}))
    if model is None or not model.heads:
        raise TechscoutError(
            "not enough labelled examples (need both classes of scitech_relevant, or domains)"
        )
    return model


def _train_text_heads(
    examples: list[Mapping[str, Any]],
    *,
    meta: Mapping[str, Any] | None = None,
    taxonomy: Taxonomy | None = None,
) -> Model | None:
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
        return None
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
    with_title: bool = False,
    dense: Sequence[Mapping[str, float]] | None = None,
    dense_scale: float = 1.0,
) -> LinearHead:
    """Logistic regression over TF-IDF n-grams (scikit-learn, at build time); returns the numpy-only head.

    ``dense``: one mapping of named features per text, standardised and placed beside the n-grams (multiplied
    by ``dense_scale``, which sets how strongly the shared regularisation holds them back)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(
        analyzer=lambda s: features(s, limit, with_words, with_title),
        sublinear_tf=True,
        min_df=min_df,
        max_features=max_features,
        dtype=np.float32,
    )
    x = vec.fit_transform(list(texts))
    names: tuple[str, ...] = ()
    center = np.zeros(0, dtype=np.float32)
    scale = np.ones(0, dtype=np.float32)
    if dense:
        names = tuple(sorted({k for row in dense for k in row}))
        raw = np.asarray([[float(row.get(n, 0.0)) for n in names] for row in dense], dtype=np.float32)
        center = raw.mean(axis=0).astype(np.float32)
        std = raw.std(axis=0)
        scale = (np.where(std > 1e-6, std, 1.0) / dense_scale).astype(np.float32)
        x = hstack([x, csr_matrix((raw - center) / scale)]).tocsr()
    clf = LogisticRegression(C=c, max_iter=5000, class_weight=class_weight)
    clf.fit(x, list(labels), sample_weight=None if sample_weight is None else np.asarray(sample_weight))
    vocab = {str(k): int(v) for k, v in vec.vocabulary_.items()}
    coef = np.asarray(clf.coef_.T, dtype=np.float32)
    v = len(vocab)
    return LinearHead(
        classes=[str(k) for k in clf.classes_],
        vocab=vocab,
        idf=np.asarray(vec.idf_, dtype=np.float32),
        weights=coef[:v],
        bias=np.asarray(clf.intercept_, dtype=np.float32),
        limit=limit,
        with_words=with_words,
        with_title=with_title,
        dense=names,
        dense_weights=coef[v:] if names else np.zeros((0, coef.shape[1]), dtype=np.float32),
        dense_center=center,
        dense_scale=scale,
    )


# ----------------------------------------------------------------------------------------------------------
# document heads: content type, region, domains
# ----------------------------------------------------------------------------------------------------------
@dataclass
class LabelledRow:
    """One labelled document as the document heads see it (read once, fitted many times)."""

    kind_text: str
    kind_features: dict[str, float]
    reading: Any  # the classifier's Reading, for the relevance scorer's features
    content_type: str
    region_candidates: dict[str, dict[str, float]]
    region_gold: str  # a region's name, 全国 or ``none``
    domain_features: dict[str, dict[str, float]]
    domains: list[str]


def read_labelled(
    ex: Mapping[str, Any], model: Model | None, taxonomy: Taxonomy | None = None
) -> LabelledRow:
    """Read a labelled document the way :func:`~pipelines.classify.classifier.classify` reads its input."""
    tax = taxonomy or load_taxonomy()
    r = read_document(
        str(ex.get("title") or ""),
        str(ex.get("text") or ""),
        url=str(ex.get("url") or ""),
        hints=ex.get("hints") if isinstance(ex.get("hints"), dict) else {},
        fields=ex.get("fields") if isinstance(ex.get("fields"), dict) else {},
        taxonomy=tax,
        model=model if model is not None else False,
    )
    model_domain = r.model_domain
    if model_domain is None:
        dhead = model.heads.get("domain") if model else None
        model_domain = domain_posterior(dhead, f"{r.sig.title}\n{r.sig.body}")[0] if dhead is not None else {}
    gold_region = ex.get("region")
    return LabelledRow(
        kind_text=kind_text(r.sig.title, r.sig.body),
        kind_features=kind_features(r.sig, {"rel.z": r.z}),
        reading=r,
        content_type=str(ex["content_type"]),
        region_candidates=candidate_features(r.regions, str(ex["content_type"])),
        region_gold=str(gold_region) if gold_region else NONE,
        domain_features=select_features(r.sig, model_domain, tax, str(ex["content_type"])),
        domains=[str(d) for d in ex.get("domains") or []],
    )


def _fit_scorer(x: list[dict[str, float]], y: list[int]) -> LinearScorer | None:
    from sklearn.linear_model import LogisticRegression

    if len(set(y)) < 2:
        return None
    names = tuple(sorted({k for row in x for k in row}))
    a = np.asarray([[row.get(n, 0.0) for n in names] for row in x], dtype=np.float64)
    clf = LogisticRegression(C=SCORER_C, max_iter=5000).fit(a, y)
    return LinearScorer(names, tuple(float(c) for c in clf.coef_[0]), float(clf.intercept_[0]))


def _fit_kind(rows: list[LabelledRow]) -> LinearHead:
    return fit_linear_head(
        [r.kind_text for r in rows],
        [r.content_type for r in rows],
        dense=[r.kind_features for r in rows],
        **KIND_FIT,
    )


def _domain_threshold(scorer: LinearScorer, rows: list[LabelledRow]) -> float:
    """The selector threshold with the best micro-F1 of the domains on the training documents."""
    probs = [
        {d: scorer.probability(f) for d, f in r.domain_features.items()}
        for r in rows
        if r.content_type != "other" and r.domains
    ]
    gold = [set(r.domains) for r in rows if r.content_type != "other" and r.domains]
    best, best_t = -1.0, SELECT_THRESHOLD
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
        tp = fp = fn = 0
        for p, g in zip(probs, gold, strict=True):
            chosen = set(select_domains(p, t))
            tp += len(chosen & g)
            fp += len(chosen - g)
            fn += len(g - chosen)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best:
            best, best_t = f1, t
    return best_t


def fit_document_heads(model: Model, rows: list[LabelledRow], inner_folds: int = INNER_FOLDS) -> Model:
    """Fit the ``kind`` head and the ``relevance``, ``region`` and ``domain_select`` scorers on labelled
    documents (in place). The relevance scorer reads the kind head's probability of ``other`` on documents it was
    not fitted on (``inner_folds``-fold inside ``rows``)."""
    if len({r.content_type for r in rows}) >= 2:
        model.heads["kind"] = _fit_kind(rows)
        p_other = [0.0] * len(rows)
        for f in range(inner_folds):
            train = [r for i, r in enumerate(rows) if i % inner_folds != f]
            if len({r.content_type for r in train}) < 2:
                continue
            head = _fit_kind(train)
            for i in range(f, len(rows), inner_folds):
                p_other[i] = head.posterior(rows[i].kind_text, rows[i].kind_features).get("other", 0.0)
        scorer = _fit_scorer(
            [relevance_features(r.reading, p) for r, p in zip(rows, p_other, strict=True)],
            [0 if r.content_type == "other" else 1 for r in rows],
        )
        if scorer is not None:
            model.scorers["relevance"] = scorer
    # region: every candidate of every document, the gold one positive (documents whose answer is no candidate
    # teach nothing here)
    rx: list[dict[str, float]] = []
    ry: list[int] = []
    for r in rows:
        if r.region_gold not in r.region_candidates:
            continue
        for cand, feats in r.region_candidates.items():
            rx.append(feats)
            ry.append(1 if cand == r.region_gold else 0)
    scorer = _fit_scorer(rx, ry)
    if scorer is not None:
        model.scorers["region"] = scorer
    # domains: every domain of every sci-tech document
    dx: list[dict[str, float]] = []
    dy: list[int] = []
    for r in rows:
        if r.content_type == "other" or not r.domains:
            continue
        for d, feats in r.domain_features.items():
            dx.append(feats)
            dy.append(1 if d in r.domains else 0)
    scorer = _fit_scorer(dx, dy)
    if scorer is not None:
        model.scorers["domain_select"] = scorer
        model.meta["domain_threshold"] = _domain_threshold(scorer, rows)
    return model


__all__ = [
    "DOMAIN_FIT",
    "HEADLINE_FIT",
    "KIND_FIT",
    "LabelledRow",
    "fit_document_heads",
    "fit_linear_head",
    "read_labelled",
    "train_head",
    "train_model",
]
