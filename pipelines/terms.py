"""Term matching over a fixed vocabulary: the taxonomy's cue words, domain terms and place names, counted in one
pass over a text.

:class:`TermCounter` counts every occurrence of its terms (nested and overlapping ones all count); :func:`compiled`
builds, once per taxonomy, the counter over all of the taxonomy's vocabulary and the lookups from a term to what it
means (a domain and sub-field, a region). Classification and routing both read texts through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipelines.taxonomy import NATIONAL, Taxonomy

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
class Compiled:
    """A taxonomy's vocabulary ready for matching."""

    taxonomy: Taxonomy
    counter: TermCounter
    domain_terms: dict[str, list[tuple[str, str]]]  # term -> [(domain, subfield)]
    region_terms: dict[str, str]  # alias/city/full name -> region
    host_regions: list[tuple[str, str]]  # (host suffix, region), longest first


_COMPILED: dict[int, tuple[Taxonomy, Compiled]] = {}


def compiled(taxonomy: Taxonomy) -> Compiled:
    """The compiled vocabulary of ``taxonomy`` (built once per taxonomy object)."""
    hit = _COMPILED.get(id(taxonomy))
    if hit and hit[0] is taxonomy:
        return hit[1]
    vocab: set[str] = set(taxonomy.positive) | set(taxonomy.negative)
    for rule in taxonomy.content_types.values():
        vocab |= set(rule.title) | set(rule.terms)
    for words in taxonomy.cues.values():
        vocab |= set(words)
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
    comp = Compiled(taxonomy, TermCounter(vocab), domain_terms, region_terms, hosts)
    if len(_COMPILED) > 16:
        _COMPILED.clear()
    _COMPILED[id(taxonomy)] = (taxonomy, comp)
    return comp


def terms_in_mention_order(
    title: str, body: str, tcounts: Mapping[str, int], bcounts: Mapping[str, int]
) -> list[str]:
    """The taxonomy terms found in a document, title ones first, each in order of first mention: scores summed
    and ties broken in this order come out the same in every process (set order depends on the hash seed)."""
    return sorted(
        tcounts.keys() | bcounts.keys(),
        key=lambda t: (0, title.find(t)) if tcounts.get(t) else (1, body.find(t)),
    )
