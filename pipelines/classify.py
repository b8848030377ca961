"""Classification: content type, sci-tech relevance, tech domains and region, with the evidence for each.

Two layers:

* the **rule layer** reads the taxonomy (``pipelines/data/taxonomy.yaml`` or the deployment's copy): weighted cue
  words in the headline and the body, regular expressions (policy 文号), policy fields, the source's hints and
  the URL's host. Every point it gives is recorded as evidence, so staff can see why a label was chosen and
  change the outcome by editing the taxonomy;
* a small **learned layer**: multinomial naive Bayes over character uni-/bigrams (``classify_model.json.gz``,
  shipped, trained on the public train splits; ``techscout classify --train FILE`` retrains it from labelled
  examples). It contributes a relevance log-odds and a domain posterior, reported in the evidence as ``model``.

:func:`classify` is the pure function; :class:`ClassifyPipeline` applies it to :class:`~core.items.Article`.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from core.errors import ConfigError, TechscoutError
from core.items import Article
from pipelines.classify_linear import LinearHead, fit_linear_head
from pipelines.taxonomy import CONTENT_TYPES, NATIONAL, Taxonomy, load_taxonomy

SHIPPED_MODEL = Path(__file__).parent / "data" / "classify_model.json.gz"
MODEL_FILE_NAME = "classify_model.json.gz"  # a retrained model in the data directory replaces the shipped one
MAX_CHARS = 5000  # body characters read by the classifier (the lead carries the signal)

# rule-layer constants (tuned on the hand-labelled dev documents; see docs/classification.md)
TITLE_WEIGHT = 3.0
TERM_CAP = 3  # occurrences of one term counted at most
DOMAIN_TERM_RELEVANCE = 0.35  # relevance weight of one domain term
# relevance of texts: logistic weights (bias, rule evidence, negative evidence, log length, model mean log-likelihood
# ratio), fitted on the hand labels, the labelled examples in the tests and the CSLDCP train split (out-of-fold model)
RELEVANCE_WEIGHTS = (-2.42, 3.42, 1.89, 2.23, 2.39)
RELEVANCE_WEIGHTS_RULES = (-1.43, 1.69, 1.10, 1.35)  # the same without a model
RELEVANCE_RULE_SCALE = 2.0  # headlines
# bare headlines (tuned by 5-fold cross-validation on the TNEWS train split)
HEADLINE_BIAS = -0.7
HEADLINE_NEG_SCALE = 2.7
HEADLINE_MODEL_SCALE = 0.15
SHORT_TEXT = 60  # a body shorter than this is read as a bare headline
HINT_RELEVANCE = 2.0
TYPE_MIN_SCORE = 4.0  # below this the relevant document is plain "news"
HINT_TYPE_BONUS = 8.0
FIELD_BONUS = 6.0
PATTERN_WEIGHT = 4.0
DOMAIN_MODEL_WEIGHT = 6.0  # how much the learned domain posterior adds to a domain's score (ranking only)
DOMAIN_FULL_LENGTH = 1500  # texts this long need the full domain_min_score
RESEARCH_MIN_TERMS = 2  # research-writing phrases that make a text read as an abstract or paper
DOMAIN_MODEL_LEAD = 0.5  # model posterior at which its best domain leads the list
DOMAIN_MODEL_FALLBACK = 0.9  # model posterior at which its domain is taken when the text names none
OTHER_DOMAIN = "其他"
NO_DOMAIN = "none"  # the domain head's class of full texts that are not sci-tech
# learned heads (logistic regression over character 1-3-grams; chosen by cross-validation on the train splits)
HEADLINE_FIT: dict[str, Any] = {"c": 10.0, "min_df": 1, "class_weight": "balanced", "max_features": 30000}
DOMAIN_FIT: dict[str, Any] = {
    "c": 30.0,
    "min_df": 2,
    "max_features": 40000,
    "limit": 400,
    "class_weight": "balanced",
    "with_words": True,
}
ABSTRACT_LENGTH = 600  # a text this short is read like an abstract: the domain head leads
ABSTRACT_NO_DOMAIN = 0.5  # below this "no technology" probability an abstract counts as sci-tech
ABSTRACT_RELEVANCE = 0.5  # the relevance log-odds such an abstract gets at least
ABSTRACT_RULE_WEIGHT = 0.2  # rule evidence points added to the model's log probability for an abstract's lead
HEADLINE_THRESHOLD = 0.55  # relevance a headline at the best-F1 threshold of the training folds gets


# ----------------------------------------------------------------------------------------------------------
# result types
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Label:
    """One label with its confidence (0..1) and the evidence behind it."""

    name: str
    confidence: float
    evidence: list[str] = field(default_factory=list)


@dataclass
class Classification:
    content_type: str
    content_type_confidence: float
    scitech_relevant: bool
    relevance: float
    domains: list[str]
    region: str | None
    region_confidence: float = 0.0
    domain_scores: dict[str, float] = field(default_factory=dict)
    subfields: dict[str, list[str]] = field(default_factory=dict)
    type_scores: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    rule_relevance: tuple[float, float] = (0.0, 0.0)  # the rules' positive and negative relevance evidence

    def labels(self) -> list[Label]:
        """Every label with confidence and evidence, for display."""
        out = [
            Label(
                f"content_type:{self.content_type}",
                self.content_type_confidence,
                self.evidence.get(f"content_type:{self.content_type}", []),
            ),
            Label(
                "scitech_relevant" if self.scitech_relevant else "not_scitech",
                self.relevance,
                self.evidence.get("relevance", []),
            ),
        ]
        # a sci-tech document's domains relative to its best one; an abstract that is not sci-tech: the model's
        # probability of its domain (its score is that probability times the model's weight)
        best = max(self.domain_scores.values(), default=0.0) or 1.0
        if not self.scitech_relevant:
            best = DOMAIN_MODEL_WEIGHT
        for d in self.domains:
            out.append(
                Label(
                    f"domain:{d}",
                    min(1.0, self.domain_scores.get(d, 0.0) / best),
                    self.evidence.get(f"domain:{d}", []),
                )
            )
        if self.region:
            out.append(
                Label(
                    f"region:{self.region}",
                    self.region_confidence,
                    self.evidence.get(f"region:{self.region}", []),
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "content_type_confidence": round(self.content_type_confidence, 3),
            "scitech_relevant": self.scitech_relevant,
            "relevance": round(self.relevance, 3),
            "domains": list(self.domains),
            "region": self.region,
            "evidence": self.evidence,
        }


# ----------------------------------------------------------------------------------------------------------
# term matching
# ----------------------------------------------------------------------------------------------------------
_ASCII_TERM = re.compile(r"^[\x00-\x7f]+$")


def _pair_code(pair: str) -> int:
    """Two characters as one integer (code points are below 2**21)."""
    return (ord(pair[0]) << 21) | ord(pair[1])


def prefix_positions(text: str, codes: npt.NDArray[np.int64]) -> list[int]:
    """The positions ``i`` of ``text``, in order, where ``text[i:i + 2]`` is one of the pairs in ``codes``
    (sorted :func:`_pair_code` values)."""
    if len(text) < 2 or not len(codes):
        return []
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
    pairs = (points[:-1] << 21) | points[1:]
    at = np.searchsorted(codes, pairs)
    at[at == len(codes)] = 0
    found: list[int] = np.flatnonzero(codes[at] == pairs).tolist()
    return found


class TermCounter:
    """Counts occurrences of a fixed vocabulary in a text in one pass: Chinese terms through an index on their
    first two characters (overlapping and nested terms all count: 科技 and 科技成果 in 科技成果), ASCII terms
    through a word-bounded regular expression (``AI`` must not match inside ``said``)."""

    def __init__(self, terms: Iterable[str]):
        self.by_prefix: dict[str, tuple[str, ...]] = {}
        self.single: frozenset[str] = frozenset()
        ascii_terms: list[str] = []
        single: set[str] = set()
        by_prefix: dict[str, list[str]] = {}
        for t in sorted(set(terms), key=len):
            if _ASCII_TERM.match(t):
                ascii_terms.append(t)
            elif len(t) == 1:
                single.add(t)
            else:
                by_prefix.setdefault(t[:2], []).append(t)
        self.by_prefix = {k: tuple(v) for k, v in by_prefix.items()}
        # the prefixes as sorted pair codes: the positions where a term may start are found in numpy
        self.prefix_codes = np.array(sorted(_pair_code(k) for k in self.by_prefix), dtype=np.int64)
        self.single = frozenset(single)
        self.ascii_re: re.Pattern[str] | None = None
        if ascii_terms:
            alt = "|".join(re.escape(t.lower()) for t in sorted(ascii_terms, key=len, reverse=True))
            self.ascii_re = re.compile(rf"(?<![a-z0-9])(?:{alt})(?![a-z0-9])")
        self.ascii_map = {t.lower(): t for t in ascii_terms}

    def count(self, text: str) -> dict[str, int]:
        out: dict[str, int] = {}
        if not text:
            return out
        by_prefix = self.by_prefix
        starts = text.startswith
        for i in prefix_positions(text, self.prefix_codes):
            for t in by_prefix[text[i : i + 2]]:
                if len(t) == 2 or starts(t, i):
                    out[t] = out.get(t, 0) + 1
        if self.single:
            for ch in self.single:
                n = text.count(ch)
                if n:
                    out[ch] = n
        if self.ascii_re is not None:
            for m in self.ascii_re.finditer(text.lower()):
                key = self.ascii_map[m.group(0)]
                out[key] = out.get(key, 0) + 1
        return out


@dataclass
class _Compiled:
    taxonomy: Taxonomy
    counter: TermCounter
    domain_terms: dict[str, list[tuple[str, str]]]  # term -> [(domain, subfield)]
    region_terms: dict[str, str]  # alias/city/full name -> region
    host_regions: list[tuple[str, str]]  # (host suffix, region), longest first


_COMPILED: dict[int, tuple[Taxonomy, _Compiled]] = {}


def _compiled(taxonomy: Taxonomy) -> _Compiled:
    hit = _COMPILED.get(id(taxonomy))
    if hit and hit[0] is taxonomy:
        return hit[1]
    vocab: set[str] = set(taxonomy.positive) | set(taxonomy.negative)
    for rule in taxonomy.content_types.values():
        vocab |= set(rule.title) | set(rule.terms)
    domain_terms: dict[str, list[tuple[str, str]]] = {}
    for dom in taxonomy.domains.values():
        for sub, terms in dom.subfields.items():
            for t in terms:
                domain_terms.setdefault(t, []).append((dom.name, sub))
    vocab |= set(domain_terms)
    region_terms: dict[str, str] = {}
    for reg in taxonomy.regions.values():
        for name in (reg.name, *reg.aliases, *reg.cities):
            region_terms.setdefault(name, reg.name)
    vocab |= set(region_terms) | set(taxonomy.national_terms) | set(taxonomy.foreign_terms)
    vocab |= set(taxonomy.research_terms)
    hosts = [(h, r.name) for r in taxonomy.regions.values() for h in r.hosts]
    hosts += [(h, NATIONAL) for h in taxonomy.national_hosts]
    hosts.sort(key=lambda x: len(x[0]), reverse=True)
    comp = _Compiled(taxonomy, TermCounter(vocab), domain_terms, region_terms, hosts)
    if len(_COMPILED) > 16:
        _COMPILED.clear()
    _COMPILED[id(taxonomy)] = (taxonomy, comp)
    return comp


# ----------------------------------------------------------------------------------------------------------
# learned layer: multinomial naive Bayes over character n-grams
# ----------------------------------------------------------------------------------------------------------
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


Head = NBHead | LinearHead


def _head_from_json(data: Mapping[str, Any]) -> Head:
    if data.get("kind") == LinearHead.kind:
        return LinearHead.from_json(dict(data))
    return NBHead.from_json(data)


@dataclass
class Model:
    heads: dict[str, Head]
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        data = {"version": 1, "meta": self.meta, "heads": {k: h.to_json() for k, h in self.heads.items()}}
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        Path(path).write_bytes(gzip.compress(raw, mtime=0))


@lru_cache(maxsize=4)
def _load_model_cached(path: str, mtime: int) -> Model:
    try:
        data = json.loads(gzip.decompress(Path(path).read_bytes()).decode("utf-8"))
        heads = {k: _head_from_json(v) for k, v in data["heads"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a classifier model: {exc}") from None
    return Model(heads, dict(data.get("meta", {})))


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


# ----------------------------------------------------------------------------------------------------------
# the rule layer
# ----------------------------------------------------------------------------------------------------------
def _capped(n: int) -> float:
    return float(min(n, TERM_CAP))


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def region_from_host(host: str, taxonomy: Taxonomy | None = None) -> str | None:
    """The region a host name belongs to (``sn.gov.cn`` → 陕西省, ``www.gov.cn`` → 全国), else ``None``."""
    comp = _compiled(taxonomy or load_taxonomy())
    host = host.lower().rstrip(".")
    for suffix, region in comp.host_regions:
        if host == suffix or host.endswith("." + suffix):
            return region
    return None


def normalize_region(value: Any, taxonomy: Taxonomy) -> str | None:
    """A hint or label value (``陕西``, ``shaanxi``, ``陕西省``, ``全国``) as the full region name."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if value in ("全国", "national", "中国", "国家"):
        return NATIONAL
    hit = taxonomy.region_for_name(value)
    if hit:
        return hit
    for reg in taxonomy.regions.values():
        if value.startswith(reg.name[:2]) and len(reg.name) >= 2:
            return reg.name
    return region_from_host(value, taxonomy) if "." in value else None


