"""A local HTTP server of fixture sites built from real saved pages (Scrapy's ``tests/mockserver`` pattern).

Run as a subprocess: ``python -m tests.mockserver`` prints one JSON line ``{"sites": {name: base_url},
"control": url}`` and serves until killed. Sites (each on its own port, so robots.txt is per site):

* ``utf8``  — paginated list pages (下一页 and page numbers) of real UTF-8 pages from ``corpus/web-zh``;
  robots.txt disallows ``/private/``; a calendar trap and a session-id trap; 404, 500, slow (timeout) pages and a
  redirect loop; ETag / Last-Modified with 304 answers;
* ``gbk``   — real GB2312/GBK pages from ``corpus/zh-extraction``, served without any charset header, meta
  charset removed;
* ``rss``   — an RSS 2.0 feed and a sitemap of real pages;
* ``js``    — a list page whose links exist only after its JavaScript runs;
* ``hostile`` — a list whose items go wrong in every way a crawl must report rather than hide: a gzip bomb and a
  page over the per-page budget (``too-large``), a page without an article body (``empty-body``), an exact copy of
  another article (``duplicate``), an item that is itself a list (``list-page``), a redirect loop and a redirect
  chain longer than the limit (``redirect-loop``), a missing page (``http-404``) — beside two real articles.

The control server answers ``/log`` (JSON list of ``[site, path, status]`` requests served, in order) and
``/reset``. Articles are listed in ``/manifest`` of the control server with their URL and, when gold text is
known, a phrase from their body.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))
LAST_MODIFIED = "Mon, 18 Jan 2021 08:00:00 GMT"
PER_PAGE = 8


@dataclass
class Article:
    path: str
    body: bytes
    content_type: str
    title: str
    phrase: str = ""


@dataclass
class Site:
    name: str
    articles: list[Article] = field(default_factory=list)
    extra: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)  # path -> (status, ctype, body)


def _strip_meta_charset(text: str) -> str:
    text = re.sub(r"<meta[^>]+charset[^>]*>", "", text, flags=re.I)
    return re.sub(r"^<\?xml[^>]*\?>", "", text)


def _title_of(text: str) -> str:
    m = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    return html.unescape(re.sub(r"\s+", " ", m.group(1)).strip()) if m else ""


def _phrase(body: str) -> str:
    """A phrase of about 14 characters from the middle of a gold body (no spaces or punctuation inside)."""
    runs = re.findall(r"[\u4e00-\u9fff]{14,}", body)
    if not runs:
        return ""
    run = runs[len(runs) // 2]
    mid = len(run) // 2
    return run[max(0, mid - 7) : mid + 7]


def _decode(raw: bytes) -> str:
    sys.path.insert(0, str(REPO))
    from pipelines.extract.decode import decode_html

    return decode_html(raw).text


def _list_page(title: str, items: list[tuple[str, str]], page: int, pages: int, base: str, extra_links: str = "",
               encoding: str = "utf-8") -> bytes:
    lis = "\n".join(
        f'<li><a href="{href}">{html.escape(text)}</a><span class="date">2021-01-{(i % 28) + 1:02d}</span></li>'
        for i, (href, text) in enumerate(items)
    )
    nums = " ".join(
        f'<a href="{base}{"" if n == 1 else f"index_{n}.html"}">{n}</a>' if n != page else f"<b>{n}</b>"
        for n in range(1, pages + 1)
    )
    nxt = f'<a href="{base}index_{page + 1}.html">下一页</a>' if page < pages else ""
    doc = f"""<!DOCTYPE html><html><head><title>{html.escape(title)} 第{page}页</title></head><body>
