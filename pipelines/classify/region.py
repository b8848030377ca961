"""Region: the province-level region a document is about, 全国 for national scope, ``None`` for none or foreign."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pipelines.classify.model import LinearScorer
from pipelines.classify.signals import Signals
from pipelines.taxonomy import NATIONAL, Taxonomy, load_taxonomy
from pipelines.terms import Compiled, compiled


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def region_from_host(host: str, taxonomy: Taxonomy | None = None) -> str | None:
    """The region a host name belongs to (``sn.gov.cn`` → 陕西省, ``www.gov.cn`` → 全国), else ``None``."""
    comp = compiled(taxonomy or load_taxonomy())
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
# the city of an author's address: 北京物资学院，北京 100000 / (清华大学 计算机系，北京)
_ADDRESS_BEFORE = re.compile(r"(?:大学|学院|研究所|研究院|研究中心|公司|系|实验室)[^，,。\n]{0,12}[，,]\s*$")


def _institution_mentions(name: str, body: str) -> int:
    """Mentions of a place that name where an author works or a cited book appeared (北京物资学院,
    ``北京: 中国石油大学``), not what the text is about."""
    n = 0
    start = body.find(name)
    while start >= 0:
        end = start + len(name)
        if _INSTITUTION_AFTER.match(body, end) or _ADDRESS_BEFORE.search(body[max(0, start - 24) : start]):
            n += 1
        start = body.find(name, end)
    return n


LEAD_CHARS = 150  # a place named this early in the body is what the text is about
NONE = "none"  # the candidate that stands for no region (foreign or unstated)


@dataclass
class RegionEvidence:
    """What one document says about places: per province-level region its mentions, and the national and
    foreign evidence. Read once; scored by the learned ranker or by the fixed rule."""

    provinces: dict[str, dict[str, float]] = field(default_factory=dict)  # region -> feature -> value
    why: dict[str, list[str]] = field(default_factory=dict)
    national: float = 0.0
    national_title: float = 0.0  # national-scope words in the headline
    foreign: float = 0.0
    national_host: float = 0.0
    national_hint: float = 0.0
    hand: dict[str, float] = field(default_factory=dict)  # the fixed rule's score of each province


_VENUE_AFTER = re.compile(r"[\u4e00-\u9fff]{0,8}?(?:举行|举办|召开|开幕|启动|开赛|闭幕|落幕|揭晓|颁奖)")


def _venue_mentions(name: str, text: str) -> int:
    """Mentions of a place only as the venue of an event (在重庆举行): a national meeting held there is not
    about the place."""
    n = 0
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if text[start - 1 : start] == "在" and _VENUE_AFTER.match(text, end):
            n += 1
        start = text.find(name, end)
    return n


def read_regions(sig: Signals, url: str, hints: Mapping[str, Any], comp: Compiled) -> RegionEvidence:
    """Collect every mention of a place, national-scope words, foreign words, the host and the source hint."""
    tax = comp.taxonomy
    body = sig.body
    tcounts, bcounts = sig.tcounts, sig.bcounts
    ev = RegionEvidence()
    lead = body[:LEAD_CHARS]
    order: list[str] = []

    def prov(region: str) -> dict[str, float]:
        if region not in ev.provinces:
            ev.provinces[region] = {
                "title": 0.0,
                "body": 0.0,
                "inst": 0.0,
                "lead": 0.0,
                "name": 0.0,
                "host": 0.0,
                "hint": 0.0,
                "venue": 0.0,
            }
            order.append(region)
        return ev.provinces[region]

    # ``found`` is in order of first mention: of two regions scored alike the one named first wins
    for name in sig.found:
        region = comp.region_terms.get(name)
        if region is None:
            continue
        nt, nb = tcounts.get(name, 0), bcounts.get(name, 0)
        inst = _institution_mentions(name, body) if nb else 0
        nb -= inst
        f = prov(region)
        f["inst"] += inst
        if nt + nb <= 0:
            continue
        f["title"] += nt
        f["body"] += nb
        f["venue"] += _venue_mentions(name, f"{sig.title}\n{body}")
        if name in lead:
            f["lead"] = 1.0
        if name == region or name in tax.regions[region].aliases:
            f["name"] = 1.0
        ev.hand[region] = (
            ev.hand.get(region, 0.0) + 4.0 * min(nt, 2) + 0.8 * min(nb, 6) + (1.5 if name in lead else 0.0)
        )
        ev.why.setdefault(region, []).append(f"{'title' if nt else 'text'}:{name}×{nt + nb}")
    for term in sig.found:
        w = tax.national_terms.get(term)
        if w is not None:
            nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
            ev.national += w * (3.0 * min(nt, 1) + min(nb, 6))
            ev.national_title += w * min(nt, 1)
            ev.why.setdefault(NATIONAL, []).append(f"{'title' if nt else 'text'}:{term}×{nt + nb}")
        w = tax.foreign_terms.get(term)
        if w is not None:
            nt, nb = tcounts.get(term, 0), bcounts.get(term, 0)
            ev.foreign += w * (4.0 * min(nt, 1) + 0.6 * min(nb, 6))
    host = _host(url) if url else ""
    host_region = region_from_host(host, tax) if host else None
    if host_region and host_region != NATIONAL:
        prov(host_region)["host"] = 1.0
        ev.hand[host_region] = ev.hand.get(host_region, 0.0) + 6.0
        ev.why.setdefault(host_region, []).append(f"host:{host}")
    elif host_region == NATIONAL:
        ev.national_host = 1.0
        ev.why.setdefault(NATIONAL, []).append(f"host:{host}")
    hinted = normalize_region(hints.get("region"), tax) if hints else None
    if hinted and hinted != NATIONAL:
        prov(hinted)["hint"] = 1.0
        ev.hand[hinted] = ev.hand.get(hinted, 0.0) + 10.0
        ev.why.setdefault(hinted, []).append("hint:source region")
    elif hinted == NATIONAL:
        ev.national_hint = 1.0
        ev.why.setdefault(NATIONAL, []).append("hint:source region")
    for i, region in enumerate(order):
        ev.provinces[region]["first"] = 1.0 if i == 0 else 0.0
    return ev


def candidate_features(ev: RegionEvidence, kind: str = "") -> dict[str, dict[str, float]]:
    """Features of every candidate answer (each region named, 全国 and none), for the learned ranker; ``kind``
    (the content type) lets it learn that an event is about its venue while a national story may name a city."""
    total = sum(f["title"] + f["body"] for f in ev.provinces.values()) or 1.0
    named = [r for r, f in ev.provinces.items() if f["title"] + f["body"] + f["host"] + f["hint"] > 0]
    spread = math.log1p(len(named))
    best_hand = max(ev.hand.values(), default=0.0)
    nat = math.log1p(ev.national)
    foreign = math.log1p(ev.foreign)
    out: dict[str, dict[str, float]] = {}
    for region, f in ev.provinces.items():
        hand = ev.hand.get(region, 0.0)
        out[region] = {
            "p": 1.0,
            "p.title": min(f["title"], 2.0),
            "p.body": math.log1p(f["body"]),
            "p.inst": math.log1p(f["inst"]),
            "p.lead": f["lead"],
            "p.name": f["name"],
            "p.first": f.get("first", 0.0),
            "p.host": f["host"],
            "p.hint": f["hint"],
            "p.share": (f["title"] + f["body"]) / total,
            "p.venue": f["venue"] / max(1.0, f["title"] + f["body"]),
            "p.venue_national": nat * f["venue"] / max(1.0, f["title"] + f["body"]),
            "p.national_title": math.log1p(ev.national_title),
            "p.venue_event": f["venue"] / max(1.0, f["title"] + f["body"]) if kind == "event" else 0.0,
            "p.best": 1.0 if hand and hand >= best_hand else 0.0,
            "p.hand": math.log1p(hand),
            "p.spread": spread,
            "p.national": nat,
            "p.foreign": foreign,
        }
    out[NATIONAL] = {
        "n": 1.0,
        "n.score": nat,
        "n.title": math.log1p(ev.national_title),
        **({f"n.kind={kind}": 1.0} if kind else {}),
        "n.host": ev.national_host,
        "n.hint": ev.national_hint,
        "n.spread": spread,
        "n.many": 1.0 if len(named) >= 3 else 0.0,
        "n.unnamed": 0.0 if named else 1.0,
        "n.best": math.log1p(best_hand),
        "n.foreign": foreign,
    }
    if kind:
        for f in out.values():
            if "p" in f:
                f[f"p.kind={kind}"] = 1.0
    out[NONE] = {
        "o": 1.0,
        "o.foreign": foreign,
        "o.unnamed": 0.0 if named else 1.0,
        "o.national": nat,
        "o.best": math.log1p(best_hand),
    }
    return out


def decide_region(
    ev: RegionEvidence, scorer: LinearScorer | None = None, kind: str = ""
) -> tuple[str | None, float, list[str]]:
    """The region, its confidence and evidence: the learned ranker's best candidate when there is one, else the
    fixed rule."""
    if scorer is not None:
        feats = candidate_features(ev, kind)
        scores = {c: scorer.score(f) for c, f in feats.items()}
        best = max(scores, key=lambda c: (scores[c], c == NONE))
        m = max(scores.values())
        z = sum(math.exp(v - m) for v in scores.values())
        conf = 1.0 / z
        if best == NONE:
            return None, round(conf, 3), []
        reason = list(ev.why.get(best, []))
        reason.append(f"model:{conf:.2f}")
        return best, round(conf, 3), reason
    return _rule_region(ev)


def _rule_region(ev: RegionEvidence) -> tuple[str | None, float, list[str]]:
    """The fixed rule: the best-scored province unless national-scope or foreign words outweigh it."""
    scores = ev.hand
    national = ev.national + 2.0 * ev.national_host + 8.0 * ev.national_hint
    spread = [s for s in scores.values() if s >= 1.5]
    total = sum(scores.values())
    best, best_score = max(scores.items(), key=lambda x: x[1]) if scores else (None, 0.0)
    if len(spread) >= 3 and best_score < 0.5 * total:
        national += 3.0 + 0.2 * total
        ev.why.setdefault(NATIONAL, []).append(f"provinces:{len(spread)}")
    foreign = ev.foreign
    if foreign >= 2.0 and foreign > national and foreign > best_score:
        return None, min(1.0, 0.3 + foreign / (foreign + national + total + 1.0)), []
    if best is not None and best_score >= 3.0 and best_score >= 0.6 * national:
        conf = best_score / (total + national + foreign + 1.0)
        return best, min(1.0, 0.3 + conf), ev.why.get(best, [])
    if national >= 1.5:
        return (
            NATIONAL,
            min(1.0, 0.3 + national / (national + foreign + total + 2.0)),
            ev.why.get(NATIONAL, []),
        )
    if best is not None and best_score >= 1.6:
        return best, 0.3, ev.why.get(best, [])
    return None, 0.0, []
