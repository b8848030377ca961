"""The scheduler: the main job of a deployment (``techscout run``) — scheduling policy only.

One APScheduler 3.x job per source, built from its ``schedule`` (cron expression or ``every N[smhd]``), kept in a
persistent job store (``<data>/scheduler.sqlite``) so that planned runs survive restarts; missed runs are
coalesced into one and run on restart (catch-up). Each run goes through the crawl launcher
(:func:`crawlers.launch.run_crawl`: its own process, the source's lock, the time limit, the resumable crawl
state, the run record and the hand-over of new documents to alerts).

After each run the scheduler flags sources whose extraction health dropped, backs off sources that keep failing
and adapts interval schedules to how often a source has news. Source files are re-read when they change (and on
SIGHUP); a bad file is reported and the other sources keep running. SIGTERM and SIGINT stop gracefully: running
crawls finish their in-flight requests and checkpoint the rest. See ``docs/scheduling.md``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import IO, Any

from core import clock
from core.errors import SchedulerError, TechscoutError
from core.schedule import parse_schedule, period_of
from core.settings import Settings
from crawlers import launch
from crawlers.sources import Source, SourceProblem, read_sources, sources_path_for

log = logging.getLogger("techscout.scheduler")

FAILED = ("failed", "timed out")
MISFIRE_GRACE = 7 * 86400  # a run missed by less than this runs on restart (coalesced into one)
BACKOFF_CAP = 86400.0  # a failing source is retried at least once a day
FLAG_AFTER = 3  # consecutive failed runs before a source is flagged
ADAPT_MIN_FACTOR = 0.5  # an interval schedule runs at most twice as often as configured ...
ADAPT_MAX_FACTOR = 4.0  # ... and at least every four configured intervals
QUIET_RUNS = 4  # runs in a row without a new document before an interval is lengthened
BUSY_RUNS = 3  # runs in a row with new documents before an interval is shortened
RELOAD_POLL = 2.0  # seconds between checks of the source files' modification times
STOP_WAIT = 120.0  # the longest a stopping service waits for its running jobs beyond the crawls' grace


SLOT_POLL = 0.5  # seconds between checks of a crawl waiting for a slot
FIRST_CRAWL_MB = 250.0  # what a crawl process is assumed to take at its peak before one has been measured


class CrawlSlots:
    """How many scheduled crawls run at once: at most ``limit``, and a further one only while the memory of
    the running crawl processes, as measured (:func:`crawlers.launch.process_memory_mb`: each one's current
    share, or the largest peak a crawl process has reached when that is more, since a young crawl has not
    grown yet), plus that largest peak fits in ``memory_mb``. One crawl always runs, whatever it takes.
    :meth:`acquire` returns how long the crawl waited; the scheduler logs it and keeps it in the run record."""

    def __init__(self, limit: int, memory_mb: float,
                 measure: Any = None, pids: Any = None) -> None:
        self.limit = limit
        self.memory_mb = memory_mb
        self.largest = 0.0  # the largest peak (MB) a crawl process reached; 0: none measured yet
        self.running = 0
        self._measure = measure or launch.process_memory_mb
        self._pids = pids or launch.running_pids
        self._cond = threading.Condition()

    def per_crawl(self) -> float:
        """What one crawl is expected to take at its peak (MB)."""
        return self.largest or FIRST_CRAWL_MB

    def used_mb(self) -> float:
        """The memory the running crawls are counted for (MB), measured now; updates :attr:`largest`."""
        pids = self._pids()
        used = 0.0
        for pid in pids:
            now, peak = self._measure(pid)
            self.largest = max(self.largest, peak)
            used += max(now, self.per_crawl())
        # crawls given a slot whose process has not started yet count for a whole crawl each
        return used + max(0, self.running - len(pids)) * self.per_crawl()

    def _free(self) -> str:
        """Why no further crawl may start now ('' when one may)."""
        if self.running == 0:
            return ""
        if self.running >= self.limit:
            return f"{self.running} crawls running (max_crawls {self.limit})"
        used = self.used_mb()
        if used + self.per_crawl() > self.memory_mb:
            return (f"{self.running} crawls take {used:.0f} MB, one more ~{self.per_crawl():.0f} MB "
                    f"(crawl_memory_mb {self.memory_mb:g})")
        return ""

    def acquire(self, name: str, stop: threading.Event) -> float | None:
        """Wait for a slot for the crawl of ``name``; returns the seconds waited, None when ``stop`` was set
        first (the crawl does not run)."""
        t0 = time.monotonic()
        reported = ""
        with self._cond:
            while True:
                if stop.is_set():
                    return None
                reason = self._free()
                if not reason:
                    break
                if not reported:
                    log.info("crawl %s waits for a slot: %s", name, reason)
                    reported = reason
                self._cond.wait(SLOT_POLL)
            self.running += 1
        waited = time.monotonic() - t0
        if reported:
            log.info("crawl %s waited %.1fs for a slot", name, waited)
        return waited

    def release(self, peak_mb: float = 0.0) -> None:
        """A crawl ended; ``peak_mb``: its process's peak, as its run record says."""
        with self._cond:
            self.running -= 1
            self.largest = max(self.largest, float(peak_mb or 0.0))
            self._cond.notify_all()


