"""Faults a crawl reports instead of hiding: hostile pages, list items that give no article, a store that fails
in the middle of a crawl or cannot be opened, a second crawl of a running source, a bad source file, every source
failing — each against the real CLI and the mockserver's saved real pages, asserting the outcome and that nothing
is lost."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from core.settings import load_settings
from crawlers import launch, logs
from crawlers.errors_kinds import ERROR_KINDS, NOT_STORED_KINDS, kind_of, label
from crawlers.logs import ProgressLine, configure_logging
from crawlers.urls import canonical_url
from tests.conftest import LOCAL_SITES, REPO, MockServer, run_cli, write_source

ENV = {"TECHSCOUT_TIMEOUT": "5", "TECHSCOUT_DELAY": "0", **LOCAL_SITES}


def _stored(data: Path, source: str) -> set[str]:
    out = run_cli("search", "", "--json", "--limit", "1000", "--source", source, data=data)
    assert out.returncode == 0, out.stderr
    return {h["url"] for h in json.loads(out.stdout)["hits"]}


def _article_phrases(mockserver: MockServer, site: str) -> list[str]:
    """Runs of 12 Chinese characters from the bodies of a site's article pages (to look for in logs)."""
    phrases = []
    for art in mockserver.manifest()[site]:
        with urllib.request.urlopen(art["url"], timeout=10) as resp:
            text = resp.read().decode("utf-8", "replace")
        body = re.sub(r"<[^>]+>", " ", text.split("<body", 1)[-1])
        phrases += [run[:12] for run in re.findall(r"[\u4e00-\u9fff]{12,}", body)][:20]
    return phrases


# -- hostile pages and list items without an article ---------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("hostile")
    write_source(root / "sources", "hostile", start_urls=[mockserver.url("hostile", "/")])
    mockserver.reset()
    out = run_cli("crawl", "--sources", str(root / "sources"), "--json", data=root / "data",
                  env={**ENV, "TECHSCOUT_LOG_LEVEL": "INFO"})
    with urllib.request.urlopen(mockserver.url("hostile", "/expected.json"), timeout=10) as resp:
        expected = {canonical_url(mockserver.url("hostile", p)): v for p, v in json.loads(resp.read()).items()}
    return {"out": out, "summary": json.loads(out.stdout)[0], "data": root / "data", "expected": expected,
            "log": mockserver.log()}


def test_every_list_item_is_stored_or_reported_with_its_reason(hostile: dict[str, Any]) -> None:
    summary, expected = hostile["summary"], hostile["expected"]
    dropped = {d["url"]: d["reason"] for d in summary["dropped_items"]}
    assert all(d["list"].rstrip("/") == summary["dropped_items"][0]["list"].rstrip("/") for d in summary["dropped_items"])
    stored = _stored(hostile["data"], "hostile")
    # the article and its exact copy: whichever came second is the duplicate, the other is stored
    originals = [u for u, v in expected.items() if v == "stored"]
    copy = next(u for u, v in expected.items() if v == "duplicate")
    pair = {originals[0], copy}
    assert len(pair & stored) == 1 and dropped[(pair - stored).pop()] == "duplicate", (stored, dropped)
    assert originals[1] in stored
    for url, outcome in expected.items():
        if url in pair or outcome == "stored":
            continue
        assert dropped.get(url) == outcome, (url, outcome, dropped)
        assert url not in stored
    assert set(dropped) == set(expected) - stored  # nothing else, nothing hidden


def test_errors_and_pages_not_stored_are_counted_by_kind(hostile: dict[str, Any]) -> None:
    summary, out = hostile["summary"], hostile["out"]
    assert summary["errors"] == {"too-large": 2, "redirect-loop": 2, "http-404": 1}, summary["errors"]
    assert summary["not_stored"] == {"duplicate": 1, "empty-body": 1, "list-page": 1}, summary["not_stored"]
    assert summary["status"] == "partial" and out.returncode == 0
    assert summary["new"] == 2 and summary["list_items"] == len(hostile["expected"])
    # pages over the budget are cut once, not retried, and the crawl went on
    fetched = [p for _site, p, _status in hostile["log"]]
    for path in ("/hostile/2021/02/05/bomb.html", "/hostile/2021/02/06/huge.html"):
        assert fetched.count(path) == 1, fetched


