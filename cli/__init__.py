"""The ``techscout`` command: the only place that parses arguments and prints (its handlers live in this package).

Each subcommand is declared in :func:`build_parser` and names its handler as ``"module:function"``; the module
is imported only when that subcommand runs, so ``techscout search`` does not pay for Scrapy's import.
A handler receives ``(args, settings)`` and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from core.errors import TechscoutError
from core.settings import Settings, load_settings


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR", help="data directory (default: $TECHSCOUT_DATA or ./techscout-data)")
    p.add_argument("--config", metavar="FILE", help="techscout.toml to read (default: ./techscout.toml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="techscout",
        description="Watch sci-tech sources, extract and classify articles, search them in Chinese.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("crawl", help="crawl sources now, in the foreground")
    p.add_argument("names", nargs="*", metavar="NAME", help="source names (default: every source)")
    p.add_argument("--sources", metavar="PATH", help="sources directory or one YAML file")
    p.add_argument("--max-pages", type=int, metavar="N", help="override every source's page bound")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--json", action="store_true", help="print the crawl summary as JSON")
    p.add_argument("--run-id", help=argparse.SUPPRESS)
    p.add_argument("--jobdir", help=argparse.SUPPRESS)
    p.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)  # the source's lock, taken by the launcher
    p.add_argument("--enqueue", action="store_true", help="put the crawls on the shared frontier (redis_url) for workers")
    p.set_defaults(handler="cli.crawl:cli_crawl")
    _common(p)

    p = sub.add_parser("search", help="search the index")
    p.add_argument("query", nargs="*", default=[], metavar="QUERY",
                   help='query words (several are ANDed; put -- before a leading -word); none: every document')
    p.add_argument("--limit", type=int, default=10, metavar="N")
    p.add_argument("--page", type=int, default=1, metavar="N")
    p.add_argument("--type", dest="types", action="append", metavar="T", help="content type (repeatable)")
    p.add_argument("--source", dest="sources_filter", action="append", metavar="S", help="source name (repeatable)")
    p.add_argument("--domain", dest="domains", action="append", metavar="D", help="tech domain (repeatable)")
    p.add_argument("--region", dest="regions", action="append", metavar="R", help="region (repeatable)")
    p.add_argument("--library", dest="libraries", action="append", metavar="L", help="problem|project|talent")
    p.add_argument("--scitech", metavar="YES|NO", help="only sci-tech relevant documents (科技相关) or only the others")
    p.add_argument("--since", metavar="DATE", help="published on or after YYYY-MM-DD")
    p.add_argument("--until", metavar="DATE", help="published on or before YYYY-MM-DD")
    p.add_argument("--sort", choices=("relevance", "date"), default="relevance")
    p.add_argument("--collapse", action="store_true", help="one hit per near-duplicate cluster")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler="cli.search:cli_search")
    _common(p)

    p = sub.add_parser("sources", help="list and validate the configured sources")
    p.add_argument("--sources", metavar="PATH", help="sources directory or one YAML file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", action="store_true", help="only validate; exit 2 when a file is invalid")
    p.set_defaults(handler="cli.sources:cli_sources")
    _common(p)

    p = sub.add_parser("run", help="the main job: scheduled crawling of every source (and the web UI)")
    p.add_argument("--sources", metavar="PATH", help="sources directory or one YAML file")
    p.add_argument("--no-web", action="store_true", help="do not start the web UI")
    p.add_argument("--once", action="store_true", help="crawl every source once, then exit")
    p.add_argument("--host", help="web UI address")
    p.add_argument("--port", type=int, help="web UI port")
    p.set_defaults(handler="cli.run:cli_run")
    _common(p)

    p = sub.add_parser("runs", help="crawl run history")
    p.add_argument("--source", metavar="S")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="cli.crawl:cli_runs")
    _common(p)

    p = sub.add_parser("worker", help="crawl from the shared frontier in Redis (distributed mode, redis_url)")
    p.add_argument("--max-crawls", type=int, default=8, metavar="N", help="sources crawled at once (default 8)")
    p.add_argument("--until-idle", action="store_true", help="exit when no crawl is left instead of waiting")
    p.add_argument("--lease-seconds", type=float, default=60.0, metavar="S",
                   help="seconds after which the requests of a stopped worker return to the frontier")
    p.add_argument("--json", action="store_true", help="print the crawl summaries as JSON on exit")
    p.set_defaults(handler="cli.crawl:cli_worker")
    _common(p)

    p = sub.add_parser("dedup", help="duplicates, reprint clusters and stories of documents in a JSON-lines file")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--jsonl", metavar="FILE", help='lines {"id","url","title","text","published"}; - = stdin')
    g.add_argument("--rebuild", action="store_true", help="rebuild the data directory's duplicate index from the store")
    g.add_argument("--warm", action="store_true",
                   help="build the read-only tables and compile the kernels once (after installing)")
    p.set_defaults(handler="cli.tools:cli_dedup")
    _common(p)

    p = sub.add_parser("alerts", help="subscriptions that push new matching documents (订阅推送)")
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION")
    asub.required = True
    a = asub.add_parser("add", help="add a subscription (it starts from now)")
    a.add_argument("--name", required=True)
    a.add_argument("--query", default="", help="query text (the search syntax); empty: filters only")
    a.add_argument("--type", dest="types", action="append", default=[], metavar="T")
    a.add_argument("--domain", dest="domains", action="append", default=[], metavar="D")
    a.add_argument("--region", dest="regions", action="append", default=[], metavar="R")
    a.add_argument("--source", dest="sources_filter", action="append", default=[], metavar="S")
    a.add_argument("--library", dest="libraries", action="append", default=[], metavar="L")
    a.add_argument("--scitech", metavar="YES|NO", help="only sci-tech relevant documents (科技相关)")
    a.add_argument("--min-relevance", type=float, metavar="X")
    a.add_argument("--id", help="a chosen id (letters, digits, - _ .); an existing one is replaced")
    a.add_argument("--notify", action="append", required=True, metavar="URL", help="Apprise URL (repeatable)")
    a.add_argument("--digest", metavar="WHEN", help="daily@08:00 or weekly@mon 08:00 (default: immediate)")
    a.add_argument("--owner", default="")
    a.add_argument("--preview", type=int, default=5, metavar="N", help="show N recent matches (default 5)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler="cli.alerts:cli_add")
    _common(a)
    a = asub.add_parser("list", help="list subscriptions")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler="cli.alerts:cli_list")
    _common(a)
    a = asub.add_parser("run", help="match new documents and deliver now")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler="cli.alerts:cli_run")
    _common(a)
    a = asub.add_parser("log", help="the delivery log")
    a.add_argument("--state", choices=("queued", "pending", "sent", "failed", "cancelled"))
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler="cli.alerts:cli_log")
    _common(a)
    a = asub.add_parser("retry", help="resend failed deliveries now")
    a.add_argument("ids", nargs="*", metavar="ID", help="delivery ids (default: every failed one)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler="cli.alerts:cli_retry")
    _common(a)
    a = asub.add_parser("needs", help="show or set where need-achievement matches go without an owner channel")
    a.add_argument("--notify", action="append", metavar="URL", help="Apprise URL (repeatable; replaces the list)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler="cli.alerts:cli_needs")
    _common(a)

    p = sub.add_parser("migrate", help="copy the embedded store into OpenSearch/Elasticsearch (resumable, verified by counts)")
    p.add_argument("--to", choices=("opensearch", "elasticsearch", "embedded"), required=True)
    p.add_argument("--url", help="server URL (default: the elasticsearch_url setting)")
    p.add_argument("--prefix", help="index prefix (default: the elasticsearch_prefix setting)")
    p.add_argument("--path", help="target SQLite file for --to embedded")
    p.add_argument("--batch", type=int, default=500, metavar="N", help="documents per bulk request")
    p.add_argument("--restart", action="store_true", help="ignore the checkpoint of an earlier run")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler="cli.admin:cli_migrate")
    _common(p)

    p = sub.add_parser("reindex", help="rebuild the search index (Elasticsearch: new versioned index + alias flip)")
    p.set_defaults(handler="cli.admin:cli_reindex")
    _common(p)

    p = sub.add_parser("serve", help="serve the staff web UI and JSON API")
    p.add_argument("--sources", metavar="PATH",
                   help="sources directory or one YAML file (default: the sources that filled the data directory)")
    p.add_argument("--host", help="address to listen on (default: settings host)")
    p.add_argument("--port", type=int, help="port (default: settings port)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(handler="cli.admin:cli_serve")
    _common(p)

    p = sub.add_parser("user", help="manage staff accounts of the web UI")
    p.add_argument("action", choices=("add", "delete", "list", "logout"),
                   help="add or replace (ends the user's sessions), delete, list, logout (end every session)")
    p.add_argument("name", metavar="NAME", nargs="?")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.add_argument("--role", choices=("admin", "staff"), default="staff")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(handler="cli.admin:cli_user")
    _common(p)

    p = sub.add_parser("token", help="API tokens for integrations")
    p.add_argument("action", choices=("create", "revoke", "list"))
    p.add_argument("name", metavar="NAME", nargs="?", help="what the token is for (e.g. the integration's name)")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.add_argument("--role", choices=("admin", "staff"), default="staff")
    p.set_defaults(handler="cli.admin:cli_token")
    _common(p)

    p = sub.add_parser("classify", help="classify documents (JSON lines) or retrain the classifier's model")
    p.add_argument("--jsonl", metavar="FILE", help='JSON lines {"id","url","title","text","source"} ("-": stdin)')
    p.add_argument(
        "--train",
        metavar="FILE",
        help="JSON lines: texts with scitech_relevant/domains, and/or labelled documents with content_type",
    )
    p.add_argument("--model-out", metavar="FILE", help="where --train writes the model (default: DATA/classify_model.json.gz)")
    p.set_defaults(handler="cli.tools:cli_classify")
    _common(p)

    p = sub.add_parser("extract", help="extract articles from saved HTML pages (or plain-text dumps)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="an HTML file or a directory of them")
    p.add_argument("--url", help="the pages' URL (resolves links and dates in the URL)")
    p.add_argument("--jsonl", action="store_true", help="one JSON line per file")
    p.set_defaults(handler="cli.tools:cli_extract")
    _common(p)
    return parser


def resolve(handler: str) -> Callable[[argparse.Namespace, Settings], int]:
    module_name, _, func = handler.partition(":")
    module = importlib.import_module(module_name)
    fn: Callable[[argparse.Namespace, Settings], int] = getattr(module, func)
    return fn


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for key in ("sources", "host", "port"):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    try:
        settings = load_settings(data=getattr(args, "data", None), config_file=getattr(args, "config", None), **overrides)
        return resolve(args.handler)(args, settings)
    except TechscoutError as exc:
        print(f"techscout: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("techscout: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
