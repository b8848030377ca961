"""Tech domains: which of the taxonomy's domains a document belongs to, best first.

Two sources of evidence: the taxonomy's domain terms (rule scores) and the learned domain head's probabilities.
A small learned selector (``domain_select`` in the model) reads both for each domain and keeps the domains it
judges likely; without it a fixed rule decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pipelines.classify.linear import LinearHead
from pipelines.classify.model import Head, LinearScorer
from pipelines.classify.signals import Signals
from pipelines.taxonomy import Taxonomy

OTHER_DOMAIN = "其他"
NO_DOMAIN = "none"  # the domain head's class of full texts that are not sci-tech
DOMAIN_MODEL_WEIGHT = 6.0  # how much the learned domain posterior adds to a domain's score (ranking only)
DOMAIN_FULL_LENGTH = 1500  # texts this long need the full domain_min_score
DOMAIN_MODEL_LEAD = 0.5  # model posterior at which its best domain leads the list
DOMAIN_MODEL_FALLBACK = 0.9  # model posterior at which its domain is taken when the text names none
ABSTRACT_RULE_WEIGHT = 0.2  # rule evidence points added to the model's log probability for an abstract's lead
SELECT_THRESHOLD = 0.5  # a domain the selector gives this probability is kept
OTHER_BESIDE = 0.85  # the catch-all 其他 joins named domains only with this probability


def domain_posterior(head: Head | None, text: str) -> tuple[dict[str, float], float]:
    """The domain head's probabilities of the technology domains, and its probability of none."""
    if isinstance(head, LinearHead):
        post = head.posterior(text)
        return post, post.pop(NO_DOMAIN, 0.0)
    return {}, 1.0


def abstract_lead(model_domain: Mapping[str, float], rule_scores: Mapping[str, float]) -> str:
    """The leading domain of an abstract: the model's log probability plus the rules' evidence."""
    return max(
        model_domain,
        key=lambda d: math.log(model_domain[d] + 1e-9) + ABSTRACT_RULE_WEIGHT * rule_scores.get(d, 0.0),
    )


def select_features(
    sig: Signals, model_domain: Mapping[str, float], taxonomy: Taxonomy, kind: str = ""
) -> dict[str, dict[str, float]]:
    """Features of every taxonomy domain for the learned selector: the rule score and its share of the best, the
    headline's terms, the domain head's probability (raw and among the domains), how many domains the text names;
    for the catch-all 其他 also the content type (a policy about science in general is 其他)."""
    rule = sig.domain_rule
    top = max(rule.values(), default=0.0)
    mass = sum(model_domain.values()) or 1.0
    model_top = max(model_domain, key=lambda d: model_domain[d]) if model_domain else ""
    n_named = sum(1 for d, v in rule.items() if v > 0 and d != OTHER_DOMAIN)
    length = math.log1p(len(sig.body) / 800.0)
    out: dict[str, dict[str, float]] = {}
    for d in taxonomy.domains:
        r = rule.get(d, 0.0)
        p = model_domain.get(d, 0.0)
        f = {
            f"dom={d}": 1.0,
            "rule": math.log1p(r / sig.length_norm),
            "share": r / top if top else 0.0,
            "top": 1.0 if r and r >= top else 0.0,
            "title": math.log1p(sig.domain_title.get(d, 0)),
            "model": p,
            "model.share": p / mass,
            "model.top": 1.0 if d == model_top and p >= 0.1 else 0.0,
            "named": math.log1p(n_named),
            "len": length,
            "subs": math.log1p(len(sig.subfields.get(d, {}))),
            "research": 1.0 if sig.research else 0.0,
        }
        if d == OTHER_DOMAIN:
            f = {f"other.{k}": v for k, v in f.items() if not k.startswith("dom=")} | {f"dom={d}": 1.0}
            if kind:
                f[f"other.kind={kind}"] = 1.0
        out[d] = f
    return out


def select_domains(probs: Mapping[str, float], threshold: float = SELECT_THRESHOLD) -> list[str]:
    """The named domains the selector believes, best first; the catch-all 其他 beside them only when it is near
    certain; the single most probable domain when none passes the threshold."""
    ranked = sorted(probs, key=lambda d: (-probs[d], d))
    domains = [d for d in ranked if d != OTHER_DOMAIN and probs[d] >= threshold]
    if not domains:
        return ranked[:1]
    if probs.get(OTHER_DOMAIN, 0.0) >= OTHER_BESIDE:
        domains.append(OTHER_DOMAIN)
    return domains


