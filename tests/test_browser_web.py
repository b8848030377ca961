"""A staff member's day in real headless Chromium (Debian's ``/usr/bin/chromium``), against ``techscout serve`` over
a data directory filled by real crawls of local sites serving saved real pages, with real receivers (an HTTP
webhook and an SMTP server).

log in → search (Chinese, traditional script, a phrase, a facet, a date range) → a document and its reprints →
each library → the sources page with failed runs → 立即抓取 → a subscription made in the UI with a webhook and an
e-mail address → a crawl brings a new matching document → exactly one webhook message and one e-mail → the delivery
log shows both → the overview page shows the crawl and the deliveries (also at phone width).

Every step saves a screenshot under ``test-artifacts/journey-*.png``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from search import users
from search.backends.embedded import EmbeddedBackend
from tests.conftest import CORPUS, REPO, MockServer, run_cli, write_source
from tests.receivers import Mailbox, Webhook, free_port
from tests.webserver import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TECHSCOUT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PASSWORD = "browser-pass-1"
ARTIFACTS = REPO / "test-artifacts"
ENV = {"TECHSCOUT_TIMEOUT": "3", "TECHSCOUT_DELAY": "0", "TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}


class FreshSite:
    """A small news site serving saved real pages (the corpus's web-zh pages the mockserver does not use) under a
    list page; :meth:`publish` puts one more article on the list, as a site does when it publishes."""

    def __init__(self, pages: list[bytes]) -> None:
        self.pages = pages
        self.published = len(pages) - 1
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/robots.txt":
                    return self._send(404, b"")
                if path == "/news/":
                    items = "".join(f'<li><a href="/news/a{i}.html">科技新闻第 {i + 1} 篇：本站要闻报道</a></li>'
                                    for i in range(outer.published))
                    body = f'<html><head><meta charset="utf-8"><title>科技要闻</title></head><body><h1>科技要闻</h1><ul class="list">{items}</ul></body></html>'
                    return self._send(200, body.encode("utf-8"))
                m = re.fullmatch(r"/news/a(\d+)\.html", path)
                if m and int(m.group(1)) < outer.published:
                    return self._send(200, outer.pages[int(m.group(1))])
                return self._send(404, b"not found")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self) -> None:
        self.published += 1

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _fresh_pages() -> list[bytes]:
    from tests.mockserver import _decode, _strip_meta_charset

    files = sorted(p for p in (CORPUS / "web-zh").glob("*/*.html") if p.parent.name not in ("toutiao", "other"))
    out = []
    for path in files[46:52]:  # the mockserver serves [:40]: these are pages no other source has
        text = _strip_meta_charset(_decode(path.read_bytes()))
        text = re.sub(r"<head>", '<head><meta charset="utf-8">', text, count=1, flags=re.I)
        out.append(text.encode("utf-8"))
    return out


@pytest.fixture(scope="module")
def day(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("journey")
    fresh = FreshSite(_fresh_pages())
    sources = root / "sources"
    write_source(sources, "site-news", start_urls=[mockserver.url("utf8", "/news/")],
                 deny=["slow", "/loop/", "calendar", "jsessionid"])
    write_source(sources, "site-gbk", start_urls=[mockserver.url("gbk", "/kjdt/")])
    write_source(sources, "site-fresh", start_urls=[fresh.base + "/news/"])
    write_source(sources, "site-down", start_urls=[f"http://127.0.0.1:{free_port()}/"])
    data = root / "data"
    out = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=ENV, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    backend = EmbeddedBackend(data / "techscout.sqlite")
    users.add_user(backend, "wang", PASSWORD, "admin")
    backend.close()
    hook, mail = Webhook(), Mailbox()
    server = LiveServer(data, sources, env=ENV)
    ARTIFACTS.mkdir(exist_ok=True)
    yield {"base": server.base, "data": data, "fresh": fresh, "hook": hook, "mail": mail, "sources": sources}
    server.stop()
    hook.stop()
    mail.stop()
    fresh.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _shot(page: Any, name: str, full: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=full)


def _total(page: Any) -> int:
    return int(page.inner_text(".summary strong"))


def _search(page: Any, base: str, query: str) -> int:
    page.goto(base + "/search")
    page.fill("#q", query)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return _total(page)


def _api(base: str, path: str, cookies: list[dict[str, Any]]) -> Any:
    jar = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
    req = urllib.request.Request(base + path, headers={"Cookie": jar})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _wait_crawl_done(page: Any, base: str, source: str, before: set[str], timeout: float = 240) -> dict[str, Any]:
    """Wait until a new run of ``source`` is recorded and the source is no longer being crawled."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = _api(base, f"/api/runs?source={source}&limit=50", page.context.cookies())
        new = [r for r in runs if r["id"] not in before and r.get("finished")]
        if new:
            page.goto(base + "/sources")
            if "抓取中" not in page.inner_text(f"#src-{source}"):
                return dict(new[0])
        time.sleep(1)
    raise AssertionError(f"no finished run of {source} within {timeout} s")


def test_a_staff_members_day(day: dict[str, Any], browser: Any) -> None:
    base = day["base"]
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")

    # log in
    page.goto(base + "/search")
    assert "/login" in page.url
    _shot(page, "01-login", full=False)
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/search")

    # search: Chinese, traditional script, a phrase
    everything = _total(page)
    assert everything > 20
    first_title = page.locator(".hit h2 a").first.inner_text()
    word = re.sub(r"[^\u4e00-\u9fff]", "", first_title)[:2]
    n = _search(page, base, word)
    assert 0 < n <= everything and page.locator(".hit mark").count() > 0
    _shot(page, "02-search-chinese")
    import opencc

    traditional = opencc.OpenCC("s2t").convert(word)
    if traditional != word:
        assert _search(page, base, traditional) == n
        _shot(page, "03-search-traditional")
    phrase = re.sub(r"[^\u4e00-\u9fff]", "", first_title)[:5]
    assert _search(page, base, f'"{phrase}"') >= 1
    _shot(page, "04-search-phrase")

    # a facet, then a date range (typed as 2021-01-01)
    page.goto(base + "/search")
    facet = page.locator("a[data-facet=type]").first
    expected = int(facet.locator("xpath=following-sibling::span[1]").inner_text())
    with page.expect_navigation():
        facet.click()
    assert int(page.get_attribute(".doccount", "data-n") or 0) == expected
    page.fill("input[name=since]", "2000-01-01")
    page.fill("input[name=until]", "2030-12-31")
    with page.expect_navigation():
        page.click("form.dates button[type=submit]")
    assert "since=2000-01-01" in page.url and page.locator(".chip").count() == 2
    _shot(page, "05-search-filters")

    # a document and its reprints
    page.goto(base + "/search?q=")
    reprinted = page.locator(".hit .reprints")
    link = reprinted.first if reprinted.count() else page.locator(".hit h2 a").first
    with page.expect_navigation():
        link.click()
    assert page.locator("#cluster").count() == 1
    assert "北京时间" in page.inner_text(".facts")
    cluster = page.inner_text("#cluster")
    assert not ("转载（1）" in cluster or ("另有" in cluster and "没有发现转载" in cluster))
    _shot(page, "06-document")

    # each library
    for library in ("problem", "project", "talent"):
        page.goto(f"{base}/library/{library}")
        assert page.locator("h1").count() == 1
        _shot(page, f"07-library-{library}")

    # the sources page with failed runs
    page.goto(base + "/sources")
    down = page.inner_text("#src-site-down")
    assert "失败" in down and "连接被拒绝" in down
    news = page.inner_text("#src-site-news")
    assert "HTTP 404（页面不存在）" in news or "HTTP 500" in news
    _shot(page, "08-sources")

    # crawl now (a source that fails: the page shows it is running, then the new failed run)
    before = {r["id"] for r in _api(base, "/api/runs?source=site-down&limit=50", page.context.cookies())}
    with page.expect_navigation():
        page.locator("#src-site-down button[type=submit]").click()
    assert "已开始抓取" in page.inner_text(".notice")
    _shot(page, "09-crawl-now")
    run = _wait_crawl_done(page, base, "site-down", before)
    assert run["status"] == "failed"

    # a subscription made in the UI: new documents of site-fresh, to a webhook and an e-mail address
    page.goto(base + "/subscriptions")
    page.fill("input[name=name]", "本站新闻推送")
    page.select_option("select[name=source]", "site-fresh")
    page.fill("textarea[name=notify]", f"{day['hook'].url('/journey')}\n{day['mail'].url('li@example.com')}")
    _shot(page, "10-subscription-form")
    with page.expect_navigation():
        page.click("#subform button[type=submit]")
    assert "订阅已保存" in page.inner_text(".notice")
    row = page.locator("table.subs tbody tr").first.inner_text()
    assert "本站新闻推送" in row and "邮件 → li@example.com" in row and "即时推送" in row
    _shot(page, "11-subscription-saved")

    # the site publishes; a crawl brings the new document; exactly one webhook message and one e-mail arrive
    day["fresh"].publish()
    before = {r["id"] for r in _api(base, "/api/runs?source=site-fresh&limit=50", page.context.cookies())}
    page.goto(base + "/sources")
    with page.expect_navigation():
        page.locator("#src-site-fresh button[type=submit]").click()
    run = _wait_crawl_done(page, base, "site-fresh", before)
    assert run["new"] == 1, run
    deadline = time.time() + 60
    while (not day["hook"].received or not day["mail"].messages) and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # anything sent twice would have arrived by now
    assert len(day["hook"].received) == 1, day["hook"].received
    assert len(day["mail"].messages) == 1
    new_doc = run["new_ids"][0]
    assert new_doc in json.dumps(day["hook"].received[0]["json"], ensure_ascii=False) or \
        day["hook"].received[0]["headers"].get("X-Techscout-Delivery")

    # the delivery log shows it, both channels sent
    page.goto(base + "/subscriptions#log")
    log = page.inner_text("table.deliveries")
    assert "本站新闻推送" in log and "已送达" in log
    assert page.locator("table.deliveries tbody tr").first.locator(".tag.ok").count() == 2
    _shot(page, "12-delivery-log")

    # the overview shows the crawls and the delivery
    page.goto(base + "/overview")
    assert page.locator("svg.chart").count() == 4
    assert int(page.inner_text(".stat:nth-child(4) strong")) >= 1  # 推送成功
    assert "site-fresh" in page.inner_text("table.health") and "site-down" in page.inner_text("table.health")
    _shot(page, "13-overview")
    cookies = page.context.cookies()
    page.close()

    # the overview and the search page at phone width
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    phone.context.add_cookies(cookies)  # type: ignore[arg-type]
    phone.goto(base + "/overview")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    _shot(phone, "14-overview-phone")
    phone.goto(base + "/search?q=" + word)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    _shot(phone, "15-search-phone", full=False)
    phone.close()


def test_swagger_ui_runs_from_the_package(day: dict[str, Any], browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(day["base"]) else None)
    page.goto(day["base"] + "/login?next=/docs/swagger")
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector(".opblock", timeout=20000)
    assert page.locator(".opblock").count() >= 8 and not outside
    _shot(page, "16-swagger", full=False)
    page.close()
