"""Scheduling without a network: schedules, backoff, adaptation, health, politeness, crawl state, the job store."""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
import threading
import time
import types
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

import scheduler
from core.errors import CrawlBusy
from core.items import Article
from core.schedule import period_of
from core.settings import load_settings
from crawlers import launch
from crawlers.health import health_drops, rates_of
from crawlers.middlewares import (
    RETRY_AFTER_TIMES,
    HostPacer,
    PolitenessMiddleware,
    crawl_delay_of,
    parse_retry_after,
)
from crawlers.sources import source_from_mapping
from tests.conftest import write_source


def _settings(tmp_path: Path, **kw: Any) -> Any:
    return load_settings(data=tmp_path / "data", env={}, **kw)


def _run(status: str, new: int = 0, **extra: Any) -> dict[str, Any]:
    return {"status": status, "new": new, **extra}


# -- schedules, backoff, adaptation --------------------------------------------------------------------------------
def test_interval_and_cron_triggers_have_jitter(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    every = source_from_mapping({"name": "a", "start_urls": ["http://a.cn/"], "schedule": "every 30m"})
    trig = scheduler.trigger_for(every, settings)
    assert trig.interval == timedelta(minutes=30) and trig.jitter == 120
    assert scheduler.trigger_for(every, settings, interval=600.0).interval == timedelta(minutes=10)
    cron = source_from_mapping({"name": "b", "start_urls": ["http://b.cn/"], "schedule": "0 */2 * * *"})
    ctrig = scheduler.trigger_for(cron, settings)
    assert ctrig.jitter == 120 and "hour='*/2'" in str(ctrig)
    assert period_of("0 */2 * * *") == 7200
    assert period_of("0 7 * * *") == 86400
    default = source_from_mapping({"name": "c", "start_urls": ["http://c.cn/"]})
    assert scheduler.trigger_for(default, settings).interval == timedelta(hours=6)
    assert scheduler.jitter_for(10) == 1.0


def test_backoff_is_exponential_and_bounded() -> None:
    runs = [_run("failed"), _run("timed out"), _run("failed"), _run("ok"), _run("failed")]
    assert scheduler.consecutive_failures(runs) == 3
    assert scheduler.consecutive_failures([_run("partial"), *runs]) == 0
    delays = [scheduler.backoff_delay(n, 600) for n in range(1, 12)]
    assert delays[0] == 0  # one failure is not yet a pattern
    assert delays[1:5] == [1200, 2400, 4800, 9600]
    assert max(delays) == scheduler.BACKOFF_CAP and delays == sorted(delays)
    assert scheduler.backoff_delay(10, 2 * 86400) == 2 * 86400  # never below the source's own period


def test_interval_adapts_to_how_often_the_source_has_news() -> None:
    quiet = [_run("ok", 0)] * 3
    assert scheduler.adapted_interval(3600, quiet) == 3600
    assert scheduler.adapted_interval(3600, [_run("ok", 0)] * 4) == 5400
    assert scheduler.adapted_interval(3600, [_run("ok", 0)] * 30) == 3600 * scheduler.ADAPT_MAX_FACTOR
    assert scheduler.adapted_interval(3600, [_run("ok", 5)] * 3) == 2700
    assert scheduler.adapted_interval(3600, [_run("partial", 5)] * 30) == 3600 * scheduler.ADAPT_MIN_FACTOR
    # failed runs say nothing about the source's rhythm; one run with news resets a quiet streak
    mixed = [_run("failed"), _run("ok", 0), _run("ok", 0), _run("ok", 0), _run("ok", 2), _run("ok", 0)]
    assert scheduler.adapted_interval(3600, mixed) == 3600


# -- health ---------------------------------------------------------------------------------------------------------
def _article(i: int, *, date: bool = True, body: int = 400, title: bool = True) -> Article:
    return Article(
        id=str(i),
        url=f"http://a.cn/{i}",
        source="a",
        fetched="",
        title="标题" if title else "",
        text="科" * body,
        published="2024-01-01T00:00:00+08:00" if date else None,
    )


def test_fill_rates_and_template_change_flag() -> None:
    good = rates_of([_article(i) for i in range(10)])
    assert good == {"articles": 10, "date": 1.0, "body": 1.0, "title": 1.0}
    broken = rates_of([_article(i, body=20, date=i < 2) for i in range(10)])
    assert broken["body"] == 0.0 and broken["date"] == 0.2 and broken["title"] == 1.0
    assert health_drops(broken, [good, good, good]) == ["date", "body"]
    assert health_drops(broken, [good, good]) == []  # not enough history
    noisy = rates_of([_article(i, date=i % 5 != 0) for i in range(10)])
    assert health_drops(noisy, [good, good, good]) == []  # ordinary variation is no template change
    assert health_drops(rates_of([_article(1, body=5)]), [good] * 5) == []  # one article says nothing


# -- politeness -----------------------------------------------------------------------------------------------------
def test_retry_after_values() -> None:
    now = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(b" 7 ") == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0
    assert (
        parse_retry_after("soon") is None
        and parse_retry_after(None) is None
        and parse_retry_after("") is None
    )


def test_crawl_delay_from_robots() -> None:
    robots = "User-agent: *\nCrawl-delay: 4\nDisallow: /private/\n\nUser-agent: other\nCrawl-delay: 30\n"
    assert crawl_delay_of(robots, "techscout/0.1") == 4
    assert crawl_delay_of(b"User-agent: *\nDisallow:\n", "techscout/0.1") is None


def test_host_pacer_spacing_and_pause() -> None:
    clock = [100.0]
    pacer = HostPacer(clock=lambda: clock[0])
    assert pacer.take("a.cn") == 0  # no rules: never waits
    assert pacer.take("a.cn") == 0
    pacer.set_spacing("a.cn", 2.0)
    assert pacer.take("a.cn") == 2.0  # two seconds after the last start
    assert pacer.take("a.cn") == 2.0  # still not granted: asking again books nothing
    clock[0] = 102.0
    assert pacer.take("a.cn") == 0 and pacer.take("a.cn") == 2.0
    assert pacer.take("b.cn") == 0  # other hosts are not slowed
    pacer.pause("b.cn", 30)
    assert pacer.take("b.cn") == 30
    clock[0] = 132.0
    assert pacer.take("b.cn") == 0


def test_middleware_retries_after_the_pause_then_gives_up() -> None:
    from scrapy.http import HtmlResponse, Request, TextResponse
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict={"USER_AGENT": "techscout/0.1"})
    mw = PolitenessMiddleware.from_crawler(crawler)
    req = Request("http://a.cn/x.html")
    busy = HtmlResponse(req.url, status=503, headers={"Retry-After": "1"}, body=b"busy", request=req)
    out = mw.process_response(req, busy)
    assert isinstance(out, Request) and out.meta["retry_after_times"] == 1 and out.dont_filter
    assert mw.pacer.take("a.cn") > 0.5  # the host is paused
    for _ in range(RETRY_AFTER_TIMES):
        out = mw.process_response(out, busy) if isinstance(out, Request) else out
    assert out is busy  # bounded: the answer goes on to retry/error handling
    robots_req = Request("http://b.cn/robots.txt")
    robots = TextResponse(robots_req.url, body=b"User-agent: *\nCrawl-delay: 3\n", request=robots_req)
    assert mw.process_response(robots_req, robots) is robots
    assert mw.pacer.spacing["b.cn"] == 3


