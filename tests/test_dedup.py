"""Duplicates, reprint clusters and stories (pipelines/dedup/)."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any, Literal

import numpy as np
import opencc
import pytest
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

import cli
from core.errors import DedupError
from core.items import Article
from core.settings import load_settings
from pipelines.dedup import (
    JACCARD_MIN,
    NEAR_DUPLICATE,
    DedupIndex,
    DedupPipeline,
    DedupResult,
    best_match,
    cluster_head,
    containment,
    dedup_text,
    document_keys,
    fingerprint,
    signature,
    similarity,
)
from pipelines.dedup.kernels import search
from pipelines.normalize import NormalizePipeline
from pipelines.store import StorePipeline
from search.backends import open_backend

FIXTURES = Path(__file__).parent / "fixtures" / "dedup"
SEEDS = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "seeds").glob("*.txt"))}
# the 中新网 article that seed 002 reprints (traditional script, pinyin annotations, spam, site chrome)
ORIGINAL_002 = (FIXTURES / "chinanews_original.txt").read_text(encoding="utf-8")
ABSTRACTS = [
    json.loads(line) for line in (FIXTURES / "abstracts.jsonl").read_text(encoding="utf-8").splitlines()
]
PUBLISHED = {
    "000": "2021-01-19",
    "001": "2021-01-18",
    "002": "2021-01-19",
    "003": "2020-04-09",
    "004": "2022-04-08",
}

_S2T = opencc.OpenCC("s2t")
_PINYIN = {
    "为": "wèi",
    "会": "huì",
    "业": "yè",
    "产": "chǎn",
    "学": "xué",
    "发": "fā",
    "协": "xié",
    "国": "guó",
}
_PINYIN.update({_S2T.convert(k): v for k, v in _PINYIN.items()})  # 為(wèi) 會(huì) ...
_SPAM = ["星空体育官网入口网站", "日韩无码视频免费看", "澳门新葡京娱乐场官网"]


# ----------------------------------------------------------------------------------------------- transformations
def traditional(text: str) -> str:
    return str(_S2T.convert(text))


def pinyin(text: str) -> str:
    return "".join(f"{ch}({_PINYIN[ch]})" if ch in _PINYIN else ch for ch in text)


def spam(text: str, rng: random.Random) -> str:
    for phrase in _SPAM:
        pos = rng.randrange(len(text))
        text = text[:pos] + phrase + text[pos:]
    return text


def chrome(text: str) -> str:
    head = "首页\n新闻\n科技\n财经\n当前位置：首页 > 科技 > 正文\n"
    tail = (
        "\n责任编辑：王晓明\n分享到：微信 微博\n"
        "版权所有 © 2003-2023 科技信息网 本网站所刊载信息，不代表本站观点，如涉及版权问题请与本网联系。"
    )
    return head + text + tail


def paragraphs(text: str) -> list[str]:
    """The article's paragraphs (a reprint does not carry the original site's navigation lines)."""
    return [p for p in text.split("\n") if len(p.strip()) >= 30] or [text]


def truncate(text: str) -> str:
    paras = paragraphs(text)
    return "\n\n".join(paras[: max(1, int(len(paras) * 0.7))])


def reorder(text: str) -> str:
    paras = paragraphs(text)
    return "\n\n".join(paras[1::2] + paras[0::2])


TRANSFORMS = {
    "traditional": lambda t, rng: traditional(t),
    "pinyin": lambda t, rng: pinyin(t),
    "spam": spam,
    "chrome": lambda t, rng: chrome(t),
    "truncate": lambda t, rng: truncate(t),
    "reorder": lambda t, rng: reorder(t),
    "all": lambda t, rng: traditional(pinyin(spam(chrome(truncate(t)), rng))),
}


# ------------------------------------------------------------------------------------------------------- seeds
def test_traditional_spam_reprint_clusters_with_its_original() -> None:
    index = DedupIndex()
    index.add("chinanews", ORIGINAL_002, published="2021-01-18T18:00:00+08:00", source="chinanews")
    result = index.add("reprint", SEEDS["002"], published="2021-01-19", source="szkp")
    assert result.duplicate_of == "chinanews"
    assert not result.exact
    assert result.cluster_id == "chinanews"
    assert result.similarity >= 0.6


def test_reprint_seen_first_keeps_the_cluster_id_and_head_is_earliest_published() -> None:
    index = DedupIndex()
    first = index.add("reprint", SEEDS["002"], published="2021-01-19", source="szkp")
    second = index.add("chinanews", ORIGINAL_002, published="2021-01-18", source="chinanews")
    assert first.cluster_id == "reprint"
    assert second.duplicate_of == "reprint" and second.cluster_id == "reprint"
    assert index.members("reprint") == ["reprint", "chinanews"]
    assert index.head("reprint") == "chinanews"


def test_seed_articles_on_one_meeting_are_one_story_but_not_duplicates() -> None:
    index = DedupIndex()
    results = {k: index.add(k, SEEDS[k], published=PUBLISHED[k]) for k in ("000", "001", "002", "003", "004")}
    assert all(r.duplicate_of is None for r in results.values())
    assert len({r.cluster_id for r in results.values()}) == 5
    meeting = {results[k].story_id for k in ("000", "001", "002")}
    assert len(meeting) == 1
    assert results["003"].story_id not in meeting
    assert results["004"].story_id not in meeting
    assert results["003"].story_id != results["004"].story_id


def test_same_words_far_apart_in_time_are_not_one_story() -> None:
    index = DedupIndex()
    a = index.add("a", SEEDS["000"], published="2021-01-19")
    b = index.add("b", SEEDS["001"], published="2021-06-30")
    assert b.story_id != a.story_id


def _event_text(names: list[str], rng: random.Random) -> str:
    """A text naming ``names`` three times after a lead of random characters: its story terms are the names
    (and no two such texts are near-duplicates)."""
    mention = "，".join(f"“{name}”" for name in names)
    filler = "".join(chr(rng.randrange(0x4E00, 0x9FA6)) for _ in range(900))
    return f"{filler[:400]}。\n{mention}。{filler[400:650]}。\n{mention}。{filler[650:]}。\n{mention}。"


_EVENT = ["量子星链计划", "青藤创新联盟", "云岭科创走廊", "海川材料实验室", "星火成果大会"]
_WIDE = ["北辰算力平台", "南湖智造基地", "东篱种业专项", "西岭氢能示范", "天枢芯片联盟"]
_WIDE += ["玉衡数据中心", "开阳生物药谷", "摇光海洋装备", "天璇低空经济"]
# (id, names, published, story it must join): five shared names join articles published within 3 days
# (however many days apart the rest of the index is, dates clamped far in the past or future included);
# nine shared names join across any dates when either article is undated
_DATED_STORIES: list[tuple[str, list[str], str | None, str]] = [
    ("a", _EVENT, "2021-01-10", "a"),
    ("b", _EVENT, "2021-01-13", "a"),
    ("c", _EVENT, "2021-01-17", "c"),  # 4 days after b, 7 after a
    ("d", _EVENT, "2021-01-07", "a"),  # 3 days before a
    ("e", _EVENT, "2021-01-20", "c"),
    ("f", _EVENT, "2021-03-01", "f"),
    ("g", _EVENT, None, "g"),  # undated: 5 shared names are not enough
    ("h", _EVENT, "1900-01-01", "h"),
    ("i", _EVENT, "1900-01-04", "h"),
    ("j", _EVENT, "1900-02-01", "j"),
    ("k", _WIDE, "2021-05-01", "k"),
    ("l", _WIDE, None, "k"),  # undated: 9 shared names with k, years apart do not matter
    ("m", _WIDE, "2030-01-01", "k"),  # joins the undated l
    ("o", _EVENT, "2200-01-01", "o"),
    ("p", _EVENT, "2200-01-03", "o"),
    ("q", _EVENT, "2200-01-07", "q"),
]


def _dated_docs() -> list[dict[str, Any]]:
    rng = random.Random(11)
    return [
        {"id": i, "text": _event_text(names, rng), "published": day} for i, names, day, _ in _DATED_STORIES
    ]


@pytest.mark.parametrize("how", ["add", "batch 1", "batch 4", "batch 512", "reopened"])
def test_articles_with_the_same_names_join_only_stories_within_their_dates(how: str, tmp_path: Path) -> None:
    docs = _dated_docs()
    if how == "add":
        index = DedupIndex()
        results = [index.add(d["id"], d["text"], published=d["published"]) for d in docs]
    elif how == "reopened":  # the term tables of the first half loaded from the file
        with DedupIndex.open(tmp_path / "d.sqlite") as index:
            results = index.add_many(docs[:7])
        with DedupIndex.open(tmp_path / "d.sqlite") as index:
            results += index.add_many(docs[7:])
    else:
        results = DedupIndex().add_many(docs, batch=int(how.split()[1]))
    assert all(r.duplicate_of is None for r in results)
    assert {d["id"]: r.story_id for d, r in zip(docs, results, strict=True)} == {
        i: story for i, _, _, story in _DATED_STORIES
    }


# ------------------------------------------------------------------------------------------------ transformations
@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_each_reprint_transformation_is_a_near_duplicate(name: str) -> None:
    rng = random.Random(3)
    for key in ("000", "001", "003", "004"):
        index = DedupIndex()
        index.add("orig", SEEDS[key], title="原标题", source="a")
        variant = TRANSFORMS[name](SEEDS[key], rng)
        assert variant != SEEDS[key]
        result = index.add("copy", variant, title="完全不同的另一个标题", source="b")
        assert result.duplicate_of == "orig", (name, key)
        assert result.cluster_id == "orig"


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transformed_abstracts_find_their_own_original_among_abstracts_on_one_subject(name: str) -> None:
    rng = random.Random(5)
    index = DedupIndex()
    for row in ABSTRACTS:
        index.add(row["id"], row["text"])
    for row in ABSTRACTS:
        variant = TRANSFORMS[name](row["text"], rng)
        if name in ("truncate", "reorder") and variant.replace("\n", "") == row["text"]:
            continue  # one paragraph: nothing to cut or move
        result = index.lookup("probe", variant)
        assert result.duplicate_of == row["id"], (name, row["id"])


def test_abstracts_on_one_subject_are_not_duplicates() -> None:
    index = DedupIndex()
    results = [index.add(row["id"], row["text"]) for row in ABSTRACTS]
    assert all(r.duplicate_of is None for r in results)
    assert len({r.cluster_id for r in results}) == len(ABSTRACTS)


def test_site_chrome_shared_by_different_articles_is_learnt_and_left_out() -> None:
    footer = (
        "\n以上文章仅代表作者个人观点，本网只是转载，如涉及作品内容、版权、稿酬问题，请及时联系我们。电话：029-63903870\n"
        "本网所有文字、图片和音视频等，版权均属本网所有，未经本网协议授权不得转载、链接或其他方式复制发表，违者本网将依法追究责任。"
    )
    index = DedupIndex()
    results = [index.add(row["id"], row["text"] + footer) for row in ABSTRACTS]
    assert all(r.duplicate_of is None for r in results)
    # the footer is now known chrome: a short article under it is compared on its own text
    short = "研究了稀土掺杂对氧化锆陶瓷相变行为的影响，结果表明掺杂量为百分之三时材料的断裂韧性最高。"
    first = index.add("short", short + footer)
    assert first.duplicate_of is None
    assert index.lookup("x", short + footer).duplicate_of == "short"
    other = "采用溶胶凝胶法制备了二氧化钛薄膜，研究了热处理温度对薄膜光催化性能的影响规律和机理。"
    assert index.lookup("y", other + footer).duplicate_of is None


def test_short_bodies_are_told_apart_by_their_headlines_and_empty_ones_are_never_duplicates() -> None:
    index = DedupIndex()
    index.add("n1", "详见附件。", title="关于开展2024年度科技计划项目申报工作的通知", source="gov")
    other = index.add("n2", "详见附件。", title="关于公布2023年度科普示范基地名单的公告", source="gov")
    assert other.duplicate_of is None
    same = index.add("n3", "详见附件", title="关于开展2024年度科技计划项目申报工作的通知", source="gov")
    assert same.duplicate_of == "n1" and same.exact
    index.add("e1", "", source="gov")
    empty = index.add("e2", "  \n", source="gov")
    assert empty.duplicate_of is None and empty.cluster_id == "e2" and empty.fingerprint == ""


def test_exact_duplicate_ignores_punctuation_width_and_spacing() -> None:
    text = ABSTRACTS[0]["text"]
    variant = text.replace("，", ",").replace("。", ". ").replace("(", "（").replace(")", "）") + "\n\n"
    index = DedupIndex()
    index.add("a", text)
    result = index.add("b", variant)
    assert result == DedupResult("a", True, "a", "a", 1.0, fingerprint(dedup_text(text)))


def test_fingerprint_is_of_the_normalised_text() -> None:
    assert fingerprint(dedup_text("中國科協(xié)召開會議。")) == fingerprint(dedup_text("中国科协召开会议"))
    assert fingerprint(dedup_text("中国科协召开会议")) != fingerprint(dedup_text("中国科协召开大会"))


def test_signature_estimates_jaccard() -> None:
    a = dedup_text(SEEDS["000"])
    sig_a, size_a = signature(a)
    sig_b, _ = signature(a[: len(a) // 2])
    sig_c, _ = signature(dedup_text(SEEDS["003"]))
    assert size_a > 500
    half = float(similarity(sig_a, sig_b)[0])
    assert 0.3 < half < 0.7
    assert float(similarity(sig_a, sig_c)[0]) < 0.1
    assert float(similarity(sig_a, sig_a)[0]) == 1.0


# ----------------------------------------------------------------------------------------------- index behaviour
def test_lookup_does_not_insert_and_readding_an_id_updates_it() -> None:
    index = DedupIndex()
    assert index.lookup("a", SEEDS["000"]).duplicate_of is None
    assert len(index) == 0
    index.add("a", SEEDS["000"])
    again = index.add("a", SEEDS["000"])  # a re-crawl: not its own duplicate
    assert again.duplicate_of is None and again.cluster_id == "a"
    assert len(index) == 1
    revised = index.add("a", SEEDS["003"])  # a revision with other text
    assert revised.duplicate_of is None
    assert index.lookup("x", SEEDS["000"]).duplicate_of is None
    assert index.lookup("x", SEEDS["003"]).duplicate_of == "a"


def test_remove_keeps_the_cluster_id_of_other_members() -> None:
    index = DedupIndex()
    index.add("a", SEEDS["001"])
    index.add("b", traditional(SEEDS["001"]))
    index.add("c", SEEDS["001"])
    assert index.remove("a") is True
    assert index.remove("a") is False
    assert len(index) == 2
    result = index.add("d", chrome(SEEDS["001"]))
    assert result.duplicate_of in ("b", "c")
    assert result.cluster_id == "a"
    assert "a" not in index.members("a")


def test_cluster_head() -> None:
    members = [
        {"id": "late", "published": "2021-01-19T09:00:00+08:00"},
        {"id": "early", "published": "2021-01-19T00:30:00Z"},  # 08:30 in China
        {"id": "undated", "published": None},
        {"id": "early-too", "published": "2021-01-19T08:30:00+08:00"},
    ]
    assert cluster_head(members) == "early"  # ties: earliest seen
    assert cluster_head(reversed(members)) == "early-too"
    assert cluster_head([{"id": "x", "published": None}, {"id": "y", "published": None}]) == "x"
    assert (
        cluster_head([{"id": "x", "published": "2021-01-20"}, {"id": "y", "published": "2021-01-19"}]) == "y"
    )
    with pytest.raises(ValueError):
        cluster_head([])


def test_memory_grows_with_documents() -> None:
    index = DedupIndex()
    empty = index.memory_bytes()
    for i, row in enumerate(ABSTRACTS):
        index.add(str(i), row["text"])
    assert index.memory_bytes() > empty


def _mixed_set() -> list[dict[str, Any]]:
    """Originals, reprints of several kinds, exact copies, a footer that becomes known chrome part-way, short
    notices, empty texts and a re-added id, in a fixed shuffled order."""
    footer = (
        "\n以上文章仅代表作者个人观点，本网只是转载，如涉及作品内容、版权、稿酬问题，请及时联系我们。\n"
        "本网所有文字、图片和音视频等，版权均属本网所有，未经本网协议授权不得转载、链接或其他方式复制发表。"
    )
    rng = random.Random(11)
    docs: list[dict[str, Any]] = []
    for i, row in enumerate(ABSTRACTS):
        day = f"2024-05-0{1 + i % 3}"
        docs.append({"id": row["id"], "text": row["text"] + footer, "published": day, "source": "a"})
        if i % 2 == 0:
            name = list(TRANSFORMS)[i // 2 % len(TRANSFORMS)]
            docs.append(
                {"id": f"{row['id']}~r", "text": TRANSFORMS[name](row["text"], rng), "published": day}
            )
    short = "研究了稀土掺杂对氧化锆陶瓷相变行为的影响，结果表明掺杂量为百分之三时材料的断裂韧性最高。"
    docs += [{"id": f"short{i}", "text": short + footer, "source": "a"} for i in range(2)]
    for key, text in SEEDS.items():
        docs.append({"id": f"seed{key}", "text": text, "title": text[:20], "published": PUBLISHED[key]})
    docs.append({"id": "orig", "text": ORIGINAL_002, "published": "2021-01-18", "source": "chinanews"})
    docs.append({"id": "copy", "text": ORIGINAL_002 + "\n\n", "source": "other"})
    docs.append({"id": "n1", "text": "详见附件。", "title": "关于开展2024年度科技计划项目申报工作的通知"})
    docs.append({"id": "n2", "text": "详见附件", "title": "关于开展2024年度科技计划项目申报工作的通知"})
    docs += [{"id": "e1", "text": ""}, {"id": "e2", "text": " \n"}]
    rng.shuffle(docs)
    docs.append({"id": docs[3]["id"], "text": SEEDS["004"]})  # re-added with another text
    docs.append({"id": "gone-and-back", "text": ABSTRACTS[0]["text"]})
    return docs


def test_add_many_gives_what_add_gives_one_by_one() -> None:
    docs = _mixed_set()
    one = DedupIndex()
    expected = [
        one.add(
            d["id"],
            d["text"],
            title=d.get("title", ""),
            published=d.get("published"),
            source=d.get("source", ""),
        )
        for d in docs
    ]
    assert sum(r.duplicate_of is not None for r in expected) >= 8
    assert len({r.story_id for r in expected}) < len({r.cluster_id for r in expected})
    for batch in (1, 7, 64, 1000):
        index = DedupIndex()
        assert index.add_many(docs, batch=batch) == expected
        assert [index.info(d["id"]) for d in docs] == [one.info(d["id"]) for d in docs]


@pytest.mark.parametrize("right", [False, True])
def test_table_search_finds_what_searchsorted_finds(right: bool) -> None:
    rng = np.random.default_rng(5)
    side: Literal["left", "right"] = "right" if right else "left"
    for trial in range(400):
        table = np.sort(rng.integers(0, 40, int(rng.integers(0, 80))).astype(np.uint64))
        keys = rng.integers(0, 44, int(rng.integers(0, 50))).astype(np.uint64)
        if trial % 2:  # ascending keys (the usual case), else in any order
            keys = np.sort(keys)
        assert search(table, keys, right).tolist() == np.searchsorted(table, keys, side=side).tolist()
    table = np.sort(rng.integers(0, 2**64 - 1, 200_000, dtype=np.uint64))
    keys = np.sort(np.concatenate([rng.integers(0, 2**64 - 1, 5_000, dtype=np.uint64), table[::97]]))
    assert search(table, keys, right).tolist() == np.searchsorted(table, keys, side=side).tolist()


def test_lookup_then_add_of_one_document_is_one_probe() -> None:
    index = DedupIndex()
    index.add("a", SEEDS["000"])
    probe = index.lookup("b", SEEDS["000"] + "\n")
    index.add("c", SEEDS["003"])  # the index changed: the add of "b" probes again
    assert index.add("b", SEEDS["000"] + "\n") == probe
    assert index.lookup("d", SEEDS["003"]).duplicate_of == "c"
    assert index.add("d", SEEDS["003"]).duplicate_of == "c"


# ------------------------------------------------------------------------------------------- the public rules
def test_an_index_kept_elsewhere_decides_with_the_same_keys_and_rule() -> None:
    """What a duplicate index kept elsewhere (the shared one of distributed crawls) calls: the document's keys
    as this index computes them, and the one near-duplicate rule, give this index's answers."""
    index = DedupIndex()
    originals = {row["id"]: row["text"] for row in ABSTRACTS[:12]}
    for doc_id, text in originals.items():
        index.add(doc_id, text)
    keys = {doc_id: document_keys(text) for doc_id, text in originals.items()}
    sigs = np.stack([k.signature for k in keys.values()])
    sizes = np.array([k.size for k in keys.values()], dtype=np.int64)
    fps = np.array([int(k.fingerprint, 16) for k in keys.values()], dtype=np.uint64)
    rng = random.Random(9)
    checked = 0
    for name, transform in TRANSFORMS.items():
        for text in originals.values():
            variant = transform(text, rng)
            probe = document_keys(variant)
            expected = index.lookup("probe", variant)
            assert probe.fingerprint == expected.fingerprint
            fp = int(probe.fingerprint, 16)
            js, same, near = NEAR_DUPLICATE.verify(probe.signature, probe.size, fp, sigs, sizes, fps)
            assert np.array_equal(near, NEAR_DUPLICATE.accepts(js, same, containment(js, probe.size, sizes)))
            match = best_match((i, j, e) for i, (j, e, n) in enumerate(zip(js, same, near, strict=True)) if n)
            found = None if match is None else list(originals)[match[0]]
            sim = 0.0 if match is None else match[1]
            assert (found, sim) == (expected.duplicate_of, expected.similarity), name
            checked += found is not None
    assert checked >= 50


