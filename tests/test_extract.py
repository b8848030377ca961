"""Article extraction: titles, bodies, bylines, dates, boilerplate, tables, policy fields, attachments,
plain-text dumps, bad input, the Scrapy pipeline and the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import DropItem

from core.items import Article, Page, doc_id_for
from pipelines.extract import (
    ArticleDropped,
    Extraction,
    ExtractPipeline,
    clean_text_document,
    clean_title,
    extract_article,
    extract_bytes,
)
from pipelines.extract.attachments import attachment_text, find_attachments
from pipelines.extract.boilerplate import is_boilerplate
from pipelines.extract.bylines import parse_byline
from pipelines.extract.dates import date_from_url, find_dates, parse_date
from pipelines.extract.policy import policy_fields

REPO = Path(__file__).resolve().parent.parent
FIX = REPO / "tests" / "fixtures" / "extract"
POLICY_URL = "http://www.gov.cn/zhengce/content/2021-08/02/content_5628987.htm"


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


# -- titles ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("我国科学家研制出新型电池_科技频道_人民网", "我国科学家研制出新型电池"),
        ("我国科学家研制出新型电池 - 新华网", "我国科学家研制出新型电池"),
        ("农业科技成果转化取得新成效--新闻中心", "农业科技成果转化取得新成效"),
        ("人民网 | 我国科学家研制出新型电池", "我国科学家研制出新型电池"),
        ("没有后缀的标题", "没有后缀的标题"),
    ],
)
def test_clean_title_cuts_site_names(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


def test_title_prefers_headline_over_logo_h1_and_title_suffix() -> None:
    ext = extract_article(fixture("news.html"), "http://scitech.people.com.cn/n1/2023/0315/c1007-1.html")
    assert ext.title == "我国科学家研制出新型钙钛矿太阳能电池"


def test_title_from_headline_block_without_h1() -> None:
    html = (
        "<html><body><div><a href='/'>首页</a> <a href='/x'>新闻</a></div>"
        "<div>国产大飞机完成首次商业载客飞行</div><div>发布时间：2023-05-28 12:31 来源：新华社</div>"
        "<div><p>"
        + "国产大型客机顺利完成首次商业载客飞行，标志着我国民航业取得新突破。" * 4
        + "</p></div></body></html>"
    )
    ext = extract_article(html)
    assert ext.title == "国产大飞机完成首次商业载客飞行"


def test_selectors_take_precedence() -> None:
    html = fixture("news.html")
    ext = extract_article(html, selectors={"title": "div.crumbs", "body": "div.content p:nth-of-type(2)"})
    assert ext.title == "首页 > 科技"
    assert "selector-body" in ext.repairs
    assert ext.text.startswith("研究人员介绍") and "记者从中国科学院获悉" not in ext.text
    # selectors that match nothing, or only links, leave the page to the general rules
    for body in ("div.nothing-here", "div.related", "a[href=["):
        ext = extract_article(html, selectors={"body": body})
        assert "selector-body" not in ext.repairs
        assert ext.text.startswith("记者从中国科学院获悉")


# -- body and boilerplate --------------------------------------------------------------------------------------
def test_news_body_without_navigation_credits_or_footer() -> None:
    ext = extract_article(fixture("news.html"), "http://scitech.people.com.cn/n1/2023/0315/c1007-1.html")
    paragraphs = ext.text.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[0].startswith("记者从中国科学院获悉")
    assert paragraphs[2].endswith("团队将与企业合作开展中试验证。")
    for junk in ("首页", "分享到", "责编", "版权所有", "相关新闻", "ICP", "脚本内容"):
        assert junk not in ext.text
    assert "boilerplate-removed" in ext.repairs
    assert ext.language == "zh"


def test_byline_fields_of_news_page() -> None:
    ext = extract_article(fixture("news.html"), "http://scitech.people.com.cn/n1/2023/0315/c1007-1.html")
    assert ext.published == "2023-03-15T08:30:00+08:00"
    assert ext.author == "张三"
    assert ext.outlet == "人民网－科技频道"


def test_table_layout_gb2312_page() -> None:
    raw = fixture("table_layout.html").encode("gb18030")
    ext = extract_bytes(raw, "http://www.example.cn/news/2005/0816/1.html")
    assert ext.title == "农业科技成果转化取得新成效"
    assert ext.published == "2005-08-16T10:21:00+08:00"
    assert ext.author == "刘国栋"
    assert ext.outlet == "农民日报"
    assert ext.text.count("\n\n") == 2
    assert "热点新闻" not in ext.text and "打印本页" not in ext.text and "备案号" not in ext.text


@pytest.mark.parametrize(
    "line",
    [
        "(责编：程宏毅)",
        "（责任编辑：杨虞波罗、初梓瑞）",
        "分享让更多人看到",
        "分享到：微信 微博",
        "扫一扫在手机打开当前页",
        "【打印本页】【关闭窗口】",
        "各界新聞網 版權所有 Copyright(C) 2006-2020 gjnews.cn All Rights Reserved",
        "京ICP备05070218号",
        "　　《 人民日报 》（ 2021年01月19日   12 版）",
        "相關熱詞: 科技服務 創業平台",
        "上一篇：科技部部署重点研发计划",
    ],
)
def test_boilerplate_lines(line: str) -> None:
    assert is_boilerplate(line, edge=True)


@pytest.mark.parametrize(
    "line",
    [
        "中国科协召开2020“科创中国”年度工作会议，登录系统后可查询相关成果。",
        "近日，来源于高校的成果转化项目签约落地，版权归属明确，企业可放心使用。",
        "研究团队介绍，该成果的来源是长期的基础研究积累。",
    ],
)
def test_prose_is_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line, edge=True)


# -- bylines and dates -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "outlet", "author", "editor"),
    [
        ("2022-04-08 14:43:53  來源:光明網  ", "光明網", "", ""),
        ("来源：人民网-人民日报  作者：张三 李四  2021-01-19", "人民网-人民日报", "张三 李四", ""),
        ("中新網北京1月18日電 (記者 孫自法)中國科協", "", "孫自法", ""),
        ("(责编：杨虞波罗、初梓瑞)", "", "", "杨虞波罗、初梓瑞"),
        ("文/李四 | 2020-01-01", "", "李四", ""),
        ("发布时间：2020-04-09 来源：科技部 浏览次数：12", "科技部", "", ""),
        ("本报记者 王建宏 张文攀 通讯员 刘", "", "王建宏 张文攀", ""),
        ("记者了解到，该项目进展顺利", "", "", ""),
        ("作者：周思博 (Joel Spolsky)", "", "周思博", ""),
    ],
)
def test_byline_layouts(text: str, outlet: str, author: str, editor: str) -> None:
    b = parse_byline(text)
    assert (b.outlet, b.author, b.editor) == (outlet, author, editor)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("发布时间：2021-01-19 12:30:45", "2021-01-19T12:30:45+08:00"),
        ("2021年1月19日 12:30", "2021-01-19T12:30:00+08:00"),
        ("日期：2020/4/9", "2020-04-09T00:00:00+08:00"),
        ("2021.01.19", "2021-01-19T00:00:00+08:00"),
        ("成文日期：二〇二一年七月十六日", "2021-07-16T00:00:00+08:00"),
        ("发布日期： 9/17/2004 5:54:13 PM", "2004-09-17T17:54:13+08:00"),
        ("2021-03-05T10:00:00+02:00", "2021-03-05T10:00:00+02:00"),
    ],
)
def test_date_layouts(text: str, iso: str) -> None:
    assert find_dates(text)[0].iso == iso


def test_dates_reject_impossible_and_future_values() -> None:
    assert find_dates("2021-02-30") == []
    assert find_dates("3021-01-01") == []
    assert find_dates("编号20210119号") == []
    assert find_dates("发布时间：2021-01-19")[0].labelled
    assert parse_date("Tue, 19 Jan 2021 08:00:00 GMT") == "2021-01-19T08:00:00+00:00"
    assert parse_date("20210119") == "2021-01-19T00:00:00+08:00"
    assert parse_date("not a date") is None
    assert date_from_url("http://x.cn/c/t20210408_123.html") == "2021-04-08T00:00:00+08:00"
    assert date_from_url("http://x.cn/about.html") is None


def test_feed_entry_is_fallback_evidence() -> None:
    html = "<html><body><p>" + "一段没有日期也没有标题的正文，讲述科技创新的故事。" * 5 + "</p></body></html>"
    ext = extract_article(
        html,
        feed_entry={"title": "订阅源里的标题", "published": "2022-02-13T07:00:00+08:00", "author": "李楠"},
    )
    assert ext.title == "订阅源里的标题"
    assert ext.published == "2022-02-13T07:00:00+08:00"
    assert ext.author == "李楠"


# -- policy pages and attachments -----------------------------------------------------------------------------
def test_policy_fields_and_attachments() -> None:
    ext = extract_article(fixture("policy.html"), POLICY_URL)
    assert ext.title == "国务院办公厅关于完善科技成果评价机制的指导意见"
    assert ext.fields["发文字号"] == "国办发〔2021〕26号"
    assert ext.fields["发文机关"] == "国务院办公厅"
    assert ext.fields["成文日期"] == "2021-07-16"
    assert ext.fields["发布日期"] == "2021-08-02"
    assert ext.published is not None and ext.published.startswith("2021-08-02")
    types = [a["type"] for a in ext.attachments]
    assert types == ["pdf", "docx", "wps", "ofd"]
    assert ext.attachments[0] == {
        "url": "http://www.gov.cn/files/2021/guide.pdf",
        "name": "科技成果评价指标参考.pdf",
        "type": "pdf",
    }
    assert ext.text.startswith("各省、自治区、直辖市人民政府")


def test_policy_fields_inline_and_validity() -> None:
    text = "发文字号：科协发〔2020〕5 号\n发文机关：中国科协\n有效性：现行有效\n成文日期：2020年4月8日"
    fields = policy_fields(text)
    assert fields == {
        "发文字号": "科协发〔2020〕5号",
        "发文机关": "中国科协",
        "有效性": "现行有效",
        "成文日期": "2020-04-08",
    }
    assert policy_fields("发布时间：2021-01-19 来源：人民网 正文讲述科技成果。") == {}


def _pdf_bytes(text: str) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _docx_bytes(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_attachment_text_pdf_docx_and_junk() -> None:
    assert "Science and technology evaluation" in attachment_text(
        _pdf_bytes("Science and technology evaluation"), "guide.pdf", "application/pdf"
    )
    docx_text = attachment_text(_docx_bytes(["科技成果评价指标", "第二条 评价标准"]), "table.docx", None)
    assert docx_text == "科技成果评价指标\n\n第二条 评价标准"
    assert attachment_text(b"%PDF-1.4 garbage that is not a pdf", "x.pdf", None) == ""
    assert attachment_text(b"PK\x03\x04 not a docx", "x.docx", None) == ""
    assert attachment_text(b"", "x.pdf", None) == ""
    assert attachment_text(b"plain", "x.wps", None) == ""


def test_find_attachments_by_link_text() -> None:
    from lxml import html as lxml_html

    root = lxml_html.fromstring(
        "<div><a href='/download?id=7'>附件：申报指南.pdf</a><a href='/page.html'>正文</a>"
        "<a href='/a.PDF'>大写</a><a href='/a.PDF'>重复</a></div>"
    )
    found = find_attachments(root, "http://www.most.gov.cn/tztg/")
    assert [(a["url"], a["type"]) for a in found] == [
        ("http://www.most.gov.cn/download?id=7", "pdf"),
        ("http://www.most.gov.cn/a.PDF", "pdf"),
    ]


# -- plain-text seeds ------------------------------------------------------------------------------------------
SEEDS = FIX / "seeds"


def _seed(prefix: str) -> Extraction:
    path = next(SEEDS.glob(prefix + "_*.txt"))
    return clean_text_document(path.read_text(encoding="utf-8"))


def test_seed_000_body_without_navigation() -> None:
    ext = _seed("000")
    assert ext.title == ""  # the dump holds no headline
    assert ext.text.startswith("中小企业遇到技术难点去哪儿找专家求助")
    assert "束为表示" in ext.text
    for junk in ("党网", "人民日报海外版", "责编", "分享让更多人看到", "关注人民网"):
        assert junk not in ext.text
    assert ext.spam == []


def test_seed_001_title_from_original_title_line() -> None:
    ext = _seed("001")
    assert ext.title == "“科创中国”年度工作会议召开 构建产业发展新格局"
    assert ext.text.startswith("1月18日，中国科协召开2020“科创中国”年度工作会议")
    assert "原标题" not in ext.text and "责编" not in ext.text and "人民网研究院" not in ext.text


def test_seed_002_traditional_pinyin_and_spam() -> None:
    from pipelines.normalize import normalize_text

    ext = _seed("002")
    assert ext.title == "“科創中國”三年行動計劃:實施四類23項重點任務"
    assert ext.published == "2021-01-19T00:00:00+08:00"
    assert ext.author == "孫自法"
    assert "星空体育官网入口网站" in ext.spam
    assert "星空体育" not in ext.text
    assert "spam-removed" in ext.repairs
    assert "推出服務係列產(chan) 品" in ext.text  # display text keeps the page's annotations
    search = normalize_text(ext.text)
    assert "(wei)" not in search and "(chan)" not in search
    assert "中国科协为更好促进科技经济深度融合" in search
    assert "瀏覽次數" not in ext.text


def test_seed_003_policy_notice() -> None:
    ext = _seed("003")
    assert (
        ext.title
        == "中國科協(xié)辦公廳關于印發(fā)《中國科協(xié)2020年服務科技經濟融合發(fā)展行動方案》的通知"
    )
    assert ext.published == "2020-04-09T00:00:00+08:00"
    assert ext.text.startswith("各全國學會")
    assert "來源:http" not in ext.text
    from pipelines.normalize import normalize_text

    assert (
        normalize_text(ext.title)
        == "中国科协办公厅关于印发《中国科协2020年服务科技经济融合发展行动方案》的通知"
    )


def test_seed_004_porn_headline_is_not_the_title() -> None:
    ext = _seed("004")
    assert ext.title == "陜西省科協(xié):深入實施“12621 工程”讓科技之翼更有力量"
    assert ext.published == "2022-04-08T14:43:53+08:00"
    assert ext.outlet.startswith("光明網")
    for junk in ("无码", "亚洲综合色", "版權所有", "備案號", "相關熱詞"):
        assert junk not in ext.text
        assert junk not in ext.title
    assert "陝西省科協" in ext.text or "陜西省科協" in ext.text


# -- bad input -------------------------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.mark.parametrize(
    ("body", "repair"),
    [
        (b"", "empty-input"),
        (b"   \n  ", "empty-input"),
        (PNG, "binary-input:png"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 10, "binary-input:pdf"),
        (bytes(range(256)) * 40, "binary-input"),
    ],
)
def test_bad_bytes_give_clear_empty_results(body: bytes, repair: str) -> None:
    ext = extract_bytes(body)
    assert ext.text == ""
    assert ext.repairs and ext.repairs[0].startswith(repair)


def test_truncated_page_still_extracts() -> None:
    raw = fixture("news.html").encode("utf-8")
    cut = raw[: raw.index("专家认为".encode())]
    ext = extract_bytes(cut)
    assert ext.text.startswith("记者从中国科学院获悉")
    assert "研究人员介绍" in ext.text


def test_twenty_megabyte_page_is_bounded() -> None:
    paragraph = "<p>" + "科技创新推动产业升级，企业与高校联合攻关关键核心技术。" * 3 + "</p>"
    body = ("<html><body><h1>超大页面</h1>" + paragraph * 80_000 + "</body></html>").encode("utf-8")
    assert len(body) > 20_000_000
    ext = extract_bytes(body)
    assert "oversized-input-truncated" in ext.repairs
    assert ext.text.startswith("科技创新推动产业升级")


def test_wrong_declared_charset_page() -> None:
    html = fixture("news.html")
    raw = html.replace("©", "(c)").encode("gbk")  # declares utf-8, is GBK
    ext = extract_bytes(raw)
    assert ext.title == "我国科学家研制出新型钙钛矿太阳能电池"
    assert "charset-corrected:utf-8->gb18030" in ext.repairs


def test_binary_junk_in_a_decoded_page() -> None:
    ext = extract_article(bytes(range(256)).decode("latin-1") * 20)
    assert ext.repairs == ["binary-input:text"]
    assert ext.text == ""


def test_text_input_edge_cases() -> None:
    assert clean_text_document("").repairs == ["empty-input"]
    assert extract_article("<html><body></body></html>").text == ""
    assert extract_article("not html at all, just a line").text == ""
    seed = next(SEEDS.glob("001_*.txt")).read_text(encoding="utf-8")
    assert extract_article(seed).title == "“科创中国”年度工作会议召开 构建产业发展新格局"


# -- the pipeline ----------------------------------------------------------------------------------------------
def _page(
    html: str, url: str = "http://scitech.people.com.cn/n1/2023/0315/c1007-1.html", **hints: Any
) -> Page:
    return Page(
        url=url,
        final_url=url,
        status=200,
        html=html,
        encoding="utf-8",
        source="people",
        fetched="2023-03-15T01:00:00+00:00",
        etag='"abc"',
        last_modified="Wed, 15 Mar 2023 01:00:00 GMT",
        hints=hints,
    )


def test_pipeline_turns_page_into_article() -> None:
    page = _page(fixture("news.html"), region="北京市")
    art = asyncio.run(ExtractPipeline().process_item(page))
    assert isinstance(art, Article)
    assert art.id == doc_id_for(page.url)
    assert (art.url, art.final_url, art.source, art.fetched) == (page.url, page.url, "people", page.fetched)
    assert (art.etag, art.last_modified, art.encoding) == ('"abc"', page.last_modified, "utf-8")
    assert art.hints == {"region": "北京市"}
    assert art.title == "我国科学家研制出新型钙钛矿太阳能电池"
    assert art.published == "2023-03-15T08:30:00+08:00"
    assert art.outlet == "人民网－科技频道"


def test_pipeline_uses_source_selectors() -> None:
    page = _page(fixture("news.html"), selectors={"title": ".info"})
    art = asyncio.run(ExtractPipeline().process_item(page))
    assert art.title.startswith("2023年03月15日")


def test_pipeline_drops_list_and_empty_pages_with_their_reason() -> None:
    with pytest.raises(ArticleDropped) as dropped:
        asyncio.run(ExtractPipeline().process_item(_page(fixture("list_page.html"))))
    assert isinstance(dropped.value, DropItem)  # Scrapy drops it like any other item
    assert dropped.value.reason == "empty-body"
    assert str(dropped.value).startswith("empty-body: body has ")
    assert "<" not in str(dropped.value)  # one line naming the URL, never the page
    with pytest.raises(ArticleDropped) as dropped:
        asyncio.run(ExtractPipeline().process_item(_page("")))
    assert dropped.value.reason == dropped.value.kind == "empty-body"
    assert "empty-input" in str(dropped.value)
    png = "\x89PNG\r\n\x1a\n" + "\x00\x01\x02\x03" * 300
    with pytest.raises(ArticleDropped) as dropped:
        asyncio.run(ExtractPipeline().process_item(_page(png)))
    assert dropped.value.reason == "not-html"
    assert asyncio.run(ExtractPipeline().process_item({"other": 1})) == {"other": 1}


class _Response:
    def __init__(self, status: int, body: bytes, ctype: bytes = b"application/pdf") -> None:
        self.status = status
        self.body = body
        self.headers = {b"Content-Type": ctype}


class _Engine:
    def __init__(self, responses: dict[str, Any]) -> None:
        self.responses = responses
        self.requested: list[str] = []

    def download(self, request: Any) -> Any:
        from twisted.internet import defer

        self.requested.append(request.url)
        assert request.meta["download_maxsize"] == 10 * 1024 * 1024
        got = self.responses[request.url]
        if isinstance(got, Exception):
            return defer.fail(got)
        return defer.succeed(got)


class _AsyncEngine(_Engine):
    async def download_async(self, request: Any) -> Any:
        self.requested.append(request.url)
        got = self.responses[request.url]
        if isinstance(got, Exception):
            raise got
        return got


class _Crawler:
    def __init__(self, engine: _Engine) -> None:
        self.engine = engine


@pytest.mark.parametrize("engine_class", [_Engine, _AsyncEngine])
def test_pipeline_fetches_policy_attachments_and_survives_failures(engine_class: type[_Engine]) -> None:
    pdf_url = "http://www.gov.cn/files/2021/guide.pdf"
    docx_url = "http://www.gov.cn/zhengce/content/2021-08/02/docs/table.docx"
    engine = engine_class(
        {
            pdf_url: _Response(200, _pdf_bytes("Evaluation indicators")),
            docx_url: ConnectionError("refused"),
        }
    )
    pipeline = ExtractPipeline.from_crawler(_Crawler(engine))
    art = asyncio.run(pipeline.process_item(_page(fixture("policy.html"), POLICY_URL)))
    assert engine.requested == [pdf_url, docx_url]  # WPS and OFD are listed, not fetched
    by_type = {a["type"]: a for a in art.attachments}
    assert "Evaluation indicators" in by_type["pdf"]["text"]
    assert "text" not in by_type["docx"]
    assert any(r.startswith("attachment-failed:附件2 申报表") for r in art.repairs)


# -- the CLI ---------------------------------------------------------------------------------------------------
def test_cli_extract_jsonl(tmp_path: Path) -> None:
    (tmp_path / "news.html").write_text(fixture("news.html"), encoding="utf-8")
    (tmp_path / "table.html").write_bytes(fixture("table_layout.html").encode("gb18030"))
    out = subprocess.run(
        [
            sys.executable,
            "-m", "cli",
            "extract",
            str(tmp_path),
            "--jsonl",
            "--url",
            "http://example.cn/a.html",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
        timeout=60,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["news", "table"]
    assert set(rows[0]) == {
        "id",
        "url",
        "title",
        "text",
        "published",
        "author",
        "outlet",
        "source",
        "language",
        "repairs",
        "spam",
        "fields",
        "attachments",
    }
    assert rows[0]["title"] == "我国科学家研制出新型钙钛矿太阳能电池"
    assert rows[0]["source"] == "人民网－科技频道"
    assert rows[1]["published"] == "2005-08-16T10:21:00+08:00"
    assert rows[0]["url"] == "http://example.cn/a.html"


def test_cli_extract_summary_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "news.html").write_text(fixture("news.html"), encoding="utf-8")
    ok = subprocess.run(
        [sys.executable, "-m", "cli", "extract", str(tmp_path / "news.html")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0
    assert "title:     我国科学家研制出新型钙钛矿太阳能电池" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "cli", "extract", str(tmp_path / "missing.html")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "no such file" in bad.stderr


def test_month_only_date_is_last_resort() -> None:
    body = "".join(
        f"<p>{'这是一篇没有发布时间的评论文章，讨论科技政策的长期影响。' * 3}</p>" for _ in range(4)
    )
    html = f"<html><body><h2>一篇评论</h2>{body}<p>——《科技导报》1996年6月号</p></body></html>"
    ext = extract_article(html)
    assert ext.published == "1996-06-01T00:00:00+08:00"
    assert "date-month-only" in ext.repairs
    dated = html.replace("<h2>一篇评论</h2>", "<h2>一篇评论</h2><div>发布时间：2020-05-06</div>")
    assert extract_article(dated).published == "2020-05-06T00:00:00+08:00"


def test_a_chinese_page_behind_a_head_of_scripts_is_read_as_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    """News sites put 100-700 KB of scripts before the text: the page is still Chinese, and is read by the block
    extractor without first paying for trafilatura (which reads Western pages)."""
    import pipelines.extract.core as core

    script = "<script>var config = {" + ", ".join(f'"key{i}": "value{i}"' for i in range(6000)) + "};</script>"
    body = "<p>" + "研究团队在新型储能材料研究方面取得进展，相关成果发表在国际期刊上。" * 8 + "</p>"
    page = f"<html><head><title>储能材料研究取得进展</title>{script * 2}</head><body>{body}</body></html>"
    assert len(page) > 150_000 and core.count_cjk(page, 0, 80_000) < 20
    assert not core.is_western_page(page)
    english = "<p>" + "Researchers report a new material for grid-scale energy storage. " * 20 + "</p>"
    western = f"<html><head><title>Storage</title>{script * 2}</head><body>{english}<p>中文版</p></body></html>"
    assert core.is_western_page(western)
    assert core.is_western_page(english) and not core.is_western_page(body)

    def no_trafilatura(*args: Any) -> Any:
        raise AssertionError("trafilatura read a Chinese page")

    monkeypatch.setattr(core, "trafilatura_body", no_trafilatura)
    ext = extract_article(page, "http://www.example.cn/a/2024/0501/1.html")
    assert ext.title == "储能材料研究取得进展" and "新型储能材料" in ext.text


def test_counting_cjk_characters_agrees_with_the_pattern() -> None:
    from pipelines.extract.chars import CJK, count_cjk

    texts = ["", "abc", "中文，かな、한국어 and 𠀀 text", "a\ud800b中", "㐀䶿一鿿\u3040\u30ff가\ud7af\u4dc0\ua000"]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(FIX.rglob("*.htm*"))[:10]]
    for text in texts:
        assert count_cjk(text) == len(CJK.findall(text)), text[:30]
        assert count_cjk(text, 3, 40) == len(CJK.findall(text, 3, 40))
