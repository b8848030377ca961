"""The ``Backend`` protocol on Elasticsearch or OpenSearch: documents, URL state, revisions, records, search,
percolation, changes and reindexing (see the package docstring)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from elasticsearch.dsl import (
    Q,
    Search,
)

from core import clock
from core.errors import BackendError, QueryError
from core.items import Article
from search.backends.base import COLLECTIONS, UpsertResult, UrlState
from search.backends.common import article_data, content_hash, revision_change
from search.backends.elastic.client import (
    RETRY_STATUS,
    SearchClient,
    ServerError,
    detect_product,
    server_hosts,
)
from search.backends.elastic.mappings import (
    ANALYSES,
    MAPPING_VERSION,
    article_source,
    documents_index_body,
    percolator_index,
    simple_index_body,
)
from search.backends.elastic.queries import (
    build_search,
    percolator_query,
    saved_search_query,
    snippet_from_highlight,
)
from search.query import Hit, Query, SearchResult
from search.text import highlight_words, snippet

log = logging.getLogger("techscout.search")

if TYPE_CHECKING:
    from core.settings import Settings


REINDEX_HINT = "run `techscout reindex`"


#: seconds changes_since reaches back before the newest change it returned (writers whose requests arrive late)
CHANGES_MARGIN = 5.0


def _later(a: str, b: str) -> bool:
    """Whether stored time ``a`` is after ``b`` (compared as times: second and microsecond forms mix)."""
    ta, tb = clock.parse_time(a), clock.parse_time(b)
    return ta is not None and (tb is None or ta > tb)


# -- bulk writes ------------------------------------------------------------------------------------------------
Action = tuple[dict[str, Any], dict[str, Any] | None]


_MAPPING_ERRORS = (
    "strict_dynamic_mapping_exception",
    "mapper_parsing_exception",
    "illegal_argument_exception",
)


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

    A bulk answer is 200 even when some items failed: each item's status is checked; the items refused for a
    passing reason are sent again, and the ids that still failed are raised in one :class:`BackendError` that
    names them (none is dropped silently). A refusal because the index's mapping does not fit says to reindex."""
    pending = list(actions)
    failed: dict[str, str] = {}
    attempt = 0
    mapping_problem = False
    while pending:
        ops: list[dict[str, Any]] = []
        for meta, src in pending:
            ops.append(meta)
            if src is not None:
                ops.append(src)
        retry: list[Action] = []
        try:
            resp = client.request(
                "POST", "/_bulk", params={"refresh": refresh or None}, body=ops, ndjson=True
            )
            items = resp["items"]
        except ServerError as exc:
            if (exc.status and exc.status not in RETRY_STATUS) or attempt >= max_retries:
                raise BackendError(
                    f"{_where(client)}: bulk write of {len(pending)} items failed: {exc}"
                ) from None
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
                    kind = err.get("type", "") if isinstance(err, dict) else ""
                    reason = err.get("reason", err) if isinstance(err, dict) else err
                    mapping_problem = mapping_problem or kind in _MAPPING_ERRORS
                    failed[doc_id] = f"{status} {kind} {reason}".strip()
        pending = retry
        if pending:
            sleep(min(backoff * (2**attempt), 30.0))
            attempt += 1
    if failed:
        shown = "; ".join(f"{k}: {v}" for k, v in list(failed.items())[:10])
        hint = f" — the index does not fit this version: {REINDEX_HINT}" if mapping_problem else ""
        raise BackendError(
            f"{_where(client)}: {len(failed)} of {len(actions)} bulk writes failed ({', '.join(failed)}): "
            f"{shown}{hint}"
        )


def _where(client: Any) -> str:
    return str(getattr(client, "url", "search server"))