def test_best_match_prefers_an_exact_copy_then_the_most_similar_then_the_earliest() -> None:
    assert best_match([]) is None
    assert best_match([(5, 0.61, False), (2, 0.83333, False), (9, 0.5, True)]) == (9, 1.0, True)
    assert best_match([(5, 0.61, False), (2, 0.83333, False), (1, 0.83333, False)]) == (1, 0.8333, False)
    assert NEAR_DUPLICATE.jaccard_min == JACCARD_MIN == 0.4


# ----------------------------------------------------------------------------------------------- persistence
def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "dedup.sqlite"
    with DedupIndex.open(path) as index:
        index.add("orig", ORIGINAL_002, published="2021-01-18", source="chinanews")
        index.add("m", SEEDS["000"], published="2021-01-19", source="people")
        index.add("gone", SEEDS["004"])
        index.remove("gone")
        index.add("empty", "")
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with DedupIndex.open(path) as index:
        assert len(index) == 3
        assert "gone" not in index
        assert index.add("empty-too", "").duplicate_of is None
        result = index.add("reprint", SEEDS["002"], published="2021-01-19", source="szkp")
        assert result.duplicate_of == "orig" and result.cluster_id == "orig"
        assert result.story_id == index.lookup("m", SEEDS["000"], published="2021-01-19").story_id
        exact = index.lookup("x", ORIGINAL_002)
        assert exact.exact and exact.duplicate_of == "orig"
    with DedupIndex.open(path) as index:
        assert index.members("orig") == ["orig", "reprint"]


