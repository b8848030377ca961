"""The ``elasticsearch``-client path against Elastic's own server core (9.x from Maven Central: no
analysis-common, percolator, painless or reindex modules): what such a node serves works through the same code
as OpenSearch — index, bulk, search (words, phrases, traditional script, filters, facets, highlight, paging,
collapse), records, saved searches without a percolator (``_msearch``), changes, a client-side reindex with the
alias flipped, and a migration from the embedded store.

``./test`` starts the node (``scripts/search-node.sh start --product elasticsearch``, Java 21+) and passes its URL
in ``TECHSCOUT_TEST_ES_URL``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.backends.elastic import ElasticBackend, detect_product
from search.backends.embedded import EmbeddedBackend
from search.migrate import migrate
from search.query import Query
from tests.search_node import node_url

from .conftest import corpus_articles


@pytest.fixture
def es() -> Iterator[ElasticBackend]:
    url = node_url("elasticsearch")  # TECHSCOUT_TEST_ES_URL, or a node started for the session (Java 21+)
    backend = ElasticBackend(url, prefix=f"tses-{uuid.uuid4().hex[:8]}", refresh=True)
    yield backend
    backend.drop()
    backend.close()


def test_what_the_server_core_serves_works_through_the_elasticsearch_client(es: ElasticBackend, tmp_path: Path) -> None:
    assert detect_product(es.url) == "elasticsearch" and es.name == "elasticsearch"
    assert type(es.client._client).__module__.startswith("elasticsearch")
    assert es.analysis == "standard" and es.has_percolator is False  # no analysis-common, no percolator here
    arts = corpus_articles()
    assert len(es.upsert(arts).new) == len(arts)
    assert {h.id for h in es.search(Query(text="人工智能", size=50)).hits} == {"ai-policy", "ai-trad"}
    assert {h.id for h in es.search(Query(text='"科创中国"')).hits} == {"kczg"}
    traditional = {h.id for h in es.search(Query(text="科技創新", size=50)).hits}
    assert traditional == {h.id for h in es.search(Query(text="科技创新", size=50)).hits} and "ai-trad" in traditional
    facets = es.search(Query(text="", filters={"region": ["北京"]}, facets=["source"], size=0)).facets
    assert dict(facets["source"]) == {"gov": 2}
    assert "<mark>电池</mark>" in es.search(Query(text="电池")).hits[0].snippet
    dated = [h.id for h in es.search(Query(text="区块链", sort="date", size=30)).hits]
    assert [h.id for h in es.search(Query(text="区块链", sort="date", size=3, page=2)).hits] == dated[3:6]
    assert es.search(Query(text="人工智能", collapse=True)).total == 1
    es.put_record("runs", "r1", {"id": "r1", "state": "ok"})
    assert es.list_records("runs", {"state": "ok"}) == [{"id": "r1", "state": "ok"}]
    assert es.percolate(arts, [{"id": "s1", "query": "人工智能", "filters": {}}]) == {"s1": ["ai-policy", "ai-trad"]}
    assert len(es.changes_since(None)[0]) == len(arts)
    before = es.current_index()
    assert "now points at" in es.reindex() and es.current_index() != before and es.count() == len(arts)

    source = EmbeddedBackend(tmp_path / "techscout.sqlite")
    source.upsert(arts)
    target = ElasticBackend(es.url, prefix=f"tses-{uuid.uuid4().hex[:8]}")
    try:
        report = migrate(source, target, location="es", batch_size=10)
        assert report.ok and report.target_counts["documents"] == len(arts)
    finally:
        target.drop()
        target.close()