_INSTITUTION_AFTER = re.compile(
    r"[\u4e00-\u9fff]{0,4}?(?:大学|学院)|\s*[:：]\s*[\u4e00-\u9fff]{2,12}(?:出版社|大学)"
)


def _institution_mentions(name: str, body: str) -> int:
    """Mentions of a place that name where an author works or a cited book appeared (北京物资学院,
    ``北京: 中国石油大学``), not what the text is about."""
    n = 0
    start = body.find(name)
    while start >= 0:
        end = start + len(name)
        if _INSTITUTION_AFTER.match(body, end):
            n += 1
        start = body.find(name, end)
    return n


def terms_in_mention_order(
    title: str, body: str, tcounts: Mapping[str, int], bcounts: Mapping[str, int]
) -> list[str]:
    """The taxonomy terms found in a document, title ones first, each in order of first mention: scores summed
    and ties broken in this order come out the same in every process (set order depends on the hash seed)."""
    return sorted(
        tcounts.keys() | bcounts.keys(),
        key=lambda t: (0, title.find(t)) if tcounts.get(t) else (1, body.find(t)),
    )


def _detect_region(
    title: str,
    body: str,
    found: Sequence[str],
    tcounts: Mapping[str, int],
    bcounts: Mapping[str, int],
    url: str,
    hints: Mapping[str, Any],
    comp: _Compiled,
) -> tuple[str | None, float, list[str]]:
    tax = comp.taxonomy
    scores: defaultdict[str, float] = defaultdict(float)
    why: dict[str, list[str]] = {}
    lead = body[:300]

    def add(region: str, points: float, reason: str) -> None:
        scores[region] += points
        why.setdefault(region, []).append(reason)

    # ``found`` is in order of first mention: of two regions scored alike the one named first wins
    for name in found:
        region = comp.region_terms.get(name)
        if region is None:
            continue
        nt, nb = tcounts.get(name, 0), bcounts.get(name, 0)
        nb -= _institution_mentions(name, body) if nb else 0
        if nt + nb <= 0:
            continue
        pts = 4.0 * min(nt, 2) + 0.8 * min(nb, 6) + (1.5 if name in lead else 0.0)
        add(region, pts, f"{'title' if nt else 'text'}:{name}×{nt + nb}")
    national = 0.0
    for term in found:
        w = tax.national_terms.get(term)
        if w is not None:
            nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
            national += w * (3.0 * min(nt, 1) + min(nb, 6))
            why.setdefault(NATIONAL, []).append(f"{'title' if nt else 'text'}:{term}×{nt + nb}")
    foreign = 0.0
    for term in found:
        w = tax.foreign_terms.get(term)
        if w is not None:
            nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
            foreign += w * (4.0 * min(nt, 1) + 0.6 * min(nb, 6))
    host_region = region_from_host(_host(url), tax) if url else None
    if host_region and host_region != NATIONAL:
        add(host_region, 6.0, f"host:{_host(url)}")
    elif host_region == NATIONAL:
        national += 2.0
        why.setdefault(NATIONAL, []).append(f"host:{_host(url)}")
    hinted = normalize_region(hints.get("region"), tax) if hints else None
    if hinted and hinted != NATIONAL:
        add(hinted, 10.0, "hint:source region")
    elif hinted == NATIONAL:
        national += 8.0
        why.setdefault(NATIONAL, []).append("hint:source region")
    # many provinces and none dominant: the text is about the country
    spread = [s for s in scores.values() if s >= 1.5]
    total = sum(scores.values())
    best, best_score = max(scores.items(), key=lambda x: x[1]) if scores else (None, 0.0)
    if len(spread) >= 3 and best_score < 0.5 * total:
        national += 3.0 + 0.2 * total
        why.setdefault(NATIONAL, []).append(f"provinces:{len(spread)}")
    if foreign >= 2.0 and foreign > national and foreign > best_score:
        return None, min(1.0, 0.3 + foreign / (foreign + national + total + 1.0)), []
    if best is not None and best_score >= 3.0 and best_score >= 0.6 * national:
        conf = best_score / (total + national + foreign + 1.0)
        return best, min(1.0, 0.3 + conf), why.get(best, [])
    if national >= 1.5:
        return NATIONAL, min(1.0, 0.3 + national / (national + foreign + total + 2.0)), why.get(NATIONAL, [])
    if best is not None and best_score >= 1.6:
        return best, 0.3, why.get(best, [])
    return None, 0.0, []