def test_rebuild_from_articles_keeps_their_ids(tmp_path: Path) -> None:
    articles = [
        Article(
            id="x1",
            url="http://a.cn/1",
            source="a",
            fetched="",
            text=ORIGINAL_002,
            cluster_id="c0",
            story_id="s0",
        ),
        Article(
            id="x2",
            url="http://b.cn/2",
            source="b",
            fetched="",
            text=SEEDS["002"],
            cluster_id="c0",
            story_id="s0",
        ),
        Article(id="x3", url="http://c.cn/3", source="c", fetched="", text=SEEDS["004"]),
    ]
    with DedupIndex.open(tmp_path / "dedup.sqlite") as index:
        index.add("stale", SEEDS["003"])
        assert index.rebuild(iter(articles)) == 3
        assert "stale" not in index
        assert index.members("c0") == ["x1", "x2"]
        assert index.lookup("y", SEEDS["004"]).duplicate_of == "x3"
    with DedupIndex.open(tmp_path / "dedup.sqlite") as index:
        assert len(index) == 3
        assert index.info("x2")["cluster_id"] == "c0"  # type: ignore[index]


# ------------------------------------------------------------------------------------------------------ pipeline
def _crawler(data: Path | None, backend: Any = None) -> Crawler:
    """A real Scrapy crawler of a crawl as ``crawlers.runner`` configures it: techscout's settings in
    ``TECHSCOUT_SETTINGS``, the store as the spider's ``backend``."""
    values = {"TECHSCOUT_SETTINGS": load_settings(data=str(data), env={})} if data is not None else {}
    crawler = get_crawler(Spider, values)
    crawler.spider = Spider.from_crawler(crawler, name="dedup-test", backend=backend)
    return crawler