<div class="nav"><a href="/">首页</a> <a href="/about.html">关于我们</a> <a href="/contact.html">联系我们</a></div>
<h1>{html.escape(title)}</h1><ul class="list">{lis}</ul>
<div class="pages">{nums} {nxt}</div>{extra_links}
<div class="footer">版权所有 © 2021 示例科技网 京ICP备00000000号</div></body></html>"""
    return doc.encode(encoding, errors="xmlcharrefreplace")


def build_sites() -> dict[str, Site]:
    web_zh = sorted(p for p in (CORPUS / "web-zh").glob("*/*.html") if p.parent.name not in ("toutiao", "other"))
    gold = json.loads((CORPUS / "zh-extraction" / "gold.json").read_text(encoding="utf-8"))
    sites = {name: Site(name) for name in ("utf8", "gbk", "rss", "js", "hostile")}

    # utf8: web-zh pages, served as UTF-8 with a charset header
    for i, path in enumerate(web_zh[:24]):
        text = _decode(path.read_bytes())
        body = _strip_meta_charset(text)
        body = re.sub(r"<head>", '<head><meta charset="utf-8">', body, count=1, flags=re.I)
        sites["utf8"].articles.append(
            Article(f"/news/2021/01/{(i % 28) + 1:02d}/c{1000 + i}.html", body.encode("utf-8"),
                    "text/html; charset=utf-8", _title_of(text))
        )
    # gbk: zh-extraction pages, re-encoded as GBK, no charset anywhere
    for i, (gid, item) in enumerate(sorted(gold.items())[:30]):
        raw = (CORPUS / "zh-extraction" / "pages" / f"{gid}.html").read_bytes()
        text = _strip_meta_charset(_decode(raw))
        sites["gbk"].articles.append(
            Article(f"/kjdt/t202101{(i % 28) + 1:02d}_{5000 + i}.htm", text.encode("gbk", errors="xmlcharrefreplace"),
                    "text/html", _title_of(text), _phrase(item.get("body", "")))
        )
    # rss: the remaining web-zh pages, through a feed and a sitemap
    for i, path in enumerate(web_zh[24:40]):
        text = _decode(path.read_bytes())
        sites["rss"].articles.append(
            Article(f"/a/{2000 + i}.html", text.encode("utf-8"), "text/html; charset=utf-8", _title_of(text))
        )
    # js: a few zh-extraction pages behind a JavaScript-built list
    for i, (gid, item) in enumerate(sorted(gold.items())[30:36]):
        raw = (CORPUS / "zh-extraction" / "pages" / f"{gid}.html").read_bytes()
        text = _decode(raw)
        sites["js"].articles.append(
            Article(f"/detail/{3000 + i}.html", text.encode("utf-8"), "text/html; charset=utf-8", _title_of(text),
                    _phrase(item.get("body", "")))
        )

    # list pages
    for name, base, title in (("utf8", "/news/", "科技要闻"), ("gbk", "/kjdt/", "科技动态")):
        site = sites[name]
        items = [(a.path, a.title or f"文章 {i}") for i, a in enumerate(site.articles)]
        pages = (len(items) + PER_PAGE - 1) // PER_PAGE
        enc = "gbk" if name == "gbk" else "utf-8"
        ctype = "text/html" if name == "gbk" else "text/html; charset=utf-8"
        for page in range(1, pages + 1):
            chunk = items[(page - 1) * PER_PAGE : page * PER_PAGE]
            extra = ""
            if name == "utf8" and page == 1:
                chunk = chunk + [
                    ("/private/internal-report.html", "内部资料：关于科技成果转化的内部报告全文"),
                    ("/news/2021/01/18/missing.html", "已经删除的一篇关于新材料产业的报道"),
                    ("/news/2021/01/18/broken.html", "服务器出错的一篇关于芯片产业的报道"),
                    ("/news/2021/01/18/slow.html", "响应很慢的一篇关于生物医药产业的报道"),
                    ("/loop/a.html", "一个循环重定向的关于科技政策的页面链接"),
                ]
                extra = ('<div class="tools"><a href="/calendar?date=2021-01-01">日历</a> '
                         '<a href="/news/list;jsessionid=A1B2C3?page=1">1</a></div>')
            doc = _list_page(title, chunk, page, pages, base, extra, enc)
            site.extra[base + ("" if page == 1 else f"index_{page}.html")] = (200, ctype, doc)
        # a home page whose only way in is a short channel link in the navigation
        home = (f'<!DOCTYPE html><html><head><title>首页</title></head><body><div class="nav"><a href="/">首页</a> '
                f'<a href="{base}">{title}</a> <a href="/about.html">关于我们</a></div>'
                '<div class="banner">欢迎访问</div></body></html>')
        site.extra["/"] = (200, ctype, home.encode(enc, errors="xmlcharrefreplace"))

    site = sites["utf8"]
    site.extra["/robots.txt"] = (200, "text/plain", b"User-agent: *\nDisallow: /private/\n")
    site.extra["/private/internal-report.html"] = (200, "text/html; charset=utf-8", site.articles[0].body)
    site.extra["/news/2021/01/18/broken.html"] = (500, "text/html", b"<h1>500 Internal Server Error</h1>")

    rss = sites["rss"]
    items = "\n".join(
        f"<item><title>{html.escape(a.title)}</title><link>http://HOST{a.path}</link>"
        f"<pubDate>Mon, {(i % 28) + 1:02d} Jan 2021 08:00:00 +0800</pubDate></item>"
        for i, a in enumerate(rss.articles[:10])
    )
    feed = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>科技频道</title>{items}</channel></rss>'
    rss.extra["/feed.xml"] = (200, "application/rss+xml; charset=utf-8", feed.encode("utf-8"))
    urls = "".join(f"<url><loc>http://HOST{a.path}</loc></url>" for a in rss.articles[10:])
    smap = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    rss.extra["/sitemap.xml"] = (200, "application/xml", smap.encode("utf-8"))
    rss.extra["/"] = (200, "text/html; charset=utf-8", (
        '<!DOCTYPE html><html><head><title>科技频道</title>'
        '<link rel="alternate" type="application/rss+xml" title="科技频道" href="/feed.xml"></head>'
        '<body><p>订阅本频道的 RSS。</p></body></html>').encode())

    js = sites["js"]
    data = json.dumps([{"u": a.path, "t": a.title or "文章"} for a in js.articles], ensure_ascii=False)
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>成果发布</title></head><body>
<h1>成果发布</h1><ul id="list"></ul><p>本栏目内容由脚本加载。</p>
<script>var items = {data};
var ul = document.getElementById('list');
items.forEach(function (it) {{ var li = document.createElement('li'); var a = document.createElement('a');
a.href = it.u; a.textContent = it.t + '（成果详情）'; li.appendChild(a); ul.appendChild(li); }});</script>
</body></html>"""
    js.extra["/"] = (200, "text/html; charset=utf-8", page.encode("utf-8"))
    _hostile(sites["hostile"], web_zh[40:42])
    return sites


