"""The embedded store under bad conditions: a corrupted file, a database locked by another writer, a reader during
a long write, and the file's permissions (it holds password hashes and notification URLs)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import BackendError
from search.backends.embedded import EmbeddedBackend
from search.query import Query
from tests.conftest import REPO, run_cli

from .conftest import corpus_articles, make_article


def test_the_store_file_is_private(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path / "techscout.sqlite")
    store.upsert(corpus_articles()[:2])
    store.close()
    for name in ("techscout.sqlite", "techscout.sqlite-wal", "techscout.sqlite-shm"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_a_corrupted_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "techscout.sqlite"
    store = EmbeddedBackend(path)
    store.upsert(corpus_articles())
    store.close()
    raw = bytearray(path.read_bytes())
    raw[100:4096] = os.urandom(4096 - 100)  # the header's tail and the first page: schema gone
    path.write_bytes(bytes(raw))
    with pytest.raises(BackendError) as err:
        EmbeddedBackend(path).search(Query(text="人工智能"))
    assert str(path) in str(err.value) and "损坏" in str(err.value)
    data = tmp_path
    out = run_cli("search", "人工智能", data=data)
    assert out.returncode == 2 and str(path) in out.stderr and "Traceback" not in out.stderr


def test_a_locked_database_is_a_clear_error_after_a_bounded_wait(tmp_path: Path) -> None:
    path = tmp_path / "techscout.sqlite"
    EmbeddedBackend(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    try:
        store = EmbeddedBackend(path, lock_wait=0.5)
        started = time.monotonic()
        with pytest.raises(BackendError) as err:
            store.upsert([make_article("x", "标题", "正文")])
        assert time.monotonic() - started >= 0.5  # it did wait (a lower bound only)
        assert str(path) in str(err.value) and "正在写入" in str(err.value)
        # a reader does not wait for the writer (WAL): search answers while the write lock is held
        assert store.search(Query(text="", size=0)).total == 0
        reader = EmbeddedBackend(path, readonly=True, lock_wait=0.5)
        assert reader.count() == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_cli_search_answers_while_a_crawl_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "techscout.sqlite"
    store = EmbeddedBackend(path)
    store.upsert(corpus_articles())
    store.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)"
        ), str(path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        out = run_cli("search", "人工智能", "--json", data=tmp_path, timeout=60)
        assert out.returncode == 0, out.stderr
        assert '"total": 2' in out.stdout
    finally:
        holder.kill()
        holder.wait()