def _article(doc_id: str, text: str, source: str, published: str | None = None) -> Article:
    """An article as the stages before dedup leave it (extracted text, search form from the normalize stage)."""
    a = Article(id=doc_id, url=f"http://{source}.cn/{doc_id}", source=source, fetched="2024-01-01T00:00:00Z")
    a.text = text
    a.published = published
    return NormalizePipeline().process_item(a)


def _crawl(data: Path, articles: list[Article]) -> tuple[list[Article], Crawler]:
    """The dedup stage and then the store stage over ``articles``, as a crawl runs them; the articles kept."""
    backend = open_backend(load_settings(data=str(data), env={}))
    crawler = _crawler(data, backend)
    dedup = DedupPipeline.from_crawler(crawler)
    store = StorePipeline.from_crawler(crawler)
    dedup.open_spider()
    kept = []
    try:
        for a in articles:
            try:
                kept.append(store.process_item(dedup.process_item(a)))
            except DropItem:
                pass
    finally:
        store.close_spider()
        dedup.close_spider()
        backend.close()
    return kept, crawler


def test_pipeline_needs_the_crawls_settings() -> None:
    with pytest.raises(NotConfigured, match="TECHSCOUT_SETTINGS"):
        DedupPipeline.from_crawler(_crawler(None))


