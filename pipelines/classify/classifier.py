"""The classifier: content type, sci-tech relevance, tech domains and region of one document, with evidence.

The rules (:mod:`.signals`) read the taxonomy's words in the document; the learned layer (:mod:`.model`) weighs
what they found together with the text itself:

* **relevance** of a bare headline: the ``headline`` head with the rules; of a research abstract: the ``domain``
  head's judgement that it is technology; of any other text: the ``kind`` head's probability that it is not
  ``other`` (the rules' relevance evidence is one of its inputs);
* **content type**: the ``kind`` head, then the kind rules of :mod:`.kinds`;
* **domains** (:mod:`.domains`) and **region** (:mod:`.region`): the rules' evidence read by small learned
  scorers.

Without a model (``model=False``) fixed rules decide each label. :func:`classify` is the pure function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.classify.domains import NO_DOMAIN, SELECT_THRESHOLD, choose_domains, domain_posterior
from pipelines.classify.kinds import apply_kind_rules, best_relevant_kind, kind_posterior, rule_kind
from pipelines.classify.linear import LinearHead
from pipelines.classify.model import Model, NBHead, char_features, load_model
from pipelines.classify.region import RegionEvidence, decide_region, read_regions
from pipelines.classify.result import Classification
from pipelines.classify.signals import Signals, kind_features, read_signals
from pipelines.taxonomy import CONTENT_TYPES, Taxonomy, load_taxonomy
from pipelines.terms import compiled

MAX_CHARS = 5000  # body characters read by the classifier (the lead carries the signal)

# relevance of full texts without a kind head: logistic weights (bias, rule evidence, negative evidence, log
# length, naive-Bayes mean log-likelihood ratio); the same without any model
RELEVANCE_WEIGHTS = (-2.42, 3.42, 1.89, 2.23, 2.39)
RELEVANCE_WEIGHTS_RULES = (-1.43, 1.69, 1.10, 1.35)
RELEVANCE_RULE_SCALE = 2.0  # headlines
# bare headlines without a fitted headline head
HEADLINE_BIAS = -0.7
HEADLINE_NEG_SCALE = 2.7
HEADLINE_MODEL_SCALE = 0.15
SHORT_TEXT = 60  # a body shorter than this is read as a bare headline
HINT_RELEVANCE = 2.0
ABSTRACT_LENGTH = 600  # a text this short is read like an abstract: the domain head leads
ABSTRACT_NO_DOMAIN = 0.5  # below this "no technology" probability an abstract counts as sci-tech
ABSTRACT_RELEVANCE = 0.5  # the relevance log-odds such an abstract gets at least
BARE_DOMAIN_MIN = 0.15  # a bare text keeps the domain head's best domain when it has this probability
FOREIGN_MIN = 2.0  # foreign evidence that makes a text's subject foreign when it has no Chinese region


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _resolve(model: Model | None | bool) -> Model | None:
    if model is True:
        return load_model()
    if model is False or model is None:
        return None
    return model


def relevance_z(sig: Signals, mdl: Model | None, headline: bool) -> tuple[float, list[str]]:
    """The relevance log-odds from the rules and the text heads that read relevance directly (headline, naive
    Bayes), and its evidence."""
    title, body = sig.title, sig.body
    ev = list(sig.rel_evidence)
    ev.append(f"rules:+{sig.rule_pos:.2f}/-{sig.rule_neg:.2f}")
    if headline:
        hhead = mdl.heads.get("headline") if mdl else None
        weights = mdl.meta.get("headline_weights") if mdl else None
        if isinstance(hhead, LinearHead) and weights:
            llr = hhead.log_odds(f"{title}\n{body}", "1")
            wm, wp, wn, b = (float(v) for v in weights)
            z = b + wm * llr + wp * sig.rule_pos - wn * sig.rule_neg
            ev.append(f"model:{llr:+.2f}")
            return z, ev
        z = HEADLINE_BIAS + RELEVANCE_RULE_SCALE * sig.rule_pos - HEADLINE_NEG_SCALE * sig.rule_neg
        if isinstance(hhead, NBHead):
            llr = hhead.log_odds(char_features(f"{title}\n{title}\n{body}"), "1")
            z += HEADLINE_MODEL_SCALE * llr
            ev.append(f"model:{llr:+.2f}")
        return z, ev
    log_len = math.log1p(len(body) / 800.0)
    rhead = mdl.heads.get("relevance") if mdl else None
    if isinstance(rhead, NBHead):
        llr = rhead.mean_llr(char_features(f"{title}\n{title}\n{body}"), "1")
        b, wp, wn, wl, wm = RELEVANCE_WEIGHTS
        ev.append(f"model:{llr:+.2f}")
        return b + wp * sig.rule_pos - wn * sig.rule_neg - wl * log_len + wm * llr, ev
    b, wp, wn, wl = RELEVANCE_WEIGHTS_RULES
    return b + wp * sig.rule_pos - wn * sig.rule_neg - wl * log_len, ev


@dataclass
class Reading:
    """Everything read from one document before the learned decisions: the rules' signals, the relevance
    evidence, the domain head's probabilities of an abstract and the places it names."""

    taxonomy: Taxonomy
    model: Model | None
    sig: Signals
    z: float  # relevance log-odds from the rules and the headline / naive-Bayes heads
    rel_evidence: list[str]
    headline: bool
    abstract: bool
    bare: bool  # no headline given: an abstract or a text without one
    hint_type: str
    model_domain: dict[str, float] | None
    no_domain: float  # the domain head's probability that the text is no technology at all (1.0 without it)
    regions: RegionEvidence


