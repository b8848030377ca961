"""The server backend against the real OpenSearch node: product detection, reindex with the alias flipped while
searches answer, bad conditions (server down, partial bulk failures, a mapping of another version, a lost alias)."""

from __future__ import annotations

import threading
import uuid

import pytest

from core.errors import BackendError
from search.backends.elastic import MAPPING_VERSION, ElasticBackend, SearchClient, bulk_write, detect_product
from search.query import Query

from .conftest import corpus_articles, open_server


@pytest.fixture
def server(search_node: str):
    b = open_server(search_node)
    yield b
    b.drop()
    b.close()


def test_the_node_is_opensearch_and_the_client_follows(search_node: str) -> None:
    assert detect_product(search_node) == "opensearch"
    with pytest.raises(BackendError, match="set backend = 'opensearch'"):
        ElasticBackend(search_node, prefix="x", product="elasticsearch")


def test_reindex_flips_the_alias_while_searches_keep_answering(server: ElasticBackend) -> None:
    server.upsert(corpus_articles() * 1)
    extra = [a for a in corpus_articles()]
    for i, a in enumerate(extra):
        a.id = f"more-{i}"
    server.upsert(extra)
    before = server.current_index()
    totals: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def searching() -> None:
        while not stop.is_set():
            try:
                totals.append(server.search(Query(text="区块链", size=0)).total)
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    t = threading.Thread(target=searching)
    t.start()
    try:
        said = server.reindex()
    finally:
        stop.set()
        t.join()
    after = server.current_index()
    assert after != before and after.endswith("-v2") and after in said
    assert errors == [] and len(totals) > 0 and set(totals) == {50}
    assert server.count() == 2 * len(corpus_articles())
    assert server.search(Query(text="人工智能")).total == 4


def test_server_down_is_a_clear_error_naming_the_url() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendError, match=f"127.0.0.1:{port}.*not reachable"):
        ElasticBackend(f"http://127.0.0.1:{port}", prefix="down")


def test_partial_bulk_failure_names_the_ids(server: ElasticBackend) -> None:
    index = server.current_index()
    good = {"id": "ok-1"}
    actions = [
        ({"index": {"_index": index, "_id": "ok-1"}}, good),
        ({"index": {"_index": index, "_id": "bad-1"}}, {"id": "bad-1", "no_such_field": 1}),
        ({"index": {"_index": index, "_id": "bad-2"}}, {"relevance": "not a number"}),
    ]
    with pytest.raises(BackendError) as err:
        bulk_write(server.client, actions, refresh=True)
    text = str(err.value)
    assert "2 of 3 bulk writes failed" in text and "bad-1" in text and "bad-2" in text and "ok-1" not in text
    assert "techscout reindex" in text  # the refusals are mapping ones
    assert server.client.request("GET", f"/{index}/_doc/ok-1")["found"] is True  # the good one was written


def test_an_index_of_another_mapping_version_asks_for_reindex(search_node: str) -> None:
    prefix = f"tstest-{uuid.uuid4().hex[:10]}"
    client = SearchClient(search_node)
    client.request(
        "PUT",
        f"/{prefix}-documents-v1",
        body={"aliases": {f"{prefix}-documents": {}}, "mappings": {"_meta": {"techscout_mapping": MAPPING_VERSION - 1}}},
    )
    try:
        with pytest.raises(BackendError, match="run `techscout reindex`"):
            ElasticBackend(search_node, prefix=prefix)
    finally:
        client.request("DELETE", f"/{prefix}-documents-v1")
        client.close()


def test_a_lost_alias_asks_for_reindex_and_reindex_restores_it(server: ElasticBackend, search_node: str) -> None:
    server.upsert(corpus_articles())
    index = server.current_index()
    server.client.request("POST", "/_aliases", body={"actions": [{"remove": {"index": index, "alias": server.alias}}]})
    with pytest.raises(BackendError, match="alias .* is missing.*techscout reindex"):
        ElasticBackend(search_node, prefix=server.prefix)
    fixer = ElasticBackend(search_node, prefix=server.prefix, check=False)
    assert "now points at" in fixer.reindex()
    again = ElasticBackend(search_node, prefix=server.prefix, refresh=True)
    assert again.count() == len(corpus_articles())
    again.close()
    fixer.close()


def test_documents_a_process_wrote_are_searchable_by_the_next_one_at_once(search_node: str) -> None:
    """A crawl's store writes without waiting for the server's refresh; when it closes, what it wrote is
    searchable at once by the next process (staff searching right after a crawl), as a commit makes it in the
    embedded store."""
    prefix = f"tsvis-{uuid.uuid4().hex[:8]}"
    articles = corpus_articles()
    writer = ElasticBackend(search_node, prefix=prefix)  # refresh=False: as a crawl's store pipeline opens it
    try:
        writer.upsert(articles)
        writer.close()
        reader = ElasticBackend(search_node, prefix=prefix)
        assert reader.search(Query(text="", size=0)).total == len(articles)
        reader.close()
    finally:
        cleanup = ElasticBackend(search_node, prefix=prefix, check=False)
        cleanup.drop()
        cleanup.close()
