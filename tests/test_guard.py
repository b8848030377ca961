"""The crawler's outbound-URL guard against a real local site: start URLs, links and redirect hops that reach this
machine (by address, by number, by an IPv6 form, by a name resolving to it) or a private network are refused with
``blocked-private`` before anything is sent to them, and the connection goes to the address that was checked.

The names are resolved through the test network of :mod:`crawlers.guard` (``TECHSCOUT_TEST_NETWORK``):
``news.example.com`` answers a public address whose connections are delivered to the local site, as if it were on
the internet; other names answer private or loopback addresses."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.settings import load_settings
from crawlers.guard import GUARD, browser_request_blocked
from tests.conftest import CORPUS, run_cli, write_source

PUBLIC = "93.184.216.34"  # a public address; the test network delivers its connections to 127.0.0.1


def _page(path: Path) -> bytes:
    from pipelines.extract.decode import decode_html

    return decode_html(path.read_bytes()).text.encode("utf-8")


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    """``/start/`` lists one article and four links that redirect to this machine or a private network;
    ``/secret.html`` (a real article page too) must never be fetched with the guard on."""
    pages = sorted(p for p in (CORPUS / "web-zh").glob("*/*.html") if p.parent.name not in ("toutiao", "other"))
    article, secret = _page(pages[42]), _page(pages[43])
    log: list[tuple[str, str]] = []
    hops = {  # another host of the same site (allowed) whose name answers a private or loopback address ...
        "/a/2021/03/02/go-intranet.html": "http://intranet.news.example.com:{port}/secret.html",
        "/a/2021/03/03/go-loopback.html": "http://local.news.example.com:{port}/secret.html",
        # ... or this machine by address, by number, by an IPv6 form
        "/a/2021/03/04/go-local.html": "http://127.0.0.1:{port}/secret.html",
        "/a/2021/03/05/go-numeric.html": "http://2130706433:{port}/secret.html",
        "/a/2021/03/06/go-mapped.html": "http://[::ffff:127.0.0.1]:{port}/secret.html",
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            log.append((self.headers.get("Host", ""), self.path))
            port = self.server.server_address[1]
            headers = {"Content-Type": "text/html; charset=utf-8"}
            if self.path == "/start/":
                items = [("/a/2021/03/01/news-1.html", "科技创新成果转化平台建设取得新进展")] + [
                    (p, f"关于科技成果转化第{i}批项目的公示通知") for i, p in enumerate(hops)
                ]
                lis = "".join(f'<li><a href="{u}">{t}</a><span>2021-03-0{i + 1}</span></li>'
                              for i, (u, t) in enumerate(items))
                status, body = 200, f"<html><head><title>要闻</title></head><body><ul>{lis}</ul></body></html>".encode()
            elif self.path == "/a/2021/03/01/news-1.html":
                status, body = 200, article
            elif self.path == "/secret.html":
                status, body = 200, secret
            elif self.path in hops:
                status, body = 302, b""
                headers["Location"] = hops[self.path].format(port=port)
            else:
                status, body = 404, b"not here"
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"port": server.server_address[1], "log": log, "hops": list(hops)}
    server.shutdown()
    server.server_close()


def _env(allow_private: bool = False) -> dict[str, str]:
    network = {
        "hosts": {
            "news.example.com": [PUBLIC],
            "intranet.news.example.com": ["10.1.2.3"],
            "local.news.example.com": ["127.0.0.1"],
            "loopback.example.com": ["127.0.0.1"],
            # the first answer is public, every later one is this machine (DNS rebinding)
            "rebind.example.com": [[PUBLIC], ["127.0.0.1"]],
        },
        "routes": {PUBLIC: "127.0.0.1"},
    }
    return {"TECHSCOUT_ALLOW_PRIVATE_URLS": "1" if allow_private else "0", "TECHSCOUT_DELAY": "0",
            "TECHSCOUT_TIMEOUT": "10", "TECHSCOUT_TEST_NETWORK": json.dumps(network)}


def _crawl(sources: Path, data: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    out = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=env)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    return {s["source"]: s for s in json.loads(out.stdout)}


def _stored(data: Path) -> set[str]:
    out = run_cli("search", "", "--json", "--limit", "100", data=data)
    return {h["url"] for h in json.loads(out.stdout)["hits"]} if out.returncode == 0 else set()


def test_redirect_hops_to_this_machine_or_a_private_network_are_refused(site: dict[str, Any], tmp_path: Path) -> None:
    port = site["port"]
    hosts = ["news.example.com", "127.0.0.1", "2130706433", "::ffff:127.0.0.1"]
    # the redirects to other hosts of the site reach the guard; with those hosts allowed, every hop does
    write_source(tmp_path / "sources", "public", start_urls=[f"http://news.example.com:{port}/start/"])
    write_source(tmp_path / "sources", "wide", start_urls=[f"http://news.example.com:{port}/start/"],
                 allowed_domains=hosts)
    site["log"].clear()
    summaries = _crawl(tmp_path / "sources", tmp_path / "data", _env())
    name = {p: p.rsplit("/", 1)[1] for p in site["hops"]}
    public, wide = summaries["public"], summaries["wide"]
    assert public["errors"] == {"blocked-private": 2, "off-site": 3}, public
    assert wide["errors"] == {"blocked-private": 5}, wide
    assert {u.rsplit("/", 1)[1] for u in wide["error_examples"]["blocked-private"]} == set(name.values())
    assert [p for _host, p in site["log"] if p == "/secret.html"] == []  # never requested
    assert _stored(tmp_path / "data") == {f"http://news.example.com:{port}/a/2021/03/01/news-1.html"}
    for summary in (public, wide):  # each list item that gave no article, with its reason
        dropped = {d["url"].rsplit("/", 1)[1]: d["reason"] for d in summary["dropped_items"]}
        assert set(dropped) == set(name.values())
    assert {k: v for k, v in ((d["url"].rsplit("/", 1)[1], d["reason"]) for d in public["dropped_items"])} == {
        "go-intranet.html": "blocked-private", "go-loopback.html": "blocked-private",
        "go-local.html": "off-site", "go-numeric.html": "off-site", "go-mapped.html": "off-site"}


def test_start_urls_on_this_machine_are_refused_before_anything_is_sent(site: dict[str, Any], tmp_path: Path) -> None:
    port = site["port"]
    starts = {
        "by-address": f"http://127.0.0.1:{port}/start/",
        "by-number": f"http://2130706433:{port}/start/",
        "by-hex": f"http://0x7f.1:{port}/start/",
        "by-ipv6": f"http://[::ffff:127.0.0.1]:{port}/start/",
        "by-name": f"http://loopback.example.com:{port}/start/",
        "localhost": f"http://localhost:{port}/start/",
    }
    for name, url in starts.items():
        write_source(tmp_path / "sources", name, start_urls=[url])
    site["log"].clear()
    summaries = _crawl(tmp_path / "sources", tmp_path / "data", _env())
    for name in starts:
        assert summaries[name]["status"] == "failed", summaries[name]
        assert summaries[name]["errors"] == {"blocked-private": 1}, summaries[name]
    assert site["log"] == []  # not even robots.txt


def test_the_connection_goes_to_the_address_that_was_checked(site: dict[str, Any], tmp_path: Path) -> None:
    """The name answers a public address first and this machine afterwards: the crawl connects to the checked
    first answer (a second lookup, at connection time, would have been refused)."""
    port = site["port"]
    write_source(tmp_path / "sources", "rebind", start_urls=[f"http://rebind.example.com:{port}/start/"],
                 deny=["go-"])
    summary = _crawl(tmp_path / "sources", tmp_path / "data", _env())["rebind"]
    assert summary["errors"] == {} and summary["new"] == 1, summary
    assert _stored(tmp_path / "data") == {f"http://rebind.example.com:{port}/a/2021/03/01/news-1.html"}


def test_with_allow_private_urls_the_same_links_are_followed(site: dict[str, Any], tmp_path: Path) -> None:
    """The control: the fixture's redirects really reach the secret page when the guard is off."""
    write_source(tmp_path / "sources", "public", start_urls=[f"http://news.example.com:{site['port']}/start/"],
                 allowed_domains=["news.example.com", "127.0.0.1"], deny=["go-intranet", "go-loopback", "go-numeric",
                                                                        "go-mapped"])
    site["log"].clear()
    summary = _crawl(tmp_path / "sources", tmp_path / "data", _env(allow_private=True))["public"]
    assert "blocked-private" not in summary["errors"]
    assert any(p == "/secret.html" for _host, p in site["log"])
    assert len(_stored(tmp_path / "data")) == 2  # the article and, through the redirect, the secret page


