"""``techscout run``: the main job (scheduled crawls, alerts and the web UI)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from cli.crawl import format_summary
from core.settings import Settings
from crawlers.sources import load_sources
from scheduler import FAILED, SchedulerService, after_run, log, run_crawl


def cli_run(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # the service logs job events itself
    sources = load_sources(settings.sources_path)
    if not sources:
        print(f"techscout: no enabled sources in {settings.sources_path}", file=sys.stderr)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.once:
        failed = 0
        for s in sources:
            record = run_crawl(settings, s.name)
            after_run(settings, s, record)
            print(format_summary(record | {"source": s.name}))
            failed += record.get("status") in FAILED
        print(f"{len(sources) - failed} of {len(sources)} sources crawled; see `techscout runs` for details")
        return 0
    service = SchedulerService(settings)

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping; running crawls finish their in-flight requests", signum)
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
        f"scheduling {len(service.sources)} sources from {settings.sources_path}; data in {settings.data_dir}; "
        "Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        service.loop()
    finally:
        service.stop()
    return 0