def _open(settings: Settings) -> Any:
    from search.backends import open_backend

    return open_backend(settings)


# --------------------------------------------------------------------------------------------------------------
# pure helpers: schedules, backoff, adaptation
# --------------------------------------------------------------------------------------------------------------
def schedule_of(source: Source, settings: Settings) -> str:
    return source.schedule or settings.schedule


def jitter_for(period: float) -> float:
    """Jitter of a trigger: a tenth of its period, at most two minutes."""
    return max(0.0, min(120.0, period * 0.1))


def trigger_for(source: Source, settings: Settings, interval: float | None = None) -> Any:
    """The APScheduler trigger of a source, with jitter so sources on one host do not fire together.

    ``interval`` replaces the period of an interval schedule (adaptation); cron schedules keep their times."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    kind, value = parse_schedule(schedule_of(source, settings))
    if kind == "interval":
        seconds = float(interval or value)
        return IntervalTrigger(seconds=seconds, jitter=jitter_for(seconds))
    minute, hour, day, month, day_of_week = str(value).split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=day_of_week,
        timezone=clock.TZ,
        jitter=int(jitter_for(period_of(str(value)))),
    )


def consecutive_failures(runs: Sequence[Mapping[str, Any]]) -> int:
    """How many of the newest runs (newest first) failed or timed out in a row."""
    n = 0
    for r in runs:
        if r.get("status") not in FAILED:
            break
        n += 1
    return n


def backoff_delay(failures: int, period: float, cap: float = BACKOFF_CAP) -> float:
    """Earliest next run after ``failures`` failed runs in a row: the period doubled per failure after the first,
    bounded by ``cap`` (but never below the period itself)."""
    if failures <= 1:
        return 0.0
    return min(period * 2 ** min(failures - 1, 30), max(cap, period))


def adapted_interval(base: float, runs: Sequence[Mapping[str, Any]]) -> float:
    """The interval a source should run at, from how often its recent runs (newest first) found new documents.

    ``QUIET_RUNS`` completed runs in a row without a new document lengthen the interval by half per further quiet
    run; ``BUSY_RUNS`` in a row with new documents shorten it by a quarter per further busy run; the result stays
    within ``[base * ADAPT_MIN_FACTOR, base * ADAPT_MAX_FACTOR]``. Failed runs say nothing and are skipped."""
    done = [r for r in runs if r.get("status") in ("ok", "partial")]
    quiet = 0
    for r in done:
        if int(r.get("new") or 0) > 0:
            break
        quiet += 1
    busy = 0
    for r in done:
        if int(r.get("new") or 0) == 0:
            break
        busy += 1
    factor = 1.0
    if quiet >= QUIET_RUNS:
        factor = 1.5 ** (quiet - QUIET_RUNS + 1)
    elif busy >= BUSY_RUNS:
        factor = 0.75 ** (busy - BUSY_RUNS + 1)
    factor = min(ADAPT_MAX_FACTOR, max(ADAPT_MIN_FACTOR, factor))
    return round(base * factor, 3)


def _stagger(name: str, spread: float) -> float:
    """A stable offset per source so that the first runs after start are spread out."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 1000 / 1000 * spread


