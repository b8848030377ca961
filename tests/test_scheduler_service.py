"""The scheduling service (``techscout run``) against the mockserver, with second-scale schedules: runs happen on
schedule and never overlap, a hanging source is timed out without delaying the others, SIGTERM stops gracefully
and leaves no crawl process behind, and a ``kill -9`` in the middle of a crawl followed by a restart resumes the
crawl (no URL fetched before the kill is fetched again) and loses and duplicates no document.

No assertion bounds a duration from above (the machine may be loaded): order, counts and lower bounds only;
waits have generous limits that only catch a hang."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core.procs import helper_processes
from core.settings import load_settings
from tests.conftest import LOCAL_SITES, REPO, MockServer, run_cli, write_source


def _start(sources: Path, data: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, "TECHSCOUT_LOG_LEVEL": "INFO", "TECHSCOUT_ALLOW_PRIVATE_URLS": "1", **env}
    full_env.pop("TECHSCOUT_CONFIG", None)
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "run", "--no-web", "--sources", str(sources), "--data", str(data)],
            cwd=REPO,
            env=full_env,
            stdout=fh,
            stderr=fh,
        )


def _backend(data: Path) -> Any:
    from search.backends import open_backend

    return open_backend(load_settings(data=data, env={}))


def _runs(data: Path, source: str) -> list[dict[str, Any]]:
    if not (data / "techscout.sqlite").exists():
        return []
    backend = _backend(data)
    try:
        runs = backend.list_records("runs", {"source": source}, limit=200)
    finally:
        backend.close()
    return sorted(runs, key=lambda r: r.get("launched") or r.get("started") or "")


def _stored_urls(data: Path, source: str) -> list[str]:
    backend = _backend(data)
    try:
        return [a.url for a in backend.iter_articles() if a.source == source]
    finally:
        backend.close()


def _t(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _wait(
    cond: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


def _locks_free(data: Path) -> bool:
    for path in (data / "jobs").glob("*.lock"):
        with path.open("a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
    return True


@pytest.fixture()
def hanging_site() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def test_runs_on_time_without_overlap_and_a_hanging_source_delays_no_other(
    mockserver: MockServer, hanging_site: str, tmp_path: Path
) -> None:
    sources, data, log = tmp_path / "sources", tmp_path / "data", tmp_path / "service.log"
    write_source(sources, "feed", start_urls=[mockserver.url("rss", "/feed.xml")], schedule="every 3s")
    write_source(sources, "busy", start_urls=[mockserver.url("gbk", "/kjdt/")], schedule="every 2s")
    write_source(sources, "hangs", start_urls=[hanging_site + "/news/"], schedule="every 3s")
    env = {"TECHSCOUT_TIMEOUT": "60", "TECHSCOUT_DELAY": "0", "TECHSCOUT_CRAWL_TIMEOUT": "20"}
    t0 = time.time()
    proc = _start(sources, data, env, log)
    try:
        _wait(
            lambda: (
                any(r["status"] == "timed out" for r in _runs(data, "hangs"))
                and len(_done(_runs(data, "feed"))) >= 3
                and len(_done(_runs(data, "busy"))) >= 2
            ),
            300,
            "a timed-out run of the hanging source, three runs of the feed and two of the busy source",
            proc,
            log,
        )
    finally:
        assert _stop(proc, timeout=180) == 0, log.read_text(errors="replace")[-3000:]
    assert _locks_free(data)  # no crawl process outlives the service

    feed, busy, hangs = _runs(data, "feed"), _runs(data, "busy"), _runs(data, "hangs")
    assert _t(feed[0]["launched"]) >= t0
    # never two crawls of one source at once; a run comes at least its interval (less the jitter) after the
    # previous one was launched — a fire while the source is still crawling is skipped, not queued
    for runs, every in ((feed, 3.0), (busy, 2.0), (hangs, 3.0)):
        for prev, nxt in zip(runs, runs[1:], strict=False):
            assert _t(nxt["launched"]) >= _t(prev["exited"]) - 0.01, (prev, nxt)
            assert _t(nxt["launched"]) - _t(prev["launched"]) >= every - 2 * 0.1 * every, (prev, nxt)
    # the hanging source was stopped at its time limit and recorded; the others ran meanwhile
    timed_out = next(r for r in hangs if r["status"] == "timed out")
    assert timed_out["errors"]["timeout"] >= 1
    assert _t(timed_out["exited"]) - _t(timed_out["launched"]) >= 20
    during = [r for r in feed if _t(timed_out["launched"]) < _t(r["launched"]) < _t(timed_out["exited"])]
    assert len(during) >= 1
    assert all(r["status"] in ("ok", "partial") for r in _done(feed))
    # a crawl started while another one runs gets an extraction process only if a core is still idle
    assert all(r["extraction_processes"] <= helper_processes(1, busy=2) for r in during)
    out = run_cli("runs", "--json", "--source", "hangs", data=data)
    assert '"timed out"' in out.stdout


def _done(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("status") not in ("running", None)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by its parent) is not a running process
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_sigterm_mid_crawl_stops_the_service_and_leaves_no_crawl_process(
    mockserver: MockServer, tmp_path: Path
) -> None:
    sources, data, log = tmp_path / "sources", tmp_path / "data", tmp_path / "service.log"
    write_source(sources, "news", start_urls=[mockserver.url("utf8", "/news/")], schedule="every 1h",
                 deny=["slow"])  # no request in flight that takes longer than the grace to answer
    mockserver.reset()
    proc = _start(sources, data, {"TECHSCOUT_TIMEOUT": "10", "TECHSCOUT_DELAY": "0.5"}, log)
    try:
        articles = _article_paths(mockserver, "utf8")
        _wait(lambda: sum(1 for _s, p, _st in mockserver.log() if p in articles) >= 3, 180,
              "the crawl to fetch articles", proc, log)
        crawl_pid = next(r["pid"] for r in _runs(data, "news") if r.get("status") == "running")
        assert _alive(crawl_pid)
    finally:
        code = _stop(proc, timeout=180)  # a hang guard: SIGTERM used to deadlock the service
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert not _alive(crawl_pid) and _locks_free(data)
    [run] = _runs(data, "news")
    assert run["finish_reason"] == "shutdown" and run["status"] == "partial", run  # closed, checkpointed
    assert (data / "jobs" / "news" / "closed.json").exists()  # resumable next time


def _article_paths(mockserver: MockServer, site: str) -> set[str]:
    return {re.sub(r"^https?://[^/]+", "", a["url"]) for a in mockserver.manifest()[site]}


def test_kill_9_mid_crawl_then_restart_resumes_the_crawl(mockserver: MockServer, tmp_path: Path) -> None:
    """kill -9 of the service while it crawls: the orphaned crawl gets SIGTERM (parent-death signal), closes and
    checkpoints; the restarted service resumes it — no URL fetched before the kill is fetched again — and the
    documents stored are exactly those of one uninterrupted crawl."""
    env = {"TECHSCOUT_TIMEOUT": "10", "TECHSCOUT_DELAY": "0.4"}  # no article lost to a slow machine
    sources, data, log = tmp_path / "sources", tmp_path / "data", tmp_path / "service.log"
    write_source(sources, "news", start_urls=[mockserver.url("utf8", "/news/")], schedule="every 1h")
    reference = run_cli(
        "crawl", "--sources", str(sources), "--json", data=tmp_path / "reference",
        env={"TECHSCOUT_TIMEOUT": "10", "TECHSCOUT_DELAY": "0", **LOCAL_SITES},
    )
    assert reference.returncode in (0, 1), reference.stderr
    expected = set(_stored_urls(tmp_path / "reference", "news"))
    assert len(expected) >= 15

    mockserver.reset()
    proc = _start(sources, data, env, log)
    try:
        _wait(
            lambda: (data / "techscout.sqlite").exists() and len(_stored_urls(data, "news")) >= 3,
            120,
            "the first stored documents",
            proc,
            log,
        )
    finally:
        proc.kill()  # kill -9: no chance to clean up
        proc.wait(timeout=30)
    # the orphaned crawl closes on its own (SIGTERM from the parent-death signal) and records its run
    settings = load_settings(data=data, env={})
    from crawlers import launch

    _wait(lambda: not launch.is_running(settings, "news"), 120, "the orphaned crawl to close")
    interrupted = [r for r in _runs(data, "news") if r.get("finish_reason") == "shutdown"]
    assert len(interrupted) == 1 and interrupted[0]["status"] == "partial", _runs(data, "news")
    before = set(_stored_urls(data, "news"))
    assert 3 <= len(before) < len(expected), (len(before), len(expected))
    fetched_before = {p for site, p, status in mockserver.log() if site == "utf8" and p != "/robots.txt"}

    mockserver.reset()
    proc = _start(sources, data, env, log)
    try:
        _wait(
            lambda: any(r.get("finish_reason") == "finished" for r in _runs(data, "news")),
            180,
            "the resumed crawl to finish",
            proc,
            log,
        )
    finally:
        assert _stop(proc, timeout=180) == 0
    resumed = [r for r in _runs(data, "news") if r.get("finish_reason") == "finished"]
    assert len(resumed) == 1 and resumed[0]["resumed"] is True
    fetched_after = [p for site, p, status in mockserver.log() if site == "utf8" and p != "/robots.txt"]
    assert fetched_after, "the resumed crawl fetched nothing"
    assert not fetched_before & set(fetched_after), sorted(fetched_before & set(fetched_after))  # resumed
    stored = _stored_urls(data, "news")
    assert len(stored) == len(set(stored))  # nothing duplicated
    assert set(stored) == expected, (sorted(expected - set(stored)), sorted(set(stored) - expected))  # nothing lost
    article_paths = _article_paths(mockserver, "utf8")
    assert len([p for p in fetched_after if p in article_paths]) == len(expected - before)
    new_counted = interrupted[0]["new"] + resumed[0]["new"]
    assert new_counted == len(expected)


@pytest.fixture()
def polite_site() -> Iterator[tuple[str, list[tuple[float, str, int]]]]:
    """A site whose robots.txt asks for a 1 s Crawl-delay and whose first article answer is 503 Retry-After: 2."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    log: list[tuple[float, str, int]] = []
    body = "<p>" + "科技成果转化平台建设取得新进展，相关企业与高校开展合作。" * 12 + "</p>"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            headers = {"Content-Type": "text/html; charset=utf-8"}
            if self.path == "/robots.txt":
                status, text, headers = 200, "User-agent: *\nCrawl-delay: 1\n", {"Content-Type": "text/plain"}
            elif self.path == "/news/":
                links = "".join(
                    f'<li><a href="/news/a{i}.html">科技成果转化平台第{i}期建设进展报道</a></li>'
                    for i in range(4)
                )
                status, text = (
                    200,
                    f"<html><head><title>要闻</title></head><body><ul>{links}</ul></body></html>",
                )
            elif self.path == "/news/a0.html" and not any(p == self.path for _, p, _ in log):
                status, text = 503, "busy"
                headers["Retry-After"] = "2"
            elif self.path.startswith("/news/a"):
                status, text = (
                    200,
                    f"<html><head><title>进展{self.path}</title></head><body><h1>进展</h1>{body}</body></html>",
                )
            else:
                status, text = 404, "no"
            log.append((time.monotonic(), self.path, status))
            data = text.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", log
    server.shutdown()
    server.server_close()


def test_retry_after_and_crawl_delay_are_honoured(
    polite_site: tuple[str, list[tuple[float, str, int]]], tmp_path: Path
) -> None:
    base, log = polite_site
    write_source(tmp_path / "sources", "polite", start_urls=[base + "/news/"])
    out = run_cli(
        "crawl",
        "--sources",
        str(tmp_path / "sources"),
        "--json",
        data=tmp_path / "data",
        env={"TECHSCOUT_DELAY": "0", "TECHSCOUT_CONCURRENCY": "4", "TECHSCOUT_TIMEOUT": "10", **LOCAL_SITES},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    paths = [p for _, p, _ in log]
    assert paths[0] == "/robots.txt" and paths.count("/news/a0.html") == 2, paths
    times = [t for t, _, _ in log]
    gaps = [b - a for a, b in zip(times[1:], times[2:], strict=False)]  # after robots.txt was read
    assert len(gaps) >= 4 and min(gaps) >= 0.9, [(round(t - times[0], 3), p, s) for t, p, s in log]
    first, second = (t for t, p, _ in log if p == "/news/a0.html")
    assert second - first >= 1.9
    summary = json.loads(out.stdout)[0]
    assert summary["status"] == "ok" and not summary["errors"] and summary["new"] >= 1, summary