def choose_domains(
    sig: Signals,
    model_domain: Mapping[str, float],
    taxonomy: Taxonomy,
    *,
    scorer: LinearScorer | None,
    abstract: bool,
    model_led: bool,
    hinted: list[str],
    relevant: bool = True,
    kind: str = "",
    threshold: float = SELECT_THRESHOLD,
) -> tuple[list[str], dict[str, float], dict[str, list[str]]]:
    """The domains best first, each domain's score and the evidence of the chosen ones (a text that is not
    sci-tech shows every domain's model probability: its domain is the model's guess)."""
    dscore = dict(sig.domain_rule)
    dev: dict[str, list[tuple[float, str]]] = {d: list(v) for d, v in sig.domain_evidence.items()}
    for d in hinted:
        dscore[d] = dscore.get(d, 0.0) + taxonomy.domain_min_score
        dev.setdefault(d, []).append((99.0, "hint:source domains"))
    for d, p in model_domain.items():
        if d in taxonomy.domains and (p > 0.2 or not relevant):
            dscore[d] = dscore.get(d, 0.0) + DOMAIN_MODEL_WEIGHT * p
            dev.setdefault(d, []).append((DOMAIN_MODEL_WEIGHT * p, f"model:{p:.2f}"))
    if scorer is not None:
        feats = select_features(sig, model_domain, taxonomy, kind)
        probs = {d: scorer.probability(f) for d, f in feats.items()}
        for d in hinted:
            probs[d] = max(probs.get(d, 0.0), 0.99)
        ranked = sorted(probs, key=lambda d: (-probs[d], d))
        domains = select_domains(probs, threshold)
        if model_led and model_domain:  # an abstract: the model trained on abstracts picks the lead
            lead = abstract_lead(model_domain, sig.domain_rule)
            domains = [lead] + [d for d in domains if d != lead]
        for d in domains:
            dev.setdefault(d, []).append((50.0, f"select:{probs.get(d, 0.0):.2f}"))
        scores = {d: round(probs[d], 3) for d in ranked}
    else:
        domains = _rule_domains(sig, dscore, model_domain, taxonomy, abstract, model_led, hinted)
        scores = {k: round(v, 3) for k, v in dscore.items()}
    evidence = {d: [e for _, e in sorted(dev.get(d, []), key=lambda x: -x[0])[:8]] for d in domains}
    return domains, scores, evidence


def _rule_domains(
    sig: Signals,
    dscore: Mapping[str, float],
    model_domain: Mapping[str, float],
    taxonomy: Taxonomy,
    abstract: bool,
    model_led: bool,
    hinted: list[str],
) -> list[str]:
    """The fixed rule: domains with enough rule evidence and share of the best, the model's lead when it is
    confident, 其他 only when no specific domain is named."""
    rule = sig.domain_rule
    research = sig.research
    domain_terms_total = sum(rule.values())
    # a short text names its domains once; a long one must keep coming back to them
    min_score = max(1.0, taxonomy.domain_min_score * min(1.0, len(sig.body) / DOMAIN_FULL_LENGTH))
    top = max(rule.values(), default=0.0)
    specific = [d for d in taxonomy.domains if d != OTHER_DOMAIN]
    domains: list[str] = []
    for dom, _ in sorted(dscore.items(), key=lambda x: -x[1]):
        rscore = rule.get(dom, 0.0)
        if dom in hinted or (rscore >= min_score and rscore >= taxonomy.domain_min_share * top):
            domains.append(dom)
    if dscore:
        lead = max(dscore.items(), key=lambda x: x[1])[0]
        if model_led:
            lead = abstract_lead(model_domain, rule)
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
    if (
        any(d in specific for d in domains)
        and OTHER_DOMAIN in domains[1:]
        and OTHER_DOMAIN not in hinted
        and rule.get(OTHER_DOMAIN, 0.0) < max(rule.get(d, 0.0) for d in domains if d in specific)
    ):
        domains.remove(OTHER_DOMAIN)
    if not domains and dscore:
        best_d = max(dscore.items(), key=lambda x: x[1])[0]
        if domain_terms_total > 0 or model_domain.get(best_d, 0.0) >= DOMAIN_MODEL_FALLBACK:
            domains = [best_d]
    if not domains and OTHER_DOMAIN in taxonomy.domains:
        domains = [OTHER_DOMAIN]
    return domains