HOSTILE_BUDGET = 8 * 1024 * 1024  # crawlers.settings.PAGE_MAX_BYTES: the pages below are made larger than it


def _hostile(site: Site, pages: list[Path]) -> None:
    """The ``hostile`` site (see the module docstring); ``/`` lists every item, ``/expected.json`` says what each
    item must come to (a stored article, or the kind of error or the reason it was not stored)."""
    html_ct = "text/html; charset=utf-8"
    expected: dict[str, str] = {}
    items: list[tuple[str, str]] = []
    for i, path in enumerate(pages):
        text = _decode(path.read_bytes())
        url = f"/hostile/2021/02/0{i + 1}/a{i + 1}.html"
        site.articles.append(Article(url, text.encode("utf-8"), html_ct, _title_of(text)))
        items.append((url, _title_of(text) or f"科技创新成果第{i + 1}篇报道全文"))
        expected[url] = "stored"
    copy = "/hostile/2021/02/03/copy-of-a1.html"  # the same page as the first article, at another URL
    site.extra[copy] = (200, html_ct, site.articles[0].body)
    items.append((copy, "转载：" + items[0][1]))
    expected[copy] = "duplicate"
    empty = "/hostile/2021/02/04/empty.html"
    site.extra[empty] = (200, html_ct, (
        "<!DOCTYPE html><html><head><title>科技动态 - 示例科技网</title></head><body>"
        '<div class="nav"><a href="/">首页</a> <a href="/about.html">关于我们</a></div>'
        '<div class="footer">版权所有 © 2021 示例科技网</div></body></html>').encode())
    items.append((empty, "关于高新技术企业认定管理工作的通知解读"))
    expected[empty] = "empty-body"
    column = "/hostile/zhuanti/kjzc/"  # not shaped like an article: read first, and it is a list
    links = "".join(  # a column of dated policy items (never fetched: the crawl stays in the list it was given)
        f'<li><a href="/hostile/zhuanti/kjzc/2021/03/{i:02d}/p{i}.html">{title}（第 {i} 期）</a>'
        f"<span>2021-03-{i:02d}</span></li>"
        for i, (_url, title) in enumerate(items[:2] * 5, start=1)
    )
    site.extra[column] = (200, html_ct, (
        f"<!DOCTYPE html><html><head><title>科技政策专栏</title></head><body><ul>{links}</ul></body></html>"
    ).encode())
    items.append((column, "科技政策专栏：近期科技政策文件汇编与解读"))
    expected[column] = "list-page"
    bomb = "/hostile/2021/02/05/bomb.html"  # a few KB on the wire, far over the budget once decompressed
    site.extra[bomb] = (200, html_ct + "\0gzip", gzip.compress(b"<html><body>" + b" " * (2 * HOSTILE_BUDGET), 9))
    items.append((bomb, "国家重点研发计划重点专项申报指南发布"))
    expected[bomb] = "too-large"
    huge = "/hostile/2021/02/06/huge.html"  # 15 MB of empty <div>s: over the budget as it is
    site.extra[huge] = (200, html_ct, b"<html><body>" + b"<div></div>" * (HOSTILE_BUDGET // 11 + 100_000))
    items.append((huge, "全国科技工作会议在京召开部署重点任务"))
    expected[huge] = "too-large"
    items.append(("/hostile/2021/02/07/loop.html", "科技成果转化条例修订情况说明全文"))
    expected["/hostile/2021/02/07/loop.html"] = "redirect-loop"
    items.append(("/hostile/2021/02/08/chain-0.html", "关于开展科技型中小企业评价工作的通知"))
    expected["/hostile/2021/02/08/chain-0.html"] = "redirect-loop"
    items.append(("/hostile/2021/02/09/gone.html", "已删除的关于新型研发机构建设的报道"))
    expected["/hostile/2021/02/09/gone.html"] = "http-404"
    site.extra["/"] = (200, html_ct, _list_page("科技要闻", items, 1, 1, "/"))
    site.extra["/expected.json"] = (200, "application/json", json.dumps(expected).encode())



def _quiet(request: object, client_address: object) -> None:
    """Connections reset by clients that timed out are part of the fixtures, not errors."""


class Server:
    def __init__(self) -> None:
        self.sites = build_sites()
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.bases: dict[str, str] = {}

    def record(self, site: str, path: str, status: int) -> None:
        with self.lock:
            self.log.append((site, path, status))

    def handler_for(self, site_name: str) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> None:
                server.record(site_name, self.path, status)
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                site = server.sites[site_name]
                parts = urlsplit(self.path)
                path = parts.path
                host = self.headers.get("Host", "")
                if path == "/calendar":
                    day = parse_qs(parts.query).get("date", ["2021-01-01"])[0]
                    try:
                        t = time.strptime(day, "%Y-%m-%d")
                        nxt = time.strftime("%Y-%m-%d", time.localtime(time.mktime(t) + 86400))
                    except ValueError:
                        nxt = "2021-01-02"
                    links = " ".join(f'<a href="/calendar?date={nxt}&v={n}">{n}</a>' for n in range(1, 8))
                    body = f"<html><body><h1>日历 {day}</h1>{links} <a href='/calendar?date={nxt}'>下一页</a></body></html>"
                    return self._send(200, "text/html; charset=utf-8", body.encode())
                if path.startswith("/news/list;jsessionid") or path == "/news/list":
                    sid = hashlib.md5(str(time.time()).encode()).hexdigest()[:8]
                    page = int(parse_qs(parts.query).get("page", ["1"])[0])
                    body = (f"<html><body><a href='/news/list;jsessionid={sid}?page={page + 1}'>{page + 1}</a>"
                            f"<a href='/news/list;jsessionid={sid}?page={page + 1}'>下一页</a></body></html>")
                    return self._send(200, "text/html; charset=utf-8", body.encode())
                if path.startswith("/loop/"):
                    target = "/loop/b.html" if path == "/loop/a.html" else "/loop/a.html"
                    return self._send(302, "text/html", b"", {"Location": target})
                if path == "/hostile/2021/02/07/loop.html":
                    return self._send(302, "text/html", b"", {"Location": "/hostile/2021/02/07/loop-back.html"})
                if path == "/hostile/2021/02/07/loop-back.html":
                    return self._send(301, "text/html", b"", {"Location": "/hostile/2021/02/07/loop.html"})
                m = re.match(r"^/hostile/2021/02/08/chain-(\d+)\.html$", path)
                if m:  # a chain of redirects longer than any crawler follows
                    return self._send(302, "text/html", b"", {"Location": f"/hostile/2021/02/08/chain-{int(m.group(1)) + 1}.html"})
                if path.endswith("/slow.html"):
                    time.sleep(float(os.environ.get("MOCKSERVER_SLOW", "6")))
                    return self._send(200, "text/html; charset=utf-8", b"<html><body>slow</body></html>")
                if path in site.extra:
                    status, ctype, body = site.extra[path]
                    headers: dict[str, str] = {}
                    if ctype.endswith("\0gzip"):
                        ctype = ctype[: -len("\0gzip")]
                        headers["Content-Encoding"] = "gzip"
                    else:
                        body = body.replace(b"http://HOST", f"http://{host}".encode())
                    return self._send(status, ctype, body, headers)
                for art in site.articles:
                    if art.path == path:
                        etag = '"' + hashlib.sha1(art.body).hexdigest()[:16] + '"'
                        if self.headers.get("If-None-Match") == etag or (
                            self.headers.get("If-Modified-Since") == LAST_MODIFIED and not self.headers.get("If-None-Match")
                        ):
                            return self._send(304, "", b"", {"ETag": etag})
                        return self._send(200, art.content_type, art.body, {"ETag": etag, "Last-Modified": LAST_MODIFIED})
                if path == "/robots.txt":
                    return self._send(404, "text/plain", b"")
                return self._send(404, "text/html; charset=utf-8", b"<html><body><h1>404 Not Found</h1></body></html>")

        return Handler

    def control_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Control(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/log"):
                    with server.lock:
                        body = json.dumps(server.log).encode()
                elif self.path.startswith("/reset"):
                    with server.lock:
                        server.log.clear()
                    body = b"[]"
                elif self.path.startswith("/manifest"):
                    body = json.dumps({
                        name: [{"url": server.bases[name] + a.path, "title": a.title, "phrase": a.phrase}
                               for a in site.articles]
                        for name, site in server.sites.items()
                    }, ensure_ascii=False).encode()
                else:
                    body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Control

    def serve(self, host: str = "127.0.0.1") -> None:
        servers = []
        for name in self.sites:
            httpd = ThreadingHTTPServer((host, 0), self.handler_for(name))
            httpd.daemon_threads = True
            httpd.handle_error = _quiet  # type: ignore[method-assign]  # clients that gave up (timeouts) are expected
            self.bases[name] = f"http://{host}:{httpd.server_address[1]}"
            servers.append(httpd)
        control = ThreadingHTTPServer((host, 0), self.control_handler())
        control.daemon_threads = True
        servers.append(control)
        for httpd in servers:
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
        print(json.dumps({"sites": self.bases, "control": f"http://{host}:{control.server_address[1]}"}), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    Server().serve()
