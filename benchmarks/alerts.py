"""Alerts matching: 1,000 new documents against 10,000 saved subscriptions (embedded backend).

Anchor: the naive loop, each saved query run by the backend over the new documents
(``backend.search(Query(text, filters, ids=new_ids))``, one search per subscription).
Measured: :func:`search.alerts.match_subscriptions`, i.e. the embedded backend's ``percolate`` (the in-process
matcher of :mod:`search.matching`: inverted index of the batch's tokens, candidates from each subscription's most
selective clause, full check of candidates). Both results are compared pair by pair. Both run on the same stored
documents, with jieba's dictionary loaded before either is timed; neither keeps anything between subscriptions
that the other could not (the anchor's compiled-query cache is the backend's own).

Documents: Chinese scientific abstracts (CSLDCP) and news headlines (TNEWS) from the corpus. Subscriptions:
queries built from the documents' words (one word, two words, OR, exclusions, phrases), a fifth with filters.

    .venv/bin/python benchmarks/alerts.py [--docs 1000] [--subs 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.items import Article  # noqa: E402
from pipelines.normalize import normalize_text  # noqa: E402
from search.alerts import match_subscriptions, naive_match, stored_subscription  # noqa: E402
from search.backends.embedded import EmbeddedBackend  # noqa: E402

CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))
DOMAINS = ["电子信息", "装备制造", "新材料", "生物医药", "新能源与节能环保"]
REGIONS = ["全国", "陕西省", "广东省", "北京市", "上海市"]


def load_texts(n: int) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for name in ("classify/csldcp/dev.jsonl", "classify/csldcp/train.jsonl"):
        for line in (CORPUS / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            content = str(row["content"])
            texts.append((content[:30], content))
    heads = [
        json.loads(x)["sentence"]
        for x in (CORPUS / "classify/tnews/dev.jsonl").read_text("utf-8").splitlines()
    ]
    rng = random.Random(3)
    rng.shuffle(texts)
    out = texts[: int(n * 0.8)]
    out += [(h, h) for h in heads[: n - len(out)]]
    return out[:n]


def make_articles(texts: list[tuple[str, str]], rng: random.Random) -> list[Article]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    arts = []
    for i, (title, text) in enumerate(texts):
        arts.append(
            Article(
                id=f"doc{i:05d}",
                url=f"https://news.example.cn/{i}.html",
                source=rng.choice(["cast-news", "most-policy", "stdaily", "people-scitech"]),
                fetched=now,
                title=title,
                text=text,
                search_title=normalize_text(title),
                search_text=normalize_text(text),
                published="2024-05-02T09:00:00+08:00",
                content_type=rng.choice(["news", "policy", "achievement"]),
                domains=rng.sample(DOMAINS, 2),
                region=rng.choice(REGIONS),
                relevance=round(rng.random(), 2),
            )
        )
    return arts


def make_subscriptions(texts: list[tuple[str, str]], n: int, rng: random.Random) -> list[dict[str, object]]:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    vocab = sorted({w for _, t in texts[:600] for w in jieba.cut(t) if len(w) >= 2 and w.isalnum()})
    created = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    subs = []
    for i in range(n):
        a, b, c = rng.sample(vocab, 3)
        kind = rng.random()
        if kind < 0.5:
            query = a
        elif kind < 0.75:
            query = f"{a} {b}"
        elif kind < 0.85:
            query = f"{a} OR {b} OR {c}"
        elif kind < 0.93:
            query = f"{a} -{b}"
        else:
            query = f'"{a}{b}"'
        filters: dict[str, list[str]] = {}
        if rng.random() < 0.2:
            filters = rng.choice(
                [
                    {"domains": [rng.choice(DOMAINS)]},
                    {"region": [rng.choice(REGIONS)]},
                    {"content_type": ["policy"]},
                ]
            )
        subs.append(
            stored_subscription(
                {"id": f"sub{i:05d}", "name": query, "query": query, "filters": filters, "created": created}
            )
        )
    return subs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--subs", type=int, default=10000)
    args = ap.parse_args()
    rng = random.Random(7)
    texts = load_texts(args.docs)
    arts = make_articles(texts, rng)
    subs = make_subscriptions(texts, args.subs, rng)
    with tempfile.TemporaryDirectory() as tmp:
        backend = EmbeddedBackend(Path(tmp) / "bench.sqlite")
        ids = backend.upsert(arts).new
        stored = backend.get_many(ids)
        from search.text import query_words

        query_words("科技创新人工智能")  # jieba's dictionary loaded before anything is timed

        t0 = time.perf_counter()
        naive: dict[str, set[str]] = {}
        for sub in subs:
            hits = naive_match(backend, sub, ids)
            if hits:
                naive[str(sub["id"])] = set(hits)
        t_naive = time.perf_counter() - t0

        t0 = time.perf_counter()
        fast_raw = match_subscriptions(backend, subs, stored)
        t_fast = time.perf_counter() - t0
        fast = {k: {a.id for a in v} for k, v in fast_raw.items()}
        backend.close()

    pairs_naive = sum(len(v) for v in naive.values())
    pairs_fast = sum(len(v) for v in fast.values())
    agree = naive == fast
    rows = [
        ("naive: one backend search per subscription (anchor)", t_naive, pairs_naive, "1.0x"),
        ("in-process matcher (match_subscriptions)", t_fast, pairs_fast, f"{t_naive / t_fast:.1f}x"),
    ]
    print(
        f"{len(arts)} new documents x {len(subs)} subscriptions (embedded backend), "
        f"{len(naive)} subscriptions with a match"
    )
    print(f"{'method':55} {'seconds':>8} {'matches':>8} {'speed-up':>9}")
    for name, secs, pairs, ratio in rows:
        print(f"{name:55} {secs:8.2f} {pairs:8d} {ratio:>9}")
    print(f"results identical: {'yes' if agree else 'NO'}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