def _score_terms(
    weights: Mapping[str, float],
    tcounts: Mapping[str, int],
    bcounts: Mapping[str, int],
    title_weight: float = TITLE_WEIGHT,
) -> tuple[float, list[str]]:
    score = 0.0
    ev: list[tuple[float, str]] = []
    for term in tcounts.keys() | bcounts.keys():
        w = weights.get(term)
        if w is None:
            continue
        nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
        pts = w * (title_weight * min(nt, 1) + _capped(nb))
        score += pts
        ev.append((pts, f"{'title' if nt else 'text'}:{term}"))
    ev.sort(key=lambda x: -x[0])
    return score, [e for _, e in ev[:8]]


def _domain_posterior(head: Head | None, text: str, feats: list[str]) -> tuple[dict[str, float], float]:
    """The domain model's probabilities of the technology domains, and its probability of none."""
    if isinstance(head, LinearHead):
        post = head.posterior(text)
        return post, post.pop(NO_DOMAIN, 0.0)
    if head is not None and feats:
        return head.posterior(feats, temper=40.0), 1.0
    return {}, 1.0


def _abstract_lead(model_domain: Mapping[str, float], rule_scores: Mapping[str, float]) -> str:
    """The leading domain of an abstract: the model's log probability plus the rules' evidence."""
    return max(
        model_domain,
        key=lambda d: math.log(model_domain[d] + 1e-9) + ABSTRACT_RULE_WEIGHT * rule_scores.get(d, 0.0),
    )


