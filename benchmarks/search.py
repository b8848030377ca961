"""Search benchmark: indexing throughput and query latency of both backends in one run — the embedded index and
a real OpenSearch node — with raw SQLite FTS5 as the anchor of the embedded one.

    .venv/bin/python benchmarks/search.py                       # 10k and 100k documents, node started here
    .venv/bin/python benchmarks/search.py --sizes 2000 --queries 50
    .venv/bin/python benchmarks/search.py --server http://127.0.0.1:9200   # a node already running
    .venv/bin/python benchmarks/search.py --no-server

Documents are synthetic but realistic: titles and paragraphs composed from corpus sentences (the bodies of
``zh-extraction/gold.json`` and the ``classify/csldcp`` abstracts), with sources, types, domains, regions, dates
and libraries drawn like a real crawl's. Typical staff queries: 1–3 words, alone, with a filter, with facets,
with both.

The anchor is raw SQLite FTS5 with the product's table options (contentless, ``columnsize=0``, the same bigram
tokens, label filters as the same tag tokens, BM25 with the same column weights) and facets counted the same
way (one ``group_concat`` pass over the matches joined to the same narrow table, exact up to
``FACET_EXACT_LIMIT`` matches and sampled beyond, as the product does); it builds no hits, snippets or Python
objects: the floor an SQLite search can reach. The server's facets are exact ``terms`` aggregations over every
match; the tables say which figure is exact and which sampled.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", ROOT.parent / "shared" / "corpus"))

SOURCES = [f"source-{i:02d}" for i in range(24)]
TYPES = ["news"] * 6 + ["policy"] * 2 + ["achievement", "demand", "talent", "event", "other"]
REGIONS = ["北京", "上海", "广东", "江苏", "浙江", "四川", "湖北", "陕西", "山东", "安徽", None]
LIBRARIES = [[], [], [], ["problem"], ["project"], ["talent"], ["problem", "project"]]
QUERIES = [
    "人工智能",
    "纳米",
    "电池",
    "芯片",
    "量子",
    "新材料",
    "基因",
    "催化剂",
    "传感器",
    "机器人",
    "科技创新",
    "技术 转化",
    "农业 技术",
    "制备 工艺",
    "人才 引进",
    "数据 分析",
    "环境 监测",
    "新能源 汽车",
    "材料 性能 研究",
    "医学 临床 治疗",
    '"实验结果表明"',
    "电池 OR 储能",
    "算法 -图像",
]
FILTERS: list[dict[str, list[str]]] = [
    {"content_type": ["policy"]},
    {"region": ["北京"]},
    {"source": ["source-03", "source-07"]},
    {"domains": ["新材料"]},
    {"libraries": ["problem"]},
]
FACETS = ["source", "content_type", "domains", "region"]
# the worst case: words in a large share of the documents, measured apart (not in the mix above)
COMMON = ["技术", "中国", "研究", "发展", "技术 研究"]


def sentence_pool() -> tuple[list[str], list[str]]:
    """Normalised corpus sentences and the domain names of the CSLDCP map."""
    from pipelines.normalize import normalize_text

    texts: list[str] = []
    gold = json.loads((CORPUS / "zh-extraction" / "gold.json").read_text(encoding="utf-8"))
    texts += [str(v.get("body", "")) for v in gold.values()]
    for name in ("train.jsonl", "dev.jsonl"):
        with (CORPUS / "classify" / "csldcp" / name).open(encoding="utf-8") as fh:
            texts += [str(json.loads(line)["content"]) for line in fh if line.strip()]
    sentences: list[str] = []
    for t in texts:
        for s in re.split(r"(?<=[。！？.!?])\s*", normalize_text(t).replace("\n", "")):
            s = s.strip()
            if 8 <= len(s) <= 160:
                sentences.append(s)
    dmap = json.loads((CORPUS / "classify" / "csldcp" / "domain_map.json").read_text(encoding="utf-8"))["map"]
    domains = sorted({v for v in dmap.values() if v and v != "?"})
    return sentences, domains


def make_articles(n: int, sentences: list[str], domains: list[str], seed: int = 7) -> list[Any]:
    from core.items import Article

    rng = random.Random(seed)
    out = []
    for i in range(n):
        paras = []
        for _ in range(rng.randint(2, 5)):
            paras.append("".join(rng.choice(sentences) for _ in range(rng.randint(1, 4))))
        text = "\n\n".join(paras)
        title = re.sub(r"[，。,.；;：:]+.*$", "", rng.choice(sentences))[:28] or paras[0][:20]
        published = (
            f"{rng.randint(2019, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T09:00:00+08:00"
        )
        source = rng.choice(SOURCES)
        out.append(
            Article(
                id=f"doc{i:07d}",
                url=f"https://{source}.example.cn/a/{i}.html",
                source=source,
                fetched="2024-12-01T00:00:00+00:00",
                title=title,
                text=text,
                search_title=title,
                search_text=text,
                published=published,
                language="zh",
                content_type=rng.choice(TYPES),
                domains=rng.sample(domains, rng.randint(0, 2)),
                region=rng.choice(REGIONS),
                libraries=rng.choice(LIBRARIES),
                relevance=round(rng.random(), 3),
                fingerprint=f"fp{i}",
                cluster_id=f"c{i // 3}" if rng.random() < 0.2 else "",
            )
        )
    return out


def query_mix(n: int, seed: int = 11) -> list[tuple[str, dict[str, list[str]], list[str]]]:
    rng = random.Random(seed)
    mix = []
    for i in range(n):
        kind = i % 4  # plain, filter, facets, filter + facets
        flt = rng.choice(FILTERS) if kind in (1, 3) else {}
        facets = FACETS if kind in (2, 3) else []
        mix.append((rng.choice(QUERIES), flt, facets))
    return mix


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def time_queries(
    run: Callable[[str, dict[str, list[str]], list[str]], object], mix: list[Any]
) -> list[float]:
    for q in mix[:5]:  # warm caches
        run(*q)
    out = []
    for q in mix:
        t0 = time.perf_counter()
        run(*q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_raw(articles: list[Any], mix: list[Any], path: Path) -> dict[str, Any]:
    """Anchor: FTS5 with the product's table options, tag-token filters and facet pass; nothing else."""
    from search.backends import embedded as emb
    from search.query import parse_query
    from search.text import fts_expression, index_tokens

    reuse = path.exists()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    if not reuse:
        conn.execute(
            "CREATE VIRTUAL TABLE fts USING fts5(title, body, tags, content='', columnsize=0, "
            "tokenize='unicode61 remove_diacritics 0')"
        )
        conn.execute(
            "CREATE TABLE meta (rowid INTEGER PRIMARY KEY, source TEXT, content_type TEXT, region TEXT, "
            "domains TEXT)"
        )
    t0 = time.perf_counter()
    for i in range(0, 0 if reuse else len(articles), 500):
        batch = list(enumerate(articles[i : i + 500], i + 1))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO fts(rowid, title, body, tags) VALUES (?, ?, ?, ?)",
            [(j, index_tokens(a.search_title), index_tokens(a.search_text), emb._tags(emb.article_data(a)))
             for j, a in batch],
        )
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?, ?, ?, ?)",
            [(j, a.source, a.content_type, a.region, "\x1f".join(sorted(set(a.domains))) or None) for j, a in batch],
        )
        conn.execute("COMMIT")
    rate = float("nan") if reuse else len(articles) / (time.perf_counter() - t0)
    cols = {"source": "d.source", "content_type": "d.content_type", "region": "d.region", "domains": "d.domains"}

    def run(text: str, flt: dict[str, list[str]], facets: list[str]) -> object:
        expr = fts_expression(parse_query(text))
        tags = " AND ".join(
            "(" + " OR ".join(f'"{emb.tag_token(k, v)}"' for v in vals) + ")" for k, vals in flt.items()
        )
        if tags:
            expr = f"({expr}) AND {tags}" if expr else tags
        n = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (expr,)).fetchone()[0]
        rows = conn.execute(
            "SELECT rowid, bm25(fts, 4.0, 1.0, 0.0) AS r FROM fts WHERE fts MATCH ? ORDER BY r LIMIT 10", (expr,)
        ).fetchall()
        if facets and n:
            step = -(-n // emb.FACET_EXACT_LIMIT)
            concat = ", ".join(f"group_concat({cols[f]}, char(31))" for f in facets)
            where = "fts MATCH ?" + (" AND fts.rowid % ? = 0" if step > 1 else "")
            params: list[Any] = [expr] + ([step] if step > 1 else [])
            row = conn.execute(f"SELECT {concat} FROM fts CROSS JOIN meta d ON d.rowid = fts.rowid WHERE {where}",
                               params).fetchone()
            for joined in row:
                Counter((joined or "").split("\x1f"))
        return rows

    lat = time_queries(run, mix)
    common = {q: percentiles(time_queries(run, [(q, {}, [])] * 5)) for q in COMMON}
    conn.close()
    p50, p95 = percentiles(lat)
    return {"docs_per_s": rate, "p50": p50, "p95": p95, "common": common, "kinds": _by_kind(mix, lat)}


def _by_kind(mix: list[Any], lat: list[float]) -> dict[str, tuple[float, float]]:
    by_kind: dict[str, list[float]] = {"plain": [], "filter": [], "facets": [], "filter+facets": []}
    for (_, flt, facets), ms in zip(mix, lat, strict=True):
        by_kind[
            ("filter" if flt else "") + ("+" if flt and facets else "") + ("facets" if facets else "") or "plain"
        ].append(ms)
    return {k: percentiles(v) for k, v in by_kind.items() if v}


def bench_backend(backend: Any, articles: list[Any], mix: list[Any], index: bool = True) -> dict[str, Any]:
    from search.query import Query

    t0 = time.perf_counter()
    for i in range(0, len(articles) if index else 0, 500):
        backend.upsert(articles[i : i + 500])
    rate = len(articles) / (time.perf_counter() - t0) if index else float("nan")
    backend.count()  # the server: everything indexed is searchable (count refreshes nothing; flush below)
    if backend.name != "embedded":
        backend.counts()  # refreshes every index of the prefix

    def run(text: str, flt: dict[str, list[str]], facets: list[str]) -> object:
        return backend.search(Query(text=text, filters=flt, facets=facets, size=10))

    lat = time_queries(run, mix)
    common: dict[str, tuple[float, float]] = {}
    for q in COMMON:
        for kind, flt, facets in (("plain", {}, []), ("filter+facets", FILTERS[1], FACETS)):
            common[f"{q} ({kind})"] = percentiles(time_queries(run, [(q, flt, facets)] * 5))
    p50, p95 = percentiles(lat)
    return {
        "common": common,
        "docs_per_s": rate,
        "p50": p50,
        "p95": p95,
        "kinds": _by_kind(mix, lat),
    }


def start_node() -> tuple[str, Callable[[], None]]:
    """A fresh OpenSearch node (scripts/search-node.sh) on a free port, and how to stop it."""
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = ROOT / "scripts" / "search-node.sh"
    out = subprocess.run(["bash", str(script), "start", "--port", str(port)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"search node did not start: {out.stderr.strip()[-500:]}")
    url = out.stdout.strip().splitlines()[-1]
    return url, lambda: subprocess.run(["bash", str(script), "stop", "--port", str(port)], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated document counts")
    ap.add_argument("--queries", type=int, default=200, help="queries per size")
    ap.add_argument("--server", metavar="URL", help="an OpenSearch/Elasticsearch node already running")
    ap.add_argument("--no-server", action="store_true", help="the embedded index only")
    ap.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        help="keep the embedded indexes in DIR and reuse them on the next run (queries only: no indexing figures)",
    )
    args = ap.parse_args(argv)
    from search.backends.elastic import ElasticBackend
    from search.backends.embedded import FACET_EXACT_LIMIT, EmbeddedBackend

    stop: Callable[[], Any] = lambda: None  # noqa: E731
    server = args.server
    if not server and not args.no_server:
        server, stop = start_node()
    try:
        return _run(args, server, EmbeddedBackend, ElasticBackend, FACET_EXACT_LIMIT)
    finally:
        stop()


def _run(args: Any, server: str | None, EmbeddedBackend: Any, ElasticBackend: Any, limit: int) -> int:  # noqa: N803
    import platform

    sentences, domains = sentence_pool()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    mix = query_mix(args.queries)
    rows: list[tuple[str, int, dict[str, Any], dict[str, Any]]] = []
    load = os.getloadavg()
    print(f"{len(sentences)} corpus sentences; {args.queries} queries per size; {os.cpu_count()} CPUs, "
          f"load {load[0]:.1f} at start; Python {platform.python_version()}", file=sys.stderr)
    for n in sizes:
        articles = make_articles(n, sentences, domains)
        with tempfile.TemporaryDirectory() as tmp:
            work = args.keep or Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            raw = bench_raw(articles, mix, work / f"raw-{n}.sqlite")
            rows.append(("raw FTS5 (anchor)", n, raw, raw))
            emb_path = work / f"embedded-{n}.sqlite"
            fresh = not emb_path.exists()
            emb = EmbeddedBackend(emb_path)
            rows.append(("embedded", n, bench_backend(emb, articles, mix, index=fresh), raw))
            emb.close()
        if server:
            es = ElasticBackend(server, prefix=f"tsbench-{n}")
            es.drop()
            es = ElasticBackend(server, prefix=f"tsbench-{n}")
            try:
                rows.append((f"{es.name} ({es.analysis})", n, bench_backend(es, articles, mix), raw))
            finally:
                es.drop()
                es.close()
        print(f"done: {n} documents", file=sys.stderr)

    print(f"facets — embedded and anchor: exact up to {limit:,} matches, sampled beyond (flagged); "
          "server: exact terms aggregations over every match")
    print(f"{'backend':<24} {'docs':>7} {'index docs/s':>13} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p95 / anchor':>12}")
    for name, n, r, raw in rows:
        print(f"{name:<24} {n:>7} {r['docs_per_s']:>13.0f} {r['p50']:>7.1f} {r['p95']:>7.1f} "
              f"{r['p95'] / raw['p95']:>12.1f}")
    print()
    print(f"{'backend':<24} {'docs':>7} {'query kind':<14} {'p50 ms':>7} {'p95 ms':>7}")
    for name, n, r, _ in rows:
        for kind, (p50, p95) in r["kinds"].items():
            print(f"{name:<24} {n:>7} {kind:<14} {p50:>7.1f} {p95:>7.1f}")
    print()
    print(f"{'backend':<24} {'docs':>7} {'common words (5 runs each)':<28} {'p50 ms':>7} {'max ms':>7}")
    for name, n, r, _ in rows:
        for label, (p50, p95) in r["common"].items():
            print(f"{name:<24} {n:>7} {label:<28} {p50:>7.1f} {p95:>7.1f}")
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
