"""The product on the real OpenSearch node: a crawl of a local test site stored in the server, subscriptions
made with the CLI, `techscout alerts run` delivering exactly one message per new match to a real local webhook
(none on a re-run), the CLI's search, and a server that is down."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MockServer, run_cli, write_source
from tests.search_node import search_node  # noqa: F401 - the session's OpenSearch node
from tests.test_alert_channels import Receiver


@pytest.fixture
def server_env(search_node: str) -> Iterator[dict[str, str]]:  # noqa: F811
    prefix = f"tse2e-{uuid.uuid4().hex[:8]}"
    env = {
        "TECHSCOUT_BACKEND": "opensearch",
        "TECHSCOUT_ELASTICSEARCH_URL": search_node,
        "TECHSCOUT_ELASTICSEARCH_PREFIX": prefix,
        "TECHSCOUT_ALLOW_PRIVATE_URLS": "1",
        "TECHSCOUT_TIMEOUT": "3",
        "TECHSCOUT_DELAY": "0",
    }
    yield env
    from search.backends.elastic import ElasticBackend

    backend = ElasticBackend(search_node, prefix=prefix)
    backend.drop()
    backend.close()


def _json(out: Any) -> Any:
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_crawl_into_the_server_then_alerts_once_per_new_match(
    mockserver: MockServer, tmp_path: Path, server_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    sources = tmp_path / "sources"
    write_source(sources, "site-utf8", start_urls=[mockserver.url("utf8", "/news/")])
    hook = Receiver()
    try:
        added = _json(run_cli("alerts", "add", "--name", "站点动态", "--source", "site-utf8", "--notify",
                              f"{hook.base}/hook", "--preview", "0", "--json", data=data, env=server_env))
        assert added["subscription"]["notify"] == [f"json://127.0.0.1:{hook.port}/hook"]
        crawl = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=server_env)
        assert crawl.returncode in (0, 1), crawl.stderr[-2000:]
        stored = _json(run_cli("search", "--source", "site-utf8", "--collapse", "--json", "--limit", "0",
                               data=data, env=server_env))
        clusters = stored["total"]
        assert clusters > 5

        first = _json(run_cli("alerts", "run", "--json", data=data, env=server_env))
        assert first["sent"] == clusters and first["failed"] == 0
        keys = [r["body"]["delivery_id"] for r in hook.requests]
        assert len(keys) == clusters == len(set(keys))  # exactly one message per new match

        again = _json(run_cli("alerts", "run", "--json", data=data, env=server_env))
        assert again["sent"] == 0 and len(hook.requests) == clusters  # none on a re-run
        log = _json(run_cli("alerts", "log", "--json", "--limit", "1000", data=data, env=server_env))
        assert len(log) == clusters and {r["state"] for r in log} == {"sent"}
    finally:
        hook.stop()

    # the CLI's search on the server: several words, an exclusion after --, a name for a code
    some = mockserver.manifest()["utf8"][0]["title"]
    words = _json(run_cli("search", *some.split()[:1], "--json", data=data, env=server_env))
    assert words["total"] >= 1
    everything = _json(run_cli("search", "--json", "--limit", "0", data=data, env=server_env))["total"]
    first_word = some[:2]
    without = _json(run_cli("search", "--json", "--limit", "0", "--data", str(data), "--", f"-{first_word}",
                            env=server_env))
    with_it = _json(run_cli("search", first_word, "--json", "--limit", "0", data=data, env=server_env))
    assert without["total"] + with_it["total"] == everything


def test_server_down_at_start_is_a_clear_error_and_nothing_is_marked_fetched(
    mockserver: MockServer, tmp_path: Path, server_env: dict[str, str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    data = tmp_path / "data"
    sources = tmp_path / "sources"
    write_source(sources, "site-utf8", start_urls=[mockserver.url("utf8", "/news/")])
    down = {**server_env, "TECHSCOUT_ELASTICSEARCH_URL": dead}
    crawl = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=down)
    assert crawl.returncode != 0
    assert dead in crawl.stderr and "Traceback" not in crawl.stderr
    searched = run_cli("search", "芯片", data=data, env=down)
    assert searched.returncode == 2 and dead in searched.stderr and "not reachable" in searched.stderr
    # the server is back: the next crawl fetches and stores the pages (nothing was marked fetched)
    crawl = run_cli("crawl", "--sources", str(sources), "--json", data=data, env=server_env)
    assert crawl.returncode in (0, 1), crawl.stderr[-2000:]
    stored = _json(run_cli("search", "--source", "site-utf8", "--json", "--limit", "0", data=data, env=server_env))
    assert stored["total"] > 5
