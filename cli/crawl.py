"""``techscout crawl`` (in the foreground), ``techscout worker`` (from the shared frontier) and ``techscout runs``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import IO, Any

from core import clock
from core.errors import SourceError
from core.settings import Settings
from crawlers import launch
from crawlers.errors_kinds import label
from crawlers.sources import read_sources, remember_sources, select_sources, sources_path_for

MAX_LISTED_ITEMS = 10  # dropped list items printed under a summary (all of them are in the run record)


def _kinds(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def format_summary(s: Mapping[str, Any]) -> str:
    """A crawl's summary (or a run record) as the lines a person reads."""
    line = (
        f"{s.get('source')}: {s.get('status')} — fetched {s.get('fetched', 0)}, new {s.get('new', 0)}, "
        f"updated {s.get('updated', 0)}, unchanged {s.get('unchanged', 0)}, duplicates {s.get('duplicates', 0)}, "
        f"known skipped {s.get('known_skipped', 0)}, errors: {_kinds(s.get('errors') or {})}"
    )
    not_stored = s.get("not_stored") or {}
    if not_stored:
        line += f"\n  fetched but not stored: {_kinds(not_stored)}"
    errors = s.get("errors") or {}
    examples = s.get("error_examples") or {}
    if errors.get("store-failed"):
        reason = (examples.get("store-failed") or ["?"])[0]
        line += f"\n  the store failed: {reason}\n  those pages are not marked as known: the next crawl fetches them again"
    elif s.get("status") == "failed":
        first = next(iter(examples.items()), None)
        if first and first[1]:
            line += f"\n  unreachable: {first[1][0]} ({first[0]})"
    if s.get("record_error"):
        line += f"\n  the run could not be recorded: {s['record_error']}"
    dropped = s.get("dropped_items") or []
    if dropped:
        line += f"\n  list items without an article: {len(dropped)}"
        for item in dropped[:MAX_LISTED_ITEMS]:
            line += f"\n    {item.get('url')} ({item.get('reason')}: {label(str(item.get('reason')))})"
        if len(dropped) > MAX_LISTED_ITEMS:
            line += f"\n    … {len(dropped) - MAX_LISTED_ITEMS} more (techscout runs --json)"
    if s.get("bounded"):
        line += "\n  page bound reached: raise max_pages to crawl deeper"
    return line


def _report_problems(problems: list[Any], out: IO[str]) -> None:
    for problem in problems:
        print(f"techscout: source file not loaded: {problem}", file=out)


def cli_crawl(args: argparse.Namespace, settings: Settings) -> int:
    path = sources_path_for(settings)
    launched = args.lock_fd is not None  # run by the crawl launcher: lock, log file and output are its own
    good, problems = read_sources(path, include_disabled=bool(args.names))
    _report_problems(problems, sys.stderr)
    try:
        sources = select_sources(path, good, args.names or None)
    except SourceError:
        if problems:  # the source asked for may be the one in a broken file: that is the error to show
            raise problems[0].error from None
        raise
    if not sources:
        print(f"techscout: no enabled sources in {path}", file=sys.stderr)
        return 1
    if not launched:
        remember_sources(settings)
    if getattr(args, "enqueue", False):
        from crawlers.distributed.jobs import enqueue_crawls

        queued = enqueue_crawls(settings, path, [s.name for s in sources], max_pages=args.max_pages,
                                run_id=args.run_id)
        print(json.dumps(queued, ensure_ascii=False) if args.json else
              "\n".join(f"{q['source']}: crawl {q['run_id']} enqueued" for q in queued))
        return 1 if problems else 0

    # the source's lock: two crawls of one source into one data directory never run at once
    locks: list[IO[str]] = []
    busy: list[str] = []
    if launched:
        if len(sources) != 1:
            print("techscout: --lock-fd takes exactly one source", file=sys.stderr)
            return 2
        locks.append(launch.adopt_lock(args.lock_fd, settings, sources[0].name))
        launch.watch_parent()
        free = sources
    else:
        free = []
        for s in sources:
            lock = launch.try_lock(settings, s.name)
            if lock is None:
                busy.append(s.name)
                print(f"techscout: {s.name}: not crawled — another crawl of it is running on {settings.data_dir}"
                      f" (process {launch.lock_holder(settings, s.name) or '?'}); try again when it has ended",
                      file=sys.stderr)
            else:
                locks.append(lock)
                free.append(s)
    try:
        summaries = _crawl(args, settings, free, launched) if free else []
    finally:
        for lock in locks:
            lock.close()
    if args.json:
        print(json.dumps(summaries, ensure_ascii=False, indent=2))
    else:
        for summary in summaries:
            print(format_summary(summary))
        total = {k: sum(int(x.get(k, 0)) for x in summaries) for k in ("fetched", "new", "updated", "duplicates")}
        print(
            f"total: fetched {total['fetched']}, new {total['new']}, updated {total['updated']}, "
            f"duplicates {total['duplicates']}"
        )
        if problems:
            print(f"{len(problems)} source file(s) with errors were not crawled (see above)")
    failed = any(s.get("status") == "failed" for s in summaries)
    return 1 if failed or busy or problems else 0


def _crawl(args: argparse.Namespace, settings: Settings, sources: list[Any], launched: bool) -> list[dict[str, Any]]:
    from crawlers.logs import ProgressLine
    from crawlers.runner import crawl

    interactive = not args.quiet and not args.json and sys.stderr.isatty()
    if not args.quiet and not args.json:
        print(f"crawling {len(sources)} source(s) into {settings.data_dir} …", file=sys.stderr)
    # a crawl launched by the launcher writes to its log file through its output; one in the foreground
    # writes each source's log file itself
    log_files = None if launched else {s.name: launch.open_crawl_log(settings, s.name) for s in sources}
    return crawl(
        settings,
        sources,
        max_pages=args.max_pages,
        run_id=args.run_id,
        progress=ProgressLine(sys.stderr) if interactive else None,
        jobdir=args.jobdir,
        log_files=log_files,
    )


def cli_worker(args: argparse.Namespace, settings: Settings) -> int:
    """``techscout worker``: crawl from the shared frontier until stopped (or, with --until-idle, until no
    crawl is left)."""
    from crawlers.logs import configure_logging

    configure_logging(settings.log_level)
    if not settings.redis_url:
        from core.errors import ConfigError

        raise ConfigError(
            "techscout worker needs redis_url (TECHSCOUT_REDIS_URL) to find the shared frontier"
        )
    from crawlers.distributed.worker import Worker

    worker = Worker(
        settings, max_crawls=args.max_crawls, until_idle=args.until_idle, lease_seconds=args.lease_seconds
    )
    code = worker.run()
    if getattr(args, "json", False):
        print(json.dumps(worker.summaries, ensure_ascii=False, indent=2))
    return code


def cli_runs(args: argparse.Namespace, settings: Settings) -> int:
    """``techscout runs``: the crawl runs, newest first, with errors, pages not stored and list items dropped."""
    from search.backends import open_backend

    if settings.backend == "embedded" and not settings.paths.store.exists():
        runs: list[dict[str, Any]] = []
    else:
        backend = open_backend(settings)
        try:
            where = {"source": args.source} if args.source else None
            runs = backend.list_records("runs", where, limit=args.limit)
        finally:
            backend.close()
    if args.json:
        print(json.dumps(runs, ensure_ascii=False, indent=2))
        return 0
    if not runs:
        print("no crawl runs yet")
    for r in runs:
        print(f"{clock.local_text(r.get('started')) or '-'}  {format_summary(r)}")
    return 0
