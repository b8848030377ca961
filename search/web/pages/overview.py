"""概览: what happened over the last 30 days, drawn from the stored runs, documents and deliveries.

* new documents per day by content type (the documents each run added, ``new_ids``) and by source (runs' ``new``);
* crawl runs per day by outcome, and each source's health: runs, pages fetched, new documents, errors by kind,
  extraction health (share of stored articles with a body, a date, a title);
* alert deliveries per day, sent and failed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

import search.web.charts as charts
import search.web.labels as labels
from core import clock
from search.backends.base import Backend
from search.web.deps import Web, page_user, web

router = APIRouter(include_in_schema=False)
DAYS = 30
MAX_RUNS = 20_000
MAX_TYPED_IDS = 20_000  # documents whose content type is looked up (the newest runs first)
RUN_COLORS = {"成功": "#2da44e", "部分成功": "#d4a72c", "失败": "#cf222e"}
DELIVERY_COLORS = {"已送达": "#2da44e", "发送失败": "#cf222e", "等待摘要": "#8c959f", "发送中": "#1f6feb"}


def _days(n: int = DAYS) -> list[str]:
    today = clock.local(clock.now_iso())
    assert today is not None
    return [(today - timedelta(days=n - 1 - i)).strftime("%Y-%m-%d") for i in range(n)]


def _series(rows: dict[str, Counter[str]], days: list[str]) -> dict[str, list[int]]:
    return {name: [counts.get(d, 0) for d in days] for name, counts in rows.items()}


def overview_data(backend: Backend, days: list[str], source_title: Any) -> dict[str, Any]:
    """Everything the overview page draws (plain numbers, also used by tests and the API)."""
    first = days[0]
    runs = [r for r in backend.list_records("runs", limit=MAX_RUNS) if clock.local_date(r.get("started")) >= first]
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    by_status: dict[str, Counter[str]] = defaultdict(Counter)
    health: dict[str, dict[str, Any]] = {}
    typed = 0
    for run in runs:  # newest first
        day = clock.local_date(run.get("started"))
        source = str(run.get("source", ""))
        new = int(run.get("new") or 0)
        by_source[source_title(source)][day] += new
        by_status[labels.run_status(run.get("status"))][day] += 1
        ids = [str(i) for i in run.get("new_ids") or []]
        if ids and typed < MAX_TYPED_IDS:
            ids = ids[: MAX_TYPED_IDS - typed]
            typed += len(ids)
            for art in backend.get_many(ids):
                by_type[labels.CONTENT_TYPES.get(art.content_type, art.content_type or "未分类")][day] += 1
        h = health.setdefault(
            source,
            {"source": source, "title": source_title(source), "runs": 0, "ok": 0, "partial": 0, "failed": 0,
             "fetched": 0, "new": 0, "errors": Counter(), "articles": 0, "fills": Counter(), "last": run},
        )
        h["runs"] += 1
        status = str(run.get("status") or "")
        if status in ("ok", "partial", "failed"):
            h[status] += 1
        h["fetched"] += int(run.get("fetched") or 0)
        h["new"] += new
        for kind, n in (run.get("errors") or {}).items():
            h["errors"][str(kind)] += int(n or 0)
        rates = run.get("health") or {}
        n_art = int(rates.get("articles") or 0)
        if n_art:
            h["articles"] += n_art
            for f in ("body", "date", "title"):
                if isinstance(rates.get(f), int | float):
                    h["fills"][f] += rates[f] * n_art
    for h in health.values():
        h["rates"] = {f: (h["fills"][f] / h["articles"] if h["articles"] else None) for f in ("body", "date", "title")}
        h["errors"] = sorted(h["errors"].items(), key=lambda kv: -kv[1])
    deliveries: dict[str, Counter[str]] = defaultdict(Counter)
    for d in backend.list_records("deliveries", limit=MAX_RUNS):
        day = clock.local_date(d.get("sent_at") or d.get("updated") or d.get("created"))
        if day >= first:
            deliveries[labels.DELIVERY_STATES.get(str(d.get("state")), str(d.get("state")))][day] += 1
    return {
        "runs": len(runs),
        "by_type": _series(by_type, days),
        "by_source": _series(by_source, days),
        "by_status": _series(by_status, days),
        "deliveries": _series(deliveries, days),
        "health": sorted(health.values(), key=lambda h: (-h["failed"], h["title"])),
    }


@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, user: dict[str, Any] = Depends(page_user), ctx: Web = Depends(web)) -> HTMLResponse:
    days = _days()
    data = overview_data(ctx.backend, days, ctx.source_title)
    figures = {
        "by_type": charts.stacked_bars(days, charts.top_series(data["by_type"]), title="每日新增文档（按类型）"),
        "by_source": charts.stacked_bars(days, charts.top_series(data["by_source"]), title="每日新增文档（按数据源）"),
        "by_status": charts.stacked_bars(days, data["by_status"], title="每日抓取次数（按结果）", unit="次", colors=RUN_COLORS),
        "deliveries": charts.stacked_bars(days, data["deliveries"], title="每日订阅推送", unit="条", colors=DELIVERY_COLORS),
    }
    totals = {k: sum(sum(v) for v in data[k].values()) for k in ("by_source", "deliveries")}
    sent = sum(data["deliveries"].get("已送达", []))
    failed = sum(data["deliveries"].get("发送失败", []))
    return ctx.render(
        request, "overview.html", user, data=data, figures=figures, days=days, totals=totals, sent=sent,
        failed=failed, documents=ctx.backend.count(), meter=charts.meter,
    )
