"""Matching query text against a batch of documents in memory, with the embedded index's semantics.

:class:`Matcher` gives exactly the result of ``backend.search(Query(text, filters, ids=batch))`` on the embedded
backend's bigram index, but for many saved queries at once: the batch's index tokens form a small inverted
index, each query looks up the documents holding the rarest token of its most selective clause, and only those
candidates are checked in full. The embedded backend percolates with it; problem-library needs use its
:class:`DocView` to find their key terms in achievements.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.items import Article
from search.query import Term, parse_query
from search.text import highlight_words, index_tokens, phrase_tokens, query_words

_FTS_TOKEN = re.compile(r"[^\W_]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff]")


def _fts_tokens(tokens: Sequence[str]) -> list[str]:
    """What SQLite's unicode61 tokenizer makes of already-split index tokens (``3.5`` → ``3``, ``5``)."""
    out: list[str] = []
    for tok in tokens:
        out.extend(_FTS_TOKEN.findall(tok))
    return out


@dataclass(frozen=True)
class Pattern:
    """A phrase of index tokens that must appear contiguously in one field, or a one-character prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False

    @property
    def needle(self) -> str:
        return " " + " ".join(self.tokens) + ("" if self.prefix else " ")


@dataclass(frozen=True)
class CompiledQuery:
    """A parsed query as patterns: ``must`` is an AND of OR-groups of AND-lists of patterns."""

    must: tuple[tuple[tuple[Pattern, ...], ...], ...]
    must_not: tuple[tuple[Pattern, ...], ...]
    words: tuple[str, ...]  # for snippets


def _is_cjk(ch: str) -> bool:
    return bool(_CJK.match(ch))


def _word_pattern(word: str) -> Pattern | None:
    if len(word) == 1 and _is_cjk(word):
        return Pattern((word,), prefix=True)
    toks = tuple(_fts_tokens(phrase_tokens(word)))
    return Pattern(toks) if toks else None


def term_patterns(term: Term) -> tuple[Pattern, ...] | None:
    """The patterns a term needs (a phrase: one; a word: one per jieba word), None when it has none."""
    if term.phrase:
        raw = phrase_tokens(term.text)
        if not raw:
            return None
        if len(raw) == 1 and len(raw[0]) == 1 and _is_cjk(raw[0]):
            return (Pattern((raw[0],), prefix=True),)
        toks = tuple(_fts_tokens(raw))
        return (Pattern(toks),) if toks else None
    pats = [p for p in (_word_pattern(w) for w in query_words(term.text) if w) if p]
    return tuple(pats) if pats else None


@lru_cache(maxsize=65536)
def compile_query(text: str) -> CompiledQuery:
    """Compile query text (the product's query syntax) into token patterns."""
    parsed = parse_query(text)
    must = []
    for clause in parsed.must:
        alts = tuple(p for p in (term_patterns(t) for t in clause.alternatives) if p)
        if alts:
            must.append(alts)
    must_not = tuple(p for p in (term_patterns(t) for t in parsed.must_not) if p)
    return CompiledQuery(tuple(must), must_not, tuple(highlight_words(parsed)))


@dataclass
class DocView:
    """A document as the index sees it: its title and body token streams, and its set of lookup keys."""

    article: Article
    fields: tuple[str, ...]  # " tok tok tok " per field
    keys: frozenset[str]  # every token and every token's first character

    def has(self, pattern: Pattern) -> bool:
        needle = pattern.needle
        return any(needle in f for f in self.fields)


def doc_view(article: Article) -> DocView:
    body_parts = [article.search_text or article.text]
    body_parts += [str(a["text"]) for a in article.attachments if isinstance(a, Mapping) and a.get("text")]
    fields = []
    keys: set[str] = set()
    for text in (article.search_title or article.title, "\n".join(body_parts)):
        toks = _fts_tokens(index_tokens(text).split())
        fields.append(" " + " ".join(toks) + " ")
        keys.update(toks)
    keys.update(t[0] for t in list(keys))
    return DocView(article, tuple(fields), frozenset(keys))


def query_matches(cq: CompiledQuery, doc: DocView) -> bool:
    """Does the document match the compiled query (same answer as the embedded backend's search)?"""
    for clause in cq.must:
        if not any(all(doc.has(p) for p in alt) for alt in clause):
            return False
    return not any(all(doc.has(p) for p in term) for term in cq.must_not)


def filters_match(filters: Mapping[str, Sequence[str]], min_relevance: float | None, article: Article) -> bool:
    """Filters (any of the listed values per field) and the relevance floor."""
    for key, values in filters.items():
        if not values:
            continue
        if key in ("domains", "libraries"):
            if not set(getattr(article, key) or []) & set(values):
                return False
        elif key == "scitech_relevant":
            flag = article.scitech_relevant
            if flag is None or ("true" if flag else "false") not in values:
                return False
        elif str(getattr(article, key, "") or "") not in values:
            return False
    return min_relevance is None or (article.relevance or 0.0) >= float(min_relevance)


def _pattern_key(p: Pattern) -> str:
    return p.tokens[0] if p.prefix else max(p.tokens, key=len)


class Matcher:
    """Matches a batch of documents against many saved queries at once (see the module documentation)."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.docs = [doc_view(a) for a in articles]
        postings: dict[str, list[int]] = defaultdict(list)
        for i, d in enumerate(self.docs):
            for key in d.keys:
                postings[key].append(i)
        self.postings = postings
        self.all = list(range(len(self.docs)))

    def _candidates(self, cq: CompiledQuery) -> list[int]:
        if not cq.must:
            return self.all
        best: list[int] | None = None
        best_cost = math.inf
        for clause in cq.must:
            lists = []
            cost = 0
            for alt in clause:
                rarest = min((self.postings.get(_pattern_key(p), []) for p in alt), key=len)
                lists.append(rarest)
                cost += len(rarest)
            if cost < best_cost:
                best_cost = cost
                best = lists[0] if len(lists) == 1 else sorted(set().union(*lists))
                if cost == 0:
                    return []
        return best or []

    def match(self, sub: Mapping[str, Any]) -> list[Article]:
        """Documents of the batch that match a saved search (its ``query``, ``filters``, ``min_relevance``)."""
        cq = compile_query(str(sub.get("query") or ""))
        filters = sub.get("filters") or {}
        floor = sub.get("min_relevance")
        out = []
        for i in self._candidates(cq):
            doc = self.docs[i]
            if filters_match(filters, floor, doc.article) and query_matches(cq, doc):
                out.append(doc.article)
        return out