# -- crawl state ----------------------------------------------------------------------------------------------------
def test_spider_requests_survive_the_jobdir_queue() -> None:
    from scrapy.utils.request import request_from_dict
    from scrapy.utils.test import get_crawler

    from crawlers.spiders.generic import GenericSpider

    src = source_from_mapping({"name": "x", "start_urls": ["http://a.cn/news/"], "render_js": True})
    spider = GenericSpider.from_crawler(get_crawler(GenericSpider), source=src)

    async def first() -> Any:
        async for r in spider.start():
            return r

    requests = [
        asyncio.run(first()),
        spider._list_request("http://a.cn/news/index_2.html", 1),
        spider._article_request(
            "http://a.cn/a/1.html", 1, {"title": "题", "published": "2024-01-01", "author": ""}
        ),
    ]
    for req in requests:
        assert req is not None
        d = pickle.loads(pickle.dumps(req.to_dict(spider=spider), protocol=4))
        back = request_from_dict(d, spider=spider)
        assert back.url == req.url and back.callback == req.callback and back.errback == req.errback
        assert back.meta == req.meta


def test_jobdir_kept_only_after_a_clean_stop(tmp_path: Path) -> None:
    job = tmp_path / "jobs" / "a"
    assert launch.jobdir_state(job) == "none" and launch.prepare_jobdir(job) is False
    job.mkdir(parents=True)
    (job / "requests.seen").write_text("abc\n")
    assert launch.jobdir_state(job) == "stale"  # killed: no closing marker
    assert launch.prepare_jobdir(job) is False and not job.exists()
    job.mkdir(parents=True)
    (job / "closed.json").write_text('{"reason": "shutdown"}')
    assert launch.prepare_jobdir(job) is True and job.exists() and not (job / "closed.json").exists()
    launch.finish_jobdir(job, "shutdown")
    assert job.exists()
    launch.finish_jobdir(job, "finished")
    assert not job.exists()


