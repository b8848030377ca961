"""The scheduler: the main job of a deployment (``techscout run``).

One APScheduler 3.x job per source, built from its ``schedule`` (cron expression or ``every N[smhd]``), kept in a
persistent job store (``<data>/scheduler.sqlite``) so that planned runs survive restarts; missed runs are
coalesced into one and run on restart (catch-up). Each run is ``techscout crawl NAME`` in its own process (a
Twisted reactor cannot restart) with a time limit, under a per-source lock that outlives a crashed service, and
with Scrapy's ``JOBDIR`` under ``<data>/jobs/<source>`` so that a stopped crawl resumes where it stopped.

After each run the scheduler records the outcome (``runs`` records), flags sources whose extraction health
dropped, backs off sources that keep failing, adapts interval schedules to how often a source has news, and
hands the new documents to alert matching. Source files are re-read when they change (and on SIGHUP); SIGTERM
and SIGINT stop gracefully: running crawls finish their in-flight requests and checkpoint the rest.
See ``docs/scheduling.md``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from core import clock
from core.errors import SchedulerError, TechscoutError
from core.paths import DataPaths
from core.schedule import parse_schedule, period_of
from core.settings import Settings
from crawlers.sources import Source, load_sources

log = logging.getLogger("techscout.scheduler")
REPO = Path(__file__).resolve().parent

FAILED = ("failed", "timed out")
MISFIRE_GRACE = 7 * 86400  # a run missed by less than this runs on restart (coalesced into one)
BACKOFF_CAP = 86400.0  # a failing source is retried at least once a day
FLAG_AFTER = 3  # consecutive failed runs before a source is flagged
ADAPT_MIN_FACTOR = 0.5  # an interval schedule runs at most twice as often as configured ...
ADAPT_MAX_FACTOR = 4.0  # ... and at least every four configured intervals
QUIET_RUNS = 4  # runs in a row without a new document before an interval is lengthened
BUSY_RUNS = 3  # runs in a row with new documents before an interval is shortened
STOP_GRACE = 30.0  # seconds a stopped crawl gets to finish its in-flight requests before it is killed
LOCK_WAIT = 60.0  # seconds a run waits for a crawl of the same source still closing (e.g. after a crash)
RELOAD_POLL = 2.0  # seconds between checks of the source files' modification times

_PR_SET_PDEATHSIG = 1
try:
    _LIBC: Any = ctypes.CDLL(None, use_errno=True)
except OSError:  # not Linux: crawls are stopped by the service's own shutdown only
    _LIBC = None


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
# crawl state: JOBDIR and per-source locks
# --------------------------------------------------------------------------------------------------------------
def jobs_dir(settings: Settings) -> Path:
    return settings.paths.jobs


def jobdir_state(path: Path) -> str:
    """``none`` (no crawl state), ``resumable`` (a crawl stopped cleanly: its queue was written) or ``stale``
    (a crawl killed without closing: its queue cannot be trusted)."""
    if not path.exists():
        return "none"
    marker = path / "closed.json"
    try:
        reason = json.loads(marker.read_text(encoding="utf-8")).get("reason")
    except (OSError, ValueError, AttributeError):
        return "stale"
    return "resumable" if reason == "shutdown" else "stale"


def prepare_jobdir(path: Path) -> bool:
    """Before a crawl: keep a resumable crawl state (returns True), remove any other."""
    state = jobdir_state(path)
    if state == "resumable":
        (path / "closed.json").unlink(missing_ok=True)
        return True
    if state == "stale":
        shutil.rmtree(path, ignore_errors=True)
    return False


def finish_jobdir(path: Path, finish_reason: str | None) -> None:
    """After a crawl: a crawl that ran to its end needs no state (its seen-requests would filter the next one)."""
    if finish_reason != "shutdown":
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def source_lock(settings: Settings, source: str, wait: float = LOCK_WAIT) -> Iterator[IO[str] | None]:
    """An exclusive lock on ``<data>/jobs/<source>.lock``; yields the open file (None if not had in ``wait`` s).

    The crawl process inherits the file, so the lock lasts as long as the crawl, even if the service dies."""
    path = jobs_dir(settings) / f"{source}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+", encoding="utf-8")
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield None
                    return
                time.sleep(0.5)
        yield fh
    finally:
        fh.close()


def _die_with_parent() -> None:  # runs in the crawl process between fork and exec
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


# --------------------------------------------------------------------------------------------------------------
# one crawl
# --------------------------------------------------------------------------------------------------------------
def crawl_command(settings: Settings, source: str, run_id: str, jobdir: Path | None = None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "cli",
        "crawl",
        source,
        "--quiet",
        "--run-id",
        run_id,
        "--data",
        str(settings.data_dir),
    ]
    if settings.sources:
        cmd += ["--sources", str(settings.sources_path)]
    if jobdir is not None:
        cmd += ["--jobdir", str(jobdir)]
    return cmd


def _open(settings: Settings) -> Any:
    from search.backends import open_backend

    return open_backend(settings)


def _record_run(settings: Settings, record: dict[str, Any]) -> None:
    backend = _open(settings)
    try:
        backend.put_record("runs", record["id"], record)
    finally:
        backend.close()


def _get_run(settings: Settings, record_id: str) -> dict[str, Any] | None:
    backend = _open(settings)
    try:
        return backend.get_record("runs", record_id)
    finally:
        backend.close()


def stop_grace(settings: Settings) -> float:
    """Seconds a stopped crawl gets to finish its in-flight requests: a tenth of the time limit, 5 to 30 s."""
    return min(STOP_GRACE, max(5.0, settings.crawl_timeout * 0.1))


_RUNNING: dict[str, subprocess.Popen[str]] = {}
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()


def run_crawl(settings: Settings, source: str, *, stop: threading.Event | None = None) -> dict[str, Any]:
    """Run one crawl of one source in a subprocess with a time limit; returns its run record.

    A crawl over ``crawl_timeout`` is stopped (SIGTERM: in-flight requests finish, the rest is checkpointed;
    SIGKILL after ``STOP_GRACE``) and recorded as ``timed out``; ``stop`` being set stops it the same way."""
    stop = stop or _STOPPING
    if settings.redis_url:  # distributed mode: the crawl goes on the shared frontier, workers do it
        from crawlers.worker import enqueue_scheduled

        return enqueue_scheduled(settings, source)
    run_id = uuid.uuid4().hex[:12]
    record_id = f"{run_id}-{source}"
    with source_lock(settings, source) as lock:
        if lock is None:
            log.warning("crawl %s skipped: another crawl of it is still running", source)
            return {"id": record_id, "source": source, "status": "skipped"}
        jobdir = jobs_dir(settings) / source
        if jobdir_state(jobdir) == "stale":
            _record_killed(settings, source, jobdir, run_id)
        resumed = prepare_jobdir(jobdir)
        env = {**os.environ, **settings.as_env()}
        started = clock.now_iso()
        log.info("crawl %s starting (run %s%s)", source, run_id, ", resuming" if resumed else "")
        # the crawl writes to a log file, not a pipe: it must be able to close properly after a service crash
        log_path = crawl_log(settings, source)
        with log_path.open("w", encoding="utf-8") as log_file:
            proc = subprocess.Popen(
                crawl_command(settings, source, run_id, jobs_dir(settings)),
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
                pass_fds=(lock.fileno(),),
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        with _RUNNING_LOCK:
            _RUNNING[source] = proc
        launched = datetime.now(UTC).isoformat(timespec="milliseconds")
        deadline = time.monotonic() + settings.crawl_timeout
        grace = stop_grace(settings)
        timed_out = stopped = False
        try:
            while proc.poll() is None:
                if time.monotonic() >= deadline and not timed_out:
                    timed_out = True
                    _terminate(proc, grace)
                elif stop.is_set() and not stopped and not timed_out:
                    stopped = True
                    _terminate(proc, grace)
                time.sleep(0.2)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(source, None)
        stopped = stopped or stop.is_set()
        record = _get_run(settings, record_id)
        if record is None and stopped and not timed_out:
            log.info("crawl %s stopped before it began", source)
            finish_jobdir(jobdir, None)
            return {"id": record_id, "source": source, "status": "skipped"}
        if record is None:
            record = {
                "id": record_id,
                "source": source,
                "started": started,
                "fetched": 0,
                "new": 0,
                "updated": 0,
                "duplicates": 0,
                "errors": {},
                "error_examples": {},
                "finish_reason": "crashed",
                "status": "failed",
            }
            if not timed_out and not stopped:
                tail = _tail(log_path) or [f"exit status {proc.returncode}"]
                record["errors"] = {"crawl-crashed": 1}
                record["error_examples"] = {"crawl-crashed": [tail[0][-300:]]}
        record.setdefault("finished", clock.now_iso())
        record["resumed"] = resumed
        record["launched"] = launched
        record["exited"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        if timed_out and record.get("finish_reason") in ("finished", "closespider_pagecount"):
            timed_out = False  # the crawl had ended; only its process was slow to exit
        if timed_out:
            record["status"] = "timed out"
            record["errors"] = dict(record.get("errors") or {}) | {
                "timeout": int((record.get("errors") or {}).get("timeout", 0)) + 1
            }
            examples = dict(record.get("error_examples") or {})
            examples["timeout"] = [
                *examples.get("timeout", []),
                f"crawl stopped after {settings.crawl_timeout}s",
            ][-5:]
            record["error_examples"] = examples
            log.warning("crawl %s timed out after %ss", source, settings.crawl_timeout)
        _record_run(settings, record)
        finish_jobdir(jobdir, record.get("finish_reason"))
        log.info(
            "crawl %s: %s (fetched %s, new %s, updated %s)",
            source,
            record.get("status"),
            record.get("fetched", 0),
            record.get("new", 0),
            record.get("updated", 0),
        )
        return record


def crawl_log(settings: Settings, source: str) -> Path:
    """``<data>/logs/<source>.log``: the output of the source's latest crawl (the one before is kept as ``.1``)."""
    path = settings.paths.crawl_log(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_suffix(".log.1"))
    return path