def test_no_log_line_carries_a_page_body(hostile: dict[str, Any], mockserver: MockServer) -> None:
    log_file = hostile["data"] / "logs" / "hostile.log"
    assert log_file.exists(), "a foreground crawl writes its log file"
    file_text = log_file.read_text(encoding="utf-8")
    assert "not stored:" in file_text and "too-large" in file_text  # the events are there, one line each
    phrases = _article_phrases(mockserver, "hostile")
    assert len(phrases) >= 10
    for text in (hostile["out"].stderr, file_text):
        lines = text.splitlines()
        assert max(len(line) for line in lines) < 600, max(lines, key=len)[:300]
        assert not re.search(r"<(html|div|p|body)\b", text, re.I)
        assert not [p for p in phrases if p in text]
        # no Scrapy deprecation warnings, no DEBUG lines, no remote control of the crawl
        assert "Deprecat" not in text and " DEBUG " not in text
        assert "Remote control" not in text and "Telnet" not in text


def test_runs_shows_the_list_items_the_crawl_dropped(hostile: dict[str, Any]) -> None:
    out = run_cli("runs", data=hostile["data"])
    assert out.returncode == 0, out.stderr
    dropped = hostile["summary"]["dropped_items"]
    assert f"list items without an article: {len(dropped)}" in out.stdout
    for item in dropped:
        assert f"{item['url']} ({item['reason']}: {label(item['reason'])})" in out.stdout
    assert "(北京时间)" in out.stdout
    runs = json.loads(run_cli("runs", "--json", data=hostile["data"]).stdout)
    assert runs[0]["dropped_items"] == dropped and runs[0]["not_stored"] == hostile["summary"]["not_stored"]


def test_the_data_directory_remembers_its_sources(hostile: dict[str, Any]) -> None:
    out = run_cli("sources", "--json", data=hostile["data"])  # no --sources: the crawl's sources, not shipped ones
    assert out.returncode == 0, out.stderr
    assert [s["name"] for s in json.loads(out.stdout)] == ["hostile"]


