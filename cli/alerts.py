"""``techscout alerts …``: subscriptions, delivery runs, the delivery log."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from core.errors import UrlError
from core.settings import Settings
from search.alerts import (
    CONFIG_ID,
    alerts_config,
    delivery_log,
    normalize_url,
    preview,
    redact,
    retry_deliveries,
    run_alerts,
    save_subscription,
    validate_subscription,
)
from search.backends import open_backend


def subscription_input(args: argparse.Namespace) -> dict[str, Any]:
    """The subscription the options of ``techscout alerts add`` describe, as the API takes it (JSON body)."""
    data: dict[str, Any] = {
        "name": args.name,
        "query": args.query,
        "filters": {
            "content_type": args.types,
            "domains": args.domains,
            "region": args.regions,
            "source": args.sources_filter,
            "libraries": args.libraries,
            "scitech_relevant": [args.scitech] if args.scitech else [],
        },
        "notify": args.notify,
        "mode": "digest" if args.digest else "immediate",
        "min_relevance": args.min_relevance,
    }
    if args.digest:
        data["digest_at"] = args.digest
    if args.id:
        data["id"] = args.id
    return data


def cli_add(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    try:
        existing = backend.get_record("subscriptions", args.id) if args.id else None
        record = validate_subscription(
            subscription_input(args),
            owner=args.owner,
            allow_private=settings.allow_private_urls,
            existing=existing,
            taxonomy=settings.taxonomy or None,
        )
        sub = save_subscription(backend, record)
        hits = preview(settings, sub, args.preview, backend=backend) if args.preview > 0 else []
    finally:
        backend.close()
    if args.json:
        print(
            json.dumps(
                {"subscription": sub, "preview": [h.to_json() for h in hits]}, ensure_ascii=False, indent=2
            )
        )
        return 0
    print(
        f"added subscription {sub['id']} ({sub['name']}): new matches from now on go to "
        f"{', '.join(redact(u) for u in sub['notify'])}"
    )
    if hits:
        print("recent matches (not sent):")
        for h in hits:
            print(f"  {(h.published or '')[:10]:10}  {h.title[:60]}  {h.url}")
    return 0


def cli_list(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    try:
        subs = backend.list_records("subscriptions", limit=100_000, newest_first=False)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(subs, ensure_ascii=False, indent=2))
        return 0
    if not subs:
        print("no subscriptions (add one with `techscout alerts add`)")
    for s in subs:
        flt = " ".join(f"{k}={','.join(v)}" for k, v in (s.get("filters") or {}).items() if v)
        when = s.get("mode") if s.get("mode") != "digest" else f"digest {s.get('digest_at')}"
        state = "" if s.get("enabled", True) is not False else " (disabled)"
        print(
            f"{s['id']}  {s.get('name', '')}{state}  query={s.get('query', '')!r} {flt}  {when}  "
            f"→ {', '.join(redact(u) for u in s.get('notify') or [])}"
        )
    return 0


def cli_run(args: argparse.Namespace, settings: Settings) -> int:
    return _print_summary(run_alerts(settings), args.json)


def cli_retry(args: argparse.Namespace, settings: Settings) -> int:
    return _print_summary(retry_deliveries(settings, args.ids or None), args.json)


def cli_log(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    try:
        rows = delivery_log(backend, args.state, args.limit)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no deliveries yet")
    for r in rows:
        item = r.get("item") or {}
        what = item.get("title") or (
            f"digest of {len(r.get('items', []))}" if r.get("kind") == "digest" else ""
        )
        err = f"  error: {r['error']}" if r.get("state") == "failed" and r.get("error") else ""
        print(
            f"{r['id']}  {r.get('state', ''):9}  {r.get('kind', 'item'):6}  {r.get('updated') or r.get('created', '')}  "
            f"tries {r.get('attempts', 0)}  {str(what)[:50]}{err}"
        )
    return 0


def cli_needs(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    try:
        config = alerts_config(backend)
        if args.notify:
            try:
                config["need_notify"] = [normalize_url(u, allow_private=settings.allow_private_urls) for u in args.notify]
            except UrlError as exc:
                raise UrlError(f"--notify: {exc}") from None
            backend.put_record("meta", CONFIG_ID, config)
    finally:
        backend.close()
    if args.json:
        print(json.dumps(config, ensure_ascii=False, indent=2))
    else:
        urls = config.get("need_notify") or []
        print(
            "needs without an owner channel notify: "
            + (", ".join(redact(u) for u in urls) or "(nobody)")
        )
    return 0


def _print_summary(summary: Mapping[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        keys = (
            "considered",
            "subscriptions",
            "matched",
            "sent",
            "queued",
            "digests",
            "needs",
            "already",
            "resent",
            "failed",
        )
        print(", ".join(f"{k} {summary.get(k, 0)}" for k in keys))
        for err in summary.get("errors", [])[:20]:
            print(f"  failed: {err}", file=sys.stderr)
    # a receiver that failed is recorded in the delivery log (and retried); the run itself completed
    return 0
