"""The JSON API keeps its contract: schemathesis against the live server (``techscout serve`` over a data directory
filled by a real crawl), every operation, positive and negative data, the examples, coverage, fuzzing and
stateful phases, a fixed seed and a bounded number of examples, as an admin and as staff.

Failing checks: a 5xx, a status code or a body the schema does not describe, a wrong content type, data the
schema forbids accepted, or authentication not enforced."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from search import users
from search.backends.embedded import EmbeddedBackend
from tests.conftest import REPO, MockServer, run_cli, write_source
from tests.webserver import LiveServer

SEED = 20261206
MAX_EXAMPLES = 20
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
])


@pytest.fixture(scope="module")
def live(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    root = tmp_path_factory.mktemp("api-schema")
    sources = root / "sources"
    write_source(sources, "site-rss", title="科技频道", start_urls=[mockserver.url("rss", "/feed.xml")])
    data = root / "data"
    out = run_cli("crawl", "--sources", str(sources), "--json", data=data,
                  env={"TECHSCOUT_DELAY": "0", "TECHSCOUT_TIMEOUT": "3", "TECHSCOUT_ALLOW_PRIVATE_URLS": "1"})
    assert out.returncode in (0, 1), out.stderr
    backend = EmbeddedBackend(data / "techscout.sqlite")
    tokens = {"admin": users.create_token(backend, "fuzz-admin", "admin"), "staff": users.create_token(backend, "fuzz-staff")}
    backend.close()
    server = LiveServer(data, sources)
    yield server, tokens
    server.stop()


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_schemathesis_finds_nothing(live: tuple[LiveServer, dict[str, str]], role: str) -> None:
    server, tokens = live
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.base}/openapi.json",
        "--header", f"Authorization: Bearer {tokens[role]}",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--mode", "all",
        "--checks", CHECKS,
        "--seed", str(SEED),
        "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1",
        "--request-timeout", "30",
        "--suppress-health-check", "all",
        "--warnings", "off",
    ]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=280)
    report = out.stdout[-12000:] + out.stderr[-3000:]
    assert out.returncode == 0, report
    assert "8 selected / 8 total" in out.stdout, report  # every operation, none skipped by a filter
    stateful = out.stdout.split("Stateful", 1)[1][:300] if "Stateful" in out.stdout else ""
    assert re.search(r"(?<!\d)[1-9]\d* passed", stateful), report  # the stateful phase ran scenarios