def test_pipeline_takes_its_data_directory_from_the_settings_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHSCOUT_DATA", str(tmp_path / "elsewhere"))
    pipe = DedupPipeline.from_crawler(_crawler(tmp_path / "data"))
    assert pipe.path == tmp_path / "data" / "dedup.sqlite"
    pipe.open_spider()
    pipe.close_spider()
    assert (tmp_path / "data" / "dedup.sqlite").exists() and not (tmp_path / "elsewhere").exists()


def test_pipeline_marks_reprints_and_drops_same_source_copies(tmp_path: Path) -> None:
    crawler = _crawler(tmp_path)
    pipe = DedupPipeline.from_crawler(crawler)
    pipe.open_spider()
    first = pipe.process_item(_article("a1", ORIGINAL_002, "chinanews", "2021-01-18"))
    assert first.duplicate_of is None and first.cluster_id == "a1" and first.story_id == "a1"
    assert first.fingerprint == fingerprint(dedup_text(first.search_text))
    reprint = pipe.process_item(_article("b1", SEEDS["002"], "szkp", "2021-01-19"))
    assert reprint.duplicate_of == "a1" and reprint.cluster_id == "a1"
    copy = _article("b2", SEEDS["002"], "szkp", "2021-01-19")  # the same article under another URL
    with pytest.raises(DropItem, match="duplicate"):
        pipe.process_item(copy)
    other_site = pipe.process_item(_article("c1", ORIGINAL_002, "sina"))  # exact, other source: kept
    assert other_site.duplicate_of == "a1"
    assert crawler.stats.get_value("techscout/duplicates") == 3
    assert pipe.process_item({"not": "an article"}) == {"not": "an article"}
    pipe.close_spider()
    # the state outlives the crawl
    pipe = DedupPipeline.from_crawler(_crawler(tmp_path))
    pipe.open_spider()
    again = pipe.process_item(_article("d1", traditional(ORIGINAL_002), "people"))
    assert again.cluster_id == "a1"
    pipe.close_spider()


