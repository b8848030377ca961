"""Saved government list pages served on local ports, and the score of a crawl against their hand labels.

The pages and labels are in ``tests/fixtures/lists`` (see its README). Each site gets its own port on 127.0.0.1 (so
robots.txt and delays are per site, as on the real sites). A site answers:

* its list page at the path in ``gold.json`` (absolute links to the site's own host rewritten to the local server,
  as a crawl of the real site would stay on it);
* each labelled item with a real article page of ``corpus/web-zh`` (the same page for the same path);
* anything else with 404 — navigation, other columns and next pages of the list exist, but were not saved.

Every request is recorded, so a test or the benchmark can tell items, pagination and stray fetches apart.
Used by ``tests/test_lists.py`` and ``benchmarks/lists.py``.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "lists"
CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))


@dataclass
class ListSite:
    name: str
    title: str
    file: str
    path: str  # where the list page is served
    hosts: list[str]
    split: str  # "tune" or "held-out"
    items: list[str]  # hand-labelled item paths
    pages: list[str]  # the list's own pagination

    def html(self, base: str) -> bytes:
        text = (FIXTURES / self.file).read_text(encoding="utf-8")
        for host in self.hosts:
            for scheme in ("http://", "https://"):
                text = text.replace(scheme + host, base)
        return text.encode("utf-8")


def load_sites() -> dict[str, ListSite]:
    gold = json.loads((FIXTURES / "gold.json").read_text(encoding="utf-8"))
    return {name: ListSite(name=name, **entry) for name, entry in gold.items()}


@dataclass
class Score:
    items: int  # in the gold
    fetched_items: int
    non_items: int  # fetches that are neither an item, the list's pagination nor the start page
    pagination: int
    strays: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        fetched = self.fetched_items + self.non_items
        return self.fetched_items / fetched if fetched else 0.0

    @property
    def recall(self) -> float:
        return self.fetched_items / self.items if self.items else 0.0


def score(site: ListSite, paths: list[str]) -> Score:
    """Score the paths a crawl requested from one site against its labels."""
    start = {site.path, site.path + "index.html", site.path.rstrip("/")}
    requested = set(paths) - start - {"/robots.txt"}
    items = set(site.items)
    pages = set(site.pages)
    strays = sorted(requested - items - pages)
    return Score(len(items), len(requested & items), len(strays), len(requested & pages), strays)


class ListSites:
    """Every site of ``gold.json`` served from this process, each on its own port."""

    def __init__(self, names: list[str] | None = None) -> None:
        sites = load_sites()
        self.sites = {n: s for n, s in sites.items() if names is None or n in names}
        self._articles = sorted((CORPUS / "web-zh").glob("*/*.html"))
        if not self._articles:
            raise RuntimeError(f"no article pages under {CORPUS / 'web-zh'} (set TECHSCOUT_CORPUS)")
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._log: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def __enter__(self) -> ListSites:
        for name, site in self.sites.items():
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(site))
            server.daemon_threads = True
            self._servers[name] = server
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def base(self, name: str) -> str:
        host, port = self._servers[name].server_address[:2]
        return f"http://{host}:{port}"

    def start_url(self, name: str) -> str:
        return self.base(name) + self.sites[name].path

    def paths(self, name: str) -> list[str]:
        with self._lock:
            return [p for site, p, _status in self._log if site == name]

    def reset(self) -> None:
        with self._lock:
            self._log.clear()

    def article_for(self, path: str) -> bytes:
        return self._articles[zlib.crc32(path.encode()) % len(self._articles)].read_bytes()

    def _handler(self, site: ListSite) -> type[BaseHTTPRequestHandler]:
        sites = self
        items = set(site.items)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                path = self.path
                if path in (site.path, site.path + "index.html"):
                    status, body = 200, site.html(sites.base(site.name))
                elif path in items:
                    status, body = 200, sites.article_for(path)
                else:
                    status, body = 404, b"<html><body><h1>404 Not Found</h1></body></html>"
                with sites._lock:
                    sites._log.append((site.name, path, status))
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
