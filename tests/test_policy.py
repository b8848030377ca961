"""Policy documents read as policy documents, on real pages of several sites (tests/fixtures/extract/policy,
origins in its README): the metadata table's fields, titles and dates preferred over running text, an order's
header, number, signature and date kept, and every field printed by ``techscout extract --jsonl``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.extract import Extraction, clean_text_document, extract_bytes
from pipelines.extract.decode import decode_html
from pipelines.extract.policy import document_fields, policy_fields, read_table

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "tests" / "fixtures" / "extract" / "policy"
GOLD: dict[str, dict[str, Any]] = json.loads((POLICY / "gold.json").read_text(encoding="utf-8"))


def _extract(name: str) -> Extraction:
    body = (POLICY / name).read_bytes()
    if name.endswith(".txt"):
        return clean_text_document(decode_html(body).text)
    return extract_bytes(body, GOLD[name]["url"])


def _bare(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("name", sorted(GOLD))
def test_real_policy_pages(name: str) -> None:
    gold = GOLD[name]
    ext = _extract(name)
    assert _bare(ext.title) == _bare(gold["title"])
    assert (ext.published or "")[:10] == gold["published"]
    for field, value in gold["fields"].items():
        assert ext.fields.get(field) == value, field
    body = _bare(ext.text)
    for needle in gold["body_has"]:
        assert _bare(needle) in body
    for needle in gold["body_not"]:
        assert _bare(needle) not in body


def test_table_fields_beat_running_text_and_the_site_header() -> None:
    ext = _extract("govcn-guofa-2018-43.html")
    # the body names other dates and documents; the table's 发布日期 and 标题 win
    assert ext.published == "2018-12-29T00:00:00+08:00"
    assert ext.fields["标题"] == ext.title
    assert ext.text.startswith(
        "国发〔2018〕43号\n\n各省、自治区、直辖市人民政府"
    )  # number line kept, split title lines not
    assert ext.text.endswith("国务院\n\n2018年12月21日")  # the signature and the date of writing


def test_label_spellings_come_from_the_data_file() -> None:
    lines = ["索 引 号：", "000014349/2018-00222", "发文机构：", "科学技术部", "发布机关：", "不应覆盖", "成文日期：",
             "2021年3月1日", "文　　号：", "国科发区〔2021〕12号", "时效性：", "现行有效"]  # fmt: skip
    table = read_table(lines)
    assert table.fields == {
        "索引号": "000014349/2018-00222",
        "发文机关": "科学技术部",
        "成文日期": "2021-03-01",
        "发文字号": "国科发区〔2021〕12号",
        "有效性": "现行有效",
    }
    assert (table.first, table.last) == (0, 11)
    # traditional script and several pairs on one line, as header blocks write them
    assert policy_fields("發文機關：國務院辦公廳　成文日期：2021年7月16日　發文字號：國辦發〔2021〕26號") == {
        "发文机关": "國務院辦公廳",
        "成文日期": "2021-07-16",
        "发文字号": "國辦發〔2021〕26號",
    }


def test_order_numbers_in_a_table() -> None:
    fields = policy_fields("索引号：000014349/2020-00043\n发布机构：全国人大常委会\n文号：主席令第四十三号")
    assert fields["发文字号"] == "主席令第四十三号"
    assert fields["发文机关"] == "全国人大常委会"


def test_a_news_byline_is_not_a_policy_table() -> None:
    assert policy_fields("发布时间：2021-01-19 来源：科技日报 作者：张三\n\n正文讲述科技成果转化。") == {}
    assert policy_fields("信息来源：人民网　发布日期：2020-05-06") == {}


@pytest.mark.parametrize(
    ("lines", "number"),
    [
        (
            ["中华人民共和国主席令", "第四十三号", "《中华人民共和国XX法》已由…通过，现予公布。"],
            "中华人民共和国主席令第四十三号",
        ),
        (["国务院令", "（第708号）"], "国务院令第708号"),
        (["中国证券监督管理委员会令（第182号）"], "中国证券监督管理委员会令（第182号）"),
        (["国家税务总局公告2018年第31号"], "国家税务总局公告2018年第31号"),
        (["国办发〔2021〕26号"], "国办发〔2021〕26号"),
    ],
)
def test_document_numbers_of_orders_and_notices(lines: list[str], number: str) -> None:
    assert document_fields(lines)["发文字号"] == number


def test_an_order_keeps_its_header_number_body_signature_and_date() -> None:
    ext = _extract("order-hehuoqiyefa-2006.txt")
    assert ext.text.split("\n\n") == [
        "中华人民共和国主席令第五十五号",
        "《中华人民共和国合伙企业法》已由中华人民共和国第十届全国人民代表大会常务委员会第二十三次会议于2006年8月27日"
        "修订通过，现将修订后的《中华人民共和国合伙企业法》公布，自2007年6月1日起施行。",
        "中华人民共和国主席 胡锦涛",
        "2006年8月27日",
    ]
    assert ext.fields == {"发文字号": "中华人民共和国主席令第五十五号", "发文机关": "中华人民共和国主席",
                          "成文日期": "2006-08-27"}  # fmt: skip


def test_cli_jsonl_prints_every_field(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli", "extract", str(POLICY / "govcn-guofa-2018-43.html"), "--jsonl"],
        capture_output=True, text=True, cwd=REPO, check=True, timeout=60,
    )  # fmt: skip
    row = json.loads(out.stdout)
    assert set(row) == {"id", "url", "title", "text", "published", "author", "outlet", "source", "language",
                        "repairs", "spam", "fields", "attachments"}  # fmt: skip
    assert row["fields"]["发文字号"] == "国发〔2018〕43号"
    assert row["fields"]["发文机关"] == "国务院"
    assert row["source"] == row["outlet"]
