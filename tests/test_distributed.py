"""Distributed crawling through a real Redis server: the leased frontier, the per-host gate, the shared duplicate
lookup, and two or three ``techscout worker`` processes crawling fixture sites together (one killed mid-crawl)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import load_settings
from crawlers import distributed as d
from crawlers.sources import Source
from tests.conftest import REPO, MockServer, run_cli, write_source


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is missing: install Debian's redis-server (scripts/install.sh --dev does)")
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 60  # a hang guard, not a speed bound
    while True:
        try:
            d.connect(url)
            break
        except d.DistributedError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def server(redis_url: str) -> Any:
    client = d.connect(redis_url)
    client.flushall()
    return client


class _Spider:
    name = "unit"
    lease_seconds = 0.3

    def parse(self, response: Any) -> None:
        pass


# -- the leased frontier -------------------------------------------------------------------------------------
def _queue(server: Any, lease: float = 0.3) -> d.LeasedQueue:
    spider = _Spider()
    spider.lease_seconds = lease
    return d.LeasedQueue(server, spider, "t:%(spider)s:requests")


def test_a_popped_request_is_leased_until_acknowledged(server: Any) -> None:
    from scrapy import Request

    q = _queue(server, lease=30)
    q.push(Request("http://a.example/1", meta={"feed_entry": {"title": "标题"}}, headers={"X": "y"}))
    req = q.pop()
    assert req.url == "http://a.example/1" and req.meta["feed_entry"] == {"title": "标题"}
    assert req.headers.get("X") == b"y"
    assert len(q) == 0 and q.leased() == 1 and q.pop() is None
    q.ack(req.meta["lease"])
    assert q.leased() == 0 and q.reap() == 0 and len(q) == 0


def test_an_expired_lease_returns_to_the_frontier_once(server: Any) -> None:
    from scrapy import Request

    q = _queue(server, lease=0.2)
    q.push(Request("http://a.example/1", priority=5))
    first = q.pop()
    assert first is not None and q.pop() is None
    time.sleep(0.35)
    assert q.reap() == 1 and q.reap() == 0
    again = q.pop()
    assert again is not None and again.url == first.url and again.priority == 5
    assert again.meta["lease"] != first.meta["lease"]


def test_extending_keeps_a_lease_alive(server: Any) -> None:
    from scrapy import Request

    q = _queue(server, lease=0.3)
    q.push(Request("http://a.example/1"))
    assert q.pop() is not None
    for _ in range(4):
        time.sleep(0.15)
        assert q.extend() == 1
    assert q.reap() == 0 and q.leased() == 1


def test_a_redirect_or_retry_replaces_the_leased_request(server: Any) -> None:
    from scrapy import Request

    q = _queue(server, lease=30)
    q.push(Request("http://a.example/old"))
    leased = q.pop()
    redirected = leased.replace(url="http://a.example/new")  # meta (with the lease) travels with it
    q.push(redirected)
    assert q.leased() == 0 and "lease" not in redirected.meta
    assert q.pop().url == "http://a.example/new"


# -- per-host gate ---------------------------------------------------------------------------------------------
def test_host_gate_spaces_claims_across_clients(redis_url: str, server: Any) -> None:
    other = d.connect(redis_url)  # another worker's connection
    assert d.try_host_slot(server, "h.example", 0.3) == 0.0
    wait = d.try_host_slot(other, "h.example", 0.3)
    assert 0.1 < wait <= 0.3 + d.GATE_ALLOWANCE
    assert d.try_host_slot(other, "other.example", 0.3) == 0.0
    time.sleep(wait + 0.02)
    assert d.try_host_slot(other, "h.example", 0.3) == 0.0
    assert d.try_host_slot(server, "h.example", 0.0) == 0.0  # no delay: never waits


def test_gate_handler_claims_right_before_the_download_and_honours_crawl_delay(server: Any) -> None:
    import asyncio

    from scrapy import Request
    from scrapy.robotstxt import ProtegoRobotParser
    from scrapy.utils.test import get_crawler

    sent: list[tuple[str, float]] = []

    class Inner:
        async def download_request(self, request: Any) -> str:
            sent.append((request.url, time.monotonic()))
            return str(request.url)

    gate = d.HostGateHandler(get_crawler(settings_dict={"USER_AGENT": "techscout"}), server, 0.1, Inner())
    robots = ProtegoRobotParser(b"User-agent: *\nCrawl-delay: 0.5\n", None)
    gate.robots_parsed(robots, Request("http://slow.example/news/"))

    async def fetch(*urls: str) -> list[Any]:
        return [await gate.download_request(Request(u)) for u in urls]

    urls = [
        "http://slow.example/1",
        "http://slow.example/2",
        "http://fast.example/1",
        "http://fast.example/2",
    ]
    assert asyncio.run(fetch(*urls)) == urls
    times = dict(sent)
    assert times["http://slow.example/2"] - times["http://slow.example/1"] >= 0.5  # the host's Crawl-delay
    assert times["http://fast.example/2"] - times["http://fast.example/1"] >= 0.1  # the delay
    assert gate.crawl_delays == {"slow.example": 0.5}  # the Crawl-delay spaces its own host only

    # a request written late (0.2 s after its claim) holds the host for the full delay from then
    assert d.try_host_slot(server, "late.example", 0.3, b"mine") == 0.0
    time.sleep(0.2)
    gate.sent("late.example", 0.3, b"mine")
    assert d.try_host_slot(server, "late.example", 0.3) > 0.25
    server.set(d.host_key("taken.example"), b"theirs", px=100_000)
    gate.sent("taken.example", 0.3, b"mine")  # another worker's slot is left alone
    assert server.get(d.host_key("taken.example")) == b"theirs"


def test_plain_pipelines_run_in_the_pipeline_thread_in_order() -> None:
    import asyncio
    import threading

    from scrapy.exceptions import DropItem
    from scrapy.utils.test import get_crawler

    threads: list[tuple[str, str]] = []

    class Plain:
        def process_item(self, item: list[str]) -> list[str]:
            threads.append(("plain", threading.current_thread().name))
            return [*item, "plain"]

    class Async:
        async def process_item(self, item: list[str]) -> list[str]:
            threads.append(("async", threading.current_thread().name))
            return [*item, "async"]

    class Drop:
        def process_item(self, item: list[str]) -> list[str]:
            raise DropItem("not an article")

    crawler = get_crawler()
    manager = d.ThreadedItemPipelines(Plain(), Async(), Plain(), Plain(), crawler=crawler)
    assert asyncio.run(manager.process_item_async([])) == ["plain", "async", "plain", "plain"]
    here = threading.current_thread().name
    assert [name != here for _kind, name in threads] == [True, False, True, True]
    dropping = d.ThreadedItemPipelines(Plain(), Drop(), Async(), crawler=crawler)
    with pytest.raises(DropItem):
        asyncio.run(dropping.process_item_async([]))


# -- shared duplicate lookup -----------------------------------------------------------------------------------
def test_reprints_seen_by_two_workers_share_one_cluster(server: Any) -> None:
    text = (
        "科学技术部近日印发通知，部署推进国家重点实验室体系重组工作。通知要求各地科技管理部门加强统筹，"
        "围绕人工智能、集成电路、生物医药等重点领域布局建设一批高水平实验室，推动基础研究和应用研究协同发展。"
        "通知还明确了实验室评估考核办法，建立动态调整机制，鼓励企业参与共建。"
    ) * 3
    reprint = "【转载】" + text.replace("近日", "日前") + "（来源：科技日报）"
    other = (
        "陕西省科协举办青少年科技创新大赛，来自全省各地的三百余名中小学生参加了比赛。大赛设置了工程学、"
        "物理与天文学、计算机科学等十余个学科，评出一等奖二十项。"
    ) * 3
    a, b = d.RedisDedupIndex(server), d.RedisDedupIndex(server)  # two workers
    first = a.add("doc-a", text, title="重点实验室重组", source="most")
    assert first.duplicate_of is None and first.cluster_id == "doc-a"
    seen = b.lookup("doc-b", reprint, title="重点实验室重组", source="news")
    assert seen.duplicate_of == "doc-a" and seen.cluster_id == "doc-a" and not seen.exact
    added = b.add("doc-b", reprint, title="重点实验室重组", source="news")
    assert added.cluster_id == "doc-a"
    exact = a.add("doc-c", text, title="另一个标题", source="news")
    assert exact.duplicate_of == "doc-a" and exact.exact
    unrelated = b.add("doc-d", other, title="青少年科技创新大赛", source="sxast")
    assert unrelated.duplicate_of is None and unrelated.cluster_id == "doc-d"
    assert a.source_of("doc-b") == "news" and a.source_of("nope") is None
    again = a.add("doc-a", text, title="重点实验室重组", source="most")  # re-adding keeps its own cluster
    assert again.cluster_id == "doc-a"


# -- jobs ------------------------------------------------------------------------------------------------------
def test_enqueue_is_once_per_running_crawl(redis_url: str, server: Any, tmp_path: Path) -> None:
    settings = load_settings(data=str(tmp_path), env={"TECHSCOUT_REDIS_URL": redis_url})
    source = Source(name="s1", start_urls=["http://a.example/news/", "http://a.example/feed.xml"])
    run = d.enqueue_crawl(settings, source, server=server)
    assert d.enqueue_crawl(settings, source, server=server) == run
    assert d.job_pending(server, "s1") == 2
    jobs = d.active_jobs(server)
    assert jobs["s1"]["run_id"] == run and jobs["s1"]["source"].start_urls == source.start_urls
    assert not d.finish_job(server, "s1", run)  # work is still queued
    server.delete(d.source_key("s1", "requests"))
    assert d.finish_job(server, "s1", run) and d.active_jobs(server) == {}
    assert d.enqueue_crawl(settings, source, server=server) != run  # a new crawl after the last one ended


def test_worker_without_redis_is_a_clear_error(tmp_path: Path) -> None:
    out = run_cli("worker", "--until-idle", data=tmp_path, env={"TECHSCOUT_REDIS_URL": ""})
    assert out.returncode == 2 and "redis_url" in out.stderr


# -- workers against the fixture sites -------------------------------------------------------------------------
class TimedSites:
    def __init__(self, n: int, articles: int, delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.test_distributed_sites", str(n), str(articles), str(delay)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.sites: list[str] = info["sites"]
        self.control: str = info["control"]

    def log(self) -> list[list[Any]]:
        with urllib.request.urlopen(self.control + "/log", timeout=10) as resp:
            return list(json.loads(resp.read()))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _env(redis_url: str, delay: float) -> dict[str, str]:
    return {
        "TECHSCOUT_REDIS_URL": redis_url,
        "TECHSCOUT_DELAY": str(delay),
        "TECHSCOUT_TIMEOUT": "20",
        "TECHSCOUT_LOG_LEVEL": "WARNING",
        "TECHSCOUT_ALLOW_PRIVATE_URLS": "1",  # the timed sites are on loopback addresses
    }


def _start_workers(
    n: int, data: Path, env: dict[str, str], lease: float = 60.0
) -> list[subprocess.Popen[str]]:
    full = {**os.environ, **env}
    full.pop("TECHSCOUT_CONFIG", None)
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "worker",
                "--until-idle",
                "--lease-seconds",
                str(lease),
                "--data",
                str(data),
            ],
            cwd=REPO,
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]


def _stored(data: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    out = run_cli("search", "", "--json", "--limit", "1000", data=data, env=env)
    assert out.returncode == 0, out.stderr
    hits: list[dict[str, Any]] = json.loads(out.stdout)["hits"]
    return hits


def test_three_workers_share_the_mockserver_crawl(
    mockserver: MockServer, redis_url: str, server: Any, tmp_path: Path
) -> None:
    sources = tmp_path / "sources"
    deny = ["slow", "broken", "missing", "loop", "calendar", "jsessionid", "/news/list"]
    write_source(sources, "d-utf8", start_urls=[mockserver.url("utf8", "/news/")], deny=deny)
    write_source(sources, "d-gbk", start_urls=[mockserver.url("gbk", "/kjdt/")], deny=deny)
    write_source(
        sources,
        "d-rss",
        start_urls=[mockserver.url("rss", "/feed.xml"), mockserver.url("rss", "/sitemap.xml")],
    )
    env = _env(redis_url, 0.05)
    data = tmp_path / "data"
    mockserver.reset()
    queued = run_cli("crawl", "--sources", str(sources), "--enqueue", "--json", data=data, env=env)
    assert queued.returncode == 0, queued.stderr
    assert {q["source"] for q in json.loads(queued.stdout)} == {"d-utf8", "d-gbk", "d-rss"}
    workers = _start_workers(3, data, env)
    for w in workers:
        _, err = w.communicate(timeout=180)
        assert w.returncode == 0, err[-2000:]
    log = mockserver.log()
    fetched = Counter((site, path) for site, path, _status in log if path != "/robots.txt")
    assert fetched and max(fetched.values()) == 1, [k for k, v in fetched.items() if v > 1]
    hits = _stored(data, env)
    urls = [h["url"] for h in hits]
    assert len(urls) == len(set(urls))
    manifest = mockserver.manifest()
    for site in ("utf8", "gbk", "rss"):
        expected = {a["url"] for a in manifest[site]}
        assert len(expected & set(urls)) / len(expected) >= 0.9, (site, sorted(expected - set(urls)))
    assert d.active_jobs(server) == {}


def test_host_spacing_holds_across_workers_and_a_killed_worker_loses_nothing(
    redis_url: str, server: Any, tmp_path: Path
) -> None:
    articles, delay = 10, 0.4
    sites = TimedSites(2, articles, 0.05)
    try:
        sources = tmp_path / "sources"
        for i, base in enumerate(sites.sites):
            write_source(sources, f"timed-{i}", start_urls=[base + "/news/"], concurrency=2)
        env = _env(redis_url, delay)
        data = tmp_path / "data"
        queued = run_cli("crawl", "--sources", str(sources), "--enqueue", data=data, env=env)
        assert queued.returncode == 0, queued.stderr
        workers = _start_workers(3, data, env, lease=3.0)
        # kill one worker once the crawl is under way (articles being fetched)
        deadline = time.monotonic() + 90
        while sum(1 for e in sites.log() if "content_" in e[1]) < 6:
            if time.monotonic() > deadline:
                for w in workers:
                    w.kill()
                pytest.fail(f"the crawl did not start: {[w.communicate()[1][-1500:] for w in workers]}")
            time.sleep(0.1)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        for w in workers[1:]:
            _, err = w.communicate(timeout=180)
            assert w.returncode == 0, err[-2000:]
        log = sites.log()
        by_host: dict[str, list[float]] = {}
        for host, _path, _status, arrived, *_answered in log:
            by_host.setdefault(host, []).append(arrived)
        assert len(by_host) == 2
        for host, times in by_host.items():  # spacing as each site saw the requests arrive
            times.sort()
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
            assert min(gaps) >= delay, (host, sorted(gaps)[:3])
        robots = Counter(host for host, path, *_ in log if path == "/robots.txt")
        assert set(robots.values()) == {1}, robots  # read by one worker, shared with the others
        hits = _stored(data, env)
        urls = [h["url"] for h in hits]
        assert len(urls) == len(set(urls))
        # the same sites crawled by one local process (no Redis) store the same documents
        local = tmp_path / "local"
        local_env = {**env, "TECHSCOUT_REDIS_URL": "", "TECHSCOUT_DELAY": "0"}
        out = run_cli("crawl", "--sources", str(sources), "--quiet", data=local, env=local_env)
        assert out.returncode == 0, out.stderr
        expected = {h["url"] for h in _stored(local, local_env)}
        assert len(expected) >= 2 * articles * 0.8
        assert set(urls) == expected
        assert d.active_jobs(server) == {}
    finally:
        sites.stop()
