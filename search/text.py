"""Text analysis shared by the embedded backend: index tokens, query expressions, snippets.

Index side: CJK runs become overlapping character bigrams (plus the run's last character, so a one-character
query still matches), other runs become lower-cased words — the scheme of Elasticsearch's ``cjk`` analyzer,
which needs no dictionary and never misses a substring because of a segmentation choice.

Query side: a query word is split into words by jieba, each word must occur as a contiguous phrase of bigrams;
a quoted phrase must occur as a whole.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache
from operator import add as _concat

from search.query import ParsedQuery, Term

TOKENIZER_VERSION = "bigram-3"
_CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff"
_RUN = re.compile(rf"[{_CJK_CHARS}]+|[0-9a-z\u00c0-\u024f]+(?:[.'][0-9a-z]+)*")
_IS_CJK = re.compile(rf"[{_CJK_CHARS}]")


def _runs(text: str) -> Iterable[str]:
    return _RUN.findall(text.lower())


def run_tokens(run: str) -> list[str]:
    if not _IS_CJK.match(run):
        return [run]
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def index_tokens(text: str) -> str:
    """Space-separated index tokens of a (normalised) text."""
    out: list[str] = []
    add, extend, is_cjk = out.append, out.extend, _IS_CJK.match
    for run in _RUN.findall(text.lower()):
        if len(run) > 1 and is_cjk(run):
            extend(map(_concat, run, run[1:]))  # the bigrams, in order
            add(run[-1])
        else:
            add(run)
    return " ".join(out)


def phrase_tokens(text: str) -> list[str]:
    """Tokens a text must show contiguously (no trailing single char: it is not adjacent in the index)."""
    out: list[str] = []
    for run in _runs(text):
        if _IS_CJK.match(run) and len(run) > 1:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            out.append(run)
    return out


@lru_cache(maxsize=1)
def _jieba() -> object:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def query_words(term: str) -> list[str]:
    """Split a query word into the words that must all occur (jieba for Chinese)."""
    words: list[str] = []
    for run in _runs(term):
        if _IS_CJK.match(run) and len(run) > 2:
            jieba = _jieba()
            words.extend(attach_single_characters([w for w in jieba.cut(run) if w.strip()]))  # type: ignore[attr-defined]
        else:
            words.append(run)
    return words


def segment(text: str) -> str:
    """A (normalised) text as space-separated words: the words a query is split into (:func:`query_words`),
    for the server backend's word field."""
    return " ".join(query_words(text))


def attach_single_characters(pieces: list[str]) -> list[str]:
    """Keep one-character pieces of a Chinese run attached to a neighbour (新|材料 → 新材料, 区块|链 → 区块链,
    我|的|电脑 → 我的|电脑): a lone character occurs in nearly every document, so it would select nothing and
    cost a scan of every word starting with it."""
    out: list[str] = []
    pending = ""
    for piece in pieces:
        if len(piece) == 1:
            pending += piece
            if len(pending) == 2:
                out.append(pending)
                pending = ""
            continue
        out.append(pending + piece)
        pending = ""
    if pending:
        if out:
            out[-1] += pending
        else:
            out.append(pending)
    return out


def _fts_string(tokens: list[str]) -> str:
    return '"' + " ".join(t.replace('"', '""') for t in tokens) + '"'


def _word_expr(word: str) -> str:
    if _IS_CJK.match(word) and len(word) == 1:
        return _fts_string([word]) + "*"
    return _fts_string(phrase_tokens(word))


def term_expr(term: Term) -> str | None:
    """FTS5 expression for one term; None if the term has no indexable characters."""
    if term.phrase:
        toks = phrase_tokens(term.text)
        if not toks:
            return None
        if len(toks) == 1 and _IS_CJK.match(toks[0]) and len(toks[0]) == 1:
            return _fts_string(toks) + "*"
        return _fts_string(toks)
    words = query_words(term.text)
    exprs = [_word_expr(w) for w in words if w]
    if not exprs:
        return None
    return exprs[0] if len(exprs) == 1 else "(" + " AND ".join(exprs) + ")"


def fts_expression(parsed: ParsedQuery) -> str | None:
    """The FTS5 MATCH expression for a parsed query, or None when it has no positive terms."""
    clauses = []
    for clause in parsed.must:
        alts = [e for e in (term_expr(t) for t in clause.alternatives) if e]
        if not alts:
            continue
        clauses.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
    if not clauses:
        return None
    expr = " AND ".join(clauses)
    for term in parsed.must_not:
        e = term_expr(term)
        if e:
            expr = f"{expr} NOT {e}"
    return expr


def highlight_words(parsed: ParsedQuery) -> list[str]:
    words: list[str] = []
    for clause in parsed.must:
        for term in clause.alternatives:
            if term.phrase:
                words.append(term.text)
            else:
                words.extend(query_words(term.text))
    return sorted({w for w in words if w.strip()}, key=len, reverse=True)


def snippet(text: str, words: list[str], width: int = 140) -> str:
    """An escaped excerpt of ``text`` around the first match, matches wrapped in ``<mark>``."""
    flat = re.sub(r"\s+", " ", text).strip()
    if not flat:
        return ""
    lower = flat.lower()
    positions = [p for p in (lower.find(w.lower()) for w in words if w) if p >= 0]
    start = 0
    if positions:
        first = min(positions)
        start = max(0, first - width // 4)
    excerpt = flat[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(flat) else ""
    if not words:
        return prefix + html.escape(excerpt) + suffix
    pattern = re.compile("|".join(re.escape(w) for w in words if w), re.I)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(excerpt):
        out.append(html.escape(excerpt[last : m.start()]))
        out.append("<mark>" + html.escape(m.group(0)) + "</mark>")
        last = m.end()
    out.append(html.escape(excerpt[last:]))
    return prefix + "".join(out) + suffix


def related_words(title: str, text: str, k: int = 12) -> list[str]:
    """The most distinctive words of a document (jieba's TF-IDF keywords; the title counts twice)."""
    _jieba()  # initialises the dictionary quietly
    import jieba.analyse

    words = jieba.analyse.extract_tags(f"{title}\n{title}\n{text}", topK=k)
    return [w.lower() for w in words if w.strip()]
