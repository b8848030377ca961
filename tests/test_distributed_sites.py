"""Timed fixture sites for the distributed crawl tests and benchmark: each site is one list page linking to
article pages (real saved pages from ``corpus/web-zh``), served on its own loopback address (127.0.0.2, 127.0.0.3,
... are distinct hosts), optionally with a delay per request, recording when each request arrived.

Run as ``python -m tests.test_distributed_sites N_SITES ARTICLES DELAY``: prints one JSON line
``{"sites": [base_url, ...], "control": url}``; the control server answers ``/log`` with
``[[host, path, status, arrived, answered], ...]`` (``answered`` is null while the answer is being prepared) and
``/reset``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_pages() -> list[bytes]:
    pages = sorted(
        p for p in (CORPUS / "web-zh").glob("*/*.html") if p.parent.name not in ("toutiao", "other")
    )
    out = []
    for p in pages:
        raw = p.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(raw)
    return out


class Sites:
    def __init__(self, n_sites: int, articles: int, delay: float) -> None:
        self.delay = delay
        self.log: list[list[Any]] = []
        self.lock = threading.Lock()
        pages = corpus_pages()
        self.sites: list[dict[str, bytes]] = []
        k = 0
        for _ in range(n_sites):
            site: dict[str, bytes] = {}
            links = []
            for j in range(articles):
                path = f"/news/2024/05/{j % 28 + 1:02d}/content_{k}.html"
                site[path] = pages[k % len(pages)]
                links.append(f'<li><a href="{path}">科技创新动态第{k}期：重点实验室发布新成果</a></li>')
                k += 1
            site["/news/"] = (
                "<html><head><meta charset='utf-8'><title>科技动态</title></head><body><ul>"
                + "".join(links)
                + "</ul></body></html>"
            ).encode()
            site["/robots.txt"] = b"User-agent: *\nAllow: /\n"
            self.sites.append(site)

    def handler(self, index: int) -> type[BaseHTTPRequestHandler]:
        sites = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                arrived = time.time()
                body = sites.sites[index].get(self.path.split("?")[0])
                status = 200 if body is not None else 404
                entry: list[Any] = [self.headers.get("Host", ""), self.path, status, arrived, None]
                with sites.lock:
                    sites.log.append(entry)
                if sites.delay and self.path != "/robots.txt":
                    time.sleep(sites.delay)
                payload = body if body is not None else b"not found"
                self.send_response(status)
                ctype = "text/plain" if self.path == "/robots.txt" else "text/html; charset=utf-8"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                with sites.lock:
                    entry[4] = time.time()

        return Handler

    def control(self) -> type[BaseHTTPRequestHandler]:
        sites = self

        class Control(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/reset"):
                    with sites.lock:
                        sites.log.clear()
                    payload = b"[]"
                else:
                    with sites.lock:
                        payload = json.dumps(sites.log).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Control


def serve(n_sites: int, articles: int, delay: float) -> None:
    sites = Sites(n_sites, articles, delay)
    urls = []
    for i in range(n_sites):
        httpd = ThreadingHTTPServer((f"127.0.0.{i + 2}", 0), sites.handler(i))
        httpd.daemon_threads = True
        urls.append(f"http://127.0.0.{i + 2}:{httpd.server_address[1]}")
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    control = ThreadingHTTPServer(("127.0.0.1", 0), sites.control())
    print(json.dumps({"sites": urls, "control": f"http://127.0.0.1:{control.server_address[1]}"}), flush=True)
    control.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
