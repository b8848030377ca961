"""Routing into the problem, project and talent libraries (pipelines/route.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.items import Article
from pipelines.classify import classify, classify_article
from pipelines.route import RoutePipeline, Talent, extract_talents, route, route_article, talent_id

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "tests" / "fixtures" / "classify" / "examples.jsonl"


def _examples() -> dict[str, dict[str, Any]]:
    return {ex["id"]: ex for ex in map(json.loads, EXAMPLES.open(encoding="utf-8"))}


def _names(talents: list[Talent]) -> list[str]:
    return [t.name for t in talents]


# ----------------------------------------------------------------------------------------------------------
# talents
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中国工程院院士王小谟出席会议并讲话。", [("王小谟", "中国工程院院士", "")]),
        ("南京大学黄贤金教授作了学术报告。", [("黄贤金", "教授", "南京大学")]),
        (
            "中国政法大学传播法中心研究员朱巍认为，涨价不可持续。",
            [("朱巍", "研究员", "中国政法大学传播法中心")],
        ),
        ("会议由西南大学地理科学学院杨庆媛教授主持。", [("杨庆媛", "教授", "西南大学地理科学学院")]),
        (
            "湖南中医药大学附属第一医院主任药师张裕民应邀担任评委。",
            [("张裕民", "主任药师", "湖南中医药大学附属第一医院")],
        ),
        ("北京生命科学研究所邵峰荣获生命科学奖。", [("邵峰", "", "北京生命科学研究所")]),
        ("王建国，男，1968年生，博士，研究员。", [("王建国", "研究员", "")]),
        (
            "物理研究所王海涛、清华大学教授李卫东获物质科学奖。",
            [("王海涛", "", "物理研究所"), ("李卫东", "教授", "清华大学")],
        ),
        (
            "但是，化学研究中心材料研究部的郭立新却撰文指出，改革难以推进。",
            [("郭立新", "", "化学研究中心材料研究部")],
        ),
        ("这时，他与老同学周明华取得了联系，周明华已在北京大学中文系任教。", [("周明华", "", "北京大学")]),
        ("文章引用：孙晓梅. 城市物流配送的问题及对策研究[J]. 现代市场营销, 2019.", [("孙晓梅", "", "")]),
    ],
)
def test_talents_with_title_and_affiliation(text: str, expected: list[tuple[str, str, str]]) -> None:
    got = extract_talents(text)
    assert [(t.name, t.affiliation) for t in got] == [(n, a) for n, _, a in expected]
    for t, (_, title, _) in zip(got, expected, strict=True):
        assert title in t.title


def test_journalists_and_editors_are_not_talents() -> None:
    text = "本报记者 张伟 通讯员 李强 报道：清华大学教授王磊团队研发成功新型芯片。\n责任编辑：赵敏 编辑：孙丽"
    assert _names(extract_talents(text)) == ["王磊"]
    assert _names(extract_talents("记者王磊专家采访了多位市民。")) == []


def test_administrative_roles_alone_are_not_talents() -> None:
    # 董事长 of a company, 书记 and 市长 are not experts; 所长 of a research institute is
    assert extract_talents("龙湖集团董事长吴亚军表示，公司经营稳健。市长李华出席。") == []
    got = extract_talents("中科院高能物理研究所所长王贻芳介绍了实验进展。")
    assert [(t.name, t.affiliation) for t in got] == [("王贻芳", "中科院高能物理研究所")]
    # a company head with a technical title is
    got = extract_talents("阿里巴巴集团首席技术官兼阿里云智能总裁张建锋发布了芯片。")
    assert [(t.name, t.title, t.affiliation) for t in got] == [
        ("张建锋", "首席技术官兼阿里云智能总裁", "阿里巴巴集团")
    ]


def test_people_near_an_institute_without_an_expert_role_are_not_talents() -> None:
    assert _names(extract_talents("北京大学王明华说他明天去旅行。物理研究所食堂的饭菜很好。")) == []
    assert _names(extract_talents("张晓明在北京大学门口卖水果。")) == []


def test_words_that_look_like_names_are_not_talents() -> None:
    text = "百余名院士专家参加。专家高度评价该成果。人文地理学者齐聚一堂。科学家和企业家共同探讨。"
    assert extract_talents(text) == []


def test_one_entry_per_person_in_a_document() -> None:
    text = "浙江大学教授陈明介绍了成果。陈明教授表示，团队将继续攻关。陈明教授还指出了方向。"
    got = extract_talents(text)
    assert _names(got) == ["陈明"]
    assert got[0].affiliation == "浙江大学"


def test_talents_of_the_examples() -> None:
    found = gold = 0
    wrong: list[str] = []
    for ex in _examples().values():
        names = set(_names(extract_talents(ex["text"], ex["title"])))
        expected = {t["name"] for t in ex["talents"]}
        found += len(names & expected)
        gold += len(expected)
        wrong += sorted(names - expected)
    assert found >= 0.8 * gold
    assert len(wrong) <= 1, wrong


# ----------------------------------------------------------------------------------------------------------
# entries
# ----------------------------------------------------------------------------------------------------------
def _route(ex: dict[str, Any]) -> list[dict[str, Any]]:
    c = classify(ex["title"], ex["text"], url=ex["url"])
    return route({"id": ex["id"], "title": ex["title"], "text": ex["text"]}, c)


def test_problem_entry_fields() -> None:
    ex = _examples()["demand-1"]
    entries = _route(ex)
    assert [e["library"] for e in entries] == ["problem"]
    e = entries[0]
    assert e["id"].startswith("problem-") and e["doc_ids"] == ["demand-1"]
    assert e["organization"] == "宁德某新能源科技有限公司"
    assert e["deadline"] == "2024年12月31日"
    assert e["budget"] == "200万元"
    assert "新能源与节能环保" in e["domains"]
    assert e["region"] == "福建省"
    assert "缺陷" in e["name"] and e["contact"].startswith("陈工")


def test_project_entry_fields() -> None:
    ex = _examples()["achievement-2"]
    entries = _route(ex)
    projects = [e for e in entries if e["library"] == "project"]
    assert len(projects) == 1
    p = projects[0]
    assert p["name"] == ex["title"]
    assert p["owner"] == "中铁工程装备集团有限公司"
    assert p["stage"] == "小批量生产"
    assert any("12项" in n for n in p["key_numbers"])
    assert p["domains"] == ["装备制造"]


def test_not_relevant_documents_have_no_entries() -> None:
    ex = _examples()["other-1"]
    assert _route(ex) == []


def test_talent_ids_are_stable_across_documents() -> None:
    a = {"id": "doc-a", "title": "", "text": "清华大学教授李明团队发布成果，研发芯片。"}
    b = {"id": "doc-b", "title": "", "text": "会上，清华大学教授李明作了芯片设计的报告。"}
    cls = SimpleNamespace(content_type="news", scitech_relevant=True, domains=["电子信息"], region="北京市")
    ea = [e for e in route(a, cls) if e["library"] == "talent"]
    eb = [e for e in route(b, cls) if e["library"] == "talent"]
    assert ea[0]["id"] == eb[0]["id"] == talent_id("李明", "清华大学")
    assert ea[0]["doc_ids"] == ["doc-a"] and eb[0]["doc_ids"] == ["doc-b"]
    assert talent_id("李明", "北京大学") != ea[0]["id"]
    # abbreviations of an affiliation name the same institution
    assert talent_id("王贻芳", "中科院高能物理研究所") == talent_id("王贻芳", "中国科学院高能物理研究所")


def test_pipeline_sets_libraries_and_entries() -> None:
    ex = _examples()["talent-2"]
    art = Article(id="t2", url="", source="s", fetched="", title=ex["title"], text=ex["text"])
    classify_article(art)
    assert RoutePipeline().process_item(art) is art
    assert art.libraries == ["talent"]
    assert [(e["library"], e["name"], e["affiliation"]) for e in art.entries] == [
        ("talent", "李明", "清华大学电子工程系")
    ]
    for e in art.entries:
        assert {"id", "library", "name", "doc_ids"} <= set(e)
    # an article that is not a sci-tech resource goes nowhere
    other = Article(
        id="o1", url="", source="s", fetched="", title="足球", text="球队主场获胜。", scitech_relevant=False
    )
    assert route_article(other) == [] and other.libraries == []
