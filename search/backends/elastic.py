"""The Elasticsearch backend: the same ``Backend`` protocol as the embedded one, for large installations.

Written against the Elasticsearch 8.x and 9.x REST APIs with the official client (``elasticsearch`` 8.18+ or
9.x, whose major version must match the server's) and its DSL (``elasticsearch.dsl``).

Indices (``P`` is ``settings.elasticsearch_prefix``):

* ``P-documents-v<N>`` behind the alias ``P-documents``: articles; :meth:`ElasticBackend.reindex` builds
  ``v<N+1>`` and moves the alias;
* ``P-revisions``: earlier versions of changed documents;
* ``P-urlstate``: URL state for incremental crawling, one document per URL;
* ``P-<collection>`` for each record collection (runs, entries, subscriptions, deliveries, users, tokens, meta);
* ``P-percolator``: every saved search (``subscriptions`` record) as a stored query, so that
  :meth:`ElasticBackend.percolate` tells which subscriptions a new article matches.

Text analysis is chosen when an index is created, from what the cluster offers: the IK plugin
(``ik_max_word`` to index, ``ik_smart`` to search), else the ``smartcn`` plugin, else the built-in ``cjk``
bigrams. Whatever the choice, every text field has an ``exact`` sub-field (standard tokenizer: one token per
Chinese character) on which words and phrases are matched as contiguous sequences, so a query finds the same
documents as in the embedded backend; the analysed field only adds to the score.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from elasticsearch.dsl import (
    A,
    Boolean,
    Date,
    Document,
    Float,
    Index,
    Keyword,
    MetaField,
    Object,
    Percolator,
    Q,
    Search,
    Text,
    analyzer,
    token_filter,
)
from elasticsearch.dsl.query import Query as EsQuery

from core import clock
from core.errors import BackendError, QueryError
from core.items import Article
from search.backends.base import COLLECTIONS, UpsertResult, UrlState
from search.backends.embedded import _body_for_index, _revision, article_data, content_hash
from search.query import FACET_FIELDS, Hit, ParsedQuery, Query, SearchResult, Term
from search.text import highlight_words, query_words, snippet

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from core.settings import Settings

ANALYSES = ("ik", "smartcn", "cjk")
RETRY_STATUS = (429, 502, 503, 504)
_MULTI_FIELDS = ("domains", "libraries")
_HIGHLIGHT = {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html"}


# -- analysis and mappings --------------------------------------------------------------------------------------
def analyzers(analysis: str) -> dict[str, Any]:
    """The analyzers of one analysis choice: ``main`` (index), ``main_search``, ``exact``, ``prefix``(+search)."""
    if analysis not in ANALYSES:
        raise BackendError(f"unknown analysis {analysis!r} (known: {', '.join(ANALYSES)})")
    if analysis == "ik":
        main = analyzer("ts_main", tokenizer="ik_max_word", filter=["lowercase"])
        main_search = analyzer("ts_main_search", tokenizer="ik_smart", filter=["lowercase"])
    elif analysis == "smartcn":
        main = analyzer("ts_main", tokenizer="smartcn_tokenizer", filter=["lowercase"])
        main_search = main
    else:
        main = analyzer("ts_main", tokenizer="standard", filter=["cjk_width", "lowercase", "cjk_bigram"])
        main_search = main
    edge = token_filter("ts_edge", "edge_ngram", min_gram=1, max_gram=20)
    return {
        "main": main,
        "main_search": main_search,
        "exact": analyzer("ts_exact", tokenizer="standard", filter=["cjk_width", "lowercase"]),
        "prefix": analyzer("ts_prefix", tokenizer="keyword", filter=["cjk_width", "lowercase", edge]),
        "prefix_search": analyzer("ts_prefix_search", tokenizer="keyword", filter=["cjk_width", "lowercase"]),
    }


def article_document(analysis: str) -> type[Document]:
    """The ``Document`` class (field mappings) of the articles index for one analysis choice."""
    an = analyzers(analysis)

    def text_field(*, prefix: bool = False) -> Text:
        fields: dict[str, Any] = {"exact": Text(analyzer=an["exact"])}
        if prefix:
            fields["prefix"] = Text(analyzer=an["prefix"], search_analyzer=an["prefix_search"])
        if an["main_search"] is an["main"]:
            return Text(analyzer=an["main"], fields=fields)
        return Text(analyzer=an["main"], search_analyzer=an["main_search"], fields=fields)

    class ArticleDocument(Document):
        id = Keyword()
        url = Keyword()
        source = Keyword()
        content_type = Keyword()
        domains = Keyword(multi=True)
        libraries = Keyword(multi=True)
        region = Keyword()
        language = Keyword()
        cluster_id = Keyword()
        story_id = Keyword()
        fingerprint = Keyword()
        duplicate_of = Keyword()
        content_hash = Keyword()
        month = Keyword()
        day = Keyword()
        published = Date()
        fetched = Date()
        updated = Date()
        relevance = Float()
        scitech = Boolean()
        search_title = text_field(prefix=True)
        search_text = text_field()
        data = Object(enabled=False)

        class Meta:
            dynamic = MetaField("strict")

    return ArticleDocument


def documents_index(name: str, analysis: str) -> Index:
    """The articles index definition (settings, analysis, mappings)."""
    idx = Index(name)
    idx.settings(number_of_shards=1, auto_expand_replicas="0-1", max_result_window=10000)
    idx.document(cast(Any, article_document(analysis)))
    return idx


def percolator_index(name: str, analysis: str) -> Index:
    """Saved searches: the article fields (queries are parsed against them) plus the stored ``query``."""

    base: Any = article_document(analysis)

    class SavedSearch(base):
        query = Percolator()
        subscription = Keyword()

    idx = Index(name)
    idx.settings(number_of_shards=1, auto_expand_replicas="0-1")
    idx.document(cast(Any, SavedSearch))
    return idx


def simple_index_body(kind: str) -> dict[str, Any]:
    """Settings and mappings of the bookkeeping indices: ``records``, ``revisions`` or ``urlstate``."""
    settings = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
    if kind == "records":
        props: dict[str, Any] = {
            "id": {"type": "keyword"},
            "updated": {"type": "double"},
            "data": {"type": "flattened", "ignore_above": 8191},
        }
    elif kind == "revisions":
        props = {
            "doc_id": {"type": "keyword"},
            "at": {"type": "keyword"},
            "data": {"type": "object", "enabled": False},
        }
    elif kind == "urlstate":
        props = {
            k: {"type": "keyword"}
            for k in ("url", "source", "doc_id", "etag", "last_modified", "content_hash", "fetched")
        }
        props["status"] = {"type": "integer"}
    else:
        raise BackendError(f"unknown index kind {kind!r}")
    return {"settings": settings, "mappings": {"dynamic": "strict", "properties": props}}


def article_source(article: Article, chash: str, now: str) -> dict[str, Any]:
    """The stored form of an article in the documents index."""
    published = article.published or None
    return {
        "id": article.id,
        "url": article.url,
        "source": article.source,
        "content_type": article.content_type,
        "domains": sorted(set(article.domains)),
        "libraries": sorted(set(article.libraries)),
        "region": article.region or None,
        "language": article.language,
        "cluster_id": article.cluster_id or article.id,
        "story_id": article.story_id,
        "fingerprint": article.fingerprint,
        "duplicate_of": article.duplicate_of,
        "content_hash": chash,
        "month": published[:7] if published else None,
        "day": published[:10] if published else None,
        "published": published,
        "fetched": article.fetched or None,
        "updated": now,
        "relevance": article.relevance,
        "scitech": article.scitech_relevant,
        "search_title": article.search_title or article.title,
        "search_text": _body_for_index(article),
        "data": article_data(article),
    }


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


def text_query(parsed: ParsedQuery) -> EsQuery:
    """The matching part of a query (AND of clauses, OR inside a clause, NOT) plus relevance scoring."""
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
    if query.min_relevance is not None and query.min_relevance > 0:
        out.append(Q("range", relevance={"gte": query.min_relevance}))
    return out


def recency_boost(q: EsQuery) -> EsQuery:
    """Up to half again the score for documents published lately; undated documents keep their score."""
    return Q(
        "function_score",
        query=q,
        functions=[
            {"weight": 1},
            {
                "gauss": {"published": {"origin": "now", "scale": "180d", "offset": "7d", "decay": 0.5}},
                "weight": 0.5,
            },
        ],
        score_mode="sum",
        boost_mode="multiply",
    )


def date_sort() -> list[Any]:
    return [{"published": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]


def build_search(query: Query, *, search_after: list[Any] | None = None) -> Search:
    """The search request (query, filters, sort, facets, highlight, collapse, paging) for a :class:`Query`."""
    parsed = query.parsed()
    has_text = bool(parsed.must)
    q = Q("bool", must=[text_query(parsed)], filter=filter_queries(query)) if not parsed.empty else None
    if q is None:
        flt = filter_queries(query)
        q = Q("bool", filter=flt) if flt else Q("match_all")
    if has_text and query.sort == "relevance":
        q = recency_boost(q)
        sort: list[Any] = ["_score", *date_sort()]
    else:
        sort = date_sort()
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


def related_search(index: str, doc_id: str, n: int) -> Search:
    mlt = Q(
        "more_like_this",
        fields=["search_title", "search_text"],
        like=[{"_index": index, "_id": doc_id}],
        min_term_freq=1,
        min_doc_freq=1,
        max_query_terms=25,
        minimum_should_match="10%",
    )
    return Search().query(mlt).extra(size=n).source(["data", "cluster_id"])


def percolator_query(record: dict[str, Any]) -> dict[str, Any]:
    """The stored query of a saved search (``subscriptions`` record with ``query`` and ``filters``)."""
    query = Query(text=str(record.get("query") or ""), filters=dict(record.get("filters") or {}))
    parsed = query.parsed()
    flt = filter_queries(query)
    q = (
        Q("bool", must=[text_query(parsed)], filter=flt)
        if not parsed.empty
        else Q("bool", filter=flt or [Q("match_all")])
    )
    return dict(q.to_dict())


def _snippet_from_highlight(fragments: Sequence[str]) -> str:
    return fragments[0].replace("</mark><mark>", "") if fragments else ""


# -- bulk writes ------------------------------------------------------------------------------------------------
Action = tuple[dict[str, Any], dict[str, Any] | None]


def bulk_write(
    client: Any,
    actions: Sequence[Action],
    *,
    refresh: bool | str = False,
    max_retries: int = 4,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send ``(action, source)`` pairs with the bulk API; retry items refused with 429/5xx, with backoff.

    A bulk response is 200 even when some items failed: each item's status is checked, and the ids that
    still failed are raised in one :class:`BackendError`."""
    from elasticsearch import ApiError, TransportError

    pending = list(actions)
    failed: dict[str, str] = {}
    attempt = 0
    while pending:
        ops: list[dict[str, Any]] = []
        for meta, src in pending:
            ops.append(meta)
            if src is not None:
                ops.append(src)
        retry: list[Action] = []
        try:
            resp = client.bulk(operations=ops, refresh=refresh)
            items = resp["items"]
        except ApiError as exc:
            if exc.meta.status not in RETRY_STATUS or attempt >= max_retries:
                raise BackendError(f"bulk write of {len(pending)} items failed: {exc}") from None
            retry = pending
        except TransportError as exc:
            if attempt >= max_retries:
                raise BackendError(f"bulk write of {len(pending)} items failed: {exc}") from None
            retry = pending
        else:
            for (meta, src), item in zip(pending, items, strict=False):
                op, res = next(iter(item.items()))
                status = int(res.get("status", 0))
                if status < 300 or (op == "delete" and status == 404):
                    continue
                doc_id = str(res.get("_id") or next(iter(meta.values())).get("_id", "?"))
                if status in RETRY_STATUS and attempt < max_retries:
                    retry.append((meta, src))
                else:
                    err = res.get("error") or {}
                    reason = err.get("reason", err) if isinstance(err, dict) else err
                    failed[doc_id] = f"{status} {reason}"
        pending = retry
        if pending:
            sleep(min(backoff * (2**attempt), 30.0))
            attempt += 1
    if failed:
        shown = "; ".join(f"{k}: {v}" for k, v in list(failed.items())[:10])
        raise BackendError(
            f"{len(failed)} of {len(actions)} bulk writes failed ({', '.join(failed)}): {shown}"
        )



