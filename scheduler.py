"""The scheduler: the main job of a deployment (``techscout run``).

One APScheduler 3.x job per source, built from its ``schedule`` (cron expression or ``every N[smhd]``). Each run
is ``techscout crawl NAME`` in its own process (a Twisted reactor cannot restart), with a time limit; a crawl
that overruns is stopped and recorded. Jobs coalesce missed runs and never overlap (``max_instances=1``). The web
UI, when installed, is served from the same command.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawlers.settings import Settings
from crawlers.sources import Source, load_sources, parse_schedule

log = logging.getLogger("techscout.scheduler")
REPO = Path(__file__).resolve().parent


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def trigger_for(source: Source, settings: Settings) -> Any:
    """The APScheduler trigger of a source, with jitter so sources on one host do not fire together."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    kind, value = parse_schedule(source.schedule or settings.schedule)
    if kind == "interval":
        seconds = float(value)
        return IntervalTrigger(seconds=seconds, jitter=min(60.0, seconds * 0.1))
    return CronTrigger.from_crontab(str(value), timezone="Asia/Shanghai", jitter=120)


def crawl_command(settings: Settings, source: str, run_id: str) -> list[str]:
    return [sys.executable, "-m", "cli", "crawl", source, "--quiet", "--run-id", run_id, "--data", str(settings.data_dir)]


def run_crawl(settings: Settings, source: str) -> dict[str, Any]:
    """Run one crawl of one source in a subprocess with a time limit; record a timed-out run."""
    run_id = uuid.uuid4().hex[:12]
    env = {**os.environ, **settings.as_env()}
    started = _now()
    log.info("crawl %s starting (run %s)", source, run_id)
    proc = subprocess.Popen(crawl_command(settings, source, run_id), cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=settings.crawl_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # Scrapy closes gracefully on the first SIGTERM
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        record = {"id": f"{run_id}-{source}", "source": source, "started": started, "finished": _now(),
                  "status": "timed out", "fetched": 0, "new": 0, "updated": 0, "duplicates": 0,
                  "errors": {"timeout": 1}, "error_examples": {"timeout": [f"stopped after {settings.crawl_timeout}s"]}}
        _record_run(settings, record)
        log.warning("crawl %s timed out after %ss", source, settings.crawl_timeout)
        return record
    summary_line = next((line for line in out.splitlines() if line.startswith(f"{source}:")), "")
    log.info("crawl %s finished (exit %s): %s", source, proc.returncode, summary_line or err.strip()[-300:])
    return {"source": source, "exit": proc.returncode, "summary": summary_line}


def _record_run(settings: Settings, record: dict[str, Any]) -> None:
    from search.backends import open_backend

    backend = open_backend(settings)
    try:
        backend.put_record("runs", record["id"], record)
    finally:
        backend.close()


def source_status(settings: Settings, sources: list[Source]) -> dict[str, dict[str, Any]]:
    """Last run of each source (from the backend) and the next run the scheduler planned, if it runs."""
    out: dict[str, dict[str, Any]] = {}
    if settings.backend == "embedded" and not (settings.data_dir / "techscout.sqlite").exists():
        return out
    from search.backends import open_backend

    backend = open_backend(settings)
    try:
        planned = backend.get_record("meta", "scheduler") or {}
        for s in sources:
            runs = backend.list_records("runs", {"source": s.name}, limit=1)
            last = runs[0] if runs else {}
            out[s.name] = {
                "last_status": last.get("status", "never"),
                "last_run": last.get("started"),
                "next_run": planned.get("next_runs", {}).get(s.name),
            }
    finally:
        backend.close()
    return out


def _stagger(name: str, spread: float) -> float:
    """A stable offset per source so that the first runs after start are spread out."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 1000 / 1000 * spread


def build_scheduler(settings: Settings, sources: list[Source]) -> Any:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(2, min(8, len(sources))))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone="Asia/Shanghai",
    )
    start = datetime.now(UTC)
    for s in sources:
        scheduler.add_job(
            run_crawl,
            trigger_for(s, settings),
            args=(settings, s.name),
            id=s.name,
            name=f"crawl {s.name}",
            next_run_time=start + timedelta(seconds=1 + _stagger(s.name, min(30.0, 2.0 * len(sources)))),
            replace_existing=True,
        )
    return scheduler


def _save_next_runs(settings: Settings, scheduler: Any) -> None:
    from search.backends import open_backend

    backend = open_backend(settings)
    try:
        next_runs = {job.id: job.next_run_time.isoformat() if job.next_run_time else None for job in scheduler.get_jobs()}
        backend.put_record("meta", "scheduler", {"id": "scheduler", "pid": os.getpid(), "updated": _now(),
                                                 "next_runs": next_runs})
    finally:
        backend.close()


def _start_web(settings: Settings) -> threading.Thread | None:
    try:
        from search.web.app import create_app
    except ImportError:
        return None
    import uvicorn

    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    print(f"web UI: http://{settings.host}:{settings.port}/", file=sys.stderr)
    return thread


def cli_run(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    sources = load_sources(settings.sources_path)
    if not sources:
        print(f"techscout: no enabled sources in {settings.sources_path}", file=sys.stderr)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.once:
        failed = 0
        for s in sources:
            result = run_crawl(settings, s.name)
            print(result.get("summary") or f"{s.name}: {result.get('status', 'failed')}")
            failed += result.get("exit", 1) != 0
        print(f"{len(sources) - failed} of {len(sources)} sources crawled; see `techscout runs` for details")
        return 0
    if not args.no_web:
        _start_web(settings)
    scheduler = build_scheduler(settings, sources)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping after running crawls finish", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.start()
    print(f"scheduling {len(sources)} sources from {settings.sources_path}; data in {settings.data_dir}; Ctrl-C stops",
          file=sys.stderr)
    try:
        while not stop.is_set():
            _save_next_runs(settings, scheduler)
            stop.wait(10)
    finally:
        scheduler.shutdown(wait=True)
    return 0