def _url_id(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def _revision_id(doc_id: str, at: str, data: dict[str, Any]) -> str:
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(f"{doc_id}|{at}|{blob}".encode()).hexdigest()


def record_fields(data: Mapping[str, Any]) -> list[str]:
    """The ``key=value`` keywords of a record's top-level scalars (what ``list_records`` filters on)."""
    out = []
    for key, value in data.items():
        if value is None or isinstance(value, dict | list):
            continue
        out.append(f"{key}={_flat(value)}")
    return out


def _flat(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ElasticBackend:
    """Documents, URL state, revisions and records in Elasticsearch or OpenSearch indices (module docs)."""

    def __init__(
        self,
        url: str | Sequence[str] | None = None,
        *,
        prefix: str = "techscout",
        product: str | None = None,
        client: SearchClient | None = None,
        refresh: bool = False,
        analysis: str | None = None,
        request_timeout: float = 30.0,
        check: bool = True,
    ) -> None:
        if client is None:
            hosts = server_hosts(url)
            found = detect_product(hosts[0])
            if product and product != found:
                raise BackendError(
                    f"backend = {product!r}, but {hosts[0]} is {found}: set backend = {found!r}"
                )
            client = SearchClient(hosts, found, timeout=request_timeout)
        self.client = client
        self.name = client.product
        self.url = client.url
        self.prefix = prefix
        self.refresh: bool | str = "wait_for" if refresh else False
        self._wrote = False  # documents, revisions or URL states written: made visible at close()
        self._analysis = analysis
        self.alias = f"{prefix}-documents"
        self.revisions_index = f"{prefix}-revisions"
        self.urlstate_index = f"{prefix}-urlstate"
        self.percolator = f"{prefix}-percolator"
        self.records_index = f"{prefix}-records"
        self.has_percolator = True
        if check:
            self.setup()
        else:
            self.has_percolator = self._exists(f"/{self.percolator}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ElasticBackend:
        return cls(settings.elasticsearch_url, prefix=settings.elasticsearch_prefix, product=settings.backend)

    @classmethod
    def for_reindex(cls, settings: Settings) -> ElasticBackend:
        """The backend without the checks that ask for a reindex (an old mapping, a lost alias)."""
        return cls(
            settings.elasticsearch_url,
            prefix=settings.elasticsearch_prefix,
            product=settings.backend,
            check=False,
        )

    # -- setup --------------------------------------------------------------------------------------------------
    def _call(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.client.request(method, path, **kwargs)
        except ServerError as exc:
            if exc.status == 0:
                raise BackendError(f"search server {self.url}: {what} failed: {exc.reason}") from None
            hint = f" — {REINDEX_HINT}" if exc.kind in _MAPPING_ERRORS else ""
            raise BackendError(f"search server {self.url}: {what} failed: {exc}{hint}") from None

    def _write(self, actions: list[Action]) -> None:
        """The bulk write of the store's own writes (documents, revisions, URL states)."""
        bulk_write(self.client, actions, refresh=self.refresh)
        self._wrote = True

    def _fresh(self, index: str) -> None:
        """Make every write so far visible to searches of ``index`` (the store reads its own writes: a record
        written by one process is listed by the next at once, as in the embedded backend)."""
        self._call("refresh", "POST", f"/{index}/_refresh")

    def _exists(self, path: str) -> bool:
        try:
            self.client.request("HEAD", path)
            return True
        except ServerError as exc:
            if exc.status == 404:
                return False
            raise BackendError(f"search server {self.url}: {path} check failed: {exc}") from None

    def _record_id(self, collection: str, record_id: str) -> str:
        if collection not in COLLECTIONS:
            raise BackendError(f"unknown record collection {collection!r} (known: {', '.join(COLLECTIONS)})")
        return _quote(f"{collection}:{record_id}")

    def detect_analysis(self) -> str:
        """``ik`` or ``smartcn`` when the plugin answers, ``cjk`` with analysis-common, else ``standard``."""
        probes = (
            ("ik", {"tokenizer": "ik_max_word"}),
            ("smartcn", {"tokenizer": "smartcn_tokenizer"}),
            ("cjk", {"tokenizer": "standard", "filter": ["cjk_width", "cjk_bigram"]}),
        )
        for name, spec in probes:
            try:
                self.client.request("POST", "/_analyze", body={"text": "科技创新", **spec})
                return name
            except ServerError as exc:
                if exc.status == 0:
                    raise BackendError(f"search server {self.url} is not reachable: {exc.reason}") from None
        return "standard"

    @property
    def analysis(self) -> str:
        if self._analysis is None:
            self._analysis = self.detect_analysis()
        return self._analysis

    def _create(self, name: str, body: dict[str, Any], aliases: dict[str, Any] | None = None) -> None:
        if self._exists(f"/{name}"):
            return
        payload = {k: v for k, v in body.items() if k in ("settings", "mappings")}
        if aliases:
            payload["aliases"] = aliases
        try:
            self.client.request("PUT", f"/{name}", body=payload)
        except ServerError as exc:
            if exc.kind == "resource_already_exists_exception":
                return
            raise BackendError(f"search server {self.url}: create index {name} failed: {exc}") from None

    def _versions(self) -> list[str]:
        found = self._call("list indices", "GET", f"/{self.alias}-v*", params={"expand_wildcards": "all"})
        return sorted(found, key=lambda n: int(n.rsplit("-v", 1)[1]) if n.rsplit("-v", 1)[1].isdigit() else 0)

    def setup(self) -> None:
        """Create whatever index is missing; a documents index of another mapping version or a lost alias is an
        error saying to reindex."""
        if not self._exists(f"/_alias/{self.alias}"):
            if self._exists(f"/{self.alias}"):
                raise BackendError(
                    f"search server {self.url}: {self.alias} is an index, not the alias this version uses: "
                    f"{REINDEX_HINT}"
                )
            if self._versions():
                raise BackendError(
                    f"search server {self.url}: the alias {self.alias} is missing but "
                    f"{', '.join(self._versions())} exist: {REINDEX_HINT}"
                )
            self._create(
                f"{self.alias}-v1", documents_index_body(f"{self.alias}-v1", self.analysis), {self.alias: {}}
            )
        else:
            self._check_mapping()
        self._create(self.revisions_index, simple_index_body("revisions"))
        self._create(self.urlstate_index, simple_index_body("urlstate"))
        self._create(self.records_index, simple_index_body("records"))
        try:
            self._create(self.percolator, percolator_index(self.percolator, self.analysis).to_dict())
        except BackendError as exc:
            if "percolator" not in str(exc):
                raise
            self.has_percolator = False  # no percolator module (Elastic's server core): _msearch instead

    def _check_mapping(self) -> None:
        index = self.current_index()
        mapping = self._call("read mapping", "GET", f"/{index}/_mapping").get(index, {}).get("mappings", {})
        meta = mapping.get("_meta") or {}
        if meta.get("techscout_mapping") != MAPPING_VERSION:
            raise BackendError(
                f"search server {self.url}: index {index} has mapping version {meta.get('techscout_mapping')}, "
                f"this version uses {MAPPING_VERSION}: {REINDEX_HINT}"
            )
        if self._analysis is None and meta.get("analysis") in ANALYSES:
            self._analysis = str(meta["analysis"])

    def current_index(self) -> str:
        resp = self._call("alias lookup", "GET", f"/_alias/{self.alias}")
        names = sorted(resp)
        if not names:
            raise BackendError(
                f"search server {self.url}: alias {self.alias} points at no index: {REINDEX_HINT}"
            )
        return str(names[-1])

    def reindex(self, *, delete_old: bool = True) -> str:
        """Copy the documents into a new versioned index (analysis detected afresh, current mapping) and move the
        alias to it; searches answer from the old index until the alias moves. Done by the client (scan and
        bulk), so servers without the reindex module can do it; a lost alias is restored."""
        if self._exists(f"/_alias/{self.alias}"):
            old = self.current_index()
        else:
            versions = self._versions()
            if not versions:
                self.setup()
                return f"alias {self.alias} created on {self.current_index()}"
            old = versions[-1]
        version = int(old.rsplit("-v", 1)[1]) + 1 if "-v" in old and old.rsplit("-v", 1)[1].isdigit() else 1
        new = f"{self.alias}-v{version}"
        self._analysis = None
        self._create(new, documents_index_body(new, self.analysis))
        started = clock.now_iso()
        copied = self._copy(old, new, since=None)
        self._fresh(old)
        copied += self._copy(old, new, since=started)  # what was written meanwhile
        actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": self.alias}}]
        if self._exists(f"/_alias/{self.alias}"):
            actions.insert(0, {"remove": {"index": old, "alias": self.alias}})
        self._call("alias flip", "POST", "/_aliases", body={"actions": actions})
        if delete_old:
            self._call(f"delete {old}", "DELETE", f"/{old}")
        return f"alias {self.alias} now points at {new} ({copied} documents copied from {old})"

    def _copy(self, old: str, new: str, since: str | None) -> int:
        n = 0
        query: dict[str, Any] = {"range": {"updated": {"gte": since}}} if since else {"match_all": {}}
        for batch in self._scan(old, query, ["*"]):
            actions: list[Action] = []
            for h in batch:
                src = h["_source"]
                art = Article.from_dict(src["data"])
                art.cluster_id = src.get("cluster_id") or art.cluster_id
                doc = article_source(
                    art,
                    src.get("content_hash") or content_hash(art),
                    src.get("updated") or "",
                    src.get("changed") or src.get("updated"),
                )
                actions.append(({"index": {"_index": new, "_id": h["_id"]}}, doc))
            bulk_write(self.client, actions)
            n += len(actions)
        self._fresh(new)
        return n

    def _scan(
        self, index: str, query: dict[str, Any], source: list[str] | bool, size: int = 500
    ) -> Iterator[list[dict[str, Any]]]:
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"query": query, "sort": [{"id": "asc"}], "size": size, "_source": source}
            if after is not None:
                body["search_after"] = after
            hits = self._call("scan", "POST", f"/{index}/_search", body=body)["hits"]["hits"]
            if not hits:
                return
            yield hits
            after = hits[-1]["sort"]

    def drop(self) -> None:
        """Delete every index of this prefix (tests, uninstall); names are listed, since wildcard deletes are
        refused by default (``action.destructive_requires_name``)."""
        found = self._call("list indices", "GET", f"/{self.prefix}-*", params={"expand_wildcards": "all"})
        if found:
            self._call("delete indices", "DELETE", "/" + ",".join(sorted(found)))

    def close(self) -> None:
        """Make what this process wrote searchable by the next one at once — as a commit does in the embedded
        store; the server shows writes only at its next scheduled refresh, and a crawl's store does not wait
        for one per batch — then close the connections. A refresh that fails only delays that."""
        try:
            if self._wrote:
                self._fresh(f"{self.prefix}-*")
        except BackendError as exc:
            log.warning("%s", exc)
        finally:
            self.client.close()

    # -- documents ----------------------------------------------------------------------------------------------
    def _mget(
        self, index: str, ids: Sequence[str], fields: list[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 1000):
            chunk = list(ids[i : i + 1000])
            if not chunk:
                continue
            params = {"_source_includes": fields} if fields else None
            resp = self._call("mget", "POST", f"/{index}/_mget", params=params, body={"ids": chunk})
            for doc in resp["docs"]:
                if doc.get("found"):
                    out[doc["_id"]] = doc["_source"]
        return out

    def upsert(self, articles: Sequence[Article], url_states: Sequence[UrlState] = ()) -> UpsertResult:
        """Documents first, then their URL states (two bulk requests: the server has no transactions; a failure
        of the first leaves the URL states unwritten, so the pages are fetched again)."""
        result = UpsertResult()
        now = clock.iso_precise(clock.now())  # microseconds: changes_since orders writes within one second
        existing = self._mget(
            self.alias, [a.id for a in articles], ["content_hash", "data", "changed", "updated"]
        )
        index = self.current_index() if articles else self.alias
        actions: list[Action] = []
        for art in articles:
            chash = content_hash(art)
            old = existing.get(art.id)
            changed = now
            if old is None:
                result.new.append(art.id)
            elif old.get("content_hash") == chash:
                result.unchanged.append(art.id)
                changed = str(old.get("changed") or old.get("updated") or now)
            else:
                result.updated.append(art.id)
                rev = {"doc_id": art.id, "at": now, "data": revision_change(old.get("data") or {}, art)}
                actions.append(({"index": {"_index": self.revisions_index}}, rev))
            actions.append(
                ({"index": {"_index": index, "_id": art.id}}, article_source(art, chash, now, changed))
            )
            existing[art.id] = {"content_hash": chash, "data": article_data(art), "changed": changed}
        if actions:
            self._write(actions)
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
        self._write([({"delete": {"_index": index, "_id": d}}, None) for d in found])
        self._call(
            "delete url states",
            "POST",
            f"/{self.urlstate_index}/_delete_by_query",
            params={"refresh": True, "conflicts": "proceed"},
            body={"query": {"terms": {"doc_id": list(found)}}},
        )
        return len(found)

    def iter_articles(self, batch_size: int = 500) -> Iterator[Article]:
        """Every document, in id order, paged with ``search_after``."""
        for hits in self._scan(self.alias, {"match_all": {}}, ["data", "cluster_id"], batch_size):
            for h in hits:
                yield self._article(h["_source"])

    def find_by_fingerprint(self, fingerprint: str) -> list[str]:
        body = {
            "query": {"term": {"fingerprint": fingerprint}},
            "sort": [{"fetched": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
            "size": 1000,
            "_source": False,
        }
        self._fresh(self.alias)
        resp = self._call("fingerprint lookup", "POST", f"/{self.alias}/_search", body=body)
        return [h["_id"] for h in resp["hits"]["hits"]]

    def revisions(self, doc_id: str) -> list[dict[str, Any]]:
        body = {"query": {"term": {"doc_id": doc_id}}, "sort": [{"at": "asc"}], "size": 1000}
        self._fresh(self.revisions_index)
        resp = self._call("revisions", "POST", f"/{self.revisions_index}/_search", body=body)
        return [{"at": h["_source"]["at"], **h["_source"]["data"]} for h in resp["hits"]["hits"]]

    def import_revisions(self, revisions: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        actions: list[Action] = [
            (
                {"index": {"_index": self.revisions_index, "_id": _revision_id(d, at, data)}},
                {"doc_id": d, "at": at, "data": data},
            )
            for d, at, data in revisions
        ]
        if actions:
            self._write(actions)

    def counts(self) -> dict[str, int]:
        self._fresh(f"{self.prefix}-*")

        def n(index: str) -> int:
            return int(self._call("count", "POST", f"/{index}/_count")["count"])

        out = {
            "documents": n(self.alias),
            "revisions": n(self.revisions_index),
            "url_states": n(self.urlstate_index),
        }
        aggs = {"size": 0, "aggs": {"c": {"terms": {"field": "collection", "size": 100}}}}
        buckets = self._call("count records", "POST", f"/{self.records_index}/_search", body=aggs)
        per = {b["key"]: int(b["doc_count"]) for b in buckets["aggregations"]["c"]["buckets"]}
        for collection in COLLECTIONS:
            out[f"records:{collection}"] = per.get(collection, 0)
        return out

    # -- search -------------------------------------------------------------------------------------------------
    def _search_raw(self, body: dict[str, Any], index: str | None = None) -> dict[str, Any]:
        try:
            return self.client.request("POST", f"/{index or self.alias}/_search", body=body)
        except ServerError as exc:
            if exc.status == 400:
                raise QueryError(f"the search server could not run the query: {exc}") from None
            raise BackendError(f"search server {self.url}: search failed: {exc}") from None

    def _hits(self, raw_hits: list[dict[str, Any]], words: list[str], highlight: bool = False) -> list[Hit]:
        hits: list[Hit] = []
        for h in raw_hits:
            art = self._article(h["_source"])
            frag = (
                snippet_from_highlight(h.get("highlight", {}).get("search_text.exact", []))
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
        """One request: hits, total (exact: ``track_total_hits``), facets (exact ``terms`` aggregations over
        every match, top 50), highlight and collapse."""
        t0 = time.perf_counter()
        resp = self._search_raw(build_search(query).to_dict())
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
            facets[facet] = [
                (str(b.get("key_as_string", b["key"])), int(b["doc_count"]))
                for b in buckets
                if str(b["key"]) != ""
            ]
        return SearchResult(total=total, hits=hits, facets=facets, took_ms=(time.perf_counter() - t0) * 1000)

    def count(self, query: Query | None = None) -> int:
        if query is None:
            return int(self._call("count", "POST", f"/{self.alias}/_count")["count"])
        return self.search(query.counting()).total

    def related(self, doc_id: str, n: int = 10) -> list[Hit]:
        """Documents most like ``doc_id`` (``more_like_this`` over the word fields)."""
        if n <= 0 or self.get(doc_id) is None:
            return []
        mlt = Q(
            "more_like_this",
            fields=["title_words", "text_words"],
            like=[{"_index": self.current_index(), "_id": doc_id}],
            min_term_freq=1,
            min_doc_freq=1,
            max_query_terms=25,
            minimum_should_match="10%",
        )
        s = Search().query(mlt).extra(size=n).source(["data", "cluster_id"])
        resp = self._search_raw(s.to_dict())
        return self._hits(resp["hits"]["hits"], [])

    # -- alerts -------------------------------------------------------------------------------------------------
    def percolate(
        self, articles: Sequence[Article], subscriptions: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[str]]:
        """The server tells which stored saved searches each article matches (the percolator, asked once for
        the whole batch); without the percolator module, the saved searches run over the batch (``_msearch``)."""
        if not articles or not subscriptions:
            return {}
        if not self.has_percolator:
            return self._msearch_percolate(articles, subscriptions)
        now = clock.now_iso()
        docs = []
        for art in articles:
            doc = article_source(art, content_hash(art), now)
            doc.pop("data")
            docs.append(doc)
        wanted = [str(s["id"]) for s in subscriptions]
        for sub in subscriptions:  # stored queries follow their record; make sure each is current
            self._store_saved_search(str(sub["id"]), sub, refresh=False)
        self._fresh(self.percolator)
        out: dict[str, list[str]] = {}
        for i in range(0, len(wanted), 1000):
            body = {
                "query": {
                    "bool": {
                        "must": [{"percolate": {"field": "query", "documents": docs}}],
                        "filter": [{"terms": {"subscription": wanted[i : i + 1000]}}],
                    }
                },
                "size": 1000,
                "_source": ["subscription"],
            }
            resp = self._search_raw(body, index=self.percolator)
            for h in resp["hits"]["hits"]:
                slots = h.get("fields", {}).get("_percolator_document_slot", [])
                ids = [articles[s].id for s in slots]
                if ids:
                    out[str(h["_source"]["subscription"])] = ids
        return out

    def _msearch_percolate(
        self, articles: Sequence[Article], subscriptions: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[str]]:
        ids = [a.id for a in articles]
        self._fresh(self.alias)
        out: dict[str, list[str]] = {}
        for i in range(0, len(subscriptions), 100):
            chunk = subscriptions[i : i + 100]
            lines: list[dict[str, Any]] = []
            for sub in chunk:
                body = build_search(saved_search_query(sub, ids)).to_dict()
                body["_source"] = False
                lines += [{"index": self.alias}, body]
            resp = self._call("saved searches", "POST", "/_msearch", body=lines, ndjson=True)
            for sub, answer in zip(chunk, resp["responses"], strict=True):
                if "error" in answer:
                    raise BackendError(
                        f"search server {self.url}: saved search {sub['id']} failed: {answer['error']}"
                    )
                hits = [h["_id"] for h in answer["hits"]["hits"]]
                if hits:
                    out[str(sub["id"])] = hits
        return out

    def _store_saved_search(self, sub_id: str, data: Mapping[str, Any], refresh: bool | str) -> None:
        if not self.has_percolator:
            return
        self._call(
            "store saved search",
            "PUT",
            f"/{self.percolator}/_doc/{_quote(sub_id)}",
            params={"refresh": refresh or None},
            body={"subscription": sub_id, "query": percolator_query(data)},
        )

    def changes_since(self, cursor: Mapping[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
        """Documents whose ``changed`` time (stored, or content changed) is after the cursor's, after a refresh.

        Times have microseconds, and the query reaches back :data:`CHANGES_MARGIN` seconds before the newest time
        already returned, skipping the ids returned in that window (kept in the cursor): a document written in
        the same second as the last one, or by a writer whose request reached the server late, is returned once
        and never missed."""
        cursor = dict(cursor or {})
        self._fresh(self.alias)
        last = str(cursor.get("changed") or "")
        since = str(cursor.get("since") or "")
        recent: dict[str, str] = dict(cursor.get("recent") or {})
        query: dict[str, Any] = {"match_all": {}}
        if last:
            floor = clock.parse_time(last)
            start = clock.iso_precise(floor - timedelta(seconds=CHANGES_MARGIN)) if floor else last
            query = {"range": {"changed": {"gte": start}}}
        elif since:
            query = {"range": {"changed": {"gte": since}}}
        ids: list[str] = []
        newest = last
        for hits in self._scan(self.alias, query, ["changed"]):
            for h in hits:
                at = str(h["_source"].get("changed") or "")
                if recent.get(h["_id"]) == at:
                    continue  # returned by an earlier call
                ids.append(h["_id"])
                recent[h["_id"]] = at
                if _later(at, newest):
                    newest = at
        edge = clock.parse_time(newest)
        if edge is not None:
            floor_dt = edge - timedelta(seconds=CHANGES_MARGIN)
            recent = {i: at for i, at in recent.items() if (clock.parse_time(at) or edge) >= floor_dt}
        return ids, {"changed": newest or last or since, "recent": recent}

    # -- URL state ----------------------------------------------------------------------------------------------
    def url_states(self, source: str) -> dict[str, UrlState]:
        out: dict[str, UrlState] = {}
        after: list[Any] | None = None
        self._fresh(self.urlstate_index)
        while True:
            body: dict[str, Any] = {
                "query": {"term": {"source": source}},
                "sort": [{"url": "asc"}],
                "size": 5000,
            }
            if after is not None:
                body["search_after"] = after
            hits = self._call("url states", "POST", f"/{self.urlstate_index}/_search", body=body)["hits"][
                "hits"
            ]
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
        self._write(actions)

    # -- records ------------------------------------------------------------------------------------------------
    def put_record(self, collection: str, record_id: str, data: dict[str, Any]) -> None:
        doc_id = self._record_id(collection, record_id)
        data = json.loads(json.dumps(data, ensure_ascii=False, default=str))
        body = {
            "collection": collection,
            "id": record_id,
            "updated": time.time(),
            "fields": record_fields(data),
            "data": data,
        }
        self._call(
            "put record",
            "PUT",
            f"/{self.records_index}/_doc/{doc_id}",
            params={"refresh": self.refresh or None},
            body=body,
        )
        if collection == "subscriptions":
            self._store_saved_search(record_id, data, self.refresh)

    def get_record(self, collection: str, record_id: str) -> dict[str, Any] | None:
        key = f"{collection}:{record_id}"
        self._record_id(collection, record_id)
        found = self._mget(self.records_index, [key])
        return dict(found[key]["data"]) if key in found else None

    def list_records(
        self,
        collection: str,
        where: dict[str, Any] | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        self._record_id(collection, "")
        filters: list[dict[str, Any]] = [{"term": {"collection": collection}}]
        must_not: list[dict[str, Any]] = []
        for key, value in (where or {}).items():
            if value is None:
                must_not.append({"prefix": {"fields": f"{key}="}})
            else:
                filters.append({"term": {"fields": f"{key}={_flat(value)}"}})
        order = "desc" if newest_first else "asc"
        out: list[dict[str, Any]] = []
        after: list[Any] | None = None
        self._fresh(self.records_index)
        while len(out) < limit:
            body: dict[str, Any] = {
                "query": {"bool": {"filter": filters, "must_not": must_not}},
                "sort": [{"updated": order}, {"id": order}],
                "size": min(5000, limit - len(out)),
            }
            if after is not None:
                body["search_after"] = after
            hits = self._call("list records", "POST", f"/{self.records_index}/_search", body=body)
            page = hits["hits"]["hits"]
            out += [dict(h["_source"]["data"]) for h in page]
            if len(page) < body["size"]:
                break
            after = page[-1]["sort"]
        return out

    def delete_record(self, collection: str, record_id: str) -> bool:
        doc_id = self._record_id(collection, record_id)
        try:
            self.client.request(
                "DELETE", f"/{self.records_index}/_doc/{doc_id}", params={"refresh": self.refresh or None}
            )
        except ServerError as exc:
            if exc.status == 404:
                return False
            raise BackendError(f"search server {self.url}: delete record failed: {exc}") from None
        if collection == "subscriptions" and self.has_percolator:
            try:
                self.client.request(
                    "DELETE",
                    f"/{self.percolator}/_doc/{_quote(record_id)}",
                    params={"refresh": self.refresh or None},
                )
            except ServerError as exc:
                if exc.status != 404:
                    raise BackendError(
                        f"search server {self.url}: delete saved search failed: {exc}"
                    ) from None
        return True


def _quote(doc_id: str) -> str:
    from urllib.parse import quote

    return quote(doc_id, safe="")
