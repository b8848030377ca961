"""A real OpenSearch node for the tests (``scripts/search-node.sh``), one per test session.

``./test`` starts the node before pytest and passes its URL in ``TECHSCOUT_TEST_SEARCH_URL``; run directly,
pytest starts one itself on a free port (the jars come from the project's Maven folder ``.cache/maven``,
fetched from Maven Central once) and stops it at the end. Without Java or Maven the server tests skip with a
reason saying how to enable them — except under CI (``CI=true``), where a missing node fails them: the suite
must never pass there without having met a real server.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "search-node.sh"
ENV_URL = "TECHSCOUT_TEST_SEARCH_URL"
HOW = (
    "server tests need a real OpenSearch node: install a JDK 17 and Maven (apt-get install openjdk-17-jdk-headless "
    f"maven) so that scripts/search-node.sh can build one, or start one and set {ENV_URL}=http://127.0.0.1:PORT"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable(reason: str) -> None:
    """Skip (with how to enable) — or fail under CI, where server tests must run."""
    message = f"{reason}. {HOW}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true demands the search node: {message}", pytrace=False)
    pytest.skip(message)


class Node:
    def __init__(self, product: str = "opensearch", env_url: str = ENV_URL) -> None:
        self.product = product
        self.url = os.environ.get(env_url, "").strip()
        self.port: int | None = None
        self.error = ""
        if self.url:
            return
        self.port = _free_port()
        proc = subprocess.run(
            ["bash", str(SCRIPT), "start", "--product", product, "--port", str(self.port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode == 0:
            self.url = proc.stdout.strip().splitlines()[-1]
        else:
            tail = " ".join(proc.stderr.strip().splitlines()[-3:])
            self.error = f"scripts/search-node.sh start exited {proc.returncode}: {tail}"

    def stop(self) -> None:
        if self.port is not None:
            subprocess.run(["bash", str(SCRIPT), "stop", "--product", self.product, "--port", str(self.port)],
                           cwd=REPO, capture_output=True, timeout=120)


_NODES: dict[str, Node] = {}


def node_url(product: str = "opensearch") -> str:
    """The URL of a running node of ``product`` (started once per session), or skip/fail saying why."""
    if product not in _NODES:
        env = ENV_URL if product == "opensearch" else "TECHSCOUT_TEST_ES_URL"
        _NODES[product] = Node(product, env)
    node = _NODES[product]
    if not node.url:
        unavailable(node.error or f"no {product} node")
    return node.url


@pytest.fixture(scope="session")
def search_node() -> Iterator[str]:
    """The URL of a running OpenSearch node."""
    yield node_url("opensearch")


def stop_node() -> None:
    """End of the session: stop the nodes this process started."""
    while _NODES:
        _NODES.popitem()[1].stop()
