"""End-to-end crawls of the mockserver's fixture sites with the real CLI: stored, searchable, polite, bounded,
incremental."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import LOCAL_SITES, MockServer, run_cli, write_source

ENV = {"TECHSCOUT_TIMEOUT": "3", "TECHSCOUT_DELAY": "0", **LOCAL_SITES}


@pytest.fixture(scope="module")
def crawled(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One crawl of the UTF-8, GBK and RSS sites, each configured with only name and start_urls."""
    root = tmp_path_factory.mktemp("crawl")
    sources = root / "sources"
    write_source(sources, "site-utf8", start_urls=[mockserver.url("utf8", "/news/")])
    write_source(sources, "site-gbk", start_urls=[mockserver.url("gbk", "/kjdt/")])
    write_source(sources, "site-rss", start_urls=[mockserver.url("rss", "/feed.xml"), mockserver.url("rss", "/sitemap.xml")])
    data = root / "data"
    mockserver.reset()
    first = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=ENV)
    assert first.returncode in (0, 1), first.stderr
    log_first = mockserver.log()
    mockserver.reset()
    second = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=ENV)
    log_second = mockserver.log()
    return {
        "data": data,
        "sources": sources,
        "first": json.loads(first.stdout),
        "second": json.loads(second.stdout),
        "log_first": log_first,
        "log_second": log_second,
    }


def _search(data: Path, query: str, *extra: str) -> dict:
    out = run_cli("search", query, "--json", "--limit", "50", *extra, data=data)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_articles_are_stored(crawled: dict, mockserver: MockServer) -> None:
    manifest = mockserver.manifest()
    for site, source in (("utf8", "site-utf8"), ("gbk", "site-gbk"), ("rss", "site-rss")):
        expected = {a["url"] for a in manifest[site]}
        result = _search(crawled["data"], "", "--source", source, "--limit", "1000")
        stored = {h["url"] for h in result["hits"]}
        share = len(expected & stored) / len(expected)
        assert share >= 0.95, (site, sorted(expected - stored))


def test_gbk_articles_found_by_a_phrase_of_their_body(crawled: dict, mockserver: MockServer) -> None:
    articles = [a for a in mockserver.manifest()["gbk"] if a["phrase"]]
    assert len(articles) >= 20
    found = 0
    for art in articles:
        hits = _search(crawled["data"], art["phrase"])["hits"]
        found += any(h["url"] == art["url"] for h in hits)
    assert found / len(articles) >= 0.95, f"{found}/{len(articles)}"


def test_gbk_pages_decoded_without_charset_header(crawled: dict) -> None:
    result = _search(crawled["data"], "", "--source", "site-gbk", "--limit", "100")
    titles = " ".join(h["title"] + h["snippet"] for h in result["hits"])
    assert re.search(r"[\u4e00-\u9fff]{20}", titles)
    assert "\ufffd" not in titles and "锟斤拷" not in titles


def test_robots_disallowed_path_never_fetched(crawled: dict) -> None:
    for site, path, _status in crawled["log_first"] + crawled["log_second"]:
        assert not (site == "utf8" and path.startswith("/private/")), path
    utf8 = next(s for s in crawled["first"] if s["source"] == "site-utf8")
    assert utf8["errors"].get("robots", 0) >= 1


def test_trap_stops_within_bounds(crawled: dict) -> None:
    trap = [p for site, p, _ in crawled["log_first"] if site == "utf8" and (p.startswith("/news/list") or p.startswith("/calendar"))]
    assert len(trap) <= 30
    utf8 = next(s for s in crawled["first"] if s["source"] == "site-utf8")
    assert utf8["fetched"] <= 500


def test_errors_are_reported_by_kind(crawled: dict) -> None:
    utf8 = next(s for s in crawled["first"] if s["source"] == "site-utf8")
    assert utf8["errors"].get("http-404") == 1
    assert utf8["errors"].get("http-500") == 1
    assert utf8["errors"].get("timeout") == 1
    assert utf8["status"] == "partial"
    assert any("slow.html" in u for u in utf8["error_examples"]["timeout"])


def test_second_crawl_is_incremental(crawled: dict, mockserver: MockServer) -> None:
    assert sum(s["new"] for s in crawled["second"]) == 0
    article_paths = {re.sub(r"^https?://[^/]+", "", a["url"]) for site in ("utf8", "gbk", "rss") for a in mockserver.manifest()[site]}
    refetched = [p for _site, p, status in crawled["log_second"] if p in article_paths and status == 200]
    assert len(refetched) <= 3, refetched
    assert sum(s.get("known_skipped", 0) for s in crawled["second"]) >= 60


def test_runs_are_recorded(crawled: dict) -> None:
    out = run_cli("runs", "--json", data=crawled["data"])
    runs = json.loads(out.stdout)
    assert len(runs) == 6
    assert {r["source"] for r in runs} == {"site-utf8", "site-gbk", "site-rss"}
    assert all(r["status"] in ("ok", "partial") for r in runs)


def test_start_at_home_page_finds_channel_and_feed(mockserver: MockServer, tmp_path: Path) -> None:
    """Only the home page given: a short channel link in the navigation and an announced feed lead to the lists."""
    sources = tmp_path / "sources"
    write_source(sources, "home-gbk", start_urls=[mockserver.url("gbk", "/")])
    write_source(sources, "home-rss", start_urls=[mockserver.url("rss", "/")])
    out = run_cli("crawl", "--sources", str(sources), "--json", data=tmp_path / "data", env=ENV)
    summaries = {s["source"]: s for s in json.loads(out.stdout)}
    manifest = mockserver.manifest()
    assert summaries["home-gbk"]["new"] >= 0.9 * len(manifest["gbk"]), summaries["home-gbk"]
    assert summaries["home-rss"]["new"] >= 0.9 * 10, summaries["home-rss"]  # the feed's ten entries


def test_unreachable_source_is_reported_not_crashing(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "gone", start_urls=["http://127.0.0.1:9/news/"])
    out = run_cli("crawl", "--sources", str(sources), data=tmp_path / "data", env=ENV)
    assert out.returncode == 1
    assert "gone: failed" in out.stdout
    assert "unreachable: http://127.0.0.1:9/news/" in out.stdout
    assert "Traceback" not in out.stderr


@pytest.mark.browser
def test_javascript_list_rendered_in_chromium(mockserver: MockServer, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "site-js", start_urls=[mockserver.url("js", "/")], render_js=True)
    out = run_cli("crawl", "--sources", str(sources), "--json", data=tmp_path / "data", env=ENV, timeout=300)
    summary = json.loads(out.stdout)[0]
    assert summary["new"] >= 5, (summary, out.stderr[-2000:])
    for art in mockserver.manifest()["js"]:
        if art["phrase"]:
            hits = _search(tmp_path / "data", art["phrase"])["hits"]
            assert any(h["url"] == art["url"] for h in hits), art
