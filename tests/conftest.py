"""Shared fixtures: the mockserver subprocess, a data directory, running the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TECHSCOUT_CORPUS", REPO.parent / "shared" / "corpus"))


class MockServer:
    """The fixture sites of ``tests/mockserver.py``, served by a subprocess (Scrapy's pattern)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.mockserver"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("mockserver did not start")
        info = json.loads(line)
        self.sites: dict[str, str] = info["sites"]
        self.control: str = info["control"]

    def url(self, site: str, path: str = "/") -> str:
        return self.sites[site] + path

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.control + path, timeout=10) as resp:
            return json.loads(resp.read())

    def log(self) -> list[tuple[str, str, int]]:
        return [tuple(x) for x in self._get("/log")]

    def reset(self) -> None:
        self._get("/reset")

    def manifest(self) -> dict[str, list[dict[str, str]]]:
        return self._get("/manifest")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def mockserver() -> Iterator[MockServer]:
    server = MockServer({"MOCKSERVER_SLOW": "8"})
    yield server
    server.stop()


#: the environment a crawl of the fixture sites needs: they are on this machine's loopback address
LOCAL_SITES = {"TECHSCOUT_ALLOW_PRIVATE_URLS": "1"}


def run_cli(*args: str, data: Path | None = None, env: dict[str, str] | None = None, timeout: int = 240,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``techscout`` command in a subprocess. (The fixture sites are on this machine's loopback
    address: a crawl of them needs ``LOCAL_SITES`` in ``env``, or the outbound-URL guard refuses them.)"""
    full_env = {**os.environ, "TECHSCOUT_LOG_LEVEL": "WARNING", **(env or {})}
    full_env.pop("TECHSCOUT_CONFIG", None)
    cmd = [sys.executable, "-m", "cli", *args]
    if data is not None:
        cmd += ["--data", str(data)]
    return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout, input=input)


def write_source(directory: Path, name: str, **keys: Any) -> Path:
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **keys}, allow_unicode=True), encoding="utf-8")
    return path


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the search node this test session started (tests/search_node.py), if any."""
    from tests.search_node import stop_node

    stop_node()