def read_document(
    title: str,
    text: str,
    *,
    url: str = "",
    hints: Mapping[str, Any] | None = None,
    fields: Mapping[str, Any] | None = None,
    taxonomy: Taxonomy | None = None,
    model: Model | None | bool = True,
    normalized: bool = False,
) -> Reading:
    """Read a document (the first half of :func:`classify`; training reads its examples the same way)."""
    tax = taxonomy or load_taxonomy()
    comp = compiled(tax)
    hints = hints or {}
    fields = fields or {}
    if not normalized:
        from pipelines.normalize import normalize_text

        title, text = normalize_text(title or ""), normalize_text((text or "")[:MAX_CHARS])
    body = (text or "")[:MAX_CHARS]
    title = title or ""
    bare = not title.strip()
    if not title and body:
        # no headline: the first short line often is one
        first = body.strip().split("\n", 1)[0]
        if len(first) <= 60:
            title = first
    mdl = _resolve(model)
    sig = read_signals(title, body, hints=hints, fields=fields, comp=comp)

    # ---- relevance evidence ------------------------------------------------------------------------------
    headline = len(body) < SHORT_TEXT
    z, rel_ev = relevance_z(sig, mdl, headline)
    dhead = mdl.heads.get("domain") if mdl else None
    abstract = sig.research or len(body) <= ABSTRACT_LENGTH
    model_domain: dict[str, float] | None = None
    no_domain = 1.0
    if abstract and not headline and dhead is not None:  # other texts read it only when they are sci-tech
        model_domain, no_domain = domain_posterior(dhead, f"{title}\n{body}")
    if (
        abstract
        and model_domain is not None
        and no_domain < ABSTRACT_NO_DOMAIN
        and max(model_domain.values(), default=0.0) > no_domain
    ):
        # research writing or an abstract that the domain head places in a technology domain
        z = max(z, ABSTRACT_RELEVANCE)
        rel_ev.append(f"model:domain {1.0 - no_domain:.2f}")
    hint_type = sig.hint_type if sig.hint_type in CONTENT_TYPES else ""
    if hint_type and hint_type != "other":
        z += HINT_RELEVANCE
        rel_ev.append(f"hint:content_type={hint_type}")
    return Reading(
        taxonomy=tax,
        model=mdl,
        sig=sig,
        z=z,
        rel_evidence=rel_ev,
        headline=headline,
        abstract=abstract,
        bare=bare,
        hint_type=hint_type,
        model_domain=model_domain,
        no_domain=no_domain,
        regions=read_regions(sig, url, hints, comp),
    )


