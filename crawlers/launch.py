"""The crawl launcher: the one way a crawl of a source is started, by the scheduler, the web's 立即抓取 and
``techscout run --once`` alike.

A launched crawl is ``python -m cli crawl NAME`` in its own process (a Twisted reactor cannot restart, and a
crashed crawl must not take its launcher down), with

* the source's **lock** (``<data>/jobs/<source>.lock``, ``flock``), taken here and inherited by the crawl process,
  so it holds as long as the crawl lives, even if the launcher dies; ``techscout crawl`` in the foreground takes
  the same lock, so two crawls of one source into one data directory never run at once;
* its **crawl state** (Scrapy ``JOBDIR`` = ``<data>/jobs/<source>``): a crawl stopped by SIGTERM is resumed by
  the next launch; the state of a crawl killed outright is discarded and the kill recorded;
* a **time limit** (``crawl_timeout``): SIGTERM (Scrapy finishes the requests in flight and writes its queue),
  SIGKILL after a grace;
* **its own log file** (``<data>/logs/<source>.log``, the previous one kept as ``.log.1``);
* a **run record** (``runs`` collection) written by the crawl, completed here (``launched``, ``exited``,
  ``resumed``), and written here when the crawl could not (it crashed, was killed or timed out);
* the **after-run step** every crawl needs: its new and changed documents handed to alert matching (in one
  background thread, so matching never delays a crawl).

With ``redis_url`` set a launch puts the crawl on the shared frontier instead; the workers do it.

Scheduling policy (triggers, backoff, adaptation, health flags) is the scheduler's, not the launcher's.
"""

from __future__ import annotations

import contextlib
import fcntl
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
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from core import clock
from core.errors import CrawlBusy, TechscoutError
from core.procs import helper_processes, parent_alive, set_parent_death_signal
from core.settings import Settings
from crawlers.sources import load_sources, sources_path_for

log = logging.getLogger("techscout.launch")
REPO = Path(__file__).resolve().parent.parent

STOP_GRACE = 30.0  # the longest a stopped crawl gets to finish its in-flight requests before it is killed
LOCK_WAIT = 60.0  # seconds a scheduled run waits for a crawl of the same source still closing
POLL = 0.2  # seconds between looks at a running crawl process


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def record_id(run_id: str, source: str) -> str:
    """The id of a crawl's run record (``techscout runs``): the run id and the source name."""
    return f"{run_id}-{source}"