# -- the store ------------------------------------------------------------------------------------------------------
def _crawl_limited(sources: Path, data: Path, file_limit: int) -> subprocess.CompletedProcess[str]:
    """``techscout crawl`` in a process that may not write a file larger than ``file_limit`` bytes (a full
    disk, as the store sees it)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    env = {**os.environ, "TECHSCOUT_LOG_LEVEL": "WARNING", "TECHSCOUT_ALLOW_PRIVATE_URLS": "1", **ENV}
    env.pop("TECHSCOUT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "cli", "crawl", "--sources", str(sources), "--json", "--data", str(data)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, preexec_fn=limit,  # noqa: PLW1509
    )


def test_a_store_failing_mid_crawl_fails_the_run_and_the_next_crawl_fetches_the_rest(
    mockserver: MockServer, tmp_path: Path
) -> None:
    sources = tmp_path / "sources"
    # A delay between pages makes the store write several batches (one every StorePipeline.max_wait seconds): with
    # no delay the whole crawl may come in one batch, which either fits under the limit or fails as a whole.
    write_source(sources, "news", start_urls=[mockserver.url("utf8", "/news/")], delay=0.3,
                 deny=["slow", "broken", "missing", "loop", "calendar", "jsessionid", "/news/list"])
    reference = run_cli("crawl", "--sources", str(sources), "--json", data=tmp_path / "reference", env=ENV)
    assert reference.returncode == 0, reference.stderr[-2000:]
    expected = _stored(tmp_path / "reference", "news")
    assert len(expected) >= 20

    data = tmp_path / "data"
    mockserver.reset()
    first = _crawl_limited(sources, data, 700 * 1024)
    summary = json.loads(first.stdout)[0]
    assert first.returncode == 1, first.stderr[-2000:]
    assert summary["status"] == "failed" and summary["errors"]["store-failed"] >= 1, summary
    assert summary["not_stored"]["store-failed"] == summary["errors"]["store-failed"]
    assert "写入磁盘失败" in first.stderr and "cannot rollback" not in first.stderr  # the cause, not a follow-on error
    assert "Traceback" not in first.stderr
    kept = _stored(data, "news")
    assert 1 <= len(kept) < len(expected), len(kept)  # the store failed in the middle of the crawl
    assert summary["new"] == len(kept)

    mockserver.reset()
    second = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=ENV)
    assert second.returncode == 0, second.stderr[-2000:]
    assert _stored(data, "news") == expected  # nothing lost
    article_paths = {re.sub(r"^https?://[^/]+", "", u) for u in expected}
    refetched = {p for site, p, status in mockserver.log() if site == "utf8" and p in article_paths and status == 200}
    assert refetched == {re.sub(r"^https?://[^/]+", "", u) for u in expected - kept}  # exactly the unstored ones


def test_a_corrupt_store_is_a_clear_error_before_anything_is_fetched(mockserver: MockServer, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "feed", start_urls=[mockserver.url("rss", "/feed.xml")])
    data = tmp_path / "data"
    data.mkdir()
    (data / "techscout.sqlite").write_bytes(b"this is not an SQLite database\n" * 400)
    mockserver.reset()
    out = run_cli("crawl", "--sources", str(sources), data=data, env=ENV)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "techscout: error:" in out.stderr and "techscout.sqlite" in out.stderr
    assert "Traceback" not in out.stderr
    assert [e for e in mockserver.log() if e[0] == "rss"] == []
    assert (data / "techscout.sqlite").read_bytes().startswith(b"this is not an SQLite database")  # left as it was


# -- locks, source files, run --once --------------------------------------------------------------------------------
def test_a_second_crawl_of_a_running_source_says_so_and_fetches_nothing(mockserver: MockServer, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "news", start_urls=[mockserver.url("utf8", "/news/")], delay=0.5)
    data = tmp_path / "data"
    settings = load_settings(data=data, env={})
    env = {**os.environ, "TECHSCOUT_LOG_LEVEL": "WARNING", "TECHSCOUT_ALLOW_PRIVATE_URLS": "1", "TECHSCOUT_TIMEOUT": "5"}
    mockserver.reset()
    first = subprocess.Popen([sys.executable, "-m", "cli", "crawl", "news", "--sources", str(sources), "--quiet",
                              "--data", str(data)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 120
        while not launch.is_running(settings, "news"):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.1)
        second = run_cli("crawl", "news", "--sources", str(sources), data=data, env=ENV)
        assert second.returncode == 1
        assert "news: not crawled — another crawl of it is running" in second.stderr
        assert f"(process {first.pid})" in second.stderr
    finally:
        out, err = first.communicate(timeout=240)
    assert first.returncode in (0, 1), err[-2000:]
    starts = [p for site, p, _ in mockserver.log() if site == "utf8" and p == "/news/"]
    assert len(starts) == 1  # only the first crawl fetched anything


def test_one_bad_source_file_is_reported_and_the_others_run(mockserver: MockServer, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "feed", start_urls=[mockserver.url("rss", "/feed.xml")])
    (sources / "broken.yaml").write_text("name: broken\nstart_urls: oops\n", encoding="utf-8")
    listed = run_cli("sources", "--sources", str(sources), data=tmp_path / "data")
    assert listed.returncode == 1 and listed.stdout.startswith("feed ")
    assert "broken.yaml: key 'start_urls[0]': expected an http(s) URL" in listed.stderr
    crawled = run_cli("crawl", "--sources", str(sources), "--json", data=tmp_path / "data", env=ENV)
    assert crawled.returncode == 1 and "broken.yaml" in crawled.stderr
    [summary] = json.loads(crawled.stdout)
    assert summary["source"] == "feed" and summary["new"] >= 9
    once = run_cli("run", "--once", "--sources", str(sources), data=tmp_path / "once", env=ENV)
    assert once.returncode == 0, once.stderr[-2000:]
    assert "1 of 1 sources crawled" in once.stdout and "1 source file(s) with errors" in once.stdout
    assert "broken.yaml" in once.stderr


def test_run_once_exits_non_zero_when_every_source_failed(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "gone", start_urls=["http://127.0.0.1:9/news/"])
    write_source(sources, "gone-too", start_urls=["http://127.0.0.1:9/kjdt/"])
    out = run_cli("run", "--once", "--sources", str(sources), data=tmp_path / "data", env=ENV)
    assert out.returncode == 1
    assert "0 of 2 sources crawled" in out.stdout and "every source failed" in out.stderr
    assert "errors: connection-refused 1" in out.stdout


# -- error kinds, labels, the progress line ---------------------------------------------------------------------------
def test_error_kinds_are_stable_names_with_chinese_labels() -> None:
    from scrapy import exceptions as sx
    from scrapy.http import Request, Response
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet import error as terr

    cases = {
        "dns": [terr.DNSLookupError("x"), sx.CannotResolveHostError("x"),
                Exception("net::ERR_NAME_NOT_RESOLVED at http://a.invalid/")],
        "timeout": [terr.TimeoutError(), sx.DownloadTimeoutError("took longer"),
                    Exception("net::ERR_TIMED_OUT at http://a.cn/")],
        "connection-refused": [terr.ConnectionRefusedError(), sx.DownloadConnectionRefusedError("111"),
                               Exception("net::ERR_CONNECTION_REFUSED at http://a.cn/")],
        "redirect-loop": [sx.IgnoreRequest("max redirections reached"),
                          Exception("net::ERR_TOO_MANY_REDIRECTS at http://a.cn/")],
        "too-large": [sx.DownloadCancelledError("Cancelling download of http://a.cn/: expected response size "
                                                "(20000000) larger than download max size (8388608).")],
        "robots": [sx.IgnoreRequest("Forbidden by robots.txt")],
        "http-503": [HttpError(Response("http://a.cn/", status=503, request=Request("http://a.cn/")), "x")],
    }
    for kind, errors in cases.items():
        for exc in errors:
            assert kind_of(exc) == kind, (exc, kind)
    names = [k.name for k in (*ERROR_KINDS, *NOT_STORED_KINDS)]
    assert all(re.fullmatch(r"[a-z][a-z-]*", n) for n in names)
    assert all(re.search(r"[\u4e00-\u9fff]", label(n)) for n in names)
    assert label("http-404") == "HTTP 404（页面不存在）" and label("http-599") == "HTTP 599（服务器错误）"


def test_log_lines_never_break_the_progress_line() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream)
    configure_logging("INFO", progress=line, stream=stream)
    try:
        line.show("[a] fetched 3")
        logging.getLogger("techscout.test").warning("a warning")
        line.show("[a] fetched 4")
    finally:
        for handler in list(logs._INSTALLED):  # leave the test process's logging as it was
            logging.getLogger().removeHandler(handler)
        logs._INSTALLED.clear()
    out = stream.getvalue()
    # the progress line is cleared before the log line and drawn again after it: never on the same line
    assert out.startswith("\r[a] fetched 3\x1b[K\r\x1b[K")
    warning = next(part for part in out.split("\r") if "a warning" in part)
    assert warning.startswith("\x1b[K") and warning.endswith("a warning\n")
    assert out.endswith("\r[a] fetched 3\x1b[K\r[a] fetched 4\x1b[K")


@pytest.mark.browser
def test_a_javascript_source_reports_the_browsers_error(tmp_path: Path) -> None:
    write_source(tmp_path / "sources", "js-gone", start_urls=["http://no-such-host.invalid/news/"], render_js=True)
    out = run_cli("crawl", "--sources", str(tmp_path / "sources"), "--json", data=tmp_path / "data", env=ENV,
                  timeout=300)
    summary = json.loads(out.stdout)[0]
    assert summary["errors"] == {"dns": 1}, (summary, out.stderr[-2000:])


def test_no_remote_control_and_no_token_files_even_after_kill_9(mockserver: MockServer, tmp_path: Path) -> None:
    state = tmp_path / "state"
    write_source(tmp_path / "sources", "news", start_urls=[mockserver.url("utf8", "/news/")], delay=0.5)
    env = {**os.environ, "XDG_STATE_HOME": str(state), "TECHSCOUT_LOG_LEVEL": "INFO",
           "TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cli", "crawl", "--sources", str(tmp_path / "sources"),
                             "--data", str(tmp_path / "data")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    settings = load_settings(data=tmp_path / "data", env={})
    deadline = time.monotonic() + 120
    while not (tmp_path / "data" / "logs" / "news.log").exists() or not launch.is_running(settings, "news"):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(2)  # the crawl is under way
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert "Remote control" not in out and "Telnet" not in out
    assert not (state / "scrapy").exists()  # no job or token files
