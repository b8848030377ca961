"""``techscout run``: the main job (scheduled crawls, alerts and the web UI)."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from cli.crawl import format_summary
from core.settings import Settings
from crawlers import launch
from crawlers.logs import configure_logging
from crawlers.sources import read_sources, remember_sources, sources_path_for
from scheduler import FAILED, SchedulerService, after_run, log


def cli_run(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging(settings.log_level)
    path = sources_path_for(settings)
    sources, problems = read_sources(path)
    for problem in problems:
        log.error("source file not loaded (the other sources run): %s", problem)
    if not sources:
        print(f"techscout: no enabled sources in {path}", file=sys.stderr)
        return 1
    settings.paths.ensure()
    remember_sources(settings)
    _warm_once()
    if args.once:
        return _once(settings, sources, len(problems))
    service = SchedulerService(settings)

    def _stop(signum: int, _frame: Any) -> None:
        service.stop_event.set()

    def _reload(_signum: int, _frame: Any) -> None:
        service.reload_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _reload)
    service.start()
    if not getattr(args, "no_web", False):
        from search.web.server import serve_in_thread, url_of

        serve_in_thread(settings)
        print(f"web UI: {url_of(settings)}", file=sys.stderr)
    print(
        f"scheduling {len(service.sources)} sources from {path}; data in {settings.data_dir}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        service.loop()
        log.info("stopping: running crawls finish their in-flight requests")
    finally:
        service.stop()
    return 0


def _warm_once() -> None:
    """At first start (an install without ``techscout dedup --warm``): compile the dedup kernels ahead of time,
    in a process of its own (numba's memory stays there), so that no crawl process compiles or loads numba."""
    import subprocess

    from pipelines.dedup.cache import load_library

    if load_library() is None:
        log.info("compiling the dedup kernels ahead of time (once; about a minute)")
        done = subprocess.run([sys.executable, "-m", "cli", "dedup", "--warm"], check=False)
        if done.returncode != 0:
            log.warning("the dedup kernels were not compiled ahead of time: crawls load them through numba")


def _once(settings: Settings, sources: list[Any], problems: int) -> int:
    """``run --once``: every source crawled once through the launcher; exit 1 when every source failed (or the
    store could not be written)."""
    failed = 0
    store_failed = False
    for s in sources:
        record = launch.run_crawl(settings, s.name)
        if record.get("status") != "skipped":
            after_run(settings, s, record)
        print(format_summary(record | {"source": s.name}))
        failed += record.get("status") in FAILED
        store_failed = store_failed or bool((record.get("errors") or {}).get("store-failed"))
    launch.wait_for_alerts()
    print(f"{len(sources) - failed} of {len(sources)} sources crawled; see `techscout runs` for details")
    if problems:
        print(f"{problems} source file(s) with errors were not crawled (see the log)")
    if failed == len(sources):
        print("every source failed: nothing was crawled", file=sys.stderr)
        return 1
    if store_failed:
        print("the store could not be written: the documents of those crawls were not kept", file=sys.stderr)
        return 1
    return 0