def test_source_lock_prevents_a_second_crawl(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with launch.source_lock(settings, "a") as first:
        assert first is not None
        assert launch.is_running(settings, "a") and not launch.is_running(settings, "b")
        with launch.source_lock(settings, "a", wait=0.2) as second:
            assert second is None
        with launch.source_lock(settings, "b", wait=0) as other:
            assert other is not None
        assert launch.lock_holder(settings, "a") == os.getpid()
    assert not launch.is_running(settings, "a")
    with launch.source_lock(settings, "a", wait=0) as again:
        assert again is not None


def test_overrunning_crawl_is_stopped_and_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, crawl_timeout=1)
    marker = tmp_path / "still-running"
    code = f"import time, pathlib\ntime.sleep(30)\npathlib.Path({str(marker)!r}).write_text('x')"
    monkeypatch.setattr(launch, "crawl_command", lambda *a, **k: [sys.executable, "-c", code])
    monkeypatch.setattr(launch, "STOP_GRACE", 1.0)
    stale = settings.data_dir / "jobs" / "hangs"
    stale.mkdir(parents=True)
    (stale / "requests.seen").write_text("x\n")  # left by a crawl killed together with its service
    record = launch.run_crawl(settings, "hangs")
    assert record["status"] == "timed out" and record["errors"]["timeout"] == 1
    stored = launch.get_run(settings, record["id"])
    assert stored is not None and stored["status"] == "timed out" and stored["source"] == "hangs"
    with launch.source_lock(settings, "hangs", wait=5) as lock:  # the crawl process is gone
        assert lock is not None
    assert not marker.exists()
    runs = _backend_runs(settings, "hangs")
    assert [r["status"] for r in runs] == ["timed out", "failed"]
    assert runs[1]["errors"] == {"crawl-killed": 1}
    assert not stale.exists()  # a killed crawl's state is discarded


