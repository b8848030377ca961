"""The classifier: content type, sci-tech relevance, tech domains and region of one document, with evidence."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from pipelines.classify.linear import LinearHead
from pipelines.classify.model import Head, Model, NBHead, char_features, load_model
from pipelines.classify.region import detect_region
from pipelines.classify.result import DOMAIN_MODEL_WEIGHT, Classification
from pipelines.taxonomy import CONTENT_TYPES, Taxonomy, load_taxonomy
from pipelines.terms import compiled, terms_in_mention_order

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


def _capped(n: int) -> float:
    return float(min(n, TERM_CAP))


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
    comp = compiled(tax)
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
    region, region_conf, region_ev = detect_region(title, body, found, tcounts, bcounts, url, hints, comp)
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
