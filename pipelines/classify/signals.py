"""What the rules read in one document: the taxonomy's terms counted in the headline and the body, the cue-word
score of each content type, the named cues (consumer launch, law, contest call ...), relevance evidence and the
domain terms. Everything here is a count or a sum of the taxonomy's weights, with the evidence that produced it;
the decisions (and the weights that combine these numbers) are elsewhere."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.taxonomy import Taxonomy
from pipelines.terms import Compiled, terms_in_mention_order

TITLE_WEIGHT = 3.0  # a cue word in the headline counts as much as three in the body
TERM_CAP = 3  # occurrences of one term counted at most
DOMAIN_TERM_RELEVANCE = 0.35  # relevance weight of one domain term
RESEARCH_MIN_TERMS = 2  # research-writing phrases that make a text read as an abstract or paper
KINDS = ("policy", "demand", "achievement", "talent", "event", "news")  # the kinds a relevant text can be


def _capped(n: int) -> float:
    return float(min(n, TERM_CAP))


def score_terms(
    weights: Mapping[str, float],
    tcounts: Mapping[str, int],
    bcounts: Mapping[str, int],
    title_weight: float = TITLE_WEIGHT,
) -> tuple[float, list[str]]:
    """The weighted cue score of a text (headline terms once and ×``title_weight``, body terms up to
    ``TERM_CAP`` times) and the evidence, best first."""
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
    ev.sort(key=lambda x: (-x[0], x[1]))
    return score, [e for _, e in ev[:8]]


@dataclass
class Signals:
    """The rule layer's reading of one document."""

    title: str
    body: str
    tcounts: dict[str, int]
    bcounts: dict[str, int]
    found: list[str]  # taxonomy terms in order of first mention, headline first
    length_norm: float
    hint_type: str
    type_parts: dict[str, dict[str, float]] = field(
        default_factory=dict
    )  # kind -> title/body/pattern/field/hint
    type_scores: dict[str, float] = field(default_factory=dict)  # kind -> the parts summed with fixed weights
    type_evidence: dict[str, list[str]] = field(default_factory=dict)
    cues: dict[str, tuple[int, int]] = field(default_factory=dict)  # cue -> (headline hits, body hits)
    cue_evidence: dict[str, list[str]] = field(default_factory=dict)
    rule_pos: float = 0.0  # relevance evidence (log scale)
    rule_neg: float = 0.0
    rel_evidence: list[str] = field(default_factory=list)
    domain_rule: dict[str, float] = field(default_factory=dict)
    domain_evidence: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    domain_title: dict[str, int] = field(default_factory=dict)  # headline terms of each domain
    subfields: dict[str, dict[str, float]] = field(default_factory=dict)
    research: bool = False  # research writing (an abstract or a paper)

    def cue(self, name: str) -> float:
        """A cue's hits, headline ones counted twice."""
        t, b = self.cues.get(name, (0, 0))
        return 2.0 * t + b


# fixed weights of the rule score of a content type (the learned combiner weighs the parts on its own)
HINT_TYPE_BONUS = 8.0
FIELD_BONUS = 6.0
PATTERN_WEIGHT = 4.0