def relevance_features(r: Reading, p_other: float) -> dict[str, float]:
    """What the relevance scorer reads: the kind head's log-odds of ``other`` and the relevance evidence that
    does not depend on the labelled documents (rules, naive Bayes, the domain head)."""
    sig = r.sig
    p = min(max(p_other, 1e-4), 1.0 - 1e-4)
    return {
        "kind.other": math.log(p / (1.0 - p)),
        "rel.z": r.z,
        "rel.pos": sig.rule_pos,
        "rel.neg": sig.rule_neg,
        "len": math.log1p(len(sig.body) / 800.0),
        "market": math.log1p(sig.cue("market")),
        "research": 1.0 if sig.research else 0.0,
    }


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
    r = read_document(
        title,
        text,
        url=url,
        hints=hints,
        fields=fields,
        taxonomy=taxonomy,
        model=model,
        normalized=normalized,
    )
    tax, mdl, sig, z, rel_ev = r.taxonomy, r.model, r.sig, r.z, r.rel_evidence
    hints = hints or {}
    headline, abstract, hint_type, body, title = r.headline, r.abstract, r.hint_type, r.sig.body, r.sig.title
    model_domain = r.model_domain
    dhead = mdl.heads.get("domain") if mdl else None
    evidence: dict[str, list[str]] = {}

    # a foreign subject: foreign words outweigh every Chinese place named
    foreign = r.regions.foreign >= FOREIGN_MIN and r.regions.foreign > max(
        r.regions.hand.values(), default=0.0
    )

    # ---- content type and relevance ------------------------------------------------------------------------
    khead = mdl.heads.get("kind") if mdl and not headline else None
    kind_ev: list[str] = []
    if isinstance(khead, LinearHead):
        post = kind_posterior(khead, sig, kind_features(sig, {"rel.z": z}))
        rscorer = mdl.scorers.get("relevance") if mdl else None
        if rscorer is not None:
            relevance = rscorer.probability(relevance_features(r, post.get("other", 0.0)))
        else:
            relevance = 1.0 - post.get("other", 0.0)
        if z >= ABSTRACT_RELEVANCE and (abstract or hint_type):
            relevance = max(relevance, _sigmoid(z))  # an abstract the domain head reads as technology; a hint
        if r.bare and sig.research and len(body) <= ABSTRACT_LENGTH and r.model_domain is not None:
            relevance = _sigmoid(z)  # a research abstract: the domain head, trained on abstracts, judges it
        rel_ev.append(f"model:kind {relevance:.2f}")
        best, share = best_relevant_kind(post)
        kind_ev.append(f"model:{post.get(best, 0.0):.2f}")
    else:
        relevance = _sigmoid(z)
        best, share = rule_kind(sig)
    relevant = relevance >= tax.relevance_threshold
    content_type, ct_conf = (best, share) if relevant else ("other", 1.0 - relevance)
    if relevant and hint_type and hint_type != "other" and content_type != hint_type:
        content_type, ct_conf = hint_type, max(ct_conf, 0.5)  # the source says what its pages are
    content_type, relevant_after, rule = apply_kind_rules(content_type, relevant, sig, foreign=foreign)
    if rule:
        kind_ev.insert(0, rule)
        if relevant_after and not relevant:
            relevance = max(relevance, tax.relevance_threshold)
            rel_ev.append(rule)
        relevant = relevant_after
    evidence["relevance"] = rel_ev
    # ---- region (an event is about the place it is held in; a national story may name one city) -------------
    region, region_conf, region_ev = decide_region(
        r.regions, mdl.scorers.get("region") if mdl else None, kind=content_type
    )
    evidence[f"content_type:{content_type}"] = (kind_ev + sig.type_evidence.get(content_type, []))[:10]

    # ---- domains ---------------------------------------------------------------------------------------------
    domains: list[str] = []
    domain_scores: dict[str, float] = {}
    domain_conf: dict[str, float] = {}
    # research writing the length of an abstract (or a bare text the domain head places in a domain) keeps its
    # domain even when it is not sci-tech
    research_abstract = len(body) <= ABSTRACT_LENGTH and (
        sig.research or (r.bare and max((model_domain or {}).values(), default=0.0) >= BARE_DOMAIN_MIN)
    )
    if relevant or research_abstract:
        if model_domain is None:
            model_domain = domain_posterior(dhead, f"{title}\n{body}")[0] if dhead is not None else {}
        # research writing or a bare text the length of an abstract: the domain head, trained on abstracts, leads
        model_led = (
            (sig.research or r.bare)
            and len(body) <= ABSTRACT_LENGTH
            and isinstance(dhead, LinearHead)
            and bool(model_domain)
        )
        if relevant or model_domain:
            hinted = [d for d in (hints.get("domains") or []) if d in tax.domains]
            selector = mdl.scorers.get("domain_select") if mdl else None
            domains, domain_scores, dev = choose_domains(
                sig,
                model_domain,
                tax,
                scorer=selector if relevant else None,
                abstract=abstract,
                model_led=model_led,
                hinted=hinted,
                relevant=relevant,
                kind=content_type,
                threshold=float(mdl.meta.get("domain_threshold", SELECT_THRESHOLD))
                if mdl
                else SELECT_THRESHOLD,
            )
            if relevant and selector is not None:
                domain_conf = {d: domain_scores.get(d, 0.0) for d in domains}
            elif relevant:
                top = max(domain_scores.values(), default=0.0) or 1.0
                domain_conf = {d: domain_scores.get(d, 0.0) / top for d in domains}
            else:  # an abstract that is not sci-tech: the model's probability of its domain
                domain_conf = {d: model_domain.get(d, 0.0) for d in domains}
            for d, ev in dev.items():
                evidence[f"domain:{d}"] = ev
    subfields = {
        d: sorted(sig.subfields[d], key=lambda k: -sig.subfields[d][k])[:3]
        for d in domains
        if d in sig.subfields
    }
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
        domain_scores=domain_scores,
        domain_confidence={d: round(v, 3) for d, v in domain_conf.items()},
        subfields=subfields,
        type_scores=dict(sig.type_scores),
        evidence=evidence,
        rule_relevance=(round(sig.rule_pos, 4), round(sig.rule_neg, 4)),
    )


__all__ = [
    "MAX_CHARS",
    "NO_DOMAIN",
    "SHORT_TEXT",
    "Reading",
    "classify",
    "read_document",
    "relevance_features",
    "relevance_z",
]
