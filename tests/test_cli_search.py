"""`techscout search` as staff type it: several words, an exclusion, names instead of codes."""

from __future__ import annotations

import json
from pathlib import Path

from search.backends.embedded import EmbeddedBackend
from tests.backends.conftest import corpus_articles
from tests.conftest import run_cli


def _data(tmp_path: Path) -> Path:
    store = EmbeddedBackend(tmp_path / "techscout.sqlite")
    arts = corpus_articles()
    arts[-1].scitech_relevant = False
    store.upsert(arts)
    store.close()
    return tmp_path


def _ids(out: object) -> set[str]:
    assert out.returncode == 0, out.stderr  # type: ignore[attr-defined]
    return {h["id"] for h in json.loads(out.stdout)["hits"]}  # type: ignore[attr-defined]


def test_words_exclusions_and_chinese_names(tmp_path: Path) -> None:
    data = _data(tmp_path)
    assert _ids(run_cli("search", "人工智能", "科技创新", "--json", data=data)) == {"ai-policy", "ai-trad"}
    assert _ids(run_cli("search", "科技创新 -台湾", "--json", data=data)) == {"ai-policy"}
    excluded = _ids(run_cli("search", "--json", "--limit", "100", "--data", str(data), "--", "-区块链"))
    assert len(excluded) == 7 and not any(i.startswith("chain-") for i in excluded)
    assert _ids(run_cli("search", "--type", "政策", "--json", data=data)) == {"ai-policy"}
    assert _ids(run_cli("search", "--library", "问题库", "--region", "北京", "--json", data=data)) == set()
    assert _ids(run_cli("search", "--scitech", "非科技", "--json", data=data)) == {"chain-24"}
    bad = run_cli("search", "--type", "不存在", data=data)
    assert bad.returncode == 2 and "类型" in bad.stderr and "政策（policy）" in bad.stderr