def job_signature(source: Source, settings: Settings, interval: float | None) -> str:
    """What a job was built from; a job whose signature changed is rescheduled."""
    return f"crawl {source.name} [{schedule_of(source, settings)}{f' ~{interval:g}s' if interval else ''}]"


# --------------------------------------------------------------------------------------------------------------
# after a run: health, backoff, adaptation
# --------------------------------------------------------------------------------------------------------------
def after_run(settings: Settings, source: Source, record: dict[str, Any]) -> dict[str, Any]:
    """Record health flags, failures and the adapted interval of a source (the launcher has already handed its
    new documents to alerts). Returns the source's state record (``meta`` collection, id ``source:<name>``)."""
    from crawlers.health import health_drops

    backend = _open(settings)
    try:
        runs = backend.list_records("runs", {"source": source.name}, limit=30)
        if record.get("id") and not any(r.get("id") == record["id"] for r in runs):
            runs.insert(0, record)
        history = [r.get("health") for r in runs if r.get("id") != record.get("id")]
        flags = health_drops(record.get("health"), history)
        if flags and record.get("id") and record.get("status") != "skipped":
            record["health_flags"] = flags
            backend.put_record("runs", record["id"], record)
            log.warning(
                "source %s: extraction health dropped (%s): has its page template changed?",
                source.name,
                ", ".join(flags),
            )
        failures = consecutive_failures(runs)
        period = period_of(schedule_of(source, settings))
        kind, _value = parse_schedule(schedule_of(source, settings))
        interval = adapted_interval(period, runs) if kind == "interval" else None
        delay = backoff_delay(failures, interval or period)
        state = {
            "id": f"source:{source.name}",
            "source": source.name,
            "updated": clock.now_iso(),
            "last_status": record.get("status"),
            "failures": failures,
            "flagged": failures >= FLAG_AFTER,
            "backoff_until": clock.iso(clock.now() + timedelta(seconds=delay))
            if delay
            else None,
            "interval": interval,
            "health_flags": flags,
        }
        if state["flagged"]:
            log.warning("source %s failed %d times in a row: backing off %.0fs", source.name, failures, delay)
        backend.put_record("meta", state["id"], state)
    finally:
        backend.close()
    return state


# --------------------------------------------------------------------------------------------------------------
# the service
# --------------------------------------------------------------------------------------------------------------
_SERVICE: SchedulerService | None = None


def scheduled_crawl(source: str) -> None:
    """The job function (referenced by name in the persistent job store)."""
    if _SERVICE is not None:
        _SERVICE.crawl(source)