def classify(
    title: str,
    text: str,
    *,
    url: str = "",
    hints: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
    taxonomy: Taxonomy | None = None,
    model: Model | None | bool = True,
    normalized: bool = False,
) -> Classification:
    """Classify one document. ``model=True`` uses the shipped model, ``None``/``False`` the rules alone.

    ``normalized=True`` says ``title``/``text`` are already in search form (simplified script); otherwise
    they are normalised here.
    """
    tax = taxonomy or load_taxonomy()
    comp = _compiled(tax)
    hints = hints or {}
    fields = fields or {}
    if not normalized:
        from pipelines.normalize import normalize_text

        title, text = normalize_text(title or ""), normalize_text((text or "")[:MAX_CHARS])
    body = (text or "")[:MAX_CHARS]
    title = title or ""
    if not title and body:
        # no headline: the first short line often is one
        first = body.strip().split("\n", 1)[0]
        if len(first) <= 60:
            title = first
    tcounts = comp.counter.count(title)
    bcounts = comp.counter.count(body)
    found = terms_in_mention_order(title, body, tcounts, bcounts)
    evidence: dict[str, list[str]] = {}
    mdl: Model | None
    if model is True:
        mdl = load_model()
    elif model is False or model is None:
        mdl = None
    else:
        mdl = model
    feats = char_features(f"{title}\n{title}\n{body}") if mdl else []

    # ---- domains -----------------------------------------------------------------------------------------
    dscore: defaultdict[str, float] = defaultdict(float)
    dev: dict[str, list[tuple[float, str]]] = {}
    subs: dict[str, defaultdict[str, float]] = {}
    for term in found:
        places = comp.domain_terms.get(term)
        if places is None:
            continue
        nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
        pts = (TITLE_WEIGHT * min(nt, 1) + _capped(nb)) * (1.0 if len(term) > 1 else 0.5)
        for dom, sub in places:
            dscore[dom] += pts / len(places)
            dev.setdefault(dom, []).append((pts, f"{'title' if nt else 'text'}:{term}"))
            subs.setdefault(dom, defaultdict(float))[sub] += pts
    hinted_domains = [d for d in (hints.get("domains") or []) if d in tax.domains]
    for d in hinted_domains:
        dscore[d] += tax.domain_min_score
        dev.setdefault(d, []).append((99.0, "hint:source domains"))
    domain_terms_total = sum(dscore.values())  # rule evidence only: the model's share is not counted
    rule_dscore = dict(dscore)
    dhead = mdl.heads.get("domain") if mdl else None
    # the domain model is read for abstracts (it tells whether they are technology) and relevant documents
    model_domain: dict[str, float] | None = None
    no_domain = 1.0  # the domain head's probability that the text is no technology at all

    # ---- relevance ---------------------------------------------------------------------------------------
    pos, pos_ev = _score_terms(tax.positive, tcounts, bcounts)
    neg, neg_ev = _score_terms(tax.negative, tcounts, bcounts)
    length_norm = math.sqrt(1.0 + len(body) / 800.0)
    rule_pos = math.log1p((pos + DOMAIN_TERM_RELEVANCE * domain_terms_total) / length_norm)
    rule_neg = math.log1p(neg / length_norm)
    headline = len(body) < SHORT_TEXT
    rel_ev = [f"+{e}" for e in pos_ev[:6]] + [f"-{e}" for e in neg_ev[:4]]
    rel_ev.append(f"rules:+{rule_pos:.2f}/-{rule_neg:.2f}")
    if headline:
        hhead = mdl.heads.get("headline") if mdl else None
        weights = mdl.meta.get("headline_weights") if mdl else None
        if isinstance(hhead, LinearHead) and weights:
            llr = hhead.log_odds(f"{title}\n{body}", "1")
            wm, wp, wn, b = (float(v) for v in weights)
            z = b + wm * llr + wp * rule_pos - wn * rule_neg
            rel_ev.append(f"model:{llr:+.2f}")
        else:
            z = HEADLINE_BIAS + RELEVANCE_RULE_SCALE * rule_pos - HEADLINE_NEG_SCALE * rule_neg
            if isinstance(hhead, NBHead) and feats:
                llr = hhead.log_odds(feats, "1")
                z += HEADLINE_MODEL_SCALE * llr
                rel_ev.append(f"model:{llr:+.2f}")
    else:
        log_len = math.log1p(len(body) / 800.0)
        rhead = mdl.heads.get("relevance") if mdl else None
        if isinstance(rhead, NBHead) and feats:
            llr = rhead.mean_llr(feats, "1")
            b, wp, wn, wl, wm = RELEVANCE_WEIGHTS
            z = b + wp * rule_pos - wn * rule_neg - wl * log_len + wm * llr
            rel_ev.append(f"model:{llr:+.2f}")
        else:
            b, wp, wn, wl = RELEVANCE_WEIGHTS_RULES
            z = b + wp * rule_pos - wn * rule_neg - wl * log_len
    research = sum(1 for t in tax.research_terms if bcounts.get(t)) >= RESEARCH_MIN_TERMS
    abstract = research or len(body) <= ABSTRACT_LENGTH
    if abstract and not headline:
        model_domain, no_domain = _domain_posterior(dhead, f"{title}\n{body}", feats)
        if no_domain < ABSTRACT_NO_DOMAIN and max(model_domain.values(), default=0.0) > no_domain:
            # research writing or an abstract that the domain head places in a technology domain
            z = max(z, ABSTRACT_RELEVANCE)
            rel_ev.append(f"model:domain {1.0 - no_domain:.2f}")
    hint_type = str(hints.get("content_type") or "")
    if hint_type and hint_type != "other" and hint_type in CONTENT_TYPES:
        z += HINT_RELEVANCE
        rel_ev.append(f"hint:content_type={hint_type}")
    relevance = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
    relevant = relevance >= tax.relevance_threshold
    if model_domain is None:
        model_domain = _domain_posterior(dhead, f"{title}\n{body}", feats)[0] if relevant else {}
    for d, p in model_domain.items():
        # an abstract that is not sci-tech shows every domain's probability: its domain is the model's guess
        if d in tax.domains and (p > 0.2 or not relevant):
            dscore[d] += DOMAIN_MODEL_WEIGHT * p
            dev.setdefault(d, []).append((DOMAIN_MODEL_WEIGHT * p, f"model:{p:.2f}"))
    evidence["relevance"] = rel_ev

    # ---- content type ------------------------------------------------------------------------------------
    tscores: dict[str, float] = {}
    joined = f"{title}\n{body[:6000]}"
    for name, rule in tax.content_types.items():
        if name == "other":
            continue
        s_title, ev_t = _score_terms(rule.title, tcounts, {}, title_weight=TITLE_WEIGHT)
        s_body, ev_b = _score_terms(rule.terms, {}, bcounts)
        s = s_title + s_body / length_norm
        structure: list[str] = []  # hints, fields and patterns first: they explain the most
        if hint_type == name:
            s += HINT_TYPE_BONUS
            structure.append(f"hint:content_type={name}")
        for fname in rule.fields:
            if fields.get(fname):
                s += FIELD_BONUS
                structure.append(f"field:{fname}")
        for pat in rule.patterns:
            m = pat.search(joined)
            if m:
                s += PATTERN_WEIGHT
                structure.append(f"pattern:{m.group(0)[:30]}")
        tscores[name] = round(s, 3)
        evidence[f"content_type:{name}"] = (structure + ev_t + ev_b)[:10]
    if not relevant:
        content_type, ct_conf = "other", 1.0 - relevance
    else:
        ranked = sorted(((v, k) for k, v in tscores.items() if k != "news"), reverse=True)
        best_score, best_type = ranked[0] if ranked else (0.0, "news")
        news_score = tscores.get("news", 0.0)
        if best_score >= TYPE_MIN_SCORE and best_score > news_score:
            content_type = best_type
            second = ranked[1][0] if len(ranked) > 1 else 0.0
            ct_conf = min(1.0, 0.4 + 0.6 * (best_score - second) / (best_score + 1.0))
        else:
            content_type = "news"
            ct_conf = 0.5
    evidence = {
        k: v
        for k, v in evidence.items()
        if not k.startswith("content_type:") or k.endswith(f":{content_type}")
    }

    # ---- domains chosen ----------------------------------------------------------------------------------
    domains: list[str] = []
    # a research abstract keeps its domain even when it is not judged sci-tech (routing still needs relevance)
    if relevant or (research and len(body) <= ABSTRACT_LENGTH and bool(model_domain)):
        # a short text names its domains once; a long one must keep coming back to them
        min_score = max(1.0, tax.domain_min_score * min(1.0, len(body) / DOMAIN_FULL_LENGTH))
        top = max(rule_dscore.values(), default=0.0)
        specific = [d for d in tax.domains if d != OTHER_DOMAIN]
        for dom, _ in sorted(dscore.items(), key=lambda x: -x[1]):
            rscore = rule_dscore.get(dom, 0.0)
            if dom in hinted_domains or (rscore >= min_score and rscore >= tax.domain_min_share * top):
                domains.append(dom)
        # the best-scored domain (rules and model together) leads when the model is confident about it
        if dscore:
            lead = max(dscore.items(), key=lambda x: x[1])[0]
            model_led = abstract and isinstance(dhead, LinearHead) and bool(model_domain)
            if model_led:
                lead = _abstract_lead(model_domain, rule_dscore)
            # research writing, abstracts: the model, trained on abstracts, knows these best
            confident = (
                research
                or model_led
                or (model_domain.get(lead, 0.0) >= DOMAIN_MODEL_LEAD and domain_terms_total > 0)
            )
            if (
                lead == OTHER_DOMAIN
                and not research
                and model_domain.get(OTHER_DOMAIN, 0.0) < DOMAIN_MODEL_LEAD
                and any(d in specific for d in domains)
            ):
                confident = False  # the catch-all never displaces a domain the text names
            elif lead in domains:
                confident = True
            if confident:
                domains = [lead] + [d for d in domains if d != lead]
        # 其他 is the domain of sci-tech documents without a specific one
        if (
            any(d in specific for d in domains)
            and OTHER_DOMAIN in domains[1:]
            and OTHER_DOMAIN not in hinted_domains
            and rule_dscore.get(OTHER_DOMAIN, 0.0)
            < max(rule_dscore.get(d, 0.0) for d in domains if d in specific)
        ):
            domains.remove(OTHER_DOMAIN)
        if not domains and dscore:
            best_d = max(dscore.items(), key=lambda x: x[1])[0]
            if domain_terms_total > 0 or model_domain.get(best_d, 0.0) >= DOMAIN_MODEL_FALLBACK:
                domains = [best_d]
        if not domains and OTHER_DOMAIN in tax.domains:
            domains = [OTHER_DOMAIN]
    for d in domains:
        evidence[f"domain:{d}"] = [e for _, e in sorted(dev.get(d, []), key=lambda x: -x[0])[:8]]
    subfields = {d: sorted(subs[d], key=lambda k: -subs[d][k])[:3] for d in domains if d in subs}

    # ---- region ------------------------------------------------------------------------------------------
    region, region_conf, region_ev = _detect_region(title, body, found, tcounts, bcounts, url, hints, comp)
    if region:
        evidence[f"region:{region}"] = region_ev[:8]

    return Classification(
        content_type=content_type,
        content_type_confidence=round(ct_conf, 3),
        scitech_relevant=relevant,
        relevance=round(relevance, 4),
        domains=domains,
        region=region,
        region_confidence=round(region_conf, 3),
        domain_scores={k: round(v, 3) for k, v in dscore.items()},
        subfields=subfields,
        type_scores=tscores,
        evidence=evidence,
        rule_relevance=(round(rule_pos, 4), round(rule_neg, 4)),
    )