def test_crawl_now_starts_in_the_background_and_refuses_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """crawl_now returns at once with the run's id; while that crawl runs the source is busy (CrawlBusy,
    is_running) and its run record says so; afterwards the record is the crawl's outcome."""
    sources = tmp_path / "sources"
    write_source(sources, "slow", start_urls=["http://a.cn/"])
    settings = _settings(tmp_path, sources=str(sources), crawl_timeout=30)
    gate = tmp_path / "go"
    code = (f"import pathlib, time\nwhile not pathlib.Path({str(gate)!r}).exists(): time.sleep(0.05)\n")
    monkeypatch.setattr(launch, "crawl_command", lambda *a, **k: [sys.executable, "-c", code])
    rid = launch.crawl_now(settings, "slow")
    assert rid.endswith("-slow")
    assert launch.is_running(settings, "slow")
    with pytest.raises(CrawlBusy, match="正在抓取中"):
        launch.crawl_now(settings, "slow")
    deadline = time.monotonic() + 30
    while (launch.get_run(settings, rid) or {}).get("status") != "running":
        assert time.monotonic() < deadline, "no running record"
        time.sleep(0.05)
    gate.write_text("go")
    while launch.is_running(settings, "slow"):
        assert time.monotonic() < deadline + 30, "the crawl did not end"
        time.sleep(0.05)
    while (launch.get_run(settings, rid) or {}).get("status") == "running":
        time.sleep(0.05)
    record = launch.get_run(settings, rid)
    assert record is not None and record["status"] == "failed" and "crawl-crashed" in record["errors"]
    assert record["launched"] and record["exited"]
    with pytest.raises(scheduler.TechscoutError, match="no source named"):
        launch.crawl_now(settings, "missing")


def _backend_runs(settings: Any, source: str) -> list[dict[str, Any]]:
    from search.backends import open_backend

    backend = open_backend(settings)
    try:
        return backend.list_records("runs", {"source": source})
    finally:
        backend.close()


# -- after a run: state, backoff, alerts ------------------------------------------------------------------------------
def test_after_run_flags_failing_source_and_backs_off(tmp_path: Path) -> None:
    from search.backends import open_backend

    settings = _settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    src = source_from_mapping({"name": "a", "start_urls": ["http://a.cn/"], "schedule": "every 10m"})
    backend = open_backend(settings)
    for i in range(3):
        backend.put_record("runs", f"r{i}", {"id": f"r{i}", "source": "a", "status": "failed", "new": 0})
        time.sleep(0.01)
    backend.close()
    record = {"id": "r3", "source": "a", "status": "timed out", "new": 0, "new_ids": []}
    state = scheduler.after_run(settings, src, record)
    assert state["failures"] == 4 and state["flagged"] is True
    until = datetime.fromisoformat(state["backoff_until"])
    assert timedelta(minutes=70) < until - datetime.now(UTC) <= timedelta(minutes=80)
    ok = {"id": "r4", "source": "a", "status": "ok", "new": 2, "new_ids": ["d1", "d2"]}
    backend = open_backend(settings)
    backend.put_record("runs", "r4", ok)  # the crawl process records its run
    backend.close()
    state = scheduler.after_run(settings, src, ok)
    assert state["failures"] == 0 and not state["flagged"] and state["backoff_until"] is None
    status = scheduler.source_status(settings, [src])["a"]
    assert status["last_status"] == "ok" and status["failures"] == 0


def test_after_crawl_hands_new_ids_to_alerts_with_orphans_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from search.backends import open_backend

    settings = _settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    calls: list[list[str]] = []
    fake = types.ModuleType("search.alerts")
    fake.run_alerts = lambda s, ids: calls.append(list(ids))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "search.alerts", fake)
    assert launch.after_crawl(settings, {"id": "r3", "source": "a", "status": "failed"}, background=False) == []
    assert calls == []
    ok = {"id": "r4", "source": "a", "status": "ok", "new": 2, "new_ids": ["d1", "d2"], "launched": "x"}
    launch.after_crawl(settings, ok, background=False)
    assert calls == [["d1", "d2"]]
    # a crawl that outlived a killed service: its documents are handed over once, with the next run's
    backend = open_backend(settings)
    orphan = {"id": "r5", "source": "a", "status": "partial", "new": 1, "new_ids": ["d3"], "finish_reason": "shutdown"}
    backend.put_record("runs", "r5", orphan)
    backend.close()
    nxt = {"id": "r6", "source": "a", "status": "ok", "new": 1, "new_ids": ["d4"], "launched": "x"}
    launch.after_crawl(settings, nxt, background=False)
    launch.after_crawl(settings, nxt | {"id": "r7", "new_ids": []}, background=False)
    assert calls[1:] == [["d4", "d3"]]
    # in the background: ids queued while matching runs are merged into one next round
    launch.after_crawl(settings, nxt | {"id": "r8", "new_ids": ["d5"]})
    launch.wait_for_alerts()
    assert calls[-1] == ["d5"]


