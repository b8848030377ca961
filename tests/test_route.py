"""Routing into the problem, project and talent libraries (pipelines/route.py)."""

from __future__ import annotations

import json
import re
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


# ----------------------------------------------------------------------------------------------------------
# the ways texts present people
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a title before or after the name, with a space between
        ("报告人：赵立明 教授（武汉大学）", [("赵立明", "武汉大学")]),
        ("主讲人：中国工程院院士 钱开元", [("钱开元", "")]),
        # a team named after its leader; names listed before 等
        ("中山大学化学学院黎明团队在《科学》发表成果。", [("黎明", "中山大学化学学院")]),
        ("西湖大学周海峰、陈思远等组成的研究团队发现了新机制。", [("周海峰", "西湖大学"), ("陈思远", "")]),
        # bracketed organisations in a list; an organisation then the name
        (
            "当选名单：孟庆华（山东大学）、何晓东（兰州大学）。",
            [("孟庆华", "山东大学"), ("何晓东", "兰州大学")],
        ),
        ("公示名单：重庆大学 邓立新；贵州大学 罗志远。", [("邓立新", "重庆大学"), ("罗志远", "贵州大学")]),
        # an honour list after the award
        ("本届青年科学奖授予冯晓东、梁慧敏，以表彰其贡献。", [("冯晓东", ""), ("梁慧敏", "")]),
        # a sentence opening with the name that describes the person
        ("许文涛，中国科学院院士，厦门大学化学系教授。", [("许文涛", "")]),
        ("邵明华是中国农业大学动物医学院研究员，长期研究兽用疫苗。", [("邵明华", "中国农业大学动物医学院")]),
        # names beside a rare surname only with a title
        ("特聘教授衣立成出席。", [("衣立成", "")]),
    ],
)
def test_ways_of_presenting_people(text: str, expected: list[tuple[str, str]]) -> None:
    got = extract_talents(text)
    assert [t.name for t in got] == [n for n, _ in expected]
    for t, (_, aff) in zip(got, expected, strict=True):
        assert aff in t.affiliation


def test_paper_authors_with_numbered_affiliations() -> None:
    text = (
        "作者：宋立新1，黄雨婷2，邹海平1\n（1. 东北大学 材料科学与工程学院，辽宁 沈阳 110819；"
        "2. 沈阳某新材料有限公司，辽宁 沈阳 110000）\n摘要：研究了热处理对镁合金组织的影响。\n关键词：镁合金"
    )
    got = {t.name: t.affiliation for t in extract_talents(text)}
    assert set(got) == {"宋立新", "黄雨婷", "邹海平"}
    assert got["宋立新"].startswith("东北大学") and got["邹海平"].startswith("东北大学")
    assert got["黄雨婷"].startswith("沈阳某新材料有限公司")
    # in a news story the writer named after 作者 is a byline, not a talent
    assert _names(extract_talents("作者：宋立新\n清华大学教授王明介绍了研究进展。")) == ["王明"]


def test_common_words_and_idioms_are_not_names() -> None:
    text = (
        "院士工作站揭牌。博士学位获得者应具有创新能力。全球高被引科学家名单发布。专家组齐聚一堂，为大力弘扬科学家精神"
        "建言。诸如此类的活动很多。"
    )
    assert extract_talents(text) == []


def test_a_profile_names_its_subject() -> None:
    text = (
        "2018年博士毕业后，何静怡来到云南的一个山村。何静怡在村里建起了三七病害防控示范基地。乡亲们说，何静怡是他们"
        "的技术靠山。"
    )
    assert extract_talents(text) == []  # read alone, nobody is presented as an expert
    assert _names(extract_talents(text, profile=True)) == ["何静怡"]  # a talent profile keeps naming her


def test_traditional_names_are_reported_as_written_and_share_the_simplified_id() -> None:
    from pipelines.route import talents_of

    text = "國立臺灣大學電機系教授陳鴻銘團隊研發出新型晶片。"
    doc = {"id": "t", "title": "", "text": text}
    cls = SimpleNamespace(
        content_type="achievement", scitech_relevant=True, domains=["电子信息"], region="台湾省"
    )
    found = talents_of(doc, cls)
    assert [t["name"] for t in found] == ["陳鴻銘"]
    assert found[0]["affiliation"].startswith("國立臺灣大學")
    assert talent_id("陳鴻銘", "國立臺灣大學電機系") == talent_id("陈鸿铭", "国立台湾大学电机系")


def test_each_person_gets_a_domain_from_their_own_context() -> None:
    from pipelines.route import talents_of

    text = (
        "会上，北京大学生命科学学院教授韩立群介绍了基因编辑治疗遗传病的进展；中国科学院物理研究所研究员秦振宇介绍了"
        "高温超导材料的最新研究。"
    )
    cls = SimpleNamespace(content_type="event", scitech_relevant=True, domains=["电子信息"], region="北京市")
    got = {t["name"]: t["domains"] for t in talents_of({"id": "e", "title": "", "text": text}, cls)}
    assert got["韩立群"][0] == "生物医药"
    assert got["秦振宇"][0] == "新材料"
    # without field words near the name the document's lead domain stands in
    plain = talents_of({"id": "e", "title": "", "text": "王建华教授出席了会议。"}, cls)
    assert plain[0]["domains"] == ["电子信息"] and plain[0]["domain_evidence"] == ["document"]


def test_an_added_title_in_the_lexicon_finds_a_new_talent(tmp_path: Path) -> None:
    import yaml

    from pipelines.route.lexicon import SHIPPED_PEOPLE, load_people

    text = "省图书馆研究馆员陶慧珍介绍了古籍数字化工作。"
    assert extract_talents(text) == []
    data = yaml.safe_load(SHIPPED_PEOPLE.read_text(encoding="utf-8"))
    data["titles"].append("研究馆员")
    path = tmp_path / "people.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert _names(extract_talents(text, lexicon=load_people(path))) == ["陶慧珍"]


def test_a_bad_lexicon_is_a_clear_error(tmp_path: Path) -> None:
    from core.errors import ConfigError
    from pipelines.route.lexicon import load_people

    path = tmp_path / "people.yaml"
    path.write_text("titles: 教授\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="titles"):
        load_people(path)
    path.write_text("tittles: [教授]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_people(path)


# ----------------------------------------------------------------------------------------------------------
# key numbers
# ----------------------------------------------------------------------------------------------------------
def test_key_numbers_are_whole_words() -> None:
    from pipelines.route import key_numbers
    from pipelines.segment import segment

    text = (
        "研究团队通过引入锂镁共掺杂策略，有效抑制了高电压下的不可逆相变，使材料在高电压下循环五百次后容量保持率达到"
        "92%以上，远高于同类材料的水平。该设备晶圆减薄后厚度偏差控制在正负1微米以内，已申请发明专利27项。"
    )
    numbers = key_numbers(text)
    assert any("92%" in n for n in numbers) and any("27项" in n for n in numbers)
    for n in numbers:
        clause = next(c for c in re.split(r"[，。]", text) if n in c)
        cut = segment(clause, keep_single=True)
        bounds = {0}
        pos = 0
        for w in cut:
            pos += len(w)
            bounds.add(pos)
        start = clause.find(n)
        assert start in bounds and start + len(n) in bounds, n  # never cut inside a word
