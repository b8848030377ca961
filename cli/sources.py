"""``techscout sources``: list and check the configured sources (a bad file is reported; the others are listed)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core import clock
from core.settings import Settings
from crawlers.sources import load_sources, read_sources, sources_path_for


def cli_sources(args: argparse.Namespace, settings: Settings) -> int:
    path = sources_path_for(settings)
    if args.check:
        sources = load_sources(path, include_disabled=True)  # the first bad file is the error (exit 2)
        print(f"{len(sources)} sources OK in {path}")
        return 0
    sources, problems = read_sources(path, include_disabled=True)
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
        out += [{"path": p.path, "error": str(p)} for p in problems]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 1 if problems else 0
    for s in sources:
        st = status.get(s.name, {})
        flags = "" if s.enabled else " (disabled)"
        flags += " (failing: backed off)" if st.get("flagged") else ""
        flags += f" (extraction dropped: {', '.join(st['health_flags'])})" if st.get("health_flags") else ""
        nxt = clock.local_text(st.get("next_run")) or "-"
        print(f"{s.name:28} {s.schedule or settings.schedule:16} {st.get('last_status', '-'):10} {nxt:24} {s.title}{flags}")
        for u in s.start_urls:
            print(f"{'':28} {u}")
    for p in problems:
        print(f"techscout: source file not loaded: {p}", file=sys.stderr)
    return 1 if problems else 0
