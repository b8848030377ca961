"""Region: the province-level region a document is about, 全国 for national scope, ``None`` for none or foreign."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

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


def detect_region(
    title: str,
    body: str,
    found: Sequence[str],
    tcounts: Mapping[str, int],
    bcounts: Mapping[str, int],
    url: str,
    hints: Mapping[str, Any],
    comp: Compiled,
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