class SchedulerService:
    """APScheduler with a persistent job store; one job per enabled source.

    Stopping never waits while holding APScheduler's job-store lock: :meth:`stop` first stops every running
    crawl and waits for the running jobs itself, and a job touches the scheduler only while the service is not
    stopping (under :attr:`_jobs_lock`), so no job can block on the lock that a shutdown holds."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sources: dict[str, Source] = {}
        self.problems: list[SourceProblem] = []
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self.scheduler: Any = None
        self._mtimes: dict[str, float] = {}
        self._lock_file: IO[str] | None = None
        self._jobs_lock = threading.Condition()
        self._active = 0  # jobs running now
        self._stopping = False
        self.slots = CrawlSlots(settings.max_crawls, settings.crawl_memory_mb)

    @property
    def sources_path(self) -> Any:
        return sources_path_for(self.settings)

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, run: bool = True) -> None:
        """Take the data directory's service lock, open the job store, sync the jobs; ``run=False`` keeps the
        scheduler paused (jobs are planned but do not fire)."""
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        global _SERVICE
        data = self.settings.paths.ensure()
        self._lock_file = self.settings.paths.scheduler_lock.open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise SchedulerError(
                f"{data}: another `techscout run` is already using this data directory"
            ) from None
        _SERVICE = self
        self.stop_event.clear()
        self._stopping = False
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{self.settings.paths.scheduler}")},
            executors={"default": JobExecutor(max_workers=16)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
            timezone=clock.TZ,
        )
        self.scheduler.add_listener(
            self._on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR
        )
        self.scheduler.start(paused=True)
        self.sync(initial=True)
        if run:
            self.scheduler.resume()

    def _on_event(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES

        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.info("source %s: still crawling, this run is skipped (no overlapping runs)", event.job_id)
        elif event.code == EVENT_JOB_ERROR:
            log.error("source %s: run failed: %r", event.job_id, event.exception)
        else:
            log.info("source %s: run missed while the service was down (coalesced)", event.job_id)

    def stop(self) -> None:
        """Stop planning; running crawls finish their in-flight requests and checkpoint (SIGTERM), then exit;
        documents already stored are handed to alerts before this returns."""
        self.stop_event.set()
        with self._jobs_lock:
            self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()  # no new job starts; jobs already handed out see stop_event and return
        grace = launch.stop_grace(self.settings)
        launch.stop_running(grace)
        with self._jobs_lock:
            self._jobs_lock.wait_for(lambda: self._active == 0, timeout=grace + STOP_WAIT)
            if self._active:
                log.error("%d scheduled job(s) did not end; stopping without them", self._active)
        if self.scheduler is not None and self.scheduler.running:
            # the jobs have ended (or are abandoned): nothing can hold up the executor's shutdown any more
            self.scheduler.shutdown(wait=False)
        launch.wait_for_alerts()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- jobs -------------------------------------------------------------------------------------------------
    def _source_files(self) -> dict[str, float]:
        path = self.sources_path
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        out = {}
        for f in files:
            with contextlib.suppress(OSError):
                out[str(f)] = f.stat().st_mtime
        return out

    def changed(self) -> bool:
        return self._source_files() != self._mtimes

    def sync(self, initial: bool = False) -> None:
        """Make the jobs match the source files: add, reschedule, remove. A file with an error is reported; the
        source it held keeps its last good job, and every other source is synced."""
        self._mtimes = self._source_files()
        try:
            good, problems = read_sources(self.sources_path)
        except TechscoutError as exc:
            log.error("sources not reloaded: %s", exc)
            return
        for problem in problems:
            log.error("source file not loaded: %s", problem)
        self.problems = problems
        bad_files = {p.path for p in problems}
        kept = [s for s in self.sources.values() if s.path in bad_files]  # last good config of a broken file
        names = {s.name for s in good}
        sources = good + [s for s in kept if s.name not in names and s.enabled]
        self.sources = {s.name: s for s in sources}
        states = self._states()
        now = clock.now()
        spread = min(30.0, 2.0 * len(sources))
        for job in self.scheduler.get_jobs():
            if job.id not in self.sources:
                log.info("source %s removed: job removed", job.id)
                job.remove()
        existing = {job.id: job for job in self.scheduler.get_jobs()}
        for s in sources:
            interval = (states.get(s.name) or {}).get("interval")
            sig = job_signature(s, self.settings, interval)
            job = existing.get(s.name)
            first = now + timedelta(seconds=1 + _stagger(s.name, spread))
            if job is None:
                self.scheduler.add_job(
                    "scheduler:scheduled_crawl",
                    trigger_for(s, self.settings, interval),
                    args=(s.name,),
                    id=s.name,
                    name=sig,
                    next_run_time=first,
                    replace_existing=True,
                )
                log.info("source %s scheduled: %s", s.name, schedule_of(s, self.settings))
                continue
            if job.name != sig:
                job.modify(name=sig)
                job.reschedule(trigger_for(s, self.settings, interval))
                log.info("source %s rescheduled: %s", s.name, sig)
            if initial and launch.jobdir_state(self.settings.paths.jobdir(s.name)) != "none":
                job.modify(next_run_time=first)  # an interrupted crawl resumes at once
            elif initial and self._overdue(s, states.get(s.name), now):
                job.modify(next_run_time=first)
        self.save_next_runs()

    def _overdue(self, source: Source, state: Mapping[str, Any] | None, now: datetime) -> bool:
        """Catch-up: a source whose last run is older than its period (beyond the misfire window) runs now."""
        if not state:
            return False
        last = clock.parse_time(state.get("updated"))
        period = float(state.get("interval") or period_of(schedule_of(source, self.settings)))
        return last is not None and (now - last).total_seconds() > period + MISFIRE_GRACE

    def _states(self) -> dict[str, dict[str, Any]]:
        backend = _open(self.settings)
        try:
            return {
                r["source"]: r
                for r in backend.list_records("meta", limit=10_000)
                if str(r.get("id", "")).startswith("source:") and "source" in r
            }
        finally:
            backend.close()

    def _enter_job(self) -> bool:
        with self._jobs_lock:
            if self._stopping:
                return False
            self._active += 1
            return True

    def _leave_job(self) -> None:
        with self._jobs_lock:
            self._active -= 1
            self._jobs_lock.notify_all()

    def crawl(self, name: str) -> None:
        """One scheduled run: the crawl (through the launcher), then the source's scheduling policy."""
        source = self.sources.get(name)
        if source is None or not self._enter_job():
            return
        try:
            waited = self.slots.acquire(name, self.stop_event)
            if waited is None:
                return
            peak = 0.0
            try:
                record = launch.run_crawl(self.settings, name, stop=self.stop_event, waited=waited)
                peak = float(record.get("peak_mb") or 0.0)
            finally:
                self.slots.release(peak)
            if record.get("status") == "skipped":
                return
            state = after_run(self.settings, source, record)
            with self._jobs_lock:  # the scheduler is touched only while no stop has begun
                if not self._stopping:
                    self._replan(source, state)
        finally:
            self._leave_job()

    def _replan(self, source: Source, state: Mapping[str, Any]) -> None:
        job = self.scheduler.get_job(source.name)
        if job is None:
            return
        sig = job_signature(source, self.settings, state.get("interval"))
        if job.name != sig:
            job.modify(name=sig)
            job.reschedule(trigger_for(source, self.settings, state.get("interval")))
            job = self.scheduler.get_job(source.name)
        until = clock.parse_time(state.get("backoff_until"))
        if (
            until is not None
            and job is not None
            and job.next_run_time is not None
            and job.next_run_time < until
        ):
            job.modify(next_run_time=until)

    def save_next_runs(self) -> None:
        backend = _open(self.settings)
        try:
            next_runs = {
                job.id: job.next_run_time.isoformat() if job.next_run_time else None
                for job in self.scheduler.get_jobs()
            }
            backend.put_record(
                "meta",
                "scheduler",
                {"id": "scheduler", "pid": os.getpid(), "updated": clock.now_iso(), "next_runs": next_runs,
                 "problems": [str(p) for p in self.problems]},
            )
        finally:
            backend.close()

    def loop(self) -> None:
        """Until stopped: reload changed sources (file times, SIGHUP), keep the planned runs visible."""
        import time

        last_save = time.monotonic()
        while not self.stop_event.is_set():
            self.stop_event.wait(RELOAD_POLL)
            if self.stop_event.is_set():
                break
            if self.reload_event.is_set() or self.changed():
                self.reload_event.clear()
                log.info("sources changed: reloading %s", self.sources_path)
                self.sync()
            if time.monotonic() - last_save >= 10:
                last_save = time.monotonic()
                self.save_next_runs()


def source_status(settings: Settings, sources: list[Source]) -> dict[str, dict[str, Any]]:
    """Last run of each source (from the backend), the next run the scheduler planned, backoff and flags."""
    out: dict[str, dict[str, Any]] = {}
    if settings.backend == "embedded" and not (settings.paths.store).exists():
        return out
    backend = _open(settings)
    try:
        planned = backend.get_record("meta", "scheduler") or {}
        for s in sources:
            runs = backend.list_records("runs", {"source": s.name}, limit=1)
            last = runs[0] if runs else {}
            state = backend.get_record("meta", f"source:{s.name}") or {}
            out[s.name] = {
                "last_status": last.get("status", "never"),
                "last_run": last.get("started"),
                "next_run": planned.get("next_runs", {}).get(s.name),
                "failures": state.get("failures", 0),
                "flagged": bool(state.get("flagged")),
                "backoff_until": state.get("backoff_until"),
                "interval": state.get("interval"),
                "health_flags": state.get("health_flags", []),
            }
    finally:
        backend.close()
    return out


