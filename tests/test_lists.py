"""List pages of real government sites: the crawl follows the list's items and pagination, not the site's navigation.

The spider runs through the real CLI against saved list pages (``tests/fixtures/lists``) served on local ports by
``tests/listsites.py``; page-type rules are checked on the same pages and on the corpus's article pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import SourceError
from crawlers.pagetype import read_page
from crawlers.sources import source_from_mapping
from pipelines.extract.decode import decode_html
from tests.conftest import MockServer, run_cli, write_source
from tests.listsites import CORPUS, ListSites, load_sites, score

ENV = {"TECHSCOUT_TIMEOUT": "5", "TECHSCOUT_DELAY": "0", "TECHSCOUT_ALLOW_PRIVATE_URLS": "true"}
SITES = load_sites()


@pytest.fixture(scope="module")
def listsites() -> Iterator[ListSites]:
    with ListSites() as sites:
        yield sites


def _crawl(tmp: Path, sources: dict[str, dict], data: Path | None = None) -> list[dict]:
    directory = tmp / "sources"
    for name, keys in sources.items():
        write_source(directory, name, **keys)
    out = run_cli("crawl", "--sources", str(directory), "--json", data=data or tmp / "data", env=ENV)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def crawled(listsites: ListSites, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One crawl of every saved list page, each source with only name and start_urls."""
    listsites.reset()
    summaries = _crawl(tmp_path_factory.mktemp("lists"), {n: {"start_urls": [listsites.start_url(n)]} for n in SITES})
    assert {s["source"] for s in summaries} == set(SITES)
    return {name: listsites.paths(name) for name in SITES}


@pytest.mark.parametrize("name", sorted(SITES))
def test_crawl_stays_in_the_list(crawled: dict[str, list[str]], name: str) -> None:
    result = score(SITES[name], crawled[name])
    assert result.recall >= 0.95, (name, sorted(set(SITES[name].items) - set(crawled[name])))
    assert result.precision >= 0.9, (name, result.strays)


def test_navigation_breadcrumbs_and_sidebars_are_not_fetched(crawled: dict[str, list[str]]) -> None:
    # the channel menus of ordos-egb, the 政府公告 sidebar of yichun and the 公告 ticker of zhangshu
    menu = ("/xxgk/xxgkgd/", "/xxgk/xxgkzd/", "/xxgk/xxgkzn/", "/xxgk/xxgkml/", "/zjegb/", "/stjj/")
    assert not [p for p in crawled["ordos-egb"] if p.startswith(menu)]
    assert not [p for p in crawled["yichun"] if p.startswith("/xxgk/zfgg/")]
    assert not [p for p in crawled["zhangshu"] if p.startswith("/wsfw/")]


@pytest.mark.parametrize("name", ["hzzy", "ordos-egb", "yzq"])
def test_pagination_is_followed(crawled: dict[str, list[str]], name: str) -> None:
    """下一页 links (hzzy), a rendered TRS pager (ordos-egb) and a createPageHTML(…) script alone (yzq)."""
    assert set(SITES[name].pages) & set(crawled[name]), crawled[name]


def test_case_number_list_is_read_as_a_list(crawled: dict[str, list[str]]) -> None:
    """A court's list whose items are case numbers (（2016）粤13民终2456号): every case, none of the top menu."""
    paths = crawled["hzzy"]
    assert set(SITES["hzzy"].items) <= set(paths)
    assert not [p for p in paths if p.startswith("/courtweb/front/sfgk/")]


def test_follow_sections_true_also_reads_the_channels(listsites: ListSites, tmp_path: Path) -> None:
    listsites.reset()
    _crawl(tmp_path, {"yzq-sections": {"start_urls": [listsites.start_url("yzq")], "follow_sections": True}})
    paths = listsites.paths("yzq")
    assert {"/zwgk/zwdt/zhxx/", "/zwgk/zwdt/gggs/"} <= set(paths)  # the sidebar's sibling columns
    assert set(SITES["yzq"].items) <= set(paths)


def test_follow_sections_false_on_a_home_page_reads_nothing_more(mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.reset()
    summaries = _crawl(tmp_path, {"home-off": {"start_urls": [mockserver.url("gbk", "/")], "follow_sections": False}})
    paths = [p for site, p, _ in mockserver.log() if site == "gbk"]
    assert set(paths) <= {"/", "/robots.txt"}, paths
    assert summaries[0]["new"] == 0


def test_home_page_without_a_list_reaches_its_channel_list_only(mockserver: MockServer, tmp_path: Path) -> None:
    mockserver.reset()
    summaries = _crawl(tmp_path, {"home-gbk": {"start_urls": [mockserver.url("gbk", "/")]}})
    paths = [p for site, p, _ in mockserver.log() if site == "gbk"]
    articles = {a["url"].split("//", 1)[1].split("/", 1)[1] for a in mockserver.manifest()["gbk"]}
    fetched = {p.lstrip("/") for p in paths} & articles
    assert len(fetched) >= 0.9 * len(articles)
    assert "/about.html" not in paths  # the menu's other link is no channel
    assert summaries[0]["new"] >= 0.9 * len(articles)


@pytest.mark.parametrize("name", sorted(SITES))
def test_list_region_is_the_labelled_list(listsites: ListSites, name: str) -> None:
    site = SITES[name]
    reading = read_page(site.html(listsites.base(name)).decode("utf-8"), listsites.start_url(name), ["127.0.0.1"])
    assert reading.kind == "list"
    assert [u.split(listsites.base(name), 1)[1] for u, _ in reading.article_links] == site.items


def _corpus_articles() -> list[Path]:
    return sorted((CORPUS / "web-zh").glob("*/*.html")) + sorted((CORPUS / "zh-extraction" / "pages").glob("*.html"))


def test_article_pages_are_not_taken_for_lists() -> None:
    pages = _corpus_articles()
    assert len(pages) >= 90
    lists = []
    for path in pages:
        text = decode_html(path.read_bytes(), "").text
        if read_page(text, "http://example.test/a/b.html", ["example.test"]).kind != "article":
            lists.append(path.relative_to(CORPUS).as_posix())
    assert lists == []


def test_follow_sections_must_be_true_or_false() -> None:
    with pytest.raises(SourceError, match="follow_sections"):
        source_from_mapping({"name": "a", "start_urls": ["https://x.gov.cn/"], "follow_sections": "auto"}, "a.yaml")
    assert source_from_mapping({"name": "a", "start_urls": ["https://x.gov.cn/"]}, "a.yaml").follow_sections is None