class _BrowserRequest:
    def __init__(self, url: str, redirected_from: _BrowserRequest | None = None) -> None:
        self.url = url
        self.redirected_from = redirected_from


def test_the_browser_is_stopped_at_every_blocked_request() -> None:
    """A rendered page's own requests and the redirect hops the browser follows go through the same check."""
    GUARD.configure(load_settings(env={}))
    assert GUARD.allow_private is False

    def blocked(request: _BrowserRequest) -> bool:
        return asyncio.run(browser_request_blocked(request))

    assert blocked(_BrowserRequest("http://169.254.169.254/latest/meta-data/"))  # cloud metadata
    assert blocked(_BrowserRequest("http://100.100.100.200/latest/meta-data/"))  # CGNAT metadata
    assert blocked(_BrowserRequest("http://[fd00::1]/"))
    assert blocked(_BrowserRequest("http://0x7f000001/"))
    assert blocked(_BrowserRequest("http://intranet.local/"))
    assert not blocked(_BrowserRequest("data:image/png;base64,AAAA"))
    start = _BrowserRequest("http://93.184.216.34/news/")
    assert not blocked(start)
    assert blocked(_BrowserRequest("http://127.0.0.1:8080/admin", redirected_from=start))
    assert "http://93.184.216.34/news/" in GUARD.browser_blocked  # the navigation fails blocked-private
