"""Server-side timing of the search page: ``python benchmarks/web.py [--docs N] [--requests N]``.

Builds an embedded index of real Chinese scientific abstracts (the corpus's CSLDCP set, one document per
abstract; synthetic text when the corpus is absent) in a temporary data directory, then times 200 search-page
requests through the ASGI app (session check, query, facets, template) against the anchor: the same queries
sent straight to ``backend.search()``. Prints a plain table with p50/p95 and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # before this folder, whose search.py would shadow the package

from core.items import Article  # noqa: E402
from core.paths import DataPaths  # noqa: E402
from search.backends.base import Backend  # noqa: E402

SOURCES = [
    ("cast-news", "中国科协 · 要闻"),
    ("most-policy", "科技部 · 政策"),
    ("kczg", "科创中国"),
    ("sn-kjt", "陕西省科技厅"),
    ("xinhua-tech", "新华网 · 科技"),
    ("people-kp", "人民网 · 科普"),
]
REGIONS = ["全国", "北京市", "上海市", "广东省", "陕西省", "浙江省", "江苏省", "四川省", "湖北省"]
TYPES = ["news", "news", "news", "policy", "achievement", "demand", "talent", "event"]
_FALLBACK = "本文研究了新型材料在储能器件中的应用。实验表明，该方法显著提高了电池的循环寿命和能量密度。"


def corpus_dir() -> Path:
    return Path(os.environ.get("TECHSCOUT_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))


def _abstracts() -> Iterator[tuple[str, str]]:
    """(discipline, abstract) pairs from the corpus, or synthetic ones."""
    found = False
    for name in ("train.jsonl", "dev.jsonl"):
        path = corpus_dir() / "classify" / "csldcp" / name
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                found = True
                yield str(row.get("label", "其他")), str(row["content"])
    if not found:
        for i in range(5000):
            yield "材料科学与工程", f"{_FALLBACK}（第 {i} 篇）"


def _title(text: str) -> str:
    first = text.replace(".", "。").split("。")[0]
    first = first.removeprefix("本文").removeprefix("研究了").removeprefix("针对")
    return (first[:34] + "…") if len(first) > 35 else first


def demo_articles(n: int, seed: int = 7) -> list[Article]:
    """``n`` documents with realistic Chinese text, sources, dates, labels and reprint clusters."""
    rng = random.Random(seed)
    out: list[Article] = []
    for i, (discipline, text) in enumerate(_abstracts()):
        if i >= n:
            break
        src = rng.choice(SOURCES)[0]
        day = f"2025-{rng.randint(1, 9):02d}-{rng.randint(1, 28):02d}T{rng.randint(8, 18):02d}:00:00+08:00"
        ctype = rng.choice(TYPES)
        cluster = f"c{i}"
        title = _title(text)
        out.append(
            Article(
                id=f"demo{i:05d}",
                url=f"https://{src}.example.cn/{day[:7]}/{i}.html",
                source=src,
                fetched=day,
                title=title,
                text=text,
                search_title=title,
                search_text=text,
                published=day,
                content_type=ctype,
                scitech_relevant=True,
                relevance=round(rng.uniform(0.5, 1.0), 2),
                domains=[discipline],
                region=rng.choice(REGIONS),
                libraries=["project"]
                if ctype == "achievement"
                else (["problem"] if ctype == "demand" else []),
                cluster_id=cluster,
            )
        )
        # every tenth document is reprinted by one or two other sources
        if i % 10 == 0:
            for k in range(rng.randint(1, 2)):
                other = rng.choice([s for s, _ in SOURCES if s != src])
                out.append(
                    Article(
                        **{
                            **out[-1 - k].to_dict(),
                            "id": f"demo{i:05d}r{k}",
                            "url": f"https://{other}.example.cn/re/{i}-{k}.html",
                            "source": other,
                            "published": day[:9] + f"{min(int(day[9]) + 1, 9)}" + day[10:],
                        }
                    )
                )
    return out


def build_demo_index(backend: Backend, n: int = 3000) -> int:
    """Fill ``backend`` with :func:`demo_articles`; returns how many documents it holds."""
    articles = demo_articles(n)
    for start in range(0, len(articles), 500):
        backend.upsert(articles[start : start + 500])
    return len(articles)


def write_demo_sources(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i, (name, title) in enumerate(SOURCES):
        (directory / f"{name}.yaml").write_text(
            f"name: {name}\ntitle: {title}\nstart_urls: [https://{name}.example.cn/]\nschedule: every {2 + i}h\n",
            encoding="utf-8",
        )


def _queries(articles: list[Article], count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    words = []
    for a in articles[:2000]:
        t = "".join(ch for ch in a.title if "\u4e00" <= ch <= "\u9fff")
        if len(t) >= 4:
            j = rng.randrange(0, len(t) - 3)
            words.append(t[j : j + rng.choice((2, 2, 3, 4))])
    out: list[dict[str, Any]] = []
    for i in range(count):
        params: dict[str, Any] = {"q": rng.choice(words)}
        if i % 4 == 1:
            params["type"] = rng.choice(TYPES)
        if i % 5 == 2:
            params["sort"] = "date"
        if i % 7 == 3:
            params["q"] = ""
            params["region"] = rng.choice(REGIONS)
        out.append(params)
    return out


def _server_ms(header: str) -> float:
    """``app;dur=12.3`` → 12.3."""
    return float(header.split("dur=")[1].split(",")[0])


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from core.settings import load_settings
    from search import users
    from search.backends.embedded import EmbeddedBackend
    from search.web.app import create_app
    from search.web.forms import query_from_params

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        write_demo_sources(data / "sources")
        settings = load_settings(data=data, env={}, sources=str(data / "sources"))
        backend = EmbeddedBackend(DataPaths(data).store)
        t0 = time.perf_counter()
        total = build_demo_index(backend, args.docs)
        build_s = time.perf_counter() - t0
        users.add_user(backend, "bench", "bench-password", "staff")
        app = create_app(settings, backend)
        client = TestClient(app)
        login = client.get("/login").text
        csrf = login.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"name": "bench", "password": "bench-password", "csrf": csrf})
        queries = _queries(list(backend.iter_articles()), args.requests)
        for params in queries[:10]:  # warm-up
            client.get("/search", params=params)
        anchor: list[float] = []
        page: list[float] = []
        api: list[float] = []
        roundtrip: list[float] = []
        for params in queries:
            q = query_from_params(params, default_size=20, facets=True, collapse=True)
            t = time.perf_counter()
            backend.search(q)
            anchor.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            r = client.get("/search", params=params)
            roundtrip.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:200]
            page.append(_server_ms(r.headers["server-timing"]))
            r = client.get("/api/search", params=params)
            api.append(_server_ms(r.headers["server-timing"]))
        login_rows = _login_load(settings, backend, queries)
        backend.close()

    print(f"index: {total} documents (built in {build_s:.1f} s); {len(queries)} requests each")
    print(f"{'what':46} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'p50 ratio':>10}")
    base = statistics.median(anchor)
    rows = [
        ("anchor: backend.search() with facets+collapse", anchor),
        ("GET /search, server side (Server-Timing)", page),
        ("GET /api/search, server side (Server-Timing)", api),
        ("GET /search, in-process client round trip", roundtrip),
    ]
    for name, vals in rows:
        print(
            f"{name:46} {_pct(vals, 50):8.1f} {_pct(vals, 95):8.1f} {statistics.mean(vals):8.1f} "
            f"{statistics.median(vals) / base:10.2f}"
        )
    print()
    print("GET /api/search over HTTP (uvicorn, one client) while password checks run; same run, same queries")
    print(f"{'what':46} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p50 ratio':>10}")
    base = statistics.median(login_rows[0][1])
    for name, vals in login_rows:
        print(f"{name:46} {_pct(vals, 50):8.1f} {_pct(vals, 95):8.1f} {max(vals):8.1f} {statistics.median(vals) / base:10.2f}")
    return 0


def _login_load(settings: Any, backend: Backend, queries: list[dict[str, Any]], attackers: int = 6) -> list[tuple[str, list[float]]]:
    """Latency of API searches over real HTTP, idle (the anchor) and while ``attackers`` clients send wrong logins
    for ever-new names as fast as they can (each costs one scrypt: unknown names cost what wrong passwords do)."""
    import secrets
    import socket
    import threading

    import httpx
    import uvicorn

    from search import users
    from search.web.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, backend), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    token = users.create_token(backend, "bench-load")
    sample = queries[:60]

    def measure() -> list[float]:
        out = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            for params in sample:
                t = time.perf_counter()
                client.get("/api/search", params=params).raise_for_status()
                out.append((time.perf_counter() - t) * 1000)
        return out

    measure()  # warm-up
    idle = measure()
    stop = threading.Event()
    attempts = [0]

    def attack() -> None:
        with httpx.Client(base_url=base) as client:
            while not stop.is_set():
                csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
                client.post("/login", data={"name": "x" + secrets.token_hex(6), "password": "wrong password", "csrf": csrf})
                attempts[0] += 1

    workers = [threading.Thread(target=attack, daemon=True) for _ in range(attackers)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    started = time.perf_counter()
    loaded = measure()
    seconds = time.perf_counter() - started
    stop.set()
    for w in workers:
        w.join()
    server.should_exit = True
    thread.join(10)
    rate = attempts[0] / (seconds + 1.0)
    return [
        ("anchor: idle server", idle),
        (f"{attackers} clients sending wrong logins (~{rate:.0f}/s)", loaded),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
