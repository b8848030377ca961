"""``techscout crawl`` (in the foreground) and ``techscout worker`` (from the shared frontier)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from core.settings import Settings
from crawlers.sources import load_sources


def format_summary(s: dict[str, Any]) -> str:
    errors = s.get("errors", {})
    err = ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none"
    line = (
        f"{s.get('source')}: {s.get('status')} — fetched {s.get('fetched', 0)}, new {s.get('new', 0)}, "
        f"updated {s.get('updated', 0)}, unchanged {s.get('unchanged', 0)}, duplicates {s.get('duplicates', 0)}, "
        f"known skipped {s.get('known_skipped', 0)}, errors: {err}"
    )
    if s.get("status") == "failed":
        examples = s.get("error_examples", {})
        first = next(iter(examples.items()), None)
        if first:
            line += f"\n  unreachable: {first[1][0]} ({first[0]})"
    if s.get("bounded"):
        line += "\n  page bound reached: raise max_pages to crawl deeper"
    return line


def cli_crawl(args: argparse.Namespace, settings: Settings) -> int:
    sources = load_sources(settings.sources_path, names=args.names or None)
    if not sources:
        print(f"techscout: no enabled sources in {settings.sources_path}", file=sys.stderr)
        return 1
    if getattr(args, "enqueue", False):
        from crawlers.worker import enqueue_crawls

        queued = enqueue_crawls(settings, [s.name for s in sources], max_pages=args.max_pages, run_id=args.run_id)
        print(json.dumps(queued, ensure_ascii=False) if args.json else
              "\n".join(f"{q['source']}: crawl {q['run_id']} enqueued" for q in queued))
        return 0
    from crawlers.runner import crawl

    progress = not args.quiet and not args.json and sys.stderr.isatty()
    if not args.quiet and not args.json:
        print(f"crawling {len(sources)} source(s) into {settings.data_dir} …", file=sys.stderr)
    summaries = crawl(
        settings,
        sources,
        max_pages=args.max_pages,
        run_id=args.run_id,
        progress=progress,
        jobdir=args.jobdir,
    )
    if args.json:
        print(json.dumps(summaries, ensure_ascii=False, indent=2))
    else:
        for s in summaries:
            print(format_summary(s))
        total = {k: sum(int(s.get(k, 0)) for s in summaries) for k in ("fetched", "new", "updated", "duplicates")}
        print(
            f"total: fetched {total['fetched']}, new {total['new']}, updated {total['updated']}, "
            f"duplicates {total['duplicates']}"
        )
    os.environ.pop("TECHSCOUT_RUN_ID", None)
    return 0 if all(s.get("status") != "failed" for s in summaries) else 1


def cli_worker(args: argparse.Namespace, settings: Settings) -> int:
    """``techscout worker``: crawl from the shared frontier until stopped (or, with --until-idle, until no
    crawl is left)."""
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in (
        "scrapy.core.engine",
        "scrapy.middleware",
        "scrapy.extensions.logstats",
        "scrapy.crawler",
        "scrapy.addons",
        "scrapy.utils.log",
        "scrapy.extensions.telnet",
        "scrapy.statscollectors",
        "scrapy.spidermiddlewares",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
    logging.getLogger("scrapy.core.scraper").setLevel(logging.ERROR)  # dropped pages are counted, not printed
    if not settings.redis_url:
        from core.errors import ConfigError

        raise ConfigError(
            "techscout worker needs redis_url (TECHSCOUT_REDIS_URL) to find the shared frontier"
        )
    from crawlers.worker import Worker

    worker = Worker(
        settings, max_crawls=args.max_crawls, until_idle=args.until_idle, lease_seconds=args.lease_seconds
    )
    code = worker.run()
    if getattr(args, "json", False):
        print(json.dumps(worker.summaries, ensure_ascii=False, indent=2))
    return code


