"""Metadata found while crawling real news and government sites (issue #19), each rule on the real page that
showed it (``corpus/web-zh``): CMS accounts are not authors, UI words are not outlets, badges and signs are
not titles, icon-font glyphs are not text, the page's own date beats dates in running text, a law page keeps
its body, and search text keeps the page's punctuation."""

from __future__ import annotations

import pytest

from pipelines.extract import Extraction, extract_bytes
from pipelines.extract.bylines import clean_author, clean_outlet
from pipelines.extract.dates import find_dates, parse_date
from pipelines.extract.metadata import meta_dates
from pipelines.normalize import normalize_text
from tests.conftest import CORPUS

WEB_ZH = CORPUS / "web-zh"


def _page(path: str) -> Extraction:
    file = WEB_ZH / path
    if not file.exists():
        pytest.fail(f"the corpus page {file} is missing: set TECHSCOUT_CORPUS to the shared corpus folder")
    return extract_bytes(file.read_bytes())


def test_a_cms_account_is_not_an_author() -> None:
    ext = _page("cmse/1.html")  # "作者：系统管理员" on the 中国载人航天 site
    assert ext.author == ""
    assert ext.title == "天宫一号与神舟九号载人交会对接任务第二场新闻发布会"
    for account in (
        "系统管理员",
        "管理员",
        "admin",
        "Administrator",
        "webmaster",
        "name, email@gmail.com",
        "104363",
    ):
        assert clean_author(account) == "", account
    assert clean_author("史建磊_NBJ11331") == "史建磊"  # the editor's account id cut
    assert clean_author("观察者网专栏作者 王文】") == "王文"
    assert clean_author("张三 李四") == "张三 李四"


def test_ui_words_are_not_part_of_the_outlet() -> None:
    for path, outlet in [
        ("163/3.html", "每日经济新闻"),
        ("163/2.html", "新京报"),
        ("xinhuanet/1.html", "新华网"),
    ]:
        assert _page(path).outlet == outlet, path
    assert clean_outlet("澎湃新闻网 1032人参与308评论") == "澎湃新闻网"
    assert clean_outlet("商讯 用微信扫描二维码") == "商讯"
    assert clean_outlet("新华网 新华网黑龙江频道") == "新华网"
    assert clean_outlet("本站原创") == ""
    assert clean_outlet("人民网-人民日报") == "人民网-人民日报"
    assert clean_outlet("St.Galler Tagblatt") == "St.Galler Tagblatt"  # Western names keep their words


def test_badges_and_signs_are_not_titles() -> None:
    assert (
        _page("toutiao/2.html").title == "最不愁吃肉的国家：顿顿有肉吃，却要靠中国运输蔬菜水果"
    )  # <span>原创</span>
    # "■ 纪检监察" is the column header; the law's own heading is the title
    assert _page("sxmu/1.html").title == "中华人民共和国监察法"


def test_icon_font_glyphs_are_not_text() -> None:
    ext = _page("ednchina/1.html")  # U+E621 drawn by an icon font before the first paragraph
    assert ext.text.startswith("发布含光800芯片时")
    assert not any("\ue000" <= ch <= "\uf8ff" for ch in ext.title + ext.text)


@pytest.mark.parametrize(
    ("path", "day"),
    [
        ("qq/qq.html", "2019-09-07"),  # <meta apub:time>; the body mentions 2009
        ("baijiahao/3.html", "2018-03-08"),  # "发布时间：18-03-0823:16" (two-digit year), not 2008-03-18
        (
            "zsnews/1.html",
            "2019-03-06",
        ),  # "发布日期：2019-03-06" below the body, not the event day in its prose
    ],
)
def test_the_pages_own_date_beats_dates_in_running_text(path: str, day: str) -> None:
    ext = _page(path)
    assert ext.published is not None and ext.published.startswith(day)


def test_meta_dates_are_read_by_meaning() -> None:
    assert meta_dates({"apub:time": "2019-9-7 21:30:50"})[0] == "2019-09-07T21:30:50+08:00"
    published, updated = meta_dates({"maketime": "2019-03-22 12:28:37", "pubdate": "2016-11-22 09:53"})
    assert published == "2016-11-22T09:53:00+08:00" and updated is None
    assert meta_dates({"dateupdate": "2018-03-08 23:16:24"}) == (None, "2018-03-08T23:16:24+08:00")


def test_a_law_page_keeps_its_body_and_a_sane_date() -> None:
    # an </html> of a server-side include in mid-page ended libxml2's parse: 0 body characters; the date read
    # "2007-08-20-23:59:59" as an offset: 2007-08-20T00:00:00-23:59
    ext = _page("other/1.html")
    assert "批准2007年末国债余额限额调整为53365.53亿元" in ext.text
    assert ext.published == "2007-08-20T23:59:59+08:00"
    assert parse_date("2007-08-20-23:59:59") == "2007-08-20T23:59:59+08:00"
    assert [h.iso for h in find_dates("会议时间：2021-01-01 10:00-12:00")] == ["2021-01-01T10:00:00+08:00"]
    assert find_dates("2021-03-05T10:00:00+02:00")[0].iso == "2021-03-05T10:00:00+02:00"


def test_search_text_keeps_the_pages_punctuation() -> None:
    assert normalize_text("科技，创新：ＡＢＣ１２３（试点）！") == "科技，创新：ABC123（试点）！"
