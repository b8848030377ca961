"""Backend-neutral query model: what staff ask for, independent of SQLite or Elasticsearch.

Query text syntax (the same in the CLI, the web UI and the API):

* words separated by spaces must all match (AND); Chinese runs are split into words;
* ``"科创中国"`` (straight or Chinese quotes) matches the exact phrase;
* ``A OR B`` (or ``A | B``) matches either; ``-word`` or ``NOT word`` excludes;
* traditional-script queries are converted to simplified, like the indexed text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from core.errors import QueryError

FILTER_FIELDS = (
    "source",
    "content_type",
    "domains",
    "region",
    "libraries",
    "scitech_relevant",  # "true" / "false": the classifier's 科技相关 verdict
    "language",
    "cluster_id",
    "story_id",
)
FACET_FIELDS = ("source", "content_type", "domains", "region", "libraries", "scitech_relevant", "month")
SORTS = ("relevance", "date")


@dataclass(frozen=True)
class Term:
    """One unit of the query: a word or a phrase (phrase = must appear exactly, in order)."""

    text: str
    phrase: bool = False


@dataclass(frozen=True)
class Clause:
    """A group of alternatives (OR); a query is an AND of clauses, minus excluded terms."""

    alternatives: tuple[Term, ...]


@dataclass(frozen=True)
class ParsedQuery:
    must: tuple[Clause, ...] = ()
    must_not: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.must and not self.must_not

    def positive_terms(self) -> list[str]:
        """Every term that can match, for highlighting."""
        return [t.text for c in self.must for t in c.alternatives]


@dataclass
class Query:
    text: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)  # field -> any of these values
    since: date | None = None
    until: date | None = None
    sort: Literal["relevance", "date"] = "relevance"
    page: int = 1
    size: int = 10
    facets: list[str] = field(default_factory=list)
    highlight: bool = True
    collapse: bool = False  # one hit per near-duplicate cluster
    ids: list[str] | None = None  # restrict to these document ids
    min_relevance: float | None = None

    def __post_init__(self) -> None:
        for key, values in self.filters.items():
            if key not in FILTER_FIELDS:
                raise QueryError(f"未知的筛选字段 {key!r}（可用：{'、'.join(FILTER_FIELDS)}）")
            if key == "scitech_relevant" and not set(values) <= {"true", "false"}:
                raise QueryError(f"科技相关筛选应为 true 或 false，收到 {values!r}")
        for facet in self.facets:
            if facet not in FACET_FIELDS:
                raise QueryError(f"未知的分面 {facet!r}（可用：{'、'.join(FACET_FIELDS)}）")
        if self.sort not in SORTS:
            raise QueryError(f"未知的排序 {self.sort!r}（可用：relevance 相关度、date 日期）")
        if self.page < 1 or self.size < 0 or self.size > 1000:
            raise QueryError("page 应不小于 1，size 应在 0 到 1000 之间")

    def counting(self) -> Query:
        """The same selection with nothing to page, rank, highlight or facet: what ``count()`` runs."""
        return Query(
            text=self.text,
            filters=self.filters,
            since=self.since,
            until=self.until,
            ids=self.ids,
            min_relevance=self.min_relevance,
            size=0,
            highlight=False,
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def parsed(self) -> ParsedQuery:
        return parse_query(self.text)


@dataclass
class Hit:
    id: str
    url: str
    title: str
    published: str | None
    source: str
    snippet: str  # plain text with the matched terms wrapped in <mark>…</mark>; everything else is escaped
    score: float
    content_type: str = ""
    domains: list[str] = field(default_factory=list)
    region: str | None = None
    cluster_id: str = ""
    cluster_size: int = 1
    duplicate_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "published": self.published,
            "source": self.source,
            "snippet": self.snippet,
            "score": round(self.score, 4),
            "content_type": self.content_type,
            "domains": self.domains,
            "region": self.region,
            "cluster_id": self.cluster_id,
            "cluster_size": self.cluster_size,
        }


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    took_ms: float = 0.0
    facets_sampled: bool = False  # facet counts estimated from an even sample of very many matches

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"total": self.total, "hits": [h.to_json() for h in self.hits]}
        if self.facets:
            out["facets"] = {k: [{"value": v, "count": n} for v, n in vals] for k, vals in self.facets.items()}
            if self.facets_sampled:
                out["facets_sampled"] = True
        return out


# one token of query text: an optional "-" and a quoted phrase (straight, Chinese or corner quotes), or a word
# (which a quote ends), or one stray character; read left to right, so user text is never rewritten and no
# character of it can be mistaken for an internal marker
_TOKEN = re.compile(r'(-)?(?:"([^"]*)"|“([^”]*)”|「([^」]*)」)|[^\s"“「]+|\S')
_OR = ("OR", "|", "或")
_AND = ("AND", "&", "且")
MAX_QUERY_LENGTH = 2000


def parse_query(text: str) -> ParsedQuery:
    """Parse query syntax into clauses. Terms are normalised to simplified script and lower case."""
    from pipelines.normalize import normalize_text

    if not isinstance(text, str):
        raise QueryError(f"检索式应为文本，收到 {type(text).__name__}")
    text = text.strip()
    if not text:
        return ParsedQuery()
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"检索式过长（{len(text)} 个字符，最多 {MAX_QUERY_LENGTH} 个）")
    if text.count('"') % 2:
        raise QueryError('检索式中的引号不成对：请用另一个 " 结束短语')

    must: list[Clause] = []
    must_not: list[Term] = []
    pending_or = False
    negate_next = False
    for m in _TOKEN.finditer(text):
        phrase = next((g for g in m.groups()[1:] if g is not None), None)
        tok = m.group(0)
        if phrase is None:
            if tok in _OR:
                pending_or = True
                continue
            if tok in _AND:
                continue
            if tok == "NOT":
                negate_next = True
                continue
        negate = negate_next
        negate_next = False
        if phrase is not None:
            negate = negate or m.group(1) is not None
            term_text = normalize_text(phrase).lower().strip()
        else:
            if tok.startswith("-") and len(tok) > 1:
                negate, tok = True, tok[1:]
            term_text = normalize_text(tok).lower().strip()
        if not term_text:
            continue
        term = Term(term_text, phrase is not None)
        if negate:
            must_not.append(term)
            pending_or = False
            continue
        if pending_or and must:
            last = must.pop()
            must.append(Clause(last.alternatives + (term,)))
        else:
            must.append(Clause((term,)))
        pending_or = False
    return ParsedQuery(tuple(must), tuple(must_not))