# --------------------------------------------------------------------------------------------------------------
# the per-source lock
# --------------------------------------------------------------------------------------------------------------
def _lock_file(settings: Settings, source: str) -> IO[str]:
    path = settings.paths.source_lock(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a+", encoding="utf-8")


def note_holder(lock: IO[str], pid: int | None = None) -> None:
    """Write the pid of the process doing the crawl into its lock file (for the "being crawled" message)."""
    lock.seek(0)
    lock.truncate()
    lock.write(f"{pid or os.getpid()}\n")
    lock.flush()


def try_lock(settings: Settings, source: str) -> IO[str] | None:
    """The source's lock, taken now, or None when another crawl of the source holds it."""
    fh = _lock_file(settings, source)
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    note_holder(fh)
    return fh


def adopt_lock(fd: int, settings: Settings, source: str) -> IO[str]:
    """The lock a launcher took and handed to this crawl process as file descriptor ``fd``."""
    try:
        fh = os.fdopen(fd, "a+", encoding="utf-8")
        if os.path.realpath(f"/proc/self/fd/{fd}") != os.path.realpath(settings.paths.source_lock(source)):
            raise OSError("not the lock file of this source")
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the same open file: succeeds at once
    except OSError as exc:
        raise CrawlBusy(f"{source}: the lock handed to this crawl (fd {fd}) is not usable: {exc}") from None
    note_holder(fh)
    return fh


@contextlib.contextmanager
def source_lock(settings: Settings, source: str, wait: float = LOCK_WAIT) -> Iterator[IO[str] | None]:
    """The source's lock for the ``with`` block; None when it could not be had within ``wait`` seconds."""
    deadline = time.monotonic() + wait
    fh = try_lock(settings, source)
    while fh is None and time.monotonic() < deadline:
        time.sleep(0.5)
        fh = try_lock(settings, source)
    try:
        yield fh
    finally:
        if fh is not None:
            fh.close()


def lock_holder(settings: Settings, source: str) -> int | None:
    """The pid written by the process holding (or last holding) the source's lock."""
    try:
        text = settings.paths.source_lock(source).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _locally_running(settings: Settings, source: str) -> bool:
    path = settings.paths.source_lock(source)
    if not path.exists():
        return False
    with path.open("a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def is_running(settings: Settings, source: str) -> bool:
    """Whether a crawl of ``source`` runs on this data directory (or, with ``redis_url``, on the shared
    frontier)."""
    if _locally_running(settings, source):
        return True
    if settings.redis_url:
        from crawlers.distributed import active_jobs, connect

        try:
            return source in active_jobs(connect(settings.redis_url))
        except TechscoutError as exc:
            log.warning("cannot tell whether %s is being crawled: %s", source, exc)
    return False


def busy_message(settings: Settings, source: str) -> str:
    pid = lock_holder(settings, source)
    who = f"（进程 {pid}）" if pid else ""
    return f"数据源 {source} 正在抓取中{who}，请等这次抓取结束"


# --------------------------------------------------------------------------------------------------------------
# crawl state (JOBDIR)
# --------------------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------------------
# one crawl process
# --------------------------------------------------------------------------------------------------------------
def crawl_command(settings: Settings, source: str, run_id: str, lock_fd: int | None = None) -> list[str]:
    """``python -m cli crawl NAME …`` as the launcher runs it (the settings travel as TECHSCOUT_* variables)."""
    cmd = [sys.executable, "-m", "cli", "crawl", source, "--quiet", "--run-id", run_id,
           "--data", str(settings.data_dir), "--sources", str(sources_path_for(settings)),
           "--jobdir", str(settings.paths.jobs)]
    if lock_fd is not None:
        cmd += ["--lock-fd", str(lock_fd)]
    return cmd


def open_crawl_log(settings: Settings, source: str) -> Path:
    """``<data>/logs/<source>.log`` for a new crawl (the previous crawl's log is kept as ``.log.1``)."""
    path = settings.paths.crawl_log(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_suffix(".log.1"))
    return path


def _die_with_parent() -> None:  # runs in the crawl process between fork and exec
    set_parent_death_signal(signal.SIGTERM)


PARENT_POLL = 0.5  # seconds between a launched crawl's looks at whether its launcher is still alive


def watch_parent() -> None:
    """In a launched crawl: stop gracefully, once, when the launcher dies.

    The parent-death signal set at launch covers the start-up; it is then replaced by this watcher, because the kernel
    may deliver it more than once when a multi-threaded launcher dies (the child is re-parented from thread to
    thread), and a second SIGTERM makes Scrapy abandon its graceful close: no checkpoint, no run record.
    The watcher sends exactly one SIGTERM, which Scrapy's handler turns into a clean close that the next run resumes.
    """
    parent = os.getppid()
    set_parent_death_signal(0)

    def _watch() -> None:
        while parent_alive(parent):
            time.sleep(PARENT_POLL)
        log.warning("the launcher (process %d) has ended: closing the crawl so that it can be resumed", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=_watch, name="techscout-parent-watch", daemon=True).start()


def stop_grace(settings: Settings) -> float:
    """Seconds a stopped crawl gets to finish its in-flight requests: a tenth of the time limit, 5 to 30 s."""
    return min(STOP_GRACE, max(5.0, settings.crawl_timeout * 0.1))


_RUNNING: dict[str, subprocess.Popen[str]] = {}
_RUNNING_LOCK = threading.Lock()
_SIGNALLED: set[int] = set()  # crawl processes already sent SIGTERM (a second one would cut their closing short)


def terminate(proc: subprocess.Popen[str], grace: float = STOP_GRACE) -> None:
    """SIGTERM to the crawl's process group (Scrapy closes gracefully, writing its JOBDIR queue), SIGKILL if it is
    still there ``grace`` seconds later. Once per process: Scrapy takes a second SIGTERM for "stop at once"."""
    with _RUNNING_LOCK:
        if proc.pid in _SIGNALLED:
            return
        _SIGNALLED.add(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)

    def _kill() -> None:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    threading.Thread(target=_kill, daemon=True, name="crawl-kill").start()




def stop_running(grace: float = STOP_GRACE) -> int:
    """Stop every crawl process this process launched (SIGTERM, SIGKILL after ``grace``); how many."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING.values())
    for proc in procs:
        terminate(proc, grace)
    return len(procs)


def _store(settings: Settings) -> Any:
    from search.backends import open_backend

    return open_backend(settings)


def _put_run(settings: Settings, record: dict[str, Any]) -> bool:
    try:
        backend = _store(settings)
        try:
            backend.put_record("runs", record["id"], record)
        finally:
            backend.close()
    except TechscoutError as exc:  # the store is broken: the run is still returned (and logged) as it is
        log.error("run %s of %s could not be recorded: %s", record.get("id"), record.get("source"), exc)
        return False
    return True


def _delete_run(settings: Settings, rid: str) -> None:
    try:
        backend = _store(settings)
        try:
            backend.delete_record("runs", rid)
        finally:
            backend.close()
    except TechscoutError as exc:
        log.error("run %s could not be removed: %s", rid, exc)


def get_run(settings: Settings, rid: str) -> dict[str, Any] | None:
    try:
        backend = _store(settings)
        try:
            return backend.get_record("runs", rid)
        finally:
            backend.close()
    except TechscoutError as exc:
        log.error("run %s could not be read: %s", rid, exc)
        return None


def _failed_record(rid: str, source: str, started: str, reason: str, kind: str, example: str) -> dict[str, Any]:
    return {
        "id": rid,
        "source": source,
        "started": started,
        "finished": clock.now_iso(),
        "status": "failed",
        "finish_reason": reason,
        "fetched": 0,
        "new": 0,
        "updated": 0,
        "duplicates": 0,
        "errors": {kind: 1},
        "error_examples": {kind: [example[-300:]]},
    }


def _record_killed(settings: Settings, source: str, jobdir: Path, run_id: str) -> None:
    """Record a crawl that was killed outright (its state was never closed), unless its run record says so."""
    when = clock.iso(datetime.fromtimestamp(jobdir.stat().st_mtime, UTC))
    note = "the crawl process was killed before it could close; its unsaved queue is discarded"
    record = _failed_record(f"{run_id}-{source}-killed", source, when, "killed", "crawl-killed", note)
    record["finished"] = when
    _put_run(settings, record)
    log.warning("crawl %s: an earlier crawl was killed (%s)", source, note)


def _close_dead_runs(settings: Settings, source: str) -> None:
    """Runs of ``source`` still marked ``running`` while this launcher holds its lock were killed: say so."""
    try:
        backend = _store(settings)
    except TechscoutError:
        return
    try:
        for run in backend.list_records("runs", {"source": source}, limit=20):
            if run.get("status") == "running":
                note = "the crawl process ended without recording its run (killed with its launcher?)"
                run.update(status="failed", finish_reason="killed", finished=clock.now_iso(),
                           errors={"crawl-killed": 1}, error_examples={"crawl-killed": [note]})
                backend.put_record("runs", run["id"], run)
    except TechscoutError as exc:
        log.warning("runs of %s not checked: %s", source, exc)
    finally:
        backend.close()


def _tail(path: Path) -> str:
    """The last line of a crawl log worth showing (a crash's reason)."""
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""


def run_crawl(
    settings: Settings,
    source: str,
    *,
    stop: threading.Event | None = None,
    lock: IO[str] | None = None,
    run_id: str | None = None,
    wait: float = LOCK_WAIT,
    alerts: bool = True,
    waited: float = 0.0,
) -> dict[str, Any]:
    """Run one crawl of ``source`` in a crawl process and wait for it; returns its run record.

    ``lock``: the source's lock, already taken (by :func:`crawl_now`); else it is taken here, waiting up to
    ``wait`` seconds for a crawl of the source still closing (``status: skipped`` when it does not close).
    ``stop`` being set stops the crawl like its time limit does (SIGTERM, then SIGKILL after the grace).
    ``alerts``: hand the new and changed documents to alert matching afterwards (in the background).
    ``waited``: seconds the crawl waited for a slot of the scheduler (kept in the run record as
    ``waited_for_slot``)."""
    if settings.redis_url:  # distributed mode: the crawl goes on the shared frontier, workers do it
        from crawlers.distributed import enqueue_scheduled

        return enqueue_scheduled(settings, source, sources_path_for(settings))
    stop = stop or threading.Event()
    run_id = run_id or new_run_id()
    rid = record_id(run_id, source)
    held = lock or try_lock(settings, source)
    deadline = time.monotonic() + wait
    while held is None and time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.5)
        held = try_lock(settings, source)
    if held is None:
        log.warning("crawl %s skipped: another crawl of it is still running", source)
        return {"id": rid, "source": source, "status": "skipped", "reason": "busy"}
    try:
        record = _run_locked(settings, source, run_id, held, stop, waited)
    finally:
        held.close()
    if alerts and record.get("status") != "skipped":
        after_crawl(settings, record)
    return record


def _run_locked(
    settings: Settings, source: str, run_id: str, lock: IO[str], stop: threading.Event, waited: float = 0.0
) -> dict[str, Any]:
    rid = record_id(run_id, source)
    jobdir = settings.paths.jobdir(source)
    if jobdir_state(jobdir) == "stale":
        _record_killed(settings, source, jobdir, run_id)
    _close_dead_runs(settings, source)
    resumed = prepare_jobdir(jobdir)
    env = {**os.environ, **settings.as_env()}
    with _RUNNING_LOCK:  # extraction processes only on cores that the crawls already running leave idle
        others = len(_RUNNING)
    env["TECHSCOUT_EXTRACT_PROCESSES"] = str(helper_processes(settings.extract_processes, busy=1 + others))
    started = clock.now_iso()
    launched = clock.now().isoformat(timespec="milliseconds")
    log.info("crawl %s starting (run %s%s)", source, run_id, ", resuming" if resumed else "")
    log_path = open_crawl_log(settings, source)
    # the crawl writes to a log file, not a pipe: it must be able to close properly after its launcher died
    with log_path.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            crawl_command(settings, source, run_id, lock.fileno()),
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
    note_holder(lock, proc.pid)
    _put_run(settings, {"id": rid, "source": source, "status": "running", "started": started,
                        "launched": launched, "resumed": resumed, "pid": proc.pid})
    with _RUNNING_LOCK:
        _RUNNING[rid] = proc
    deadline = time.monotonic() + settings.crawl_timeout
    grace = stop_grace(settings)
    timed_out = stopped = False
    try:
        while proc.poll() is None:
            if time.monotonic() >= deadline and not timed_out:
                timed_out = True
                terminate(proc, grace)
            elif stop.is_set() and not stopped and not timed_out:
                stopped = True
                terminate(proc, grace)
            time.sleep(POLL)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(rid, None)
            _SIGNALLED.discard(proc.pid)
    stopped = stopped or stop.is_set()
    record = get_run(settings, rid)
    began = bool(record and record.get("crawling"))  # the crawl process had opened its spider
    if record is not None and record.get("status") == "running":
        record = None  # the crawl never wrote its own record
    if record is None and began:
        note = (f"the crawl was stopped and killed after {grace:g}s before it could close"
                if stopped or timed_out else f"the crawl process ended (exit status {proc.returncode}) before closing")
        record = _failed_record(rid, source, started, "killed", "crawl-killed", note)
    if record is None and stopped and not timed_out:
        log.info("crawl %s stopped before it began", source)
        finish_jobdir(jobdir, None)
        _delete_run(settings, rid)  # not a run: nothing was crawled
        return {"id": rid, "source": source, "status": "skipped"}
    if record is None:
        example = _tail(log_path) or f"exit status {proc.returncode}"
        kind = "timeout" if timed_out else "crawl-crashed"
        record = _failed_record(rid, source, started, "crashed", kind, example)
        if timed_out or stopped:
            record["errors"] = {}
            record["error_examples"] = {}
    record.setdefault("finished", clock.now_iso())
    record["resumed"] = resumed
    record["launched"] = launched
    record["exited"] = clock.now().isoformat(timespec="milliseconds")
    record["exit_status"] = proc.returncode
    terminated = timed_out or stopped  # the exit status is then the launcher's doing
    if timed_out and record.get("finish_reason") in ("finished", "closespider_pagecount"):
        timed_out = False  # the crawl had ended; only its process was slow to exit
    if timed_out:
        record["status"] = "timed out"
        errors = dict(record.get("errors") or {})
        errors["timeout"] = int(errors.get("timeout", 0)) + 1
        record["errors"] = errors
        examples = dict(record.get("error_examples") or {})
        examples["timeout"] = [*examples.get("timeout", []), f"crawl stopped after {settings.crawl_timeout}s"][-5:]
        record["error_examples"] = examples
        log.warning("crawl %s timed out after %ss", source, settings.crawl_timeout)
    elif proc.returncode not in (0, 1, None) and not terminated and record.get("status") != "failed":
        record["status"] = "failed"  # a crawl process that ends in an error never reports success
    if waited > 0:
        record["waited_for_slot"] = round(waited, 1)
    _put_run(settings, record)
    finish_jobdir(jobdir, record.get("finish_reason"))
    log.info("crawl %s: %s (fetched %s, new %s, updated %s)", source, record.get("status"),
             record.get("fetched", 0), record.get("new", 0), record.get("updated", 0))
    return record


def running_pids() -> list[int]:
    """The process ids of the crawls this launcher runs now."""
    with _RUNNING_LOCK:
        return [proc.pid for proc in _RUNNING.values()]


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process it started, recursively (its extraction processes, a browser and its
    helpers); only ``pid`` when its children cannot be read."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return out


def _kb_fields_mb(path: str) -> dict[str, float] | None:
    """The ``Name:  N kB`` lines of a /proc file, in MB by name; None when it cannot be read."""
    out: dict[str, float] = {}
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                value = rest.split()
                if len(value) == 2 and value[1] == "kB":
                    out[name] = int(value[0]) / 1024
    except (OSError, ValueError):
        return None
    return out


def memory_rollup_mb(pid: int) -> dict[str, float] | None:
    """One process's memory totals (``/proc/PID/smaps_rollup``: Rss, Pss, Private_Dirty …) in MB; None once it
    is gone."""
    return _kb_fields_mb(f"/proc/{pid}/smaps_rollup")


def one_process_mb(pid: int) -> tuple[float, float]:
    """One process's proportional set size now and its peak resident set (MB); (0, 0) once it is gone."""
    rollup = memory_rollup_mb(pid)
    status = _kb_fields_mb(f"/proc/{pid}/status") if rollup is not None else None
    if rollup is None or status is None:
        return 0.0, 0.0
    return rollup.get("Pss") or status.get("VmRSS", 0.0), status.get("VmHWM", 0.0)


def process_memory_mb(pid: int) -> tuple[float, float]:
    """A crawl's memory now and its crawl process's peak (MB): the proportional set size (shared pages divided
    among the processes mapping them: the memory the crawl adds) of the crawl process and of the processes it
    started (its extraction process, a browser), and the crawl process's own peak resident set — what any
    crawl takes, since a crawl started while others run gets no extraction process; (0, 0) once the crawl
    process is gone."""
    now, peak = one_process_mb(pid)
    if not now and not peak:
        return 0.0, 0.0
    for child in process_tree(pid)[1:]:
        now += one_process_mb(child)[0]
    return now, peak


def crawl_now(settings: Settings, source: str) -> str:
    """Start a crawl of ``source`` in the background (the web's 立即抓取); returns the id of its run record.

    Raises :class:`~core.errors.CrawlBusy` when the source is being crawled, and
    :class:`~core.errors.SourceError` when there is no such source. With ``redis_url`` the crawl is enqueued for
    the workers (the returned id is the crawl's run id there)."""
    path = sources_path_for(settings)
    load_sources(path, names=[source])  # a clear error for an unknown or invalid source, before anything starts
    if settings.redis_url:
        from crawlers.distributed import active_jobs, connect, enqueue_scheduled

        if source in active_jobs(connect(settings.redis_url)):
            raise CrawlBusy(f"数据源 {source} 正在由抓取节点抓取中，请等这次抓取结束")
        return str(enqueue_scheduled(settings, source, path)["id"])
    lock = try_lock(settings, source)
    if lock is None:
        raise CrawlBusy(busy_message(settings, source))
    run_id = new_run_id()
    thread = threading.Thread(
        target=_background_crawl, args=(settings, source, lock, run_id), name=f"crawl-{source}", daemon=True
    )
    thread.start()
    return record_id(run_id, source)


def _background_crawl(settings: Settings, source: str, lock: IO[str], run_id: str) -> None:
    try:
        run_crawl(settings, source, lock=lock, run_id=run_id)
    except Exception:  # a background crawl's launcher failure is logged; the lock is released by run_crawl
        log.exception("crawl %s could not be run", source)


# --------------------------------------------------------------------------------------------------------------
# after a crawl: its documents go to alert matching
# --------------------------------------------------------------------------------------------------------------
def is_orphan(record: Mapping[str, Any]) -> bool:
    """A run no launcher saw end: a crawl that outlived a killed launcher and stopped on its own."""
    return "launched" not in record and record.get("finish_reason") == "shutdown" and "id" in record


def document_ids(record: Mapping[str, Any]) -> list[str]:
    return [*(record.get("new_ids") or []), *(record.get("updated_ids") or [])]


def after_crawl(settings: Settings, record: Mapping[str, Any], *, background: bool = True) -> list[str]:
    """Hand the new and changed documents of a crawl to alert matching, with those of earlier crawls of the
    source that outlived a killed launcher (each handed over once). Returns the ids handed over."""
    ids = document_ids(record)
    source = record.get("source")
    if source:
        try:
            backend = _store(settings)
            try:
                for run in backend.list_records("runs", {"source": source}, limit=30):
                    if is_orphan(run) and not run.get("alerts_handed") and run.get("id") != record.get("id"):
                        ids += document_ids(run)
                        backend.put_record("runs", run["id"], {**run, "alerts_handed": True})
            finally:
                backend.close()
        except TechscoutError as exc:
            log.warning("earlier runs of %s not checked for alerts: %s", source, exc)
    ids = list(dict.fromkeys(ids))
    if ids:
        if background:
            queue_alerts(settings, ids)
        else:
            hand_to_alerts(settings, ids)
    return ids


_ALERTS: ThreadPoolExecutor | None = None
_PENDING_ALERTS: dict[str, None] = {}
_PENDING_LOCK = threading.Lock()
_DRAIN_QUEUED = False


def _alerts_pool() -> ThreadPoolExecutor:
    global _ALERTS
    with _PENDING_LOCK:
        if _ALERTS is None:
            _ALERTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts")
        return _ALERTS


def queue_alerts(settings: Settings, doc_ids: list[str]) -> None:
    """Hand documents to alert matching in the background. Ids that arrive while matching is busy are merged
    into one next round, so frequent crawls never build a backlog of matching runs."""
    global _DRAIN_QUEUED
    pool = _alerts_pool()
    with _PENDING_LOCK:
        _PENDING_ALERTS.update(dict.fromkeys(doc_ids))
        if _DRAIN_QUEUED:
            return
        _DRAIN_QUEUED = True
    pool.submit(_drain_alerts, settings)


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


def wait_for_alerts() -> None:
    """Let alert matching finish what was handed to it (before the process exits)."""
    global _ALERTS
    with _PENDING_LOCK:
        pool, _ALERTS = _ALERTS, None
    if pool is not None:
        pool.shutdown(wait=True)


def hand_to_alerts(settings: Settings, doc_ids: list[str]) -> None:
    """``search.alerts.run_alerts(settings, doc_ids)``; its failures are logged (alerts never stop crawling)."""
    try:
        from search.alerts import run_alerts
    except ImportError:
        return
    try:
        run_alerts(settings, doc_ids)
    except Exception:  # alert delivery must never stop the crawling
        log.exception("alert matching for %d documents failed", len(doc_ids))