# -- the job store and config reload ---------------------------------------------------------------------------------
def test_jobs_follow_source_files_and_survive_a_restart(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "a", start_urls=["http://a.cn/"], schedule="every 1h")
    write_source(sources, "b", start_urls=["http://b.cn/"], schedule="0 7 * * *")
    settings = _settings(tmp_path, sources=str(sources))
    service = scheduler.SchedulerService(settings)
    service.start(run=False)
    try:
        jobs = {j.id: j for j in service.scheduler.get_jobs()}
        assert set(jobs) == {"a", "b"} and jobs["a"].max_instances == 1 and jobs["a"].coalesce
        with pytest.raises(scheduler.SchedulerError):
            scheduler.SchedulerService(settings).start(run=False)  # one service per data directory
        planned_b = jobs["b"].next_run_time
        time.sleep(0.05)
        write_source(sources, "a", start_urls=["http://a.cn/"], schedule="every 10m")
        (sources / "b.yaml").unlink()
        write_source(sources, "c", start_urls=["http://c.cn/"])
        assert service.changed()
        service.sync()
        jobs = {j.id: j for j in service.scheduler.get_jobs()}
        assert set(jobs) == {"a", "c"}
        assert jobs["a"].trigger.interval == timedelta(minutes=10) and "every 10m" in jobs["a"].name
        assert not service.changed()
        # a broken file keeps its source's last good job, is reported, and the other files still sync
        (sources / "c.yaml").write_text("name: c\nstart_urls: oops\n")
        write_source(sources, "d", start_urls=["http://d.cn/"])
        service.sync()
        assert {j.id for j in service.scheduler.get_jobs()} == {"a", "c", "d"}
        assert [p.path for p in service.problems] == [str(sources / "c.yaml")]
        (sources / "d.yaml").unlink()
        write_source(sources, "c", start_urls=["http://c.cn/"])
        service.sync()
        assert not service.problems
        planned = {j.id: j.next_run_time for j in service.scheduler.get_jobs()}
    finally:
        service.stop()
    assert planned_b is not None
    again = scheduler.SchedulerService(settings)
    again.start(run=False)
    try:
        assert {
            j.id: j.next_run_time for j in again.scheduler.get_jobs()
        } == planned  # persisted, not re-planned
    finally:
        again.stop()
    assert (settings.data_dir / "scheduler.sqlite").exists()


def test_sighup_style_reload_in_the_service_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = tmp_path / "sources"
    write_source(sources, "a", start_urls=["http://a.cn/"], schedule="every 1h")
    settings = _settings(tmp_path, sources=str(sources))
    monkeypatch.setattr(scheduler, "RELOAD_POLL", 0.05)
    service = scheduler.SchedulerService(settings)
    service.start(run=False)
    service._mtimes = service._source_files()
    write_source(sources, "b", start_urls=["http://b.cn/"], schedule="every 1h")
    service._mtimes = service._source_files()  # mtimes already seen: only the reload request can pick it up
    loop = threading.Thread(target=service.loop)
    loop.start()
    try:
        time.sleep(0.3)
        assert {j.id for j in service.scheduler.get_jobs()} == {"a"}
        service.reload_event.set()
        deadline = time.monotonic() + 30  # a hang guard, not a speed bound
        while time.monotonic() < deadline and len(service.scheduler.get_jobs()) < 2:
            time.sleep(0.05)
        assert {j.id for j in service.scheduler.get_jobs()} == {"a", "b"}
    finally:
        service.stop()
        loop.join(timeout=10)
    assert not loop.is_alive()


