"""Chinese search on the server is as good as the embedded index: over real pages (the corpus's scientific
abstracts and news pages with gold bodies), the two backends find the same documents for the same queries and
agree on the top hits; traditional-script queries find simplified text on both."""

from __future__ import annotations

import json
import random

import pytest

from search.backends.base import Backend
from search.backends.embedded import EmbeddedBackend
from search.query import Query
from tests.conftest import CORPUS

from .conftest import make_article, open_server

QUERIES = 60


def _corpus() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    abstracts = CORPUS / "classify" / "csldcp" / "dev.jsonl"
    gold = CORPUS / "zh-extraction" / "gold.json"
    if not abstracts.exists() or not gold.exists():
        pytest.fail(f"the corpus is missing: {CORPUS} (set TECHSCOUT_CORPUS)", pytrace=False)
    for line in abstracts.read_text(encoding="utf-8").splitlines()[:1500]:
        text = json.loads(line)["content"]
        rows.append((text[:24], text))
    for entry in json.loads(gold.read_text(encoding="utf-8")).values():
        body = str(entry.get("body") or "")
        if len(body) > 50:
            rows.append((body[:30], body))
    return rows


def _queries(rows: list[tuple[str, str]]) -> list[str]:
    import jieba.analyse

    rng = random.Random(17)
    out: list[str] = []
    while len(out) < QUERIES:
        _, text = rng.choice(rows)
        words = [w for w in jieba.analyse.extract_tags(text, topK=6) if len(w) >= 2 and not w.isascii()]
        if len(words) < 2:
            continue
        kind = len(out) % 3
        out.append(words[0] if kind == 0 else f"{words[0]} {words[1]}" if kind == 1 else f"{words[0]} OR {words[2 % len(words)]}")
    return out


@pytest.fixture(scope="module")
def pair(search_node: str, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    rows = _corpus()
    arts = [make_article(f"c{i:05d}", title, text, source="corpus", published=None) for i, (title, text) in enumerate(rows)]
    emb = EmbeddedBackend(tmp_path_factory.mktemp("agree") / "techscout.sqlite")
    srv = open_server(search_node)
    for i in range(0, len(arts), 500):
        emb.upsert(arts[i : i + 500])
        srv.upsert(arts[i : i + 500])
    yield emb, srv, _queries(rows)
    srv.drop()
    srv.close()
    emb.close()


def _top(backend: Backend, text: str, n: int = 10) -> tuple[int, list[str]]:
    result = backend.search(Query(text=text, size=n, highlight=False))
    return result.total, [h.id for h in result.hits]


def test_both_backends_match_the_same_documents(pair) -> None:  # type: ignore[no-untyped-def]
    emb, srv, queries = pair
    for q in queries:
        full_e = {h.id for h in emb.search(Query(text=q, size=1000, highlight=False)).hits}
        full_s = {h.id for h in srv.search(Query(text=q, size=1000, highlight=False)).hits}
        assert full_e == full_s, q


def test_top_ten_agree(pair) -> None:  # type: ignore[no-untyped-def]
    emb, srv, queries = pair
    overlaps = []
    for q in queries:
        total, top_e = _top(emb, q)
        _, top_s = _top(srv, q)
        if total == 0:
            continue
        overlaps.append(len(set(top_e) & set(top_s)) / min(10, total))
    mean = sum(overlaps) / len(overlaps)
    assert len(overlaps) >= QUERIES * 0.8
    assert mean >= 0.8, f"mean top-10 overlap {mean:.2f} over {len(overlaps)} queries"


def test_traditional_script_queries_find_simplified_text(pair) -> None:  # type: ignore[no-untyped-def]
    import opencc

    emb, srv, queries = pair
    to_trad = opencc.OpenCC("s2t")
    checked = 0
    for q in queries[:20]:
        trad = to_trad.convert(q)
        if trad == q:
            continue
        checked += 1
        for backend in (emb, srv):
            assert _top(backend, trad, 50) == _top(backend, q, 50), (backend.name, q, trad)
    assert checked >= 5
