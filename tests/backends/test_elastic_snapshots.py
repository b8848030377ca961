"""Request bodies pinned as snapshots (``to_dict()``, as elasticsearch.dsl's own tests do): index settings and
mappings per analysis, query bodies, the stored form of an article; and the bulk writer's retry loop. What a real
server does with them is tested in test_conformance.py and test_server.py against the OpenSearch node."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.errors import BackendError
from search.backends.elastic import (
    article_source,
    build_search,
    bulk_write,
    documents_index,
    percolator_index,
    percolator_query,
    record_fields,
    simple_index_body,
)
from search.query import Query

from .conftest import make_article

EXACT = {"tokenizer": "standard", "filter": ["cjk_width", "lowercase"], "char_filter": ["ts_gaps"], "type": "custom"}
GAPS = {
    "ts_gaps": {
        "type": "pattern_replace",
        "pattern": r"(?<=\p{IsHan})\s+(?=\p{IsHan})|[\p{P}\p{S}]+",
        "replacement": " tsgap ",
    }
}
WORDS = {"tokenizer": "whitespace", "filter": ["lowercase"], "type": "custom"}


def phrase(text: str) -> dict[str, Any]:
    return {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                {"match_phrase": {"search_title.exact": text}},
                {"match_phrase": {"search_text.exact": text}},
            ],
        }
    }


def scoring(cjk: str, words: str) -> list[dict[str, Any]]:
    return [
        {"multi_match": {"query": cjk, "fields": ["search_title^4", "search_text"], "type": "most_fields"}},
        {"multi_match": {"query": words, "fields": ["title_words^4", "text_words"], "type": "most_fields"}},
    ]

DATE_SORT = [{"published": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]


def test_cjk_index_settings_and_mappings() -> None:
    body = documents_index("ts-documents-v1", "cjk").to_dict()
    assert body["settings"] == {
        "number_of_shards": 1,
        "auto_expand_replicas": "0-1",
        "max_result_window": 10000,
        "analysis": {
            "analyzer": {
                "ts_main": {
                    "tokenizer": "standard",
                    "filter": ["cjk_width", "lowercase", "cjk_bigram"],
                    "type": "custom",
                },
                "ts_exact": EXACT,
                "ts_words": WORDS,
            },
            "char_filter": GAPS,
        },
    }
    keyword = {"type": "keyword"}
    assert body["mappings"] == {
        "dynamic": "strict",
        "properties": {
            **{
                k: keyword
                for k in (
                    "id",
                    "url",
                    "source",
                    "content_type",
                    "domains",
                    "libraries",
                    "region",
                    "language",
                    "cluster_id",
                    "story_id",
                    "fingerprint",
                    "duplicate_of",
                    "content_hash",
                    "month",
                    "day",
                )
            },
            "published": {"type": "date"},
            "fetched": {"type": "date"},
            "updated": {"type": "date"},
            "changed": {"type": "date"},
            "relevance": {"type": "float"},
            "scitech_relevant": {"type": "boolean"},
            "search_title": {
                "type": "text",
                "analyzer": "ts_main",
                "fields": {"exact": {"type": "text", "analyzer": "ts_exact"}},
            },
            "search_text": {
                "type": "text",
                "analyzer": "ts_main",
                "fields": {"exact": {"type": "text", "analyzer": "ts_exact"}},
            },
            "title_words": {"type": "text", "analyzer": "ts_words"},
            "text_words": {"type": "text", "analyzer": "ts_words"},
            "data": {"type": "object", "enabled": False},
        },
    }


def test_ik_analysis_indexes_with_max_word_and_searches_with_smart() -> None:
    body = documents_index("ts-documents-v1", "ik").to_dict()
    assert body["settings"]["analysis"] == {
        "analyzer": {
            "ts_main": {"tokenizer": "ik_max_word", "filter": ["lowercase"], "type": "custom"},
            "ts_main_search": {"tokenizer": "ik_smart", "filter": ["lowercase"], "type": "custom"},
            "ts_exact": EXACT,
            "ts_words": WORDS,
        },
        "char_filter": GAPS,
    }
    props = body["mappings"]["properties"]
    assert props["search_text"] == {
        "type": "text",
        "analyzer": "ts_main",
        "search_analyzer": "ts_main_search",
        "fields": {"exact": {"type": "text", "analyzer": "ts_exact"}},
    }
    assert props["search_title"]["search_analyzer"] == "ts_main_search"


def test_smartcn_analysis() -> None:
    body = documents_index("ts-documents-v1", "smartcn").to_dict()
    assert body["settings"]["analysis"]["analyzer"] == {
        "ts_main": {"tokenizer": "smartcn_tokenizer", "filter": ["lowercase"], "type": "custom"},
        "ts_exact": EXACT,
        "ts_words": WORDS,
    }
    assert "search_analyzer" not in body["mappings"]["properties"]["search_text"]


def test_standard_analysis_for_a_server_without_analysis_common() -> None:
    body = documents_index("ts-documents-v1", "standard").to_dict()
    assert body["settings"]["analysis"]["analyzer"] == {
        "ts_main": {"tokenizer": "standard", "filter": ["lowercase"], "type": "custom"},
        "ts_exact": {"tokenizer": "standard", "filter": ["lowercase"], "type": "custom"},
    }
    assert "char_filter" not in body["settings"]["analysis"]
    assert body["mappings"]["properties"]["text_words"] == {"type": "text", "analyzer": "whitespace"}


def test_unknown_analysis_is_refused() -> None:
    with pytest.raises(BackendError):
        documents_index("x", "whitespace")


def test_percolator_index_has_the_article_fields_and_a_query_field() -> None:
    body = percolator_index("ts-percolator", "cjk").to_dict()
    props = body["mappings"]["properties"]
    assert props["query"] == {"type": "percolator"}
    assert props["subscription"] == {"type": "keyword"}
    assert (
        props["search_text"] == documents_index("x", "cjk").to_dict()["mappings"]["properties"]["search_text"]
    )


def test_bookkeeping_indices() -> None:
    records = simple_index_body("records")
    assert records["mappings"]["properties"] == {
        "collection": {"type": "keyword"},
        "id": {"type": "keyword"},
        "updated": {"type": "double"},
        "fields": {"type": "keyword", "ignore_above": 1024},
        "data": {"type": "object", "enabled": False},
    }
    assert record_fields({"id": "x", "state": "sent", "ok": True, "n": 2, "items": [1], "x": None}) == [
        "id=x", "state=sent", "ok=true", "n=2"
    ]
    assert simple_index_body("urlstate")["mappings"]["properties"]["status"] == {"type": "integer"}
    assert simple_index_body("revisions")["mappings"]["properties"]["data"] == {
        "type": "object",
        "enabled": False,
    }


def test_word_query_body() -> None:
    body = build_search(Query(text="科技创新")).to_dict()
    assert body == {
        "query": {
            "bool": {
                "must": [
                    {
                        "bool": {
                            "must": [{"bool": {"must": [phrase("科技"), phrase("创新")]}}],
                            "should": scoring("科技创新", "科技 创新"),
                        }
                    }
                ]
            }
        },
        "sort": ["_score", *DATE_SORT],
        "track_total_hits": True,
        "size": 10,
        "from": 0,
        "_source": ["data", "cluster_id"],
        "highlight": {
            "fields": {"search_text.exact": {}},
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "encoder": "html",
            "fragment_size": 140,
            "number_of_fragments": 1,
            "no_match_size": 140,
        },
    }


def test_phrase_or_not_query_body() -> None:
    body = build_search(Query(text='"科创中国" 电池 OR 量子 -政策', highlight=False, sort="date")).to_dict()
    assert body["query"] == {
        "bool": {
            "must": [
                {
                    "bool": {
                        "must": [
                            phrase("科创中国"),
                            {"bool": {"should": [phrase("电池"), phrase("量子")], "minimum_should_match": 1}},
                        ],
                        "must_not": [phrase("政策")],
                        "should": scoring("科创中国 电池 量子", "科创 中国 电池 量子"),
                    }
                }
            ]
        }
    }
    assert body["sort"] == DATE_SORT
    assert "highlight" not in body


def test_filtered_faceted_browse_body() -> None:
    q = Query(
        text="",
        filters={"domains": ["人工智能"], "source": ["gov", "news-a"]},
        since=date(2024, 1, 1),
        until=date(2024, 3, 31),
        facets=["source", "month"],
        page=3,
        size=20,
    )
    terms = {"order": [{"_count": "desc"}, {"_key": "asc"}], "size": 50}
    assert build_search(q).to_dict() == {
        "query": {
            "bool": {
                "filter": [
                    {"terms": {"domains": ["人工智能"]}},
                    {"terms": {"source": ["gov", "news-a"]}},
                    {"range": {"day": {"gte": "2024-01-01", "lte": "2024-03-31"}}},
                ]
            }
        },
        "aggs": {
            "facet_source": {"terms": {"field": "source", **terms}},
            "facet_month": {"terms": {"field": "month", **terms}},
        },
        "sort": DATE_SORT,
        "track_total_hits": True,
        "size": 20,
        "from": 40,
        "_source": ["data", "cluster_id"],
    }


def test_collapse_ids_and_search_after() -> None:
    q = Query(text="", collapse=True, ids=[], min_relevance=0.5, size=5)
    body = build_search(q, search_after=["2024-01-01T00:00:00+08:00", "abc"]).to_dict()
    assert body["query"] == {"bool": {"filter": [{"match_none": {}}, {"range": {"relevance": {"gte": 0.5}}}]}}
    assert body["collapse"] == {"field": "cluster_id", "inner_hits": {"name": "cluster", "size": 0}}
    assert body["aggs"] == {
        "clusters": {"cardinality": {"field": "cluster_id", "precision_threshold": 40000}}
    }
    assert body["search_after"] == ["2024-01-01T00:00:00+08:00", "abc"]
    assert "from" not in body


def test_saved_search_query() -> None:
    got = percolator_query({"query": "电池", "filters": {"content_type": ["achievement"]}})
    assert got == {
        "bool": {
            "filter": [{"terms": {"content_type": ["achievement"]}}],
            "must": [
                {
                    "bool": {
                        "must": [phrase("电池")],
                        "should": scoring("电池", "电池"),
                    }
                }
            ],
        }
    }
    assert percolator_query({"filters": {"region": ["北京"]}}) == {
        "bool": {"filter": [{"terms": {"region": ["北京"]}}]}
    }
    floor = percolator_query({"query": "", "filters": {}, "min_relevance": 0.7})
    assert floor == {"bool": {"filter": [{"range": {"relevance": {"gte": 0.7}}}]}}


def test_article_source() -> None:
    art = make_article(
        "a1", "標題", "正文內容", domains=["b", "a", "a"], region="", published="2024-05-06T10:00:00+08:00"
    )
    src = article_source(art, "hash", "2024-06-01T00:00:00+00:00")
    assert src["search_title"] == "标题" and src["search_text"] == "正文内容"
    assert src["domains"] == ["a", "b"] and src["region"] is None
    assert (src["month"], src["day"]) == ("2024-05", "2024-05-06")
    assert src["cluster_id"] == "a1" and src["data"]["title"] == "標題"
    assert src["title_words"] == "标题" and src["text_words"] == "正文 内容"
    assert src["changed"] == src["updated"] == "2024-06-01T00:00:00+00:00"


class ScriptedBulk:
    """A unit-test stand-in for :class:`SearchClient` in the bulk writer's retry loop only: it answers each bulk
    request with scripted per-item statuses. (Real partial failures, from a real node, are in test_server.py.)"""

    url = "scripted"

    def __init__(self, script: list[dict[str, int]]) -> None:
        self.script = script
        self.calls: list[list[str]] = []

    def request(self, method: str, path: str, *, params: Any = None, body: Any = None, ndjson: bool = False) -> Any:
        assert (method, path, ndjson) == ("POST", "/_bulk", True)
        statuses = self.script[len(self.calls)] if len(self.calls) < len(self.script) else {}
        ids = [next(iter(op.values()))["_id"] for op in body if "index" in op or "delete" in op]
        self.calls.append(ids)
        items = []
        for doc_id in ids:
            status = statuses.get(doc_id, 201)
            res: dict[str, Any] = {"_id": doc_id, "status": status}
            if status >= 300:
                res["error"] = {"type": "x", "reason": f"refused {status}"}
            items.append({"index": res})
        return {"errors": any(s >= 300 for s in statuses.values()), "items": items}


def _actions(*ids: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    return [({"index": {"_index": "i", "_id": d}}, {"id": d}) for d in ids]


def test_bulk_retries_only_rejected_items_with_backoff() -> None:
    client = ScriptedBulk([{"b": 429, "c": 503}, {"c": 429}])
    sleeps: list[float] = []
    bulk_write(client, _actions("a", "b", "c"), sleep=sleeps.append, backoff=0.5)
    assert client.calls == [["a", "b", "c"], ["b", "c"], ["c"]]
    assert sleeps == [0.5, 1.0]


def test_bulk_gives_up_after_max_retries_and_names_the_ids() -> None:
    client = ScriptedBulk([{"a": 429}] * 10)
    with pytest.raises(BackendError) as err:
        bulk_write(client, _actions("a", "b"), sleep=lambda s: None, max_retries=2)
    assert "1 of 2" in str(err.value) and "(a)" in str(err.value) and "429" in str(err.value)
    assert len(client.calls) == 3