def test_stop_never_waits_on_a_job_that_waits_on_the_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while a job is about to re-plan its source: the stop must not hold APScheduler's job-store lock
    while that job waits for it (the deadlock `techscout run` had: shutdown(wait=True) inside the lock)."""
    from apscheduler.schedulers.base import STATE_STOPPED

    sources = tmp_path / "sources"
    write_source(sources, "a", start_urls=["http://a.cn/"], schedule="every 1s")
    settings = _settings(tmp_path, sources=str(sources))
    ran = threading.Event()

    def crawl(settings: Any, name: str, **kw: Any) -> dict[str, Any]:
        ran.set()
        return {"id": f"r-{name}", "source": name, "status": "ok", "new": 0}

    monkeypatch.setattr(launch, "run_crawl", crawl)
    monkeypatch.setattr(scheduler, "after_run", lambda *a: {"interval": None, "backoff_until": None})
    service = scheduler.SchedulerService(settings)
    service.start()
    stopper = threading.Thread(target=service.stop)
    real_get_job = service.scheduler.get_job

    def get_job(job_id: str, *args: Any, **kwargs: Any) -> Any:
        # the stop begins right here, between the job's last look at the service and its job-store call
        if not stopper.is_alive() and not service.stop_event.is_set():
            stopper.start()
            deadline = time.monotonic() + 3
            while service.scheduler.state != STATE_STOPPED and time.monotonic() < deadline:
                time.sleep(0.01)
        return real_get_job(job_id, *args, **kwargs)

    service.scheduler.get_job = get_job
    assert ran.wait(30), "the job did not run"
    deadline = time.monotonic() + 30
    while not stopper.is_alive() and not service.stop_event.is_set():
        assert time.monotonic() < deadline, "the job did not re-plan its source"
        time.sleep(0.05)
    stopper.join(timeout=120)  # a hang guard, not a speed bound: a deadlock never returns
    assert not stopper.is_alive(), "stop() deadlocked with a job in flight"
    assert not service.scheduler.running and service._active == 0


def test_the_delay_is_the_least_wait_between_requests_to_a_site(tmp_path: Path) -> None:
    """Scrapy varies each wait by its jitter: the crawl's settings make ``delay`` the lower end, not the mean;
    and no more requests wait in the downloader than the source's sites take at once."""
    from crawlers.runner import scrapy_settings

    for delay, hosts in ((0.5, 1), (3.0, 2)):
        src = source_from_mapping({"name": "x", "start_urls": ["http://a.cn/"], "delay": delay, "concurrency": 2,
                                   "allowed_domains": ["a.cn", "b.cn"][:hosts]})
        s = scrapy_settings(_settings(tmp_path), src, run_id="r", max_pages=10)
        waits = s.getfloat("DOWNLOAD_DELAY") * (1 - s.getfloat("DOWNLOAD_DELAY_JITTER"))
        assert waits >= delay - 1e-9 and s.getfloat("DOWNLOAD_DELAY") * (1 + s.getfloat("DOWNLOAD_DELAY_JITTER")) <= 1.5 * delay + 1e-9
        assert s.getint("CONCURRENT_REQUESTS") == 2 * hosts
        assert s.getfloat("AUTOTHROTTLE_START_DELAY") >= delay
    zero = scrapy_settings(_settings(tmp_path), source_from_mapping({"name": "x", "start_urls": ["http://a.cn/"],
                                                                     "delay": 0}), run_id="r", max_pages=10)
    assert zero.getfloat("DOWNLOAD_DELAY") == 0 and not zero.getbool("AUTOTHROTTLE_ENABLED")
    assert zero["TECHSCOUT_SETTINGS"].data == str(tmp_path / "data")  # the one settings object, handed whole