def classify_article(
    article: Article, *, taxonomy: Taxonomy | None = None, model: Model | None | bool = True
) -> Classification:
    """Classify an article in place (its normalised title/text, falling back to the display ones)."""
    normalized = bool(article.search_title or article.search_text)
    result = classify(
        article.search_title or article.title,
        article.search_text or article.text,
        url=article.url,
        hints=article.hints,
        fields=article.fields,
        taxonomy=taxonomy,
        model=model,
        normalized=normalized,
    )
    article.content_type = result.content_type
    article.scitech_relevant = result.scitech_relevant
    article.relevance = result.relevance
    article.domains = list(result.domains)
    article.region = result.region
    article.evidence = dict(result.evidence)
    return result


class ClassifyPipeline:
    """Sets ``content_type``, ``scitech_relevant``, ``relevance``, ``domains``, ``region`` and ``evidence``."""

    def __init__(self, taxonomy_path: str = "", model: Model | None = None):
        self.taxonomy_path = taxonomy_path
        self.model = model

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClassifyPipeline:
        path = crawler.settings.get("TECHSCOUT_TAXONOMY", "") or ""
        data = crawler.settings.get("TECHSCOUT_DATA", "") or ""
        model = None
        if data and (Path(data) / MODEL_FILE_NAME).is_file():
            model = load_model(Path(data) / MODEL_FILE_NAME)
        return cls(str(path), model)

    def open_spider(self) -> None:
        load_taxonomy(self.taxonomy_path or None)  # fail early on an invalid taxonomy

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            taxonomy = load_taxonomy(self.taxonomy_path or None)
            classify_article(item, taxonomy=taxonomy, model=self.model if self.model is not None else True)
        return item