def test_pipeline_rebuilds_a_lost_index_from_the_store(tmp_path: Path) -> None:
    kept, _ = _crawl(tmp_path, [_article("a1", ORIGINAL_002, "chinanews", "2021-01-18")])
    assert kept[0].cluster_id == "a1"
    (tmp_path / "dedup.sqlite").unlink()
    kept, crawler = _crawl(tmp_path, [_article("b1", SEEDS["002"], "szkp", "2021-01-19")])
    assert kept[0].duplicate_of == "a1" and kept[0].cluster_id == "a1"
    assert crawler.stats.get_value("techscout/duplicates") == 1
    with DedupIndex.open(tmp_path / "dedup.sqlite") as index:
        assert index.members("a1") == ["a1", "b1"]


def test_pipeline_rebuilds_a_damaged_index(tmp_path: Path) -> None:
    _crawl(tmp_path, [_article("a1", ORIGINAL_002, "chinanews", "2021-01-18")])
    (tmp_path / "dedup.sqlite").write_bytes(b"this is not a database" * 100)
    kept, _ = _crawl(tmp_path, [_article("b1", SEEDS["002"], "szkp")])
    assert kept[0].duplicate_of == "a1"
    assert list(tmp_path.glob("dedup.sqlite.damaged-*"))


def test_pipeline_rebuilds_an_index_written_in_another_format(tmp_path: Path) -> None:
    _crawl(tmp_path, [_article("a1", ORIGINAL_002, "chinanews", "2021-01-18")])
    db = sqlite3.connect(tmp_path / "dedup.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = 'format'", (b"0:64:4:20:20",))
    db.commit()
    db.close()
    with pytest.raises(DedupError, match="rebuilt from the store"):
        DedupIndex.open(tmp_path / "dedup.sqlite")
    kept, _ = _crawl(tmp_path, [_article("b1", SEEDS["002"], "szkp")])
    assert kept[0].duplicate_of == "a1"
    assert list(tmp_path.glob("dedup.sqlite.damaged-*"))