def read_signals(
    title: str,
    body: str,
    *,
    hints: Mapping[str, Any],
    fields: Mapping[str, Any],
    comp: Compiled,
) -> Signals:
    """Count the taxonomy's vocabulary in ``title`` and ``body`` (both in search form) and score every rule."""
    tax: Taxonomy = comp.taxonomy
    tcounts = comp.counter.count(title)
    bcounts = comp.counter.count(body)
    found = terms_in_mention_order(title, body, tcounts, bcounts)
    hint_type = str(hints.get("content_type") or "")
    sig = Signals(
        title=title,
        body=body,
        tcounts=tcounts,
        bcounts=bcounts,
        found=found,
        length_norm=math.sqrt(1.0 + len(body) / 800.0),
        hint_type=hint_type,
    )
    # ---- content types ----------------------------------------------------------------------------------------
    joined = f"{title}\n{body[:6000]}"
    for name, rule in tax.content_types.items():
        if name == "other":
            continue
        s_title, ev_t = score_terms(rule.title, tcounts, {})
        s_body, ev_b = score_terms(rule.terms, {}, bcounts)
        structure: list[str] = []
        n_fields = 0
        for fname in rule.fields:
            if fields.get(fname):
                n_fields += 1
                structure.append(f"field:{fname}")
        n_patterns = 0
        for pat in rule.patterns:
            m = pat.search(joined)
            if m:
                n_patterns += 1
                structure.append(f"pattern:{m.group(0)[:30]}")
        hinted = 1.0 if hint_type == name else 0.0
        if hinted:
            structure.insert(0, f"hint:content_type={name}")
        parts = {
            "title": s_title,
            "body": s_body / sig.length_norm,
            "pattern": float(n_patterns),
            "field": float(n_fields),
            "hint": hinted,
        }
        sig.type_parts[name] = parts
        sig.type_scores[name] = round(
            parts["title"]
            + parts["body"]
            + PATTERN_WEIGHT * n_patterns
            + FIELD_BONUS * n_fields
            + HINT_TYPE_BONUS * hinted,
            3,
        )
        sig.type_evidence[name] = (structure + ev_t + ev_b)[:10]
    # ---- named cues ---------------------------------------------------------------------------------------------
    for name, terms in tax.cues.items():
        t_hits = b_hits = 0
        ev: list[str] = []
        for term in terms:
            nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
            if nt or nb:
                t_hits += min(nt, 1)
                b_hits += min(nb, TERM_CAP)
                ev.append(f"{'title' if nt else 'text'}:{term}")
        for pat in tax.cue_patterns.get(name, ()):
            if name.endswith("_title"):
                m = pat.search(title)
                if m:
                    t_hits += 1
                    ev.append(f"title:{m.group(0)[:20]}")
            else:
                n = 0
                for m in pat.finditer(body[:6000]):
                    if n == 0:
                        ev.append(f"text:{m.group(0)[:20].strip()}")
                    n += 1
                    if n >= 10:
                        break
                b_hits += n
        sig.cues[name] = (t_hits, b_hits)
        if ev:
            sig.cue_evidence[name] = ev[:6]
    # ---- domains ------------------------------------------------------------------------------------------------
    dscore: defaultdict[str, float] = defaultdict(float)
    for term in found:
        places = comp.domain_terms.get(term)
        if places is None:
            continue
        nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
        pts = (TITLE_WEIGHT * min(nt, 1) + _capped(nb)) * (1.0 if len(term) > 1 else 0.5)
        for dom, sub in places:
            dscore[dom] += pts / len(places)
            sig.domain_evidence.setdefault(dom, []).append((pts, f"{'title' if nt else 'text'}:{term}"))
            sig.subfields.setdefault(dom, defaultdict(float))[sub] += pts
            if nt:
                sig.domain_title[dom] = sig.domain_title.get(dom, 0) + 1
    sig.domain_rule = dict(dscore)
    # ---- relevance evidence --------------------------------------------------------------------------------------
    pos, pos_ev = score_terms(tax.positive, tcounts, bcounts)
    neg, neg_ev = score_terms(tax.negative, tcounts, bcounts)
    domain_total = sum(dscore.values())
    sig.rule_pos = math.log1p((pos + DOMAIN_TERM_RELEVANCE * domain_total) / sig.length_norm)
    sig.rule_neg = math.log1p(neg / sig.length_norm)
    sig.rel_evidence = [f"+{e}" for e in pos_ev[:6]] + [f"-{e}" for e in neg_ev[:4]]
    sig.research = sum(1 for t in tax.research_terms if bcounts.get(t)) >= RESEARCH_MIN_TERMS
    return sig


def kind_features(sig: Signals, extra: Mapping[str, float] | None = None) -> dict[str, float]:
    """The dense features the content-type head reads beside the text's n-grams: each kind's rule parts, every
    cue, the relevance evidence and the length, all on a log scale."""
    out: dict[str, float] = {}
    for kind in KINDS:
        parts = sig.type_parts.get(kind)
        if not parts:
            continue
        for part, v in parts.items():
            out[f"{kind}.{part}"] = math.log1p(v)
    for name, (t, b) in sig.cues.items():
        out[f"cue.{name}.title"] = math.log1p(t)
        out[f"cue.{name}.text"] = math.log1p(b / sig.length_norm)
    out["rel.pos"] = sig.rule_pos
    out["rel.neg"] = sig.rule_neg
    out["len"] = math.log1p(len(sig.body) / 800.0)
    out["research"] = 1.0 if sig.research else 0.0
    out["domain.total"] = math.log1p(sum(sig.domain_rule.values()) / sig.length_norm)
    if extra:
        out.update(extra)
    return out
