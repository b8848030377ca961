"""``techscout sources``: list and check the configured sources."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.settings import Settings
from crawlers.sources import load_sources


def cli_sources(args: argparse.Namespace, settings: Settings) -> int:
    sources = load_sources(settings.sources_path, include_disabled=True)
    if args.check:
        print(f"{len(sources)} sources OK in {settings.sources_path}")
        return 0
    status: dict[str, dict[str, Any]] = {}
    try:
        from scheduler import source_status

        status = source_status(settings, sources)
    except Exception:  # the data directory may not exist yet; listing must still work
        status = {}
    if args.json:
        out = []
        for s in sources:
            out.append(s.to_json() | {"schedule": s.schedule or settings.schedule} | status.get(s.name, {}))
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    for s in sources:
        st = status.get(s.name, {})
        flags = "" if s.enabled else " (disabled)"
        flags += " (failing: backed off)" if st.get("flagged") else ""
        flags += f" (extraction dropped: {', '.join(st['health_flags'])})" if st.get("health_flags") else ""
        nxt = (st.get("next_run") or "-")[:19].replace("T", " ")
        print(f"{s.name:28} {s.schedule or settings.schedule:16} {st.get('last_status', '-'):10} {nxt:19} {s.title}{flags}")
        for u in s.start_urls:
            print(f"{'':28} {u}")
    return 0
