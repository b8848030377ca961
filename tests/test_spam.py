"""Injected spam phrases: removed and listed, articles never dropped, sci-tech prose left alone."""

from __future__ import annotations

import pytest

from core.items import Article
from pipelines.spam import SpamPipeline, clean_spam, find_spam


def test_gambling_brand_phrase_inside_prose_is_removed() -> None:
    text = "重点任务包括推出星空体育官网入口网站服務係列產品、發布榜單。"
    r = clean_spam("標題", text)
    assert r.found == ["星空体育官网入口网站"]
    assert r.text == "重点任务包括推出服務係列產品、發布榜單。"
    assert r.title == "標題"


def test_phrase_in_brackets_leaves_no_empty_brackets() -> None:
    r = clean_spam("", "回複【觀鳥星空体育官网入口网站】,學習觀鳥相關科普")
    assert r.text == "回複【觀鳥】,學習觀鳥相關科普"


def test_porn_headline_segments_are_removed() -> None:
    title = "日韩无码视频免费看_亚洲综合色一区二区三区_国产成人久久AV免费看国语版"
    r = clean_spam(title, "正文第一段。")
    assert r.title == ""
    assert len(r.found) == 3
    assert r.text == "正文第一段。"


def test_lucky_number_brand_tokens_next_to_gambling_words() -> None:
    found = find_spam("本次活动由bet365体育冠名，欢迎关注。还有开云体育app下载。")
    assert "bet365" in found
    assert any("开云体育app下载" in f for f in found)


@pytest.mark.parametrize(
    "text",
    [
        "国家体育总局与科技部联合发布体育科技创新专项规划，推动智能体育装备研发。",
        "中国福利彩票发行管理中心公布年度公益金使用情况，支持社会福利事业。",
        "该芯片基于5G和Wi-Fi 6标准，采用RTX4090显卡测试，兼容GB18030编码。",
        "会议在一区二区三区分别设立分会场，院士专家作主题报告。",
        "研究团队在H7N9疫苗、PM2.5治理和U30青年创新创业方面取得进展。",
        "平台提供供需发布、成果评价等功能，用户登录后可在线提交需求。",
        "科协官网发布通知，请各学会通过官网申报入口提交材料。",
        "久久为功，持续推进关键核心技术攻关。",
    ],
)
def test_legitimate_scitech_text_is_not_spam(text: str) -> None:
    r = clean_spam("科技新闻", text)
    assert r.found == []
    assert r.text == text


def test_pipeline_cleans_flags_and_never_drops() -> None:
    art = Article(
        id="a",
        url="u",
        source="s",
        fetched="t",
        title="科创中国三年行动计划",
        text="推出星空体育官网入口网站服务系列产品。\n\n第二段正文。",
    )
    out = SpamPipeline().process_item(art)
    assert out is art
    assert out.text == "推出服务系列产品。\n\n第二段正文。"
    assert out.spam == ["星空体育官网入口网站"]
    assert out.repairs == ["spam-removed"]
    assert SpamPipeline().process_item("not an article") == "not an article"