# ----------------------------------------------------------------------------------------------------------
# command line: techscout classify --jsonl FILE | --train FILE
# ----------------------------------------------------------------------------------------------------------

def classify_record(
    row: Mapping[str, Any], *, taxonomy: Taxonomy, model: Model | None | bool = True
) -> dict[str, Any]:
    """One CLI output line for one input record ``{id, url, title, text, source, hints?}``."""
    from pipelines.normalize import normalize_text
    from pipelines.route import route

    hints = row.get("hints") if isinstance(row.get("hints"), dict) else {}
    doc = {
        "id": str(row.get("id") or ""),
        "title": normalize_text(str(row.get("title") or "")),
        "text": normalize_text(str(row.get("text") or "")[:MAX_CHARS]),
        "url": str(row.get("url") or ""),
    }
    result = classify(
        doc["title"],
        doc["text"],
        url=doc["url"],
        hints=hints,
        fields=row.get("fields") or {},
        taxonomy=taxonomy,
        model=model,
        normalized=True,
    )
    entries = route(doc, result)
    talents = [
        {"name": e["name"], "title": e.get("title", ""), "affiliation": e.get("affiliation", "")}
        for e in entries
        if e["library"] == "talent"
    ]
    from pipelines.route import extract_talents

    if not result.scitech_relevant:  # talents are reported for every document; entries only for relevant ones
        talents = [
            {"name": t.name, "title": t.title, "affiliation": t.affiliation}
            for t in extract_talents(doc["text"], doc["title"])
        ]
    return {
        "id": doc["id"],
        "content_type": result.content_type,
        "scitech_relevant": result.scitech_relevant,
        "relevance": result.relevance,
        "domains": result.domains,
        "region": result.region,
        "talents": talents,
        "libraries": sorted({e["library"] for e in entries}),
        "evidence": result.evidence,
    }