def _tail(path: Path) -> list[str]:
    try:
        lines = [
            line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()
        ]
    except OSError:
        return []
    return [line.strip()[-300:] for line in lines[-1:]]


def _record_killed(settings: Settings, source: str, jobdir: Path, run_id: str) -> None:
    """Record a crawl that was killed together with its service (its state was never closed)."""
    when = datetime.fromtimestamp(jobdir.stat().st_mtime, UTC).isoformat(timespec="seconds")
    note = "the crawl process was killed before it could close; its unsaved queue is discarded"
    record = {
        "id": f"{run_id}-{source}-killed",
        "source": source,
        "started": when,
        "finished": when,
        "status": "failed",
        "finish_reason": "killed",
        "fetched": 0,
        "new": 0,
        "updated": 0,
        "duplicates": 0,
        "errors": {"crawl-killed": 1},
        "error_examples": {"crawl-killed": [note]},
    }
    _record_run(settings, record)
    log.warning("crawl %s: an earlier crawl was killed (%s)", source, note)


def _terminate(proc: subprocess.Popen[str], grace: float = STOP_GRACE) -> None:
    """SIGTERM (Scrapy closes gracefully, writing its JOBDIR queue), SIGKILL if it is still there ``grace`` s later."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)

    def _kill() -> None:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    threading.Thread(target=_kill, daemon=True).start()


# --------------------------------------------------------------------------------------------------------------
# after a run: health, backoff, adaptation, alerts
# --------------------------------------------------------------------------------------------------------------
def is_orphan(record: Mapping[str, Any]) -> bool:
    """A run the scheduler never saw end: a crawl that outlived a killed service and stopped on its own."""
    return "launched" not in record and record.get("finish_reason") == "shutdown" and "id" in record


def after_run(
    settings: Settings, source: Source, record: dict[str, Any], background: bool = False
) -> dict[str, Any]:
    """Record health flags, failures and the adapted interval of a source; hand new and changed documents to
    alert matching (``background``: in the service's alert thread, so that matching never delays a crawl).

    Returns the source's state record (``meta`` collection, id ``source:<name>``)."""
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
            "backoff_until": (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(timespec="seconds")
            if delay
            else None,
            "interval": interval,
            "health_flags": flags,
        }
        if state["flagged"]:
            log.warning("source %s failed %d times in a row: backing off %.0fs", source.name, failures, delay)
        # a crawl left running by a service that died closed on its own: its documents still need alerts
        previous = backend.get_record("meta", state["id"]) or {}
        handled = list(previous.get("handled_orphans") or [])
        orphans = [
            r for r in runs if r.get("id") not in handled and is_orphan(r) and r.get("id") != record.get("id")
        ]
        state["handled_orphans"] = [*handled, *(str(r["id"]) for r in orphans)][-50:]
        backend.put_record("meta", state["id"], state)
    finally:
        backend.close()
    ids = list(
        dict.fromkeys(
            i for r in [*orphans, record] for i in [*(r.get("new_ids") or []), *(r.get("updated_ids") or [])]
        )
    )
    if ids:
        if background:
            queue_alerts(settings, ids)
        else:
            hand_to_alerts(settings, ids)
    return state


_ALERTS: ThreadPoolExecutor | None = None


def _alerts_pool() -> ThreadPoolExecutor:
    global _ALERTS
    if _ALERTS is None:
        _ALERTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts")
    return _ALERTS


_PENDING_ALERTS: dict[str, None] = {}
_PENDING_LOCK = threading.Lock()
_DRAIN_QUEUED = False


def queue_alerts(settings: Settings, doc_ids: list[str]) -> None:
    """Hand documents to alert matching in the background. Ids that arrive while matching is busy are merged
    into one next round, so frequent crawls never build a backlog of matching runs."""
    global _DRAIN_QUEUED
    with _PENDING_LOCK:
        _PENDING_ALERTS.update(dict.fromkeys(doc_ids))
        if _DRAIN_QUEUED:
            return
        _DRAIN_QUEUED = True
    _alerts_pool().submit(_drain_alerts, settings)


def _drain_alerts(settings: Settings) -> None:
    global _DRAIN_QUEUED
    while True:
        with _PENDING_LOCK:
            ids = list(_PENDING_ALERTS)
            _PENDING_ALERTS.clear()
            if not ids:
                _DRAIN_QUEUED = False
                return
        hand_to_alerts(settings, ids)


def hand_to_alerts(settings: Settings, doc_ids: list[str]) -> None:
    """``search.alerts.run_alerts(settings, doc_ids)`` when alert matching is installed; its failures are logged."""
    try:
        from search.alerts import run_alerts  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    try:
        run_alerts(settings, doc_ids)
    except Exception:  # alert delivery must never stop the crawling
        log.exception("alert matching for %d documents failed", len(doc_ids))


# --------------------------------------------------------------------------------------------------------------
# the service
# --------------------------------------------------------------------------------------------------------------
_SERVICE: SchedulerService | None = None


def scheduled_crawl(source: str) -> None:
    """The job function (referenced by name in the persistent job store)."""
    if _SERVICE is not None:
        _SERVICE.crawl(source)


class SchedulerService:
    """APScheduler with a persistent job store; one job per enabled source."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sources: dict[str, Source] = {}
        self.stop_event = _STOPPING
        self.reload_event = threading.Event()
        self.scheduler: Any = None
        self._mtimes: dict[str, float] = {}
        self._lock_file: IO[str] | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, run: bool = True) -> None:
        """Take the data directory's service lock, open the job store, sync the jobs; ``run=False`` keeps the
        scheduler paused (jobs are planned but do not fire)."""
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        global _SERVICE
        data = self.settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self._lock_file = (data / "scheduler.lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SchedulerError(
                f"{data}: another `techscout run` is already using this data directory"
            ) from None
        _SERVICE = self
        self.stop_event.clear()
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{DataPaths(data).scheduler}")},
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
        """Stop planning; running crawls finish their in-flight requests and checkpoint (SIGTERM), then exit."""
        self.stop_event.set()
        with _RUNNING_LOCK:
            procs = list(_RUNNING.values())
        for proc in procs:
            _terminate(proc, stop_grace(self.settings))
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        global _ALERTS
        if _ALERTS is not None:
            _ALERTS.shutdown(wait=True)  # documents already stored are matched before the service exits
            _ALERTS = None
        if self._lock_file is not None:
            self._lock_file.close()

    # -- jobs -------------------------------------------------------------------------------------------------
    def _source_files(self) -> dict[str, float]:
        path = self.settings.sources_path
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        out = {}
        for f in files:
            with contextlib.suppress(OSError):
                out[str(f)] = f.stat().st_mtime
        return out

    def changed(self) -> bool:
        return self._source_files() != self._mtimes

    def sync(self, initial: bool = False) -> None:
        """Make the jobs match the source files: add, reschedule, remove."""
        self._mtimes = self._source_files()
        try:
            sources = load_sources(self.settings.sources_path)
        except TechscoutError as exc:
            log.error("sources not reloaded: %s", exc)
            return
        self.sources = {s.name: s for s in sources}
        states = self._states()
        now = datetime.now(UTC)
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
            if initial and jobdir_state(jobs_dir(self.settings) / s.name) != "none":
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

    def crawl(self, name: str) -> None:
        source = self.sources.get(name)
        if source is None or self.stop_event.is_set():
            return
        record = run_crawl(self.settings, name, stop=self.stop_event)
        if record.get("status") == "skipped":
            return
        state = after_run(self.settings, source, record, background=True)
        if self.stop_event.is_set():
            return
        job = self.scheduler.get_job(name)
        if job is None:
            return
        sig = job_signature(source, self.settings, state.get("interval"))
        if job.name != sig:
            job.modify(name=sig)
            job.reschedule(trigger_for(source, self.settings, state.get("interval")))
            job = self.scheduler.get_job(name)
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
                {"id": "scheduler", "pid": os.getpid(), "updated": clock.now_iso(), "next_runs": next_runs},
            )
        finally:
            backend.close()

    def loop(self) -> None:
        """Until stopped: reload changed sources (file times, SIGHUP), keep the planned runs visible."""
        last_save = time.monotonic()
        while not self.stop_event.is_set():
            self.stop_event.wait(RELOAD_POLL)
            if self.stop_event.is_set():
                break
            if self.reload_event.is_set() or self.changed():
                self.reload_event.clear()
                log.info("sources changed: reloading %s", self.settings.sources_path)
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


