"""Staff queries as ``elasticsearch.dsl`` queries: words and phrases on the cjk fields, filters, sorting, saved
searches as stored (percolator) queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from elasticsearch.dsl import (
    A,
    Q,
    Search,
)
from elasticsearch.dsl.query import Query as EsQuery

from search.query import ParsedQuery, Query, Term
from search.text import query_words

if TYPE_CHECKING:
    pass


_HIGHLIGHT = {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html"}


# -- queries ----------------------------------------------------------------------------------------------------
def _exact_phrase(text: str) -> EsQuery:
    return Q(
        "bool",
        should=[Q("match_phrase", search_title__exact=text), Q("match_phrase", search_text__exact=text)],
        minimum_should_match=1,
    )


def term_query(term: Term) -> EsQuery:
    """One term: a phrase must occur as a whole; a word's parts (jieba) must each occur contiguously."""
    if term.phrase:
        return _exact_phrase(term.text)
    words = [w for w in query_words(term.text) if w.strip()] or [term.text]
    if len(words) == 1:
        return _exact_phrase(words[0])
    return Q("bool", must=[_exact_phrase(w) for w in words])


def scoring_words(parsed: ParsedQuery) -> str:
    """The query's positive words as the word field holds them."""
    words: list[str] = []
    for text in parsed.positive_terms():
        words.extend(w for w in query_words(text) if w.strip())
    return " ".join(words)


def text_query(parsed: ParsedQuery) -> EsQuery:
    """The matching part of a query (AND of clauses, OR inside a clause, NOT) plus relevance scoring: the cjk
    bigram fields (as the embedded index ranks) and the word fields, the title four times the body."""
    must: list[EsQuery] = []
    for clause in parsed.must:
        alts = [term_query(t) for t in clause.alternatives]
        must.append(alts[0] if len(alts) == 1 else Q("bool", should=alts, minimum_should_match=1))
    must_not = [term_query(t) for t in parsed.must_not]
    positive = " ".join(parsed.positive_terms())
    should = []
    if positive:
        should.append(
            Q("multi_match", query=positive, fields=["search_title^4", "search_text"], type="most_fields")
        )
        should.append(
            Q(
                "multi_match",
                query=scoring_words(parsed),
                fields=["title_words^4", "text_words"],
                type="most_fields",
            )
        )
    if not must:
        must = [Q("match_all")]
    return Q("bool", must=must, must_not=must_not, should=should)


def filter_queries(query: Query) -> list[EsQuery]:
    out: list[EsQuery] = []
    for key, values in query.filters.items():
        if values:
            out.append(Q("terms", **{key: list(values)}))
    if query.since or query.until:
        rng: dict[str, str] = {}
        if query.since:
            rng["gte"] = query.since.isoformat()
        if query.until:
            rng["lte"] = query.until.isoformat()
        out.append(Q("range", day=rng))
    if query.ids is not None:
        out.append(Q("ids", values=list(query.ids)) if query.ids else Q("match_none"))
    if query.min_relevance is not None:
        out.append(Q("range", relevance={"gte": query.min_relevance}))
    return out


def date_sort() -> list[Any]:
    return [{"published": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]


def build_search(query: Query, *, search_after: list[Any] | None = None) -> Search:
    """The search request (query, filters, sort, facets, highlight, collapse, paging) for a :class:`Query`."""
    parsed = query.parsed()
    has_text = bool(parsed.must)
    flt = filter_queries(query)
    if not parsed.empty:
        q = Q("bool", must=[text_query(parsed)], filter=flt)
    else:
        q = Q("bool", filter=flt) if flt else Q("match_all")
    sort: list[Any] = ["_score", *date_sort()] if has_text and query.sort == "relevance" else date_sort()
    s = Search().query(q).sort(*sort).extra(track_total_hits=True, size=query.size)
    paging: dict[str, Any] = (
        {"search_after": search_after} if search_after is not None else {"from": query.offset}
    )
    s = s.extra(**paging)
    s = s.source(["data", "cluster_id"])
    if query.highlight and has_text:
        s = s.highlight_options(**_HIGHLIGHT, fragment_size=140, number_of_fragments=1, no_match_size=140)
        s = s.highlight("search_text.exact")
    if query.collapse:
        s = s.extra(collapse={"field": "cluster_id", "inner_hits": {"name": "cluster", "size": 0}})
        s.aggs.metric("clusters", A("cardinality", field="cluster_id", precision_threshold=40000))
    for facet in query.facets:
        s.aggs.bucket(
            f"facet_{facet}", A("terms", field=facet, size=50, order=[{"_count": "desc"}, {"_key": "asc"}])
        )
    return s


def saved_search_query(record: Mapping[str, Any], ids: Sequence[str] | None = None) -> Query:
    """The :class:`Query` of a saved search (``subscriptions`` record with ``query``, ``filters``,
    ``min_relevance``), over ``ids`` when given."""
    return Query(
        text=str(record.get("query") or ""),
        filters={k: list(v) for k, v in dict(record.get("filters") or {}).items() if v},
        min_relevance=record.get("min_relevance"),
        ids=list(ids) if ids is not None else None,
        size=min(1000, max(1, len(ids))) if ids is not None else 10,
        highlight=False,
    )


def percolator_query(record: Mapping[str, Any]) -> dict[str, Any]:
    """The stored query of a saved search."""
    query = saved_search_query(record)
    parsed = query.parsed()
    flt = filter_queries(query)
    q = (
        Q("bool", must=[text_query(parsed)], filter=flt)
        if not parsed.empty
        else Q("bool", filter=flt or [Q("match_all")])
    )
    return dict(q.to_dict())


def snippet_from_highlight(fragments: Sequence[str]) -> str:
    return fragments[0].replace("</mark><mark>", "") if fragments else ""