def _url_id(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def _revision_id(doc_id: str, at: str, data: dict[str, Any]) -> str:
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(f"{doc_id}|{at}|{blob}".encode()).hexdigest()


def _flat_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ElasticBackend:
    """Documents, URL state, revisions and records in Elasticsearch indices (see the module documentation)."""

    name = "elasticsearch"

    def __init__(
        self,
        url: str | Sequence[str] | None = None,
        *,
        prefix: str = "techscout",
        client: Elasticsearch | None = None,
        refresh: bool = False,
        analysis: str | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        if client is None:
            from elasticsearch import Elasticsearch

            hosts = [u.strip() for u in url.split(",")] if isinstance(url, str) else list(url or [])
            if not hosts or not all(hosts):
                raise BackendError(
                    "the elasticsearch backend needs elasticsearch_url (e.g. http://localhost:9200)"
                )
            client = Elasticsearch(
                hosts,
                request_timeout=request_timeout,
                max_retries=3,
                retry_on_timeout=True,
                retry_on_status=RETRY_STATUS,
            )
        self.client = client
        self.prefix = prefix
        self.refresh: bool | str = "wait_for" if refresh else False
        self._analysis = analysis
        self.alias = f"{prefix}-documents"
        self.revisions_index = f"{prefix}-revisions"
        self.urlstate_index = f"{prefix}-urlstate"
        self.percolator = f"{prefix}-percolator"
        self.setup()

    @classmethod
    def from_settings(cls, settings: Settings) -> ElasticBackend:
        return cls(settings.elasticsearch_url, prefix=settings.elasticsearch_prefix)

    # -- setup --------------------------------------------------------------------------------------------------
    def record_index(self, collection: str) -> str:
        if collection not in COLLECTIONS:
            raise BackendError(f"unknown record collection {collection!r} (known: {', '.join(COLLECTIONS)})")
        return f"{self.prefix}-{collection}"

    def detect_analysis(self) -> str:
        """``ik`` when the IK plugin answers, else ``smartcn``, else ``cjk``."""
        from elasticsearch import ApiError

        for name, tokenizer in (("ik", "ik_max_word"), ("smartcn", "smartcn_tokenizer")):
            try:
                self.client.indices.analyze(text="科技创新", tokenizer=tokenizer)
                return name
            except ApiError:
                continue
        return "cjk"

    @property
    def analysis(self) -> str:
        if self._analysis is None:
            self._analysis = self.detect_analysis()
        return self._analysis

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from elasticsearch import ApiError, TransportError

        try:
            return fn(**kwargs)
        except ApiError as exc:
            raise BackendError(f"elasticsearch: {what} failed: {exc}") from None
        except TransportError as exc:
            raise BackendError(f"elasticsearch: {what} failed (is the server running?): {exc}") from None

    def _create(self, name: str, body: dict[str, Any], aliases: dict[str, Any] | None = None) -> None:
        if self._call("index check", self.client.indices.exists, index=name):
            return
        kwargs: dict[str, Any] = {
            "index": name,
            "settings": body.get("settings"),
            "mappings": body.get("mappings"),
        }
        if aliases:
            kwargs["aliases"] = aliases
        self._call(f"create index {name}", self.client.indices.create, **kwargs)

    def setup(self) -> None:
        """Create whatever index or alias is missing."""
        if not self._call("alias check", self.client.indices.exists_alias, name=self.alias):
            self._create(
                f"{self.alias}-v1",
                documents_index(f"{self.alias}-v1", self.analysis).to_dict(),
                aliases={self.alias: {}},
            )
        self._create(self.revisions_index, simple_index_body("revisions"))
        self._create(self.urlstate_index, simple_index_body("urlstate"))
        for collection in COLLECTIONS:
            self._create(self.record_index(collection), simple_index_body("records"))
        self._create(self.percolator, percolator_index(self.percolator, self.analysis).to_dict())

    def current_index(self) -> str:
        resp = self._call("alias lookup", self.client.indices.get_alias, name=self.alias)
        names = sorted(resp.keys() if hasattr(resp, "keys") else resp.body.keys())
        if not names:
            raise BackendError(f"alias {self.alias} points at no index")
        return str(names[-1])

    def reindex(self, *, delete_old: bool = True) -> str:
        """Copy the documents into a new versioned index (analysis detected afresh) and move the alias to it."""
        old = self.current_index()
        version = int(old.rsplit("-v", 1)[1]) + 1 if "-v" in old else 1
        new = f"{self.alias}-v{version}"
        self._analysis = None
        self._create(new, documents_index(new, self.analysis).to_dict())
        self._call(
            "reindex",
            self.client.reindex,
            source={"index": old},
            dest={"index": new},
            wait_for_completion=True,
            refresh=True,
        )
        self._call(
            "alias flip",
            self.client.indices.update_aliases,
            actions=[
                {"remove": {"index": old, "alias": self.alias}},
                {"add": {"index": new, "alias": self.alias}},
            ],
        )
        if delete_old:
            self._call(f"delete {old}", self.client.indices.delete, index=old)
        return new

    def drop(self) -> None:
        """Delete every index of this prefix (tests, uninstall); names are listed, since wildcard deletes are
        refused by default (``action.destructive_requires_name``)."""
        found = self._call(
            "list indices", self.client.indices.get, index=f"{self.prefix}-*", expand_wildcards="all"
        )
        names = sorted(found.keys() if hasattr(found, "keys") else found.body.keys())
        if names:
            self._call("delete indices", self.client.indices.delete, index=",".join(names))

    def close(self) -> None:
        self.client.close()

    # -- documents ----------------------------------------------------------------------------------------------
    def _mget(
        self, index: str, ids: Sequence[str], fields: list[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 1000):
            chunk = list(ids[i : i + 1000])
            kwargs: dict[str, Any] = {"index": index, "ids": chunk}
            if fields:
                kwargs["source_includes"] = fields
            resp = self._call("mget", self.client.mget, **kwargs)
            for doc in resp["docs"]:
                if doc.get("found"):
                    out[doc["_id"]] = doc["_source"]
        return out

    def upsert(self, articles: Sequence[Article], url_states: Sequence[UrlState] = ()) -> UpsertResult:
        """Documents first, then their URL states (two bulk requests: Elasticsearch has no transactions)."""
        result = UpsertResult()
        now = clock.now_iso()
        existing = self._mget(self.alias, [a.id for a in articles], ["content_hash", "data"])
        actions: list[Action] = []
        for art in articles:
            chash = content_hash(art)
            old = existing.get(art.id)
            if old is None:
                result.new.append(art.id)
            elif old.get("content_hash") == chash:
                result.unchanged.append(art.id)
            else:
                result.updated.append(art.id)
                rev = {"doc_id": art.id, "at": now, "data": _revision(old.get("data") or {}, art)}
                actions.append(({"index": {"_index": self.revisions_index}}, rev))
            actions.append(
                ({"index": {"_index": self.alias, "_id": art.id}}, article_source(art, chash, now))
            )
            existing[art.id] = {"content_hash": chash, "data": article_data(art)}
        if actions:
            bulk_write(self.client, actions, refresh=self.refresh)
        if url_states:
            self.record_url_states(url_states)
        return result

    def get(self, doc_id: str) -> Article | None:
        found = self._mget(self.alias, [doc_id], ["data", "cluster_id"])
        return self._article(found[doc_id]) if doc_id in found else None

    @staticmethod
    def _article(src: dict[str, Any]) -> Article:
        art = Article.from_dict(src["data"])
        art.cluster_id = src.get("cluster_id") or art.cluster_id
        return art

    def get_many(self, doc_ids: Sequence[str]) -> list[Article]:
        found = self._mget(self.alias, doc_ids, ["data", "cluster_id"])
        return [self._article(found[d]) for d in doc_ids if d in found]

    def delete(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids:
            return 0
        found = self._mget(self.alias, doc_ids, ["id"])
        if not found:
            return 0
        index = self.current_index()
        bulk_write(
            self.client,
            [({"delete": {"_index": index, "_id": d}}, None) for d in found],
            refresh=self.refresh,
        )
        self._call(
            "delete url states",
            self.client.delete_by_query,
            index=self.urlstate_index,
            query={"terms": {"doc_id": list(found)}},
            refresh=True,
            conflicts="proceed",
        )
        return len(found)

    def iter_articles(self, batch_size: int = 500) -> Iterator[Article]:
        """Every document, in id order, paged with ``search_after``."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"match_all": {}},
                "sort": [{"id": "asc"}],
                "size": batch_size,
                "_source": ["data", "cluster_id"],
            }
            if after is not None:
                body["search_after"] = after
            resp = self._call("scroll documents", self.client.search, index=self.alias, body=body)
            hits = resp["hits"]["hits"]
            if not hits:
                return
            for h in hits:
                yield self._article(h["_source"])
            after = hits[-1]["sort"]

    def iter_hits(self, query: Query, batch_size: int = 500) -> Iterator[Hit]:
        """Every hit of a query (date order), paged with ``search_after`` — for exports beyond 10,000 hits."""
        after: list[Any] | None = None
        q = Query(
            text=query.text,
            filters=query.filters,
            since=query.since,
            until=query.until,
            sort="date",
            size=batch_size,
            highlight=query.highlight,
            ids=query.ids,
            min_relevance=query.min_relevance,
        )
        while True:
            resp = self._search_raw(build_search(q, search_after=after))
            hits = resp["hits"]["hits"]
            if not hits:
                return
            yield from self._hits(hits, [])
            after = hits[-1]["sort"]

    def find_by_fingerprint(self, fingerprint: str) -> list[str]:
        body = {
            "query": {"term": {"fingerprint": fingerprint}},
            "sort": [{"fetched": "asc"}, {"id": "asc"}],
            "size": 1000,
            "_source": False,
        }
        resp = self._call("fingerprint lookup", self.client.search, index=self.alias, body=body)
        return [h["_id"] for h in resp["hits"]["hits"]]

    def revisions(self, doc_id: str) -> list[dict[str, Any]]:
        body = {"query": {"term": {"doc_id": doc_id}}, "sort": [{"at": "asc"}], "size": 1000}
        resp = self._call("revisions", self.client.search, index=self.revisions_index, body=body)
        return [{"at": h["_source"]["at"], **h["_source"]["data"]} for h in resp["hits"]["hits"]]

    def import_revisions(self, revisions: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Store ``(doc_id, at, change)`` revisions as they are (migration from another backend)."""
        actions: list[Action] = [
            (
                {"index": {"_index": self.revisions_index, "_id": _revision_id(d, at, data)}},
                {"doc_id": d, "at": at, "data": data},
            )
            for d, at, data in revisions
        ]
        if actions:
            bulk_write(self.client, actions, refresh=self.refresh)

    def counts(self) -> dict[str, int]:
        """How many documents, revisions, URL states and records (per collection) are stored."""
        self._call("refresh", self.client.indices.refresh, index=f"{self.prefix}-*")

        def n(index: str) -> int:
            return int(self._call("count", self.client.count, index=index)["count"])

        out = {
            "documents": n(self.alias),
            "revisions": n(self.revisions_index),
            "url_states": n(self.urlstate_index),
        }
        for collection in COLLECTIONS:
            out[f"records:{collection}"] = n(self.record_index(collection))
        return out

    # -- search -------------------------------------------------------------------------------------------------
    def _search_raw(self, s: Search, index: str | None = None) -> dict[str, Any]:
        from elasticsearch import ApiError, TransportError

        try:
            resp = self.client.search(index=index or self.alias, body=s.to_dict())
        except ApiError as exc:
            if exc.meta.status == 400:
                raise QueryError(f"elasticsearch could not run the query: {exc}") from None
            raise BackendError(f"elasticsearch: search failed: {exc}") from None
        except TransportError as exc:
            raise BackendError(f"elasticsearch: search failed (is the server running?): {exc}") from None
        return dict(resp.body if hasattr(resp, "body") else resp)

    def _hits(self, raw_hits: list[dict[str, Any]], words: list[str], highlight: bool = False) -> list[Hit]:
        hits: list[Hit] = []
        for h in raw_hits:
            art = self._article(h["_source"])
            frag = (
                _snippet_from_highlight(h.get("highlight", {}).get("search_text.exact", []))
                if highlight
                else ""
            )
            csize = 1
            inner = h.get("inner_hits", {}).get("cluster")
            if inner:
                total = inner["hits"]["total"]
                csize = int(total["value"] if isinstance(total, dict) else total)
            hits.append(
                Hit(
                    id=art.id,
                    url=art.url,
                    title=art.title,
                    published=art.published,
                    source=art.source,
                    snippet=frag or snippet(art.search_text or art.text, words),
                    score=float(h.get("_score") or 0.0),
                    content_type=art.content_type,
                    domains=list(art.domains),
                    region=art.region,
                    cluster_id=art.cluster_id,
                    cluster_size=csize,
                    duplicate_of=art.duplicate_of,
                )
            )
        return hits

    def search(self, query: Query) -> SearchResult:
        t0 = time.perf_counter()
        resp = self._search_raw(build_search(query))
        words = highlight_words(query.parsed()) if query.highlight else []
        hits = self._hits(resp["hits"]["hits"], words, highlight=query.highlight)
        aggs = resp.get("aggregations", {})
        total_obj = resp["hits"]["total"]
        total = int(total_obj["value"] if isinstance(total_obj, dict) else total_obj)
        if query.collapse:
            total = int(aggs.get("clusters", {}).get("value", total))
        facets: dict[str, list[tuple[str, int]]] = {}
        for facet in query.facets:
            buckets = aggs.get(f"facet_{facet}", {}).get("buckets", [])
            facets[facet] = [(str(b["key"]), int(b["doc_count"])) for b in buckets if str(b["key"]) != ""]
        return SearchResult(total=total, hits=hits, facets=facets, took_ms=(time.perf_counter() - t0) * 1000)

    def count(self, query: Query | None = None) -> int:
        if query is None:
            resp = self._call("count", self.client.count, index=self.alias)
            return int(resp["count"])
        return self.search(query.counting()).total

    def related(self, doc_id: str, n: int = 10) -> list[Hit]:
        """Documents most like ``doc_id`` (``more_like_this``)."""
        if n <= 0 or self.get(doc_id) is None:
            return []
        resp = self._search_raw(related_search(self.current_index(), doc_id, n))
        return self._hits(resp["hits"]["hits"], [])

    def suggest(self, prefix: str, n: int = 10) -> list[str]:
        """Titles starting with ``prefix`` (edge n-grams of the title)."""
        from pipelines.normalize import normalize_text

        s = (
            Search()
            .query(Q("match", search_title__prefix=normalize_text(prefix)))
            .extra(size=n)
            .source(["data"])
        )
        resp = self._search_raw(s)
        return [str(h["_source"]["data"].get("title", "")) for h in resp["hits"]["hits"]]

    def percolate(self, article: Article) -> list[str]:
        """Ids of the saved searches (``subscriptions`` records) that ``article`` matches."""
        doc = article_source(article, content_hash(article), clock.now_iso())
        doc.pop("data")
        s = (
            Search()
            .query(Q("percolate", field="query", document=doc))
            .extra(size=1000)
            .source(["subscription"])
        )
        resp = self._search_raw(s, index=self.percolator)
        return sorted(str(h["_source"]["subscription"]) for h in resp["hits"]["hits"])

    # -- URL state ----------------------------------------------------------------------------------------------
    def url_states(self, source: str) -> dict[str, UrlState]:
        out: dict[str, UrlState] = {}
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"term": {"source": source}},
                "sort": [{"url": "asc"}],
                "size": 5000,
            }
            if after is not None:
                body["search_after"] = after
            resp = self._call("url states", self.client.search, index=self.urlstate_index, body=body)
            hits = resp["hits"]["hits"]
            if not hits:
                return out
            for h in hits:
                st = UrlState(**h["_source"])
                out[st.url] = st
            after = hits[-1]["sort"]

    def record_url_states(self, states: Iterable[UrlState]) -> None:
        states = list(states)
        if not states:
            return
        existing = self._mget(self.urlstate_index, [_url_id(s.url) for s in states])
        actions: list[Action] = []
        for s in states:
            old = existing.get(_url_id(s.url), {})
            merged = {
                "url": s.url,
                "source": s.source,
                "doc_id": s.doc_id or old.get("doc_id", ""),
                "etag": s.etag,
                "last_modified": s.last_modified,
                "content_hash": s.content_hash or old.get("content_hash", ""),
                "fetched": s.fetched,
                "status": s.status,
            }
            existing[_url_id(s.url)] = merged
            actions.append(({"index": {"_index": self.urlstate_index, "_id": _url_id(s.url)}}, merged))
        bulk_write(self.client, actions, refresh=self.refresh)

    # -- records ------------------------------------------------------------------------------------------------
    def put_record(self, collection: str, record_id: str, data: dict[str, Any]) -> None:
        index = self.record_index(collection)
        self._call(
            "put record",
            self.client.index,
            index=index,
            id=record_id,
            document={"id": record_id, "updated": time.time(), "data": data},
            refresh=self.refresh,
        )
        if collection == "subscriptions":
            self._call(
                "store saved search",
                self.client.index,
                index=self.percolator,
                id=record_id,
                document={"subscription": record_id, "query": percolator_query(data)},
                refresh=self.refresh,
            )

    def get_record(self, collection: str, record_id: str) -> dict[str, Any] | None:
        found = self._mget(self.record_index(collection), [record_id])
        return dict(found[record_id]["data"]) if record_id in found else None

    def list_records(
        self,
        collection: str,
        where: dict[str, Any] | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        must_not: list[dict[str, Any]] = []
        for key, value in (where or {}).items():
            if value is None:
                must_not.append({"exists": {"field": f"data.{key}"}})
            else:
                filters.append({"term": {f"data.{key}": _flat_value(value)}})
        order = "desc" if newest_first else "asc"
        body = {
            "query": {"bool": {"filter": filters, "must_not": must_not}},
            "sort": [{"updated": order}, {"id": order}],
            "size": limit,
        }
        resp = self._call("list records", self.client.search, index=self.record_index(collection), body=body)
        return [dict(h["_source"]["data"]) for h in resp["hits"]["hits"]]

    def delete_record(self, collection: str, record_id: str) -> bool:
        from elasticsearch import NotFoundError

        index = self.record_index(collection)
        try:
            self.client.delete(index=index, id=record_id, refresh=self.refresh)
        except NotFoundError:
            return False
        if collection == "subscriptions":
            try:
                self.client.delete(index=self.percolator, id=record_id, refresh=self.refresh)
            except NotFoundError:
                pass
        return True


__all__ = ["ANALYSES", "FACET_FIELDS", "ElasticBackend", "build_search", "bulk_write", "documents_index"]
