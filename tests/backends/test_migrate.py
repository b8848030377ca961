"""Migration between stores (resumable, verified by counts) and rebuilding the embedded full-text index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import cli
from core.errors import BackendError
from core.items import Article
from search.backends.base import UrlState
from search.backends.embedded import EmbeddedBackend
from search.migrate import checkpoint_id, migrate
from search.query import Query

from .conftest import corpus_articles, make_article


def _filled(path: Path) -> EmbeddedBackend:
    src = EmbeddedBackend(path)
    src.upsert(
        corpus_articles(),
        [UrlState(url=f"https://gov.example.cn/{i}", source="gov", status=200) for i in range(7)],
    )
    src.upsert([make_article("battery", "电池新标题", "钠离子电池", source="news-a")])
    src.put_record("runs", "r1", {"source": "gov", "pages": 3})
    src.put_record("subscriptions", "s1", {"name": "电池", "query": "电池", "filters": {}})
    src.put_record("meta", "dedup", {"version": 2})
    return src


class FlakyTarget(EmbeddedBackend):
    """A target that fails on its n-th document batch, like a connection lost mid-migration."""

    fail_on = 2

    def upsert(self, articles: Any, url_states: Any = ()) -> Any:
        self.fail_on -= 1
        if self.fail_on == 0:
            raise BackendError("connection lost")
        return super().upsert(articles, url_states)


def test_migration_copies_everything_and_verifies(tmp_path: Path) -> None:
    src = _filled(tmp_path / "src.sqlite")
    dst = EmbeddedBackend(tmp_path / "dst.sqlite")
    report = migrate(src, dst, location="dst", batch_size=10)
    assert report.ok, report.mismatches
    assert report.copied["documents"] == len(corpus_articles())
    assert report.target_counts["documents"] == len(corpus_articles())
    assert report.target_counts["url_states"] == 7 and report.target_counts["revisions"] == 1
    assert dst.get_record("subscriptions", "s1") == {"name": "电池", "query": "电池", "filters": {}}
    assert dst.get_record("meta", "dedup") == {"version": 2}
    assert dst.revisions("battery")[0]["previous_title"] == "新能源汽车电池技术突破"
    assert {h.id for h in dst.search(Query(text="钠离子")).hits} == {"battery"}
    got = dst.get("ai-trad")
    assert isinstance(got, Article) and got.cluster_id == "c-ai"


def test_interrupted_migration_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    src = _filled(tmp_path / "src.sqlite")
    flaky = FlakyTarget(tmp_path / "dst.sqlite")
    with pytest.raises(BackendError):
        migrate(src, flaky, location="dst", batch_size=10)
    state = src.get_record("meta", checkpoint_id("embedded", "dst"))
    assert state is not None and state["records_done"] and state["documents_after"] > 0
    assert state["copied"]["documents"] == 10
    flaky.fail_on = 0  # the connection is back
    report = migrate(src, flaky, location="dst", batch_size=10)
    assert report.resumed and report.ok
    # only the rest was sent the second time
    assert report.copied["documents"] == len(corpus_articles())
    assert flaky.count() == len(corpus_articles())


def test_cli_migrate_and_reindex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _filled(data / "techscout.sqlite").close()
    rc = cli.main(
        [
            "migrate",
            "--to",
            "embedded",
            "--path",
            str(tmp_path / "copy.sqlite"),
            "--data",
            str(data),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert f"documents {len(corpus_articles()):>10} {len(corpus_articles()):>10}".replace(
        " ", ""
    ) in out.replace(" ", "")
    # reindex rebuilds the full-text index from the stored documents
    emb = EmbeddedBackend(data / "techscout.sqlite")
    with emb._write() as conn:
        conn.execute("INSERT INTO docs_fts(docs_fts) VALUES('delete-all')")
        conn.execute("UPDATE meta SET value='old-tokenizer' WHERE key='tokenizer'")
    emb.close()
    with pytest.raises(BackendError):
        EmbeddedBackend(data / "techscout.sqlite")
    assert cli.main(["reindex", "--data", str(data)]) == 0
    assert "reindexed" in capsys.readouterr().out
    emb = EmbeddedBackend(data / "techscout.sqlite")
    assert {h.id for h in emb.search(Query(text="钠离子")).hits} == {"battery"}
    assert emb.search(Query(text="区块链", size=0)).total == 25


def test_cli_migrate_to_the_server_killed_midway_resumes_without_loss_or_doubles(
    tmp_path: Path, search_node: str
) -> None:
    """`techscout migrate --to opensearch` against the real node, killed with SIGKILL in the middle of the
    documents and run again: the counts match, nothing is lost or doubled."""
    import os
    import signal
    import subprocess
    import sys
    import uuid

    from search.backends.elastic import ElasticBackend

    from ..conftest import REPO

    data = tmp_path / "data"
    src = _filled(data / "techscout.sqlite")
    many = []
    for i in range(600):
        base = corpus_articles()[i % 7]
        base.id = f"bulk-{i:04d}"
        base.url = f"https://gov.example.cn/bulk/{i}.html"
        many.append(base)
    src.upsert(many)
    src.close()
    prefix = f"tstest-{uuid.uuid4().hex[:10]}"
    cmd = [sys.executable, "-m", "cli", "migrate", "--to", "opensearch", "--url", search_node, "--prefix", prefix,
           "--batch", "25", "--data", str(data)]
    env = {**os.environ, "TECHSCOUT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    killed_at = ""
    for line in proc.stderr:
        if line.startswith("documents: ") and int(line.split()[1]) >= 150:
            killed_at = line.strip()
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=120)
    assert killed_at and proc.returncode == -signal.SIGKILL, "the migration ended before it could be killed"
    state = EmbeddedBackend(data / "techscout.sqlite").get_record("meta", checkpoint_id("opensearch", f"{search_node}/{prefix}"))
    assert state and not state.get("finished") and state["documents_after"] > 0

    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    target = ElasticBackend(search_node, prefix=prefix)
    try:
        counts = target.counts()
        source = EmbeddedBackend(data / "techscout.sqlite")
        expected = source.counts()
        assert counts["documents"] == expected["documents"] == len(corpus_articles()) + 600
        assert counts["url_states"] == expected["url_states"] and counts["revisions"] == expected["revisions"] == 1
        for collection in ("runs", "subscriptions"):
            assert counts[f"records:{collection}"] == expected[f"records:{collection}"]
        assert target.search(Query(text="钠离子")).total == 1
        assert target.get_record("subscriptions", "s1")["query"] == "电池"
    finally:
        target.drop()
        target.close()
