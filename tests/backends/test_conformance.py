"""Every backend: same documents in, same behaviour out."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.errors import BackendError, QueryError
from search.backends import embedded
from search.backends.base import Backend, UrlState
from search.backends.embedded import EmbeddedBackend
from search.query import Query, SearchResult

from .conftest import corpus_articles, make_article


def ids(result: SearchResult) -> set[str]:
    return {h.id for h in result.hits}


def find(backend: Backend, text: str, **kw: Any) -> set[str]:
    return ids(backend.search(Query(text=text, size=100, **kw)))


def test_upsert_reports_new_then_unchanged(backend: Backend) -> None:
    arts = corpus_articles()
    first = backend.upsert(arts)
    assert sorted(first.new) == sorted(a.id for a in arts)
    assert not first.updated and not first.unchanged
    second = backend.upsert(arts)
    assert sorted(second.unchanged) == sorted(a.id for a in arts)
    assert backend.count() == len(arts)


def test_get_and_get_many_round_trip(loaded: Backend) -> None:
    art = loaded.get("battery")
    assert art is not None
    assert art.title == "新能源汽车电池技术突破"
    assert art.domains == ["新能源"] and art.libraries == ["project"]
    assert loaded.get("no-such-doc") is None
    many = loaded.get_many(["talent", "missing", "ai-policy"])
    assert [a.id for a in many] == ["talent", "ai-policy"]


def test_words_are_anded(loaded: Backend) -> None:
    assert find(loaded, "科技创新") == {"ai-policy", "ai-trad"}
    assert find(loaded, "科技创新 政策") == {"ai-policy"}
    assert find(loaded, "人工智能 电池") == set()


def test_or_and_not(loaded: Backend) -> None:
    assert find(loaded, "电池 OR 量子") == {"battery", "quantum"}
    assert find(loaded, "电池 | 人才") == {"battery", "talent"}
    assert find(loaded, "科技创新 -政策") == {"ai-trad"}
    assert find(loaded, "科技创新 NOT 台湾") == {"ai-policy"}


def test_phrase_is_exact_and_words_are_not(loaded: Backend) -> None:
    assert find(loaded, '"科创中国"') == {"kczg"}
    assert find(loaded, "“科创中国”") == {"kczg"}
    loose = find(loaded, "科创 中国")
    assert {"kczg", "kc-apart"} <= loose


def test_traditional_and_simplified_queries_find_both_scripts(loaded: Backend) -> None:
    simplified = find(loaded, "科技创新")
    traditional = find(loaded, "科技創新")
    assert simplified == traditional == {"ai-policy", "ai-trad"}
    # a word written in traditional script in the page is found by its simplified form
    assert find(loaded, "台湾学者") == {"ai-trad"}
    assert find(loaded, "臺灣學者") == {"ai-trad"}


def test_latin_words_are_case_insensitive(loaded: Backend) -> None:
    assert find(loaded, "Quantum") == {"quantum"}
    assert find(loaded, "QUANTUM computing") == {"quantum"}


def test_empty_query_matches_everything(loaded: Backend) -> None:
    assert loaded.search(Query(text="", size=0)).total == len(corpus_articles())


def test_filters(loaded: Backend) -> None:
    assert find(loaded, "", filters={"source": ["gov"]}) == {"ai-policy", "kczg", "talent"}
    assert find(loaded, "", filters={"content_type": ["policy", "demand"]}) == {"ai-policy", "kczg"}
    assert find(loaded, "", filters={"domains": ["集成电路"]}) == {"ai-trad"}
    assert find(loaded, "", filters={"libraries": ["problem"]}) == {"ai-policy", "kczg"}
    assert find(loaded, "", filters={"region": ["北京"], "libraries": ["problem"]}) == {"ai-policy", "kczg"}
    assert find(loaded, "人工智能", filters={"region": ["上海"]}) == {"ai-trad"}
    assert find(loaded, "", filters={"cluster_id": ["c-ai"]}) == {"ai-policy", "ai-trad"}


def test_date_range(loaded: Backend) -> None:
    got = find(loaded, "", since=date(2024, 1, 1), until=date(2024, 2, 29))
    assert got == {"kc-apart", "talent", "battery"}
    assert find(loaded, "", since=date(2024, 3, 15)) == {"ai-trad"}


def test_ids_restriction(loaded: Backend) -> None:
    assert find(loaded, "", ids=["battery", "talent", "nope"]) == {"battery", "talent"}
    assert find(loaded, "", ids=[]) == set()


def test_facet_counts(loaded: Backend) -> None:
    res = loaded.search(
        Query(text="", size=0, facets=["source", "content_type", "domains", "region", "month"])
    )
    facets = {k: dict(v) for k, v in res.facets.items()}
    assert facets["source"] == {"gov": 3, "news-a": 2, "news-b": 2, "news-c": 25}
    assert facets["domains"]["人工智能"] == 2 and facets["domains"]["区块链"] == 25
    assert facets["region"]["北京"] == 2 and "" not in facets["region"]
    assert facets["content_type"]["achievement"] == 2
    assert facets["month"]["2024-03"] == 2
    # facets follow the query and its filters
    res = loaded.search(Query(text="人工智能", size=0, facets=["source", "libraries"]))
    assert dict(res.facets["source"]) == {"gov": 1, "news-a": 1}
    assert dict(res.facets["libraries"]) == {"problem": 1}
    # ordered by count, largest first
    counts = [n for _, n in loaded.search(Query(size=0, facets=["source"])).facets["source"]]
    assert counts == sorted(counts, reverse=True)


def test_highlight_marks_the_matched_words(loaded: Backend) -> None:
    res = loaded.search(Query(text="固态电池"))
    assert [h.id for h in res.hits] == ["battery"]
    assert "<mark>" in res.hits[0].snippet and "电池" in res.hits[0].snippet
    plain = loaded.search(Query(text="固态电池", highlight=False))
    assert "<mark>" not in plain.hits[0].snippet


def test_paging_covers_every_hit_once(loaded: Backend) -> None:
    total = loaded.search(Query(text="区块链", size=0)).total
    assert total == 25
    seen: list[str] = []
    for page in range(1, 5):
        res = loaded.search(Query(text="区块链", size=10, page=page, sort="date"))
        assert res.total == 25
        seen += [h.id for h in res.hits]
    assert len(seen) == 25 and len(set(seen)) == 25


def test_sort_by_date_newest_first_undated_last(loaded: Backend) -> None:
    res = loaded.search(Query(text="", size=100, sort="date"))
    dates = [h.published for h in res.hits]
    dated = [d for d in dates if d]
    assert dated == sorted(dated, reverse=True)
    assert dates[-1] is None and res.hits[-1].id == "quantum"
    assert res.hits[0].id == "ai-trad"


def test_relevance_prefers_title_matches(loaded: Backend) -> None:
    res = loaded.search(Query(text="人才"))
    assert res.hits[0].id == "talent"
    assert res.hits[0].score >= res.hits[-1].score


def test_collapse_by_cluster(loaded: Backend) -> None:
    res = loaded.search(Query(text="科技创新", collapse=True))
    assert res.total == 1 and len(res.hits) == 1
    assert res.hits[0].id in {"ai-policy", "ai-trad"}
    assert res.hits[0].cluster_id == "c-ai" and res.hits[0].cluster_size == 2
    # documents without a cluster are their own cluster
    assert loaded.search(Query(text="区块链", collapse=True, size=0)).total == 25


def test_count_follows_the_query(loaded: Backend) -> None:
    assert loaded.count() == len(corpus_articles())
    assert loaded.count(Query(text="区块链", filters={"region": ["四川"]})) == 25
    assert loaded.count(Query(text="区块链", filters={"region": ["北京"]})) == 0


def test_delete(loaded: Backend) -> None:
    loaded.record_url_states(
        [UrlState(url="https://news-a.example.cn/battery.html", source="news-a", doc_id="battery")]
    )
    assert loaded.delete(["battery", "not-there"]) == 1
    assert loaded.get("battery") is None
    assert find(loaded, "电池") == set()
    assert loaded.count() == len(corpus_articles()) - 1
    assert loaded.url_states("news-a") == {}
    assert loaded.delete(["battery"]) == 0


def test_update_keeps_a_revision_and_reindexes(loaded: Backend) -> None:
    changed = make_article(
        "battery",
        "新能源汽车电池技术再突破",
        "团队发布钠离子电池新成果。",
        source="news-a",
        content_type="achievement",
        domains=["新能源"],
        region="广东",
        published="2024-02-10T09:00:00+08:00",
    )
    result = loaded.upsert([changed])
    assert result.updated == ["battery"]
    revs = loaded.revisions("battery")
    assert len(revs) == 1
    assert revs[0]["previous_title"] == "新能源汽车电池技术突破" and revs[0]["title_changed"] is True
    assert "at" in revs[0]
    assert find(loaded, "钠离子") == {"battery"}
    assert find(loaded, "固态电池") == set()
    assert loaded.revisions("talent") == []


def test_label_changes_are_stored_without_a_revision(loaded: Backend) -> None:
    art = next(a for a in corpus_articles() if a.id == "talent")
    art.libraries = ["talent", "project"]
    assert loaded.upsert([art]).unchanged == ["talent"]
    assert loaded.revisions("talent") == []
    assert find(loaded, "", filters={"libraries": ["project"]}) == {"battery", "talent"}


def test_iterate_and_fingerprints(loaded: Backend) -> None:
    got = [a.id for a in loaded.iter_articles(batch_size=7)]
    assert sorted(got) == sorted(a.id for a in corpus_articles())
    dup = make_article("dup", "重复", "重复内容", fingerprint="fp-battery")
    loaded.upsert([dup])
    assert sorted(loaded.find_by_fingerprint("fp-battery")) == ["battery", "dup"]
    assert loaded.find_by_fingerprint("nothing") == []


def test_related_documents(loaded: Backend) -> None:
    related = getattr(loaded, "related")  # noqa: B009 - not part of the minimal protocol
    hits = related("ai-policy", 3)
    assert hits and hits[0].id == "ai-trad"
    assert "ai-policy" not in {h.id for h in hits}
    assert len(hits) <= 3
    assert related("no-such-doc", 3) == []


def test_bad_query_is_a_query_error(loaded: Backend) -> None:
    with pytest.raises(QueryError):
        loaded.search(Query(text='"unbalanced'))


def test_url_states_merge(backend: Backend) -> None:
    backend.record_url_states(
        [
            UrlState(
                url="https://a.example.cn/1",
                source="a",
                doc_id="d1",
                etag='"x"',
                content_hash="h1",
                status=200,
            ),
            UrlState(url="https://a.example.cn/2", source="a", status=404),
            UrlState(url="https://b.example.cn/1", source="b", doc_id="d9"),
        ]
    )
    states = backend.url_states("a")
    assert set(states) == {"https://a.example.cn/1", "https://a.example.cn/2"}
    assert states["https://a.example.cn/1"].etag == '"x"' and states["https://a.example.cn/2"].status == 404
    # a later fetch without a document keeps the known doc id and content hash
    backend.record_url_states([UrlState(url="https://a.example.cn/1", source="a", etag='"y"', status=304)])
    s = backend.url_states("a")["https://a.example.cn/1"]
    assert (s.doc_id, s.content_hash, s.etag, s.status) == ("d1", "h1", '"y"', 304)
    # URL states written together with documents
    backend.upsert(
        [make_article("z", "标题", "正文")],
        [UrlState(url="https://gov.example.cn/z.html", source="gov", doc_id="z")],
    )
    assert backend.url_states("gov")["https://gov.example.cn/z.html"].doc_id == "z"


def test_records(backend: Backend) -> None:
    backend.put_record("runs", "r1", {"source": "a", "pages": 3})
    backend.put_record("runs", "r2", {"source": "b", "pages": 5})
    backend.put_record("runs", "r3", {"source": "a", "pages": 7})
    assert backend.get_record("runs", "r2") == {"source": "b", "pages": 5}
    assert backend.get_record("runs", "nope") is None
    assert backend.get_record("entries", "r1") is None
    assert [r["pages"] for r in backend.list_records("runs")] == [7, 5, 3]
    assert [r["pages"] for r in backend.list_records("runs", newest_first=False)] == [3, 5, 7]
    assert [r["pages"] for r in backend.list_records("runs", where={"source": "a"})] == [7, 3]
    assert len(backend.list_records("runs", limit=2)) == 2
    backend.put_record("runs", "r1", {"source": "a", "pages": 4})
    assert backend.list_records("runs")[0] == {"source": "a", "pages": 4}
    assert backend.delete_record("runs", "r1") is True
    assert backend.delete_record("runs", "r1") is False
    assert backend.get_record("runs", "r1") is None
    with pytest.raises(BackendError):
        backend.put_record("no-such-collection", "x", {})


def test_label_changes_move_the_document_between_filters(loaded: Backend) -> None:
    art = next(a for a in corpus_articles() if a.id == "battery")
    art.region, art.domains, art.content_type = "上海", ["储能"], "news"
    assert loaded.upsert([art]).unchanged == ["battery"]
    assert find(loaded, "电池", filters={"region": ["上海"]}) == {"battery"}
    assert find(loaded, "电池", filters={"region": ["广东"]}) == set()
    assert find(loaded, "", filters={"domains": ["储能"], "content_type": ["news"]}) == {"battery"}
    assert find(loaded, "", filters={"domains": ["新能源"]}) == set()
    facets = loaded.search(Query(text="电池", size=0, facets=["region", "domains"])).facets
    assert dict(facets["region"]) == {"上海": 1} and dict(facets["domains"]) == {"储能": 1}


def test_filters_combine_with_words_exclusions_and_each_other(loaded: Backend) -> None:
    assert find(loaded, "人工智能", filters={"source": ["gov", "news-a"], "domains": ["集成电路"]}) == {
        "ai-trad"
    }
    assert find(loaded, "-政策", filters={"domains": ["人工智能"]}) == {"ai-trad"}
    assert find(loaded, "科创 -大会", filters={"region": ["北京", "浙江"]}) == {"kczg"}
    assert find(loaded, "", filters={"source": ["gov"], "libraries": ["talent"]}) == {"talent"}
    assert find(loaded, "", filters={"source": ["nobody"]}) == set()
    res = loaded.search(Query(text="区块链", filters={"region": ["四川"]}, size=5, page=2, sort="date"))
    assert res.total == 25 and len(res.hits) == 5


def test_filtered_relevance_and_date_sort_agree_on_the_matches(loaded: Backend) -> None:
    by_rank = loaded.search(Query(text="科创", filters={"source": ["gov", "news-b"]}, size=100))
    by_date = loaded.search(Query(text="科创", filters={"source": ["gov", "news-b"]}, size=100, sort="date"))
    assert {h.id for h in by_rank.hits} == {h.id for h in by_date.hits} == {"kczg", "kc-apart"}
    assert [h.id for h in by_date.hits] == ["kc-apart", "kczg"]
    assert by_rank.hits[0].score >= by_rank.hits[-1].score


# -- embedded backend only: facet sampling, rebuilding the narrow search table, tag tokens -------------------------


@pytest.fixture
def emb(tmp_path: Path) -> EmbeddedBackend:
    b = EmbeddedBackend(tmp_path / "techscout.sqlite")
    b.upsert(corpus_articles())
    return b


def test_facets_are_exact_below_the_limit(emb: EmbeddedBackend) -> None:
    res = emb.search(Query(text="", size=0, facets=["source", "libraries"]))
    assert not res.facets_sampled
    assert dict(res.facets["source"]) == {"gov": 3, "news-a": 2, "news-b": 2, "news-c": 25}
    assert "facets_sampled" not in res.to_json()


def test_facets_beyond_the_limit_are_sampled_scaled_and_flagged(
    emb: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "FACET_EXACT_LIMIT", 10)
    res = emb.search(Query(text="", size=5, facets=["source", "region"]))
    assert res.facets_sampled and res.to_json()["facets_sampled"] is True
    assert res.total == 32 and len(res.hits) == 5  # the total and the hits stay exact
    counts = dict(res.facets["source"])
    assert counts["news-c"] > 10 and all(n % 4 == 0 for n in counts.values())  # every 4th match, times 4


def test_old_narrow_table_is_rebuilt_on_open(tmp_path: Path) -> None:
    path = tmp_path / "techscout.sqlite"
    EmbeddedBackend(path).upsert(corpus_articles())
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TABLE doc_meta")
        conn.execute(
            "CREATE TABLE doc_meta (rowid INTEGER PRIMARY KEY, source TEXT NOT NULL, content_type TEXT, "
            "region TEXT, language TEXT, published TEXT, cluster_id TEXT, story_id TEXT, relevance REAL)"
        )
        conn.execute("UPDATE meta SET value='1' WHERE key='doc_meta'")
    conn.close()
    b = EmbeddedBackend(path)
    facets = b.search(Query(text="人工智能", size=0, facets=["domains", "libraries"])).facets
    assert dict(facets["domains"]) == {"人工智能": 2, "集成电路": 1}
    assert dict(facets["libraries"]) == {"problem": 1}


def test_tag_tokens_never_match_words(emb: EmbeddedBackend) -> None:
    token = embedded.tag_token("region", "北京")
    assert embedded.index_tokens(token) != token  # text never yields a tag token
    assert emb.search(Query(text=token, size=0)).total == 0
    assert emb.search(Query(text="北京", size=0)).total == 0  # a label is not text
    emb.upsert([make_article("bj", "北京科技周", "科技周在北京开幕。", region="上海")])
    assert {h.id for h in emb.search(Query(text="北京")).hits} == {"bj"}


def test_reindex_rebuilds_text_and_tags(emb: EmbeddedBackend) -> None:
    assert emb.rebuild_index() == len(corpus_articles())
    assert emb.reindex() == f"reindexed {len(corpus_articles())} documents"
    assert emb.search(Query(text="电池", filters={"region": ["广东"]}, size=0)).total == 1


def test_a_one_character_piece_stays_attached_to_its_neighbour(loaded: Backend) -> None:
    loaded.upsert([make_article("apart", "材料学院新址启用", "学院迁入新址，材料实验室同步开放。")])
    assert find(loaded, "新材料") == {"kczg"}  # 新 and 材料 apart do not make 新材料
    assert find(loaded, "新 材料") == {"kczg", "apart"}  # unless typed as two words
    assert len(find(loaded, "区块链")) == 25


def test_attach_single_characters() -> None:
    from search.text import attach_single_characters

    assert attach_single_characters(["新", "材料"]) == ["新材料"]
    assert attach_single_characters(["区块", "链"]) == ["区块链"]
    assert attach_single_characters(["我", "的", "电脑"]) == ["我的", "电脑"]
    assert attach_single_characters(["中"]) == ["中"]
    assert attach_single_characters(["科技", "创新"]) == ["科技", "创新"]


@pytest.mark.parametrize("text", ["科创 中国", '"科创中国"', "科技创新 -台湾", "区块链 应用", "区块链"])
def test_faceted_search_pages_like_the_plain_one(emb: EmbeddedBackend, text: str) -> None:
    for page in (1, 2):
        plain = emb.search(Query(text=text, size=3, page=page))
        faceted = emb.search(Query(text=text, size=3, page=page, facets=["source", "month"]))
        assert faceted.total == plain.total
        assert [h.id for h in faceted.hits] == [h.id for h in plain.hits]
        assert [h.score for h in faceted.hits] == pytest.approx([h.score for h in plain.hits])
        assert sum(n for _, n in faceted.facets["source"]) == plain.total


def test_sampled_facets_of_a_phrase_scale_to_the_total(
    emb: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "FACET_EXACT_LIMIT", 5)
    res = emb.search(Query(text="区块链 应用", size=2, facets=["source", "region"]))
    assert res.total == 25 and res.facets_sampled
    assert dict(res.facets["source"]) == {"news-c": 25}  # every 5th of 25 matches, times 5


# -- the rest of the Protocol: relevance filter, percolation, changes, counts, revisions import, reindex ----------


def test_scitech_relevance_filter_and_facet(loaded: Backend) -> None:
    loaded.upsert([make_article("celebrity", "明星婚礼", "某明星举行婚礼，现场来宾众多。")])
    art = loaded.get("celebrity")
    assert art is not None
    art.scitech_relevant = False
    loaded.upsert([art])
    facets = loaded.search(Query(text="", size=0, facets=["scitech_relevant"])).facets
    assert dict(facets["scitech_relevant"]) == {"true": len(corpus_articles()), "false": 1}
    assert find(loaded, "", filters={"scitech_relevant": ["false"]}) == {"celebrity"}
    assert "celebrity" not in find(loaded, "", filters={"scitech_relevant": ["true"]})


SAVED = [
    {"id": "s-ai", "query": "人工智能", "filters": {}},
    {"id": "s-ai-bj", "query": "人工智能", "filters": {"region": ["北京"]}},
    {"id": "s-phrase", "query": '"科创中国"', "filters": {}},
    {"id": "s-not", "query": "科技创新 -台湾", "filters": {}},
    {"id": "s-types", "query": "", "filters": {"content_type": ["achievement"]}},
    {"id": "s-floor", "query": "区块链", "filters": {}, "min_relevance": 0.9},
    {"id": "s-none", "query": "不存在的词语组合", "filters": {}},
]


def test_percolate_agrees_with_search_over_the_batch(backend: Backend) -> None:
    arts = corpus_articles()
    backend.upsert(arts)
    for sub in SAVED:
        backend.put_record("subscriptions", sub["id"], sub)
    got = backend.percolate(arts, SAVED)
    batch = [a.id for a in arts]
    expected = {}
    for sub in SAVED:
        q = Query(text=sub["query"], filters=sub["filters"], ids=batch, size=100,
                  min_relevance=sub.get("min_relevance"))
        hits = sorted(ids(backend.search(q)))
        if hits:
            expected[sub["id"]] = hits
    assert {k: sorted(v) for k, v in got.items()} == expected
    assert expected["s-ai"] == ["ai-policy", "ai-trad"] and expected["s-ai-bj"] == ["ai-policy"]
    assert "s-none" not in got and "s-floor" not in got  # relevance 0.8 is below the floor
    # only the subscriptions asked about, only the articles of the batch
    assert backend.percolate(arts[:1], SAVED[:1]) == {"s-ai": ["ai-policy"]}


def test_changes_since_returns_new_and_changed_documents_once(backend: Backend) -> None:
    arts = corpus_articles()
    backend.upsert(arts[:5])
    first, cursor = backend.changes_since(None)
    assert sorted(first) == sorted(a.id for a in arts[:5])
    again, cursor = backend.changes_since(cursor)
    assert again == []
    backend.upsert(arts[5:8])
    changed = arts[0]
    changed.search_text += "新增一段内容。"
    changed.text += "新增一段内容。"
    backend.upsert([changed, arts[1]])  # arts[1] unchanged: not a change
    later, cursor = backend.changes_since(cursor)
    assert set(later) == {a.id for a in arts[5:8]} | {changed.id}
    assert set(backend.changes_since(cursor)[0]) <= {changed.id}  # at most a repeat within the clock margin


def test_counts_and_revisions_import_are_idempotent(backend: Backend) -> None:
    backend.upsert(corpus_articles()[:3])
    backend.put_record("runs", "r1", {"id": "r1", "source": "gov"})
    revs = [("ai-policy", "2024-01-01T00:00:00+00:00", {"previous_title": "旧标题"})]
    backend.import_revisions(revs)
    backend.import_revisions(revs)
    counts = backend.counts()
    assert counts["documents"] == 3 and counts["revisions"] == 1 and counts["records:runs"] == 1
    assert backend.revisions("ai-policy")[0]["previous_title"] == "旧标题"


@pytest.mark.parametrize("text", ["\x00", "芯片\x00", "\x00 0 \x00", "a\x01b", "\x7f", '"\x00"', "-\x00"])
def test_control_characters_in_queries_are_text(loaded: Backend, text: str) -> None:
    result = loaded.search(Query(text=text, size=5))
    assert result.total >= 0  # answered, no error