# ----------------------------------------------------------------------------------------------------------- CLI
def test_cli_dedup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        {
            "id": "o",
            "url": "http://www.chinanews.com/1",
            "title": "三年行动计划",
            "text": ORIGINAL_002,
            "published": "2021-01-18",
        },
        {
            "id": "r",
            "url": "http://www.szkp.org.cn/2",
            "title": "轉載",
            "text": SEEDS["002"],
            "published": "2021-01-19",
        },
        {
            "id": "m",
            "url": "http://www.people.com.cn/3",
            "title": "",
            "text": SEEDS["000"],
            "published": "2021-01-19",
        },
        {
            "id": "p",
            "url": "http://www.cast.org.cn/4",
            "title": "",
            "text": SEEDS["003"],
            "published": "2020-04-09",
        },
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    assert cli.main(["dedup", "--jsonl", str(path), "--data", str(tmp_path)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["o", "r", "m", "p"]
    assert set(out[0]) == {"id", "duplicate_of", "cluster_id", "story_id"}
    assert out[0]["duplicate_of"] is None
    assert out[1]["duplicate_of"] == "o" and out[1]["cluster_id"] == "o"
    assert out[2]["duplicate_of"] is None and out[2]["story_id"] == "o"
    assert out[3]["story_id"] == "p"
    assert not (tmp_path / "dedup.sqlite").exists()  # in memory


def test_cli_dedup_rejects_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "x"}\nnot json\n', encoding="utf-8")
    assert cli.main(["dedup", "--jsonl", str(path), "--data", str(tmp_path)]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_cli_dedup_rebuilds_the_index_from_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _crawl(tmp_path, [_article("a1", ORIGINAL_002, "chinanews", "2021-01-18"), _article("m", SEEDS["000"], "people")])
    (tmp_path / "dedup.sqlite").write_bytes(b"damaged" * 100)
    assert cli.main(["dedup", "--rebuild", "--data", str(tmp_path)]) == 0
    assert "2 documents" in capsys.readouterr().out
    with DedupIndex.open(tmp_path / "dedup.sqlite") as index:
        assert len(index) == 2
        assert index.lookup("b1", SEEDS["002"]).duplicate_of == "a1"


def test_cli_dedup_warm(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["dedup", "--warm"]) == 0
    assert "kernels" in capsys.readouterr().out
    assert cli.main(["dedup", "--warm"]) == 0  # once warm, nothing is compiled again
    assert "all loaded from the cache" in capsys.readouterr().out
